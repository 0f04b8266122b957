locals {
  port = 5432
  host = azurerm_postgresql_flexible_server.this.fqdn

  # A number derived from every non-secret input of the connection document plus
  # var.password_version. It drives both write-only "version" arguments, so the server's password
  # and the connection secret are always (re)written together and cannot drift apart. It must not
  # depend on the (ephemeral) password, which a non-write-only argument cannot take, nor on the
  # server's own attributes (a cycle): the host name is a function of var.name.
  credential_version = 1 + parseint(substr(sha256(jsonencode({
    server           = var.name
    port             = local.port
    database         = var.database_name
    username         = var.username
    password_version = var.password_version
  })), 0, 7), 16)

  # Ephemeral (it contains var.password): only ever passed to write-only arguments.
  connection_json = jsonencode({
    host     = local.host
    port     = local.port
    database = var.database_name
    username = var.username
    password = var.password
    url = format(
      "postgresql://%s:%s@%s:%d/%s?sslmode=require",
      urlencode(var.username),
      urlencode(var.password),
      local.host,
      local.port,
      urlencode(var.database_name),
    )
  })
}

resource "azurerm_postgresql_flexible_server" "this" {
  name                = var.name
  resource_group_name = var.resource_group_name
  location            = var.location
  version             = var.engine_version
  sku_name            = var.sku_name
  storage_mb          = var.storage_mb

  administrator_login               = var.username
  administrator_password_wo         = var.password
  administrator_password_wo_version = local.credential_version

  backup_retention_days         = var.backup_retention_days
  delegated_subnet_id           = var.delegated_subnet_id
  private_dns_zone_id           = var.private_dns_zone_id
  public_network_access_enabled = var.delegated_subnet_id == null

  authentication {
    password_auth_enabled = true
  }

  tags = var.tags

  lifecycle {
    # Azure picks an availability zone when none is given and may move the server later.
    ignore_changes = [zone]
  }
}

resource "azurerm_postgresql_flexible_server_database" "this" {
  name      = var.database_name
  server_id = azurerm_postgresql_flexible_server.this.id
  charset   = "UTF8"
  collation = "en_US.utf8"
}

resource "azurerm_postgresql_flexible_server_firewall_rule" "this" {
  for_each = var.delegated_subnet_id == null ? var.firewall_rules : {}

  name             = each.key
  server_id        = azurerm_postgresql_flexible_server.this.id
  start_ip_address = each.value.start_ip_address
  end_ip_address   = each.value.end_ip_address
}

resource "azurerm_key_vault_secret" "connection" {
  name             = var.secret_name
  key_vault_id     = var.key_vault_id
  content_type     = "application/json"
  value_wo         = local.connection_json
  value_wo_version = local.credential_version
  tags             = var.tags

  depends_on = [azurerm_postgresql_flexible_server_database.this]
}
