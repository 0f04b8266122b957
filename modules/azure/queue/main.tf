locals {
  # The namespace endpoint looks like https://<namespace>.servicebus.windows.net:443/.
  connection = {
    name = azurerm_servicebus_queue.this.name
    url  = "${trimsuffix(azurerm_servicebus_namespace.this.endpoint, "/")}/${azurerm_servicebus_queue.this.name}"
    id   = azurerm_servicebus_queue.this.id
  }
}

resource "azurerm_servicebus_namespace" "this" {
  name                = var.name
  resource_group_name = var.resource_group_name
  location            = var.location
  sku                 = var.sku
  capacity            = var.sku == "Premium" ? 1 : 0
  minimum_tls_version = "1.2"
  local_auth_enabled  = var.local_auth_enabled
  # Service Bus offers private endpoints on Premium only; Standard keeps the public endpoint.
  public_network_access_enabled = !(var.sku == "Premium" && var.private_endpoint_subnet_id != null)
  tags                          = var.tags

  # Premium namespaces must be created partitioned or not; one partition keeps them plain.
  premium_messaging_partitions = var.sku == "Premium" ? 1 : 0
}

resource "azurerm_servicebus_queue" "this" {
  name                                 = var.name
  namespace_id                         = azurerm_servicebus_namespace.this.id
  lock_duration                        = var.lock_duration
  max_delivery_count                   = var.max_delivery_count
  default_message_ttl                  = var.default_message_ttl
  dead_lettering_on_message_expiration = true
}

# Private endpoint in the environment's endpoint subnet (Premium namespaces only); the private DNS zone (linked to the cluster's
# virtual network) makes the usual host name resolve to its private address.
resource "azurerm_private_endpoint" "this" {
  count = var.sku == "Premium" && var.private_endpoint_subnet_id != null ? 1 : 0

  name                = "${var.name}-pe"
  resource_group_name = var.resource_group_name
  location            = var.location
  subnet_id           = var.private_endpoint_subnet_id
  tags                = var.tags

  private_service_connection {
    name                           = "${var.name}-namespace"
    private_connection_resource_id = azurerm_servicebus_namespace.this.id
    subresource_names              = ["namespace"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "namespace"
    private_dns_zone_ids = [var.private_dns_zone_id]
  }

  lifecycle {
    precondition {
      condition     = var.private_dns_zone_id != null
      error_message = "private_endpoint_subnet_id needs private_dns_zone_id (privatelink.servicebus.windows.net)."
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
