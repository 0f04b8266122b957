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
  public_network_access_enabled   = var.private_endpoint_subnet_id == null
  tags                            = var.tags

  # With a customer-managed key: the account reads it as its own user-assigned identity.
  dynamic "identity" {
    for_each = var.customer_managed_key_id == null ? [] : [1]
    content {
      type         = "UserAssigned"
      identity_ids = [azurerm_user_assigned_identity.cmk[0].id]
    }
  }

  dynamic "customer_managed_key" {
    for_each = var.customer_managed_key_id == null ? [] : [var.customer_managed_key_id]
    content {
      key_vault_key_id          = customer_managed_key.value
      user_assigned_identity_id = azurerm_user_assigned_identity.cmk[0].id
    }
  }

  # Closed by default: only the private endpoint, or the opted-in CIDR blocks (a /32 is written as
  # the bare address, as storage IP rules require).
  network_rules {
    default_action = "Deny"
    bypass         = ["AzureServices"]
    ip_rules       = var.private_endpoint_subnet_id == null ? [for c in var.public_access_cidrs : endswith(c, "/32") ? cidrhost(c, 0) : c] : []
  }

  blob_properties {
    versioning_enabled = var.versioning

    delete_retention_policy {
      days = var.soft_delete_retention_days
    }

    container_delete_retention_policy {
      days = var.soft_delete_retention_days
    }
  }

  # The identity must be allowed to use the key before the account is encrypted with it.
  depends_on = [azurerm_role_assignment.cmk]

  lifecycle {
    precondition {
      condition     = var.customer_managed_key_id == null || strcontains(lower(coalesce(var.customer_managed_key_id, "-")), "//${lower(basename(var.key_vault_id))}.")
      error_message = "customer_managed_key_id must be a key of the Key Vault key_vault_id names (the identity is granted access there)."
    }

    precondition {
      condition     = can(regex("^[a-z0-9]{3,24}$", local.account_name))
      error_message = "The storage account name derived from name is shorter than 3 characters; set storage_account_name."
    }
  }
}

# The identity the account reads its customer-managed key with, allowed to wrap and unwrap keys of
# the environment's Key Vault (which must use Azure RBAC).
resource "azurerm_user_assigned_identity" "cmk" {
  count = var.customer_managed_key_id == null ? 0 : 1

  name                = "${var.name}-cmk"
  resource_group_name = var.resource_group_name
  location            = var.location
  tags                = var.tags
}

resource "azurerm_role_assignment" "cmk" {
  count = var.customer_managed_key_id == null ? 0 : 1

  scope                = var.key_vault_id
  role_definition_name = "Key Vault Crypto Service Encryption User"
  principal_id         = azurerm_user_assigned_identity.cmk[0].principal_id
}

# A CanNotDelete lock: Azure refuses to delete the account (and with it every blob) until the lock
# is removed.
resource "azurerm_management_lock" "account" {
  count = var.delete_lock ? 1 : 0

  name       = "${local.account_name}-cannot-delete"
  scope      = azurerm_storage_account.this.id
  lock_level = "CanNotDelete"
  notes      = "Production storage: remove this lock (delete_lock = false) before deleting the account."
}

resource "azurerm_storage_container" "this" {
  name                  = var.name
  storage_account_id    = azurerm_storage_account.this.id
  container_access_type = "private"
}

# Private endpoint in the environment's endpoint subnet; the private DNS zone (linked to the cluster's
# virtual network) makes the usual host name resolve to its private address.
resource "azurerm_private_endpoint" "this" {
  count = var.private_endpoint_subnet_id != null ? 1 : 0

  name                = "${var.name}-pe"
  resource_group_name = var.resource_group_name
  location            = var.location
  subnet_id           = var.private_endpoint_subnet_id
  tags                = var.tags

  private_service_connection {
    name                           = "${var.name}-blob"
    private_connection_resource_id = azurerm_storage_account.this.id
    subresource_names              = ["blob"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "blob"
    private_dns_zone_ids = [var.private_dns_zone_id]
  }

  lifecycle {
    precondition {
      condition     = var.private_dns_zone_id != null
      error_message = "private_endpoint_subnet_id needs private_dns_zone_id (privatelink.blob.core.windows.net)."
    }
  }
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
