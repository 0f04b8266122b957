output "bucket_name" {
  description = "Bucket name."
  value       = aws_s3_bucket.this.id
}

output "region" {
  description = "Region of the bucket."
  value       = data.aws_region.current.name
}

output "endpoint" {
  description = "Regional domain name of the bucket."
  value       = aws_s3_bucket.this.bucket_regional_domain_name
}

output "access_key_id" {
  description = "Access key id of the bucket's IAM user."
  value       = aws_iam_access_key.this.id
}

output "secret_access_key" {
  description = "Secret access key of the bucket's IAM user."
  value       = aws_iam_access_key.this.secret
  sensitive   = true
}
