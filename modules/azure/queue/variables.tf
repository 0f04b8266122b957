variable "name" {
  description = "Globally unique name of the Service Bus namespace, which is also the queue's name, e.g. \"webshop-dev-jobs\"; the namespace becomes <name>.servicebus.windows.net. 6-50 letters, digits and hyphens, starting with a letter, ending with a letter or digit, not ending in -sb or -mgmt."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{4,48}[A-Za-z0-9]$", var.name)) && !endswith(var.name, "-sb") && !endswith(var.name, "-mgmt")
    error_message = "name must be 6-50 letters, digits and hyphens, start with a letter, end with a letter or digit and not end in -sb or -mgmt."
  }
}

variable "resource_group_name" {
  description = "Existing resource group that receives the namespace."
  type        = string
}

variable "location" {
  description = "Azure region, e.g. \"westeurope\"."
  type        = string
}

variable "key_vault_id" {
  description = "Resource id of an existing Key Vault that receives the connection secret. The identity running Terraform needs secret Set, Get and Delete permissions on it (the provider reads the secret's metadata back)."
  type        = string
}

variable "secret_name" {
  description = "Key Vault secret name that receives the connection JSON, e.g. \"webshop-dev-jobs\". Key Vault secret names cannot contain \"/\" (or \"_\"): letters, digits and \"-\" only, at most 127 characters."
  type        = string

  validation {
    condition     = can(regex("^[0-9A-Za-z-]{1,127}$", var.secret_name))
    error_message = "secret_name may only contain letters, digits and \"-\" (no \"/\"), 1-127 characters."
  }
}

variable "tags" {
  description = "Tags put on the namespace and the secret."
  type        = map(string)
  default     = {}
}

variable "sku" {
  description = "Namespace tier: Basic, Standard or Premium."
  type        = string
  default     = "Standard"

  validation {
    condition     = contains(["Basic", "Standard", "Premium"], var.sku)
    error_message = "sku must be Basic, Standard or Premium."
  }
}

variable "local_auth_enabled" {
  description = "Allow SAS-key authorization. The contract carries no key, so workloads authenticate with Entra ID (workload identity); off by default."
  type        = bool
  default     = false
}

variable "lock_duration" {
  description = "Peek-lock duration (ISO 8601), the time a consumer has to settle a message (at most PT5M)."
  type        = string
  default     = "PT1M"
}

variable "max_delivery_count" {
  description = "Deliveries of a message before it is moved to the queue's dead-letter sub-queue."
  type        = number
  default     = 10
}

variable "default_message_ttl" {
  description = "Time to live of a message (ISO 8601); expired messages go to the dead-letter sub-queue."
  type        = string
  default     = "P14D"
}

variable "private_endpoint_subnet_id" {
  description = "Subnet for a private endpoint, used with sku Premium only (Basic and Standard namespaces have none); with it the public endpoint is disabled. Null: no private endpoint."
  type        = string
  default     = null
}

variable "private_dns_zone_id" {
  description = "Private DNS zone privatelink.servicebus.windows.net for the private endpoint, linked to the cluster's virtual network."
  type        = string
  default     = null
}
