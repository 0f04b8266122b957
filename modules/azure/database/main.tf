locals {
  postgres = var.engine == "postgres"
  port     = local.postgres ? 5432 : 3306
  # With a delegated subnet the name resolves to the private address through the private DNS zone.
  host    = one(concat(azurerm_postgresql_flexible_server.this[*].fqdn, azurerm_mysql_flexible_server.this[*].fqdn))
  private = var.delegated_subnet_id != null

  # Public access is an explicit opt-in: firewall rules for the allowed CIDRs, and only without a
  # delegated subnet (a VNet-integrated server has no public endpoint).
  firewall_rules = local.private ? {} : { for i, cidr in var.public_access_cidrs : "allowed-${i}" => cidr }

  # A number derived from every non-secret input of the connection document plus
  # var.password_version. It drives both write-only "version" arguments, so the server's password
  # and the connection secret are always (re)written together and cannot drift apart. It must not
  # depend on the (ephemeral) password, which a non-write-only argument cannot take, nor on the
  # server's own attributes (a cycle).
  credential_version = 1 + parseint(substr(sha256(jsonencode({
    server           = var.name
    engine           = var.engine
    port             = local.port
    database         = var.database_name
    username         = var.username
    password_version = var.password_version
  })), 0, 7), 16)

  # Ephemeral (it contains var.password): only ever passed to write-only arguments. Both servers
  # require TLS (MySQL keeps require_secure_transport on).
  connection_json = jsonencode({
    host     = local.host
    port     = local.port
    database = var.database_name
    username = var.username
    password = var.password
    url = format(
      "%s://%s:%s@%s:%d/%s%s",
      local.postgres ? "postgresql" : "mysql",
      urlencode(var.username),
      urlencode(var.password),
      local.host,
      local.port,
      urlencode(var.database_name),
      local.postgres ? "?sslmode=require" : "",
    )
  })
}

resource "azurerm_postgresql_flexible_server" "this" {
  count = local.postgres ? 1 : 0

  name                = var.name
  resource_group_name = var.resource_group_name
  location            = var.location
  version             = var.engine_version
  sku_name            = var.sku_name
  storage_mb          = var.storage_mb
  auto_grow_enabled   = true

  administrator_login               = var.username
  administrator_password_wo         = var.password
  administrator_password_wo_version = local.credential_version

  backup_retention_days         = var.backup_retention_days
  geo_redundant_backup_enabled  = var.geo_redundant_backup
  delegated_subnet_id           = var.delegated_subnet_id
  private_dns_zone_id           = var.private_dns_zone_id
  public_network_access_enabled = !local.private && length(var.public_access_cidrs) > 0

  authentication {
    password_auth_enabled = true
  }

  # A standby in another availability zone, failed over to automatically.
  dynamic "high_availability" {
    for_each = var.zone_redundant ? [1] : []
    content {
      mode = "ZoneRedundant"
    }
  }

  # With a customer-managed key: the server reads it as its own user-assigned identity. Fixed at
  # creation (a key on an existing server replaces it).
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
      key_vault_key_id                  = customer_managed_key.value
      primary_user_assigned_identity_id = azurerm_user_assigned_identity.cmk[0].id
    }
  }

  tags = var.tags

  # The identity must be allowed to use the key before the server is encrypted with it.
  depends_on = [azurerm_role_assignment.cmk]

  lifecycle {
    # Azure picks an availability zone when none is given and may move the server later. Storage
    # auto-grows, and the provider replaces a server whose configured storage_mb is below the
    # actual size, so the size is ignored after creation.
    ignore_changes = [zone, high_availability[0].standby_availability_zone, storage_mb]

    precondition {
      condition     = local.private || length(var.public_access_cidrs) > 0
      error_message = "The server would accept no connection: give delegated_subnet_id and private_dns_zone_id, or public_access_cidrs to opt into public access."
    }

    precondition {
      condition     = var.customer_managed_key_id == null || !var.geo_redundant_backup
      error_message = "customer_managed_key_id with geo_redundant_backup needs a second key in the paired region, which this module does not take: turn one of them off."
    }

    precondition {
      condition     = !var.zone_redundant || !startswith(var.sku_name, "B_")
      error_message = "zone_redundant needs a General Purpose (GP_) or Memory Optimized (MO_) sku_name: Burstable servers have no high availability."
    }
  }
}

