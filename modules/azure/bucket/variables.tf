variable "name" {
  description = "Name of the blob container, e.g. \"webshop-dev-uploads\" (3-63 lower-case letters, digits and single hyphens, starting with a letter or digit). The storage account name is derived from it unless storage_account_name is set."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.name)) && !strcontains(var.name, "--")
    error_message = "name must be 3-63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit."
  }
}

variable "storage_account_name" {
  description = "Globally unique storage account name (3-24 lower-case letters and digits). Null derives it from name by dropping hyphens and cutting to 24 characters; set it when that collides or is too short."
  type        = string
  default     = null

  validation {
    condition     = var.storage_account_name == null || can(regex("^[a-z0-9]{3,24}$", coalesce(var.storage_account_name, "x")))
    error_message = "storage_account_name must be 3-24 lower-case letters and digits."
  }
}

variable "resource_group_name" {
  description = "Existing resource group that receives the storage account."
  type        = string
}

variable "location" {
  description = "Azure region, e.g. \"westeurope\"; output as region."
  type        = string
}

variable "key_vault_id" {
  description = "Resource id of an existing Key Vault that receives the connection secret. The identity running Terraform needs secret Set, Get and Delete permissions on it (the provider reads the secret's metadata back)."
  type        = string
}

variable "secret_name" {
  description = "Key Vault secret name that receives the connection JSON, e.g. \"webshop-dev-uploads\". Key Vault secret names cannot contain \"/\" (or \"_\"): letters, digits and \"-\" only, at most 127 characters."
  type        = string

  validation {
    condition     = can(regex("^[0-9A-Za-z-]{1,127}$", var.secret_name))
    error_message = "secret_name may only contain letters, digits and \"-\" (no \"/\"), 1-127 characters."
  }
}

variable "tags" {
  description = "Tags put on the storage account and the secret."
  type        = map(string)
  default     = {}
}

variable "replication_type" {
  description = "Account replication: LRS (every region offers it), ZRS, GRS, RAGRS, GZRS or RAGZRS (only in some regions)."
  type        = string
  default     = "LRS"

  validation {
    condition     = contains(["LRS", "ZRS", "GRS", "RAGRS", "GZRS", "RAGZRS"], var.replication_type)
    error_message = "replication_type must be one of LRS, ZRS, GRS, RAGRS, GZRS, RAGZRS."
  }
}

variable "versioning" {
  description = "Keep previous blob versions."
  type        = bool
  default     = false
}

variable "soft_delete_retention_days" {
  description = "Days deleted blobs and containers can be restored (1-365)."
  type        = number
  default     = 7

  validation {
    condition     = var.soft_delete_retention_days >= 1 && var.soft_delete_retention_days <= 365
    error_message = "soft_delete_retention_days must be between 1 and 365."
  }
}

variable "shared_access_key_enabled" {
  description = "Allow Shared Key (account key and SAS) authorization. The contract carries no key, so workloads authenticate with Entra ID; set false to enforce that (the azurerm provider then needs storage_use_azuread = true)."
  type        = bool
  default     = true
}

variable "private_endpoint_subnet_id" {
  description = "Subnet for a private endpoint; with it the public endpoint is disabled. Null: no private endpoint."
  type        = string
  default     = null
}

variable "private_dns_zone_id" {
  description = "Private DNS zone privatelink.blob.core.windows.net for the private endpoint, linked to the cluster's virtual network."
  type        = string
  default     = null
}

variable "public_access_cidrs" {
  description = "Explicit opt-in to public access: CIDR blocks admitted to the public endpoint (storage network rules). Empty (the default): the public endpoint is closed. Ignored with private_endpoint_subnet_id."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.public_access_cidrs : can(cidrhost(c, 0))])
    error_message = "public_access_cidrs must be IPv4 CIDR blocks such as 203.0.113.0/24."
  }
}

variable "customer_managed_key_id" {
  description = "Versionless id of a Key Vault key (https://VAULT.vault.azure.net/keys/NAME) that encrypts the account; null: Microsoft-managed keys. The key must be in the vault key_vault_id names, which must use Azure RBAC: the module creates a user-assigned identity and grants it Key Vault Crypto Service Encryption User there (the deployer needs permission to assign roles)."
  type        = string
  default     = null
}

variable "delete_lock" {
  description = "Put a CanNotDelete management lock on the storage account: Azure refuses to delete it until the lock is removed."
  type        = bool
  default     = false
}
