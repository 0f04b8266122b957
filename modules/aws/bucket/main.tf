data "aws_region" "current" {}

resource "aws_s3_bucket" "this" {
  bucket        = var.name
  force_destroy = var.force_destroy

  tags = var.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_id == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_id
    }
  }
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    # "Suspended" rather than "Disabled": the provider only accepts Disabled for buckets that were
    # never versioned, and Suspended is valid both on a new bucket and when turning versioning off.
    status = var.versioning ? "Enabled" : "Suspended"
  }
}

# Parts of multipart uploads that were never completed are invisible and billed until removed:
# abort them after a week. Objects themselves (and their versions) are the app's data and have no
# expiry here. Writing the rule costs at least 55 s: the AWS provider (5.x) waits 10 s, then reads
# the rule back every 5 s until ten reads in a row agree, on any endpoint. The development tier
# leaves it out (providers/aws/implementations.yaml).
resource "aws_s3_bucket_lifecycle_configuration" "this" {
  count  = var.abort_incomplete_uploads_days > 0 ? 1 : 0
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_uploads_days
    }
  }
}

resource "aws_secretsmanager_secret" "connection" {
  name                    = var.secret_name
  description             = "Connection details of bucket ${var.name}, one JSON document."
  recovery_window_in_days = var.secret_recovery_window_days
  kms_key_id              = var.kms_key_id

  tags = var.tags
}

locals {
  connection = {
    name     = aws_s3_bucket.this.id
    region   = data.aws_region.current.name
    endpoint = aws_s3_bucket.this.bucket_regional_domain_name
    id       = aws_s3_bucket.this.arn
  }
}

# The bucket contract has no secret key, so the document is written with the plain secret_string
# (as in every module whose JSON holds no secret key): it may sit in state, and Terraform then
# sees and repairs drift of the secret and rewrites it on change without a version counter.
# Modules whose JSON holds a secret key (postgres, mysql, redis) use secret_string_wo instead.
resource "aws_secretsmanager_secret_version" "connection" {
  secret_id     = aws_secretsmanager_secret.connection.id
  secret_string = jsonencode(local.connection)
}