resource "azurerm_mysql_flexible_server" "this" {
  count = local.postgres ? 0 : 1

  name                = var.name
  resource_group_name = var.resource_group_name
  location            = var.location
  version             = var.engine_version
  sku_name            = var.sku_name

  administrator_login               = var.username
  administrator_password_wo         = var.password
  administrator_password_wo_version = local.credential_version

  backup_retention_days        = var.backup_retention_days
  geo_redundant_backup_enabled = var.geo_redundant_backup
  delegated_subnet_id          = var.delegated_subnet_id
  private_dns_zone_id          = var.private_dns_zone_id

  dynamic "high_availability" {
    for_each = var.zone_redundant ? [1] : []
    content {
      mode = "ZoneRedundant"
    }
  }

  # With a customer-managed key: the server reads it as its own user-assigned identity. Fixed at
  # creation (a key on an existing server replaces it).
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
      key_vault_key_id                  = customer_managed_key.value
      primary_user_assigned_identity_id = azurerm_user_assigned_identity.cmk[0].id
    }
  }

  storage {
    size_gb           = var.storage_gb
    auto_grow_enabled = true
  }

  tags = var.tags

  # The identity must be allowed to use the key before the server is encrypted with it.
  depends_on = [azurerm_role_assignment.cmk]

  lifecycle {
    # As for postgres: the zone is Azure's, and auto-grown storage must not be shrunk back.
    ignore_changes = [zone, high_availability[0].standby_availability_zone, storage[0].size_gb]

    precondition {
      condition     = local.private || length(var.public_access_cidrs) > 0
      error_message = "The server would accept no connection: give delegated_subnet_id and private_dns_zone_id, or public_access_cidrs to opt into public access."
    }

    precondition {
      condition     = var.customer_managed_key_id == null || !var.geo_redundant_backup
      error_message = "customer_managed_key_id with geo_redundant_backup needs a second key in the paired region, which this module does not take: turn one of them off."
    }

    precondition {
      condition     = !var.zone_redundant || !startswith(var.sku_name, "B_")
      error_message = "zone_redundant needs a General Purpose (GP_) or Memory Optimized (MO_) sku_name: Burstable servers have no high availability."
    }
  }
}

resource "azurerm_postgresql_flexible_server_database" "this" {
  count = local.postgres ? 1 : 0

  name      = var.database_name
  server_id = azurerm_postgresql_flexible_server.this[0].id
  charset   = "UTF8"
  collation = "en_US.utf8"
}

resource "azurerm_mysql_flexible_database" "this" {
  count = local.postgres ? 0 : 1

  name                = var.database_name
  resource_group_name = var.resource_group_name
  server_name         = azurerm_mysql_flexible_server.this[0].name
  charset             = "utf8mb4"
  collation           = "utf8mb4_unicode_ci"
}

resource "azurerm_postgresql_flexible_server_firewall_rule" "this" {
  for_each = local.postgres ? local.firewall_rules : {}

  name             = each.key
  server_id        = azurerm_postgresql_flexible_server.this[0].id
  start_ip_address = cidrhost(each.value, 0)
  end_ip_address   = cidrhost(each.value, -1)
}

resource "azurerm_mysql_flexible_server_firewall_rule" "this" {
  for_each = local.postgres ? {} : local.firewall_rules

  name                = each.key
  resource_group_name = var.resource_group_name
  server_name         = azurerm_mysql_flexible_server.this[0].name
  start_ip_address    = cidrhost(each.value, 0)
  end_ip_address      = cidrhost(each.value, -1)
}

# The identity a server reads its customer-managed key with, allowed to wrap and unwrap keys of the
# environment's Key Vault (which must use Azure RBAC); the key must live in that vault.
resource "azurerm_user_assigned_identity" "cmk" {
  count = var.customer_managed_key_id == null ? 0 : 1

  name                = "${var.name}-cmk"
  resource_group_name = var.resource_group_name
  location            = var.location
  tags                = var.tags

  lifecycle {
    precondition {
      condition     = strcontains(lower(coalesce(var.customer_managed_key_id, "-")), "//${lower(basename(var.key_vault_id))}.")
      error_message = "customer_managed_key_id must be a key of the Key Vault key_vault_id names (the identity is granted access there)."
    }
  }
}

resource "azurerm_role_assignment" "cmk" {
  count = var.customer_managed_key_id == null ? 0 : 1

  scope                = var.key_vault_id
  role_definition_name = "Key Vault Crypto Service Encryption User"
  principal_id         = azurerm_user_assigned_identity.cmk[0].principal_id
}

# A CanNotDelete lock: Azure refuses to delete the server (and its databases) until the lock is
# removed, whoever asks (the portal, the CLI, another Terraform root).
resource "azurerm_management_lock" "server" {
  count = var.delete_lock ? 1 : 0

  name       = "${var.name}-cannot-delete"
  scope      = one(concat(azurerm_postgresql_flexible_server.this[*].id, azurerm_mysql_flexible_server.this[*].id))
  lock_level = "CanNotDelete"
  notes      = "Production database: remove this lock (delete_lock = false) before deleting the server."
}

resource "azurerm_key_vault_secret" "connection" {
  name             = var.secret_name
  key_vault_id     = var.key_vault_id
  content_type     = "application/json"
  value_wo         = local.connection_json
  value_wo_version = local.credential_version
  tags             = var.tags

  depends_on = [azurerm_postgresql_flexible_server_database.this, azurerm_mysql_flexible_database.this]
}

# The servers and databases were single resources before this module served both engines (it
# replaced modules/azure/postgres and modules/azure/mysql): state written then moves to index 0.
moved {
  from = azurerm_postgresql_flexible_server.this
  to   = azurerm_postgresql_flexible_server.this[0]
}

moved {
  from = azurerm_mysql_flexible_server.this
  to   = azurerm_mysql_flexible_server.this[0]
}

moved {
  from = azurerm_postgresql_flexible_server_database.this
  to   = azurerm_postgresql_flexible_server_database.this[0]
}

moved {
  from = azurerm_mysql_flexible_database.this
  to   = azurerm_mysql_flexible_database.this[0]
}
