variable "bucket" { type = string }
variable "block_public_acls" { type = bool }
variable "block_public_policy" { type = bool }
variable "ignore_public_acls" { type = bool }
variable "restrict_public_buckets" { type = bool }
variable "control_object_ownership" { type = bool }
variable "object_ownership" { type = string }

variable "tags" {
  type    = map(string)
  default = {}
}

# Nested one level further: the sibling naming module, as registry modules share helpers.
module "naming" {
  source = "../naming"

  tags = var.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = var.bucket
  block_public_acls       = var.block_public_acls
  block_public_policy     = var.block_public_policy
  ignore_public_acls      = var.ignore_public_acls
  restrict_public_buckets = var.restrict_public_buckets
}

resource "aws_s3_bucket_ownership_controls" "this" {
  count  = var.control_object_ownership ? 1 : 0
  bucket = var.bucket

  rule {
    object_ownership = var.object_ownership
  }
}

output "tags" { value = module.naming.tags }
