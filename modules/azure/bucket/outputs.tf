output "name" {
  description = "Name of the blob container."
  value       = local.connection.name
}

output "region" {
  description = "Azure region of the storage account."
  value       = local.connection.region
}

output "endpoint" {
  description = "Primary blob endpoint of the storage account (https://<account>.blob.core.windows.net/)."
  value       = local.connection.endpoint
}

output "id" {
  description = "Resource Manager id of the container."
  value       = local.connection.id
}

output "connection_secret_id" {
  description = "Versionless id of the Key Vault secret (https://<vault>.vault.azure.net/secrets/<secret_name>) whose current version holds the connection JSON: name, region, endpoint, id."
  value       = azurerm_key_vault_secret.connection.versionless_id
}
