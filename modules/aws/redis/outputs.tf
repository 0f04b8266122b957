output "host" {
  description = "DNS address of the cache node, or of the replication group's primary endpoint (multi_az)."
  value       = local.connection.host
}

output "port" {
  description = "Port the cache listens on."
  value       = local.connection.port
}

output "connection_secret_id" {
  description = "ARN of the Secrets Manager secret whose JSON holds host, port and url."
  value       = aws_secretsmanager_secret.connection.arn
  depends_on  = [aws_secretsmanager_secret_version.connection]
}
