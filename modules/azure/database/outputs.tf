output "host" {
  description = "Fully qualified domain name of the server (<name>.<engine>.database.azure.com); with a delegated subnet it resolves to the private address through the private DNS zone."
  value       = local.host
}

output "port" {
  description = "Database port: 5432 for postgres, 3306 for mysql."
  value       = local.port
}

output "database" {
  description = "Name of the application database."
  value       = one(concat(azurerm_postgresql_flexible_server_database.this[*].name, azurerm_mysql_flexible_database.this[*].name))
}

output "username" {
  description = "Administrator login used by the application."
  value       = one(concat(azurerm_postgresql_flexible_server.this[*].administrator_login, azurerm_mysql_flexible_server.this[*].administrator_login))
}

output "connection_secret_id" {
  description = "Versionless id of the Key Vault secret (https://<vault>.vault.azure.net/secrets/<secret_name>) whose current version holds the connection JSON: host, port, database, username, password, url."
  value       = azurerm_key_vault_secret.connection.versionless_id
}
