locals {
  create_bucket = var.create_bucket
  attach_policy = var.attach_policy && var.policy != null
}

module "naming" {
  source = "./modules/naming"

  tags       = var.tags
  add_marker = var.create_connection_tags
}

resource "aws_s3_bucket" "this" {
  count = local.create_bucket ? 1 : 0

  bucket              = var.bucket
  bucket_prefix       = var.bucket_prefix
  force_destroy       = var.force_destroy
  object_lock_enabled = var.object_lock_enabled
  tags                = module.naming.tags
}

module "versioning" {
  source = "./modules/versioning"
  count  = local.create_bucket && length(keys(var.versioning)) > 0 ? 1 : 0

  bucket                = aws_s3_bucket.this[0].id
  expected_bucket_owner = var.expected_bucket_owner
  enabled               = try(tobool(var.versioning["enabled"]), true)
}

module "controls" {
  source = "./modules/controls"
  count  = local.create_bucket ? 1 : 0

  bucket                   = aws_s3_bucket.this[0].id
  block_public_acls        = var.block_public_acls
  block_public_policy      = var.block_public_policy
  ignore_public_acls       = var.ignore_public_acls
  restrict_public_buckets  = var.restrict_public_buckets
  control_object_ownership = var.control_object_ownership
  object_ownership         = var.object_ownership
  tags                     = var.tags
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  count = local.create_bucket && length(keys(var.server_side_encryption_configuration)) > 0 ? 1 : 0

  bucket                = aws_s3_bucket.this[0].id
  expected_bucket_owner = var.expected_bucket_owner

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = try(var.server_side_encryption_configuration["sse_algorithm"], "AES256")
      kms_master_key_id = try(var.server_side_encryption_configuration["kms_master_key_id"], null)
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  count = local.create_bucket && local.attach_policy ? 1 : 0

  bucket = aws_s3_bucket.this[0].id
  policy = var.policy

  depends_on = [module.controls]
}

resource "aws_s3_bucket_website_configuration" "this" {
  count = local.create_bucket && length(keys(var.website)) > 0 ? 1 : 0

  bucket = aws_s3_bucket.this[0].id

  index_document {
    suffix = try(var.website["index_document"], "index.html")
  }
}
