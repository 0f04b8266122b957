output "host" {
  description = "Host name of the cache (<name>.redis.cache.windows.net)."
  value       = local.host
}

output "port" {
  description = "TLS port (6380); the plain-text port is disabled."
  value       = local.port
}

output "connection_secret_id" {
  description = "Versionless id of the Key Vault secret (https://<vault>.vault.azure.net/secrets/<secret_name>) whose current version holds the connection JSON: host, port, password (the primary access key), url."
  value       = azurerm_key_vault_secret.connection.versionless_id
}
