output "name" {
  description = "Bucket name."
  value       = aws_s3_bucket.this.id
}

output "region" {
  description = "Region of the bucket."
  value       = data.aws_region.current.name
}

output "endpoint" {
  description = "Regional domain name of the bucket (<name>.s3.<region>.amazonaws.com)."
  value       = aws_s3_bucket.this.bucket_regional_domain_name
}

output "id" {
  description = "Bucket ARN."
  value       = aws_s3_bucket.this.arn
}

output "connection_secret_id" {
  description = "ARN of the Secrets Manager secret whose JSON holds name, region, endpoint and id."
  value       = aws_secretsmanager_secret.connection.arn
  depends_on  = [aws_secretsmanager_secret_version.connection]
}
