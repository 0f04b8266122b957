locals {
  account_name = coalesce(var.storage_account_name, substr(replace(var.name, "-", ""), 0, 24))

  connection = {
    name     = azurerm_storage_container.this.name
    region   = azurerm_storage_account.this.location
    endpoint = azurerm_storage_account.this.primary_blob_endpoint
    id       = azurerm_storage_container.this.id
  }
}

resource "azurerm_storage_account" "this" {
  name                            = local.account_name
  resource_group_name             = var.resource_group_name
  location                        = var.location
  account_kind                    = "StorageV2"
  account_tier                    = "Standard"
  account_replication_type        = var.replication_type
  min_tls_version                 = "TLS1_2"
  https_traffic_only_enabled      = true
  allow_nested_items_to_be_public = false
  shared_access_key_enabled       = var.shared_access_key_enabled
  tags                            = var.tags

  blob_properties {
    versioning_enabled = var.versioning

    delete_retention_policy {
      days = var.soft_delete_retention_days
    }

    container_delete_retention_policy {
      days = var.soft_delete_retention_days
    }
  }

  lifecycle {
    precondition {
      condition     = can(regex("^[a-z0-9]{3,24}$", local.account_name))
      error_message = "The storage account name derived from name is shorter than 3 characters; set storage_account_name."
    }
  }
}

resource "azurerm_storage_container" "this" {
  name                  = var.name
  storage_account_id    = azurerm_storage_account.this.id
  container_access_type = "private"
}

resource "azurerm_key_vault_secret" "connection" {
  name         = var.secret_name
  key_vault_id = var.key_vault_id
  content_type = "application/json"
  value_wo     = jsonencode(local.connection)
  # Nothing here is secret; the number just changes whenever the document does.
  value_wo_version = 1 + parseint(substr(sha256(jsonencode(local.connection)), 0, 7), 16)
  tags             = var.tags
}
