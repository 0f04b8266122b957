output "host" {
  description = "DNS address of the cache node."
  value       = aws_elasticache_cluster.this.cache_nodes[0].address
}

output "port" {
  description = "Port the cache node listens on."
  value       = aws_elasticache_cluster.this.cache_nodes[0].port
}

output "connection_secret_id" {
  description = "ARN of the Secrets Manager secret whose JSON holds host, port and url."
  value       = aws_secretsmanager_secret.connection.arn
  depends_on  = [aws_secretsmanager_secret_version.connection]
}
