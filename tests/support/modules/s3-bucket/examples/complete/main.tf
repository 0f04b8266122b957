module "s3_bucket" {
  source = "../../"

  bucket        = "example-complete"
  force_destroy = true
  versioning    = { enabled = true }
}
