output "name" {
  description = "Name of the queue."
  value       = local.connection.name
}

output "url" {
  description = "Queue URL: the namespace endpoint followed by the queue name (https://<namespace>.servicebus.windows.net:443/<queue>)."
  value       = local.connection.url
}

output "id" {
  description = "Resource Manager id of the queue."
  value       = local.connection.id
}

output "connection_secret_id" {
  description = "Versionless id of the Key Vault secret (https://<vault>.vault.azure.net/secrets/<secret_name>) whose current version holds the connection JSON: name, url, id."
  value       = azurerm_key_vault_secret.connection.versionless_id
}
