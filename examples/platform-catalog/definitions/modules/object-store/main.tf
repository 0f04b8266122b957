# A private, encrypted bucket with an expiry policy, and an IAM user whose access key
# is the only credential that can reach it. The key's secret is a sensitive output
# (the definition says `secrets: outputs`): aws_iam_access_key has no write-only form,
# so the secret sits in Terraform state either way, and an encrypted state backend
# is the platform team's control for it.

data "aws_region" "current" {}

resource "aws_s3_bucket" "this" {
  bucket = var.name
  tags   = var.tags
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
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = var.versioning ? "Enabled" : "Suspended"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "expire"
    status = "Enabled"

    filter {}

    expiration {
      days = var.expiration_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_iam_user" "this" {
  name = var.name
  path = "/object-store/"
  tags = var.tags
}

resource "aws_iam_access_key" "this" {
  user = aws_iam_user.this.name
}

locals {
  read_actions  = ["s3:GetObject", "s3:ListBucket"]
  write_actions = ["s3:PutObject", "s3:DeleteObject"]
}

resource "aws_iam_user_policy" "this" {
  name = "object-store-access"
  user = aws_iam_user.this.name

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = var.read_only ? local.read_actions : concat(local.read_actions, local.write_actions)
      Resource = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]
    }]
  })
}
