variable "bucket" { type = string }

variable "enabled" {
  type    = bool
  default = true
}

variable "expected_bucket_owner" {
  type    = string
  default = null
}

resource "aws_s3_bucket_versioning" "this" {
  bucket                = var.bucket
  expected_bucket_owner = var.expected_bucket_owner

  versioning_configuration {
    status = var.enabled ? "Enabled" : "Suspended"
  }
}

output "status" { value = aws_s3_bucket_versioning.this.versioning_configuration[0].status }
