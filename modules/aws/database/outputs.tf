output "host" {
  description = "DNS address of the instance."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Port the instance listens on (5432 for postgres, 3306 for mysql)."
  value       = aws_db_instance.this.port
}

output "database" {
  description = "Name of the database."
  value       = aws_db_instance.this.db_name
}

output "username" {
  description = "Master user name."
  value       = aws_db_instance.this.username
}

output "connection_secret_id" {
  description = "ARN of the Secrets Manager secret whose JSON holds host, port, database, username, password and url."
  value       = aws_secretsmanager_secret.connection.arn
  # The secret's value is written only after the instance exists; consumers of this id may read it.
  depends_on = [aws_secretsmanager_secret_version.connection]
}
