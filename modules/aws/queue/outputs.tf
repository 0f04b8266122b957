output "name" {
  description = "Queue name (ends in \".fifo\" for FIFO queues)."
  value       = aws_sqs_queue.this.name
}

output "url" {
  description = "Queue URL, the address SQS API calls take."
  value       = aws_sqs_queue.this.url
}

output "id" {
  description = "Queue ARN."
  value       = aws_sqs_queue.this.arn
}

output "connection_secret_id" {
  description = "ARN of the Secrets Manager secret whose JSON holds name, url and id."
  value       = aws_secretsmanager_secret.connection.arn
  depends_on  = [aws_secretsmanager_secret_version.connection]
}
