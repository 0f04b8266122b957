variable "name" {
  description = "Globally unique name of the flexible server, e.g. \"webshop-dev-db\"; it becomes <name>.postgres.database.azure.com. 3-63 lower-case letters, digits and hyphens, not starting or ending with a hyphen."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.name))
    error_message = "name must be 3-63 characters of lower-case letters, digits and hyphens and not start or end with a hyphen."
  }
}

variable "resource_group_name" {
  description = "Existing resource group that receives the server."
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
  description = "Key Vault secret name that receives the connection JSON, e.g. \"webshop-dev-db\". Key Vault secret names cannot contain \"/\" (or \"_\"): letters, digits and \"-\" only, at most 127 characters."
  type        = string

  validation {
    condition     = can(regex("^[0-9A-Za-z-]{1,127}$", var.secret_name))
    error_message = "secret_name may only contain letters, digits and \"-\" (no \"/\"), 1-127 characters."
  }
}

variable "tags" {
  description = "Tags put on the server and the secret."
  type        = map(string)
  default     = {}
}

variable "password" {
  description = "Password of the administrator login. Ephemeral: it is written only to write-only arguments (administrator_password_wo, value_wo) and never enters plan or state. The caller (Composer) supplies it on every plan and apply, typically as TF_VAR_password from a root-level ephemeral variable: generated on first create, read back from the connection secret afterwards. Azure requires 8-128 characters from three of: upper case, lower case, digits, symbols."
  type        = string
  sensitive   = true
  ephemeral   = true
  nullable    = false

  validation {
    condition     = length(var.password) >= 16 && length(var.password) <= 128
    error_message = "password must be 16-128 characters."
  }
}

variable "password_version" {
  description = "Bump to rotate: the password is (re)applied to the server and the connection secret is rewritten whenever this number or any non-secret contract value changes."
  type        = number
  default     = 1
}

variable "engine" {
  description = "Database engine: postgres or mysql."
  type        = string

  validation {
    condition     = contains(["postgres", "mysql"], var.engine)
    error_message = "engine must be postgres or mysql."
  }
}

variable "engine_version" {
  description = "Server version as Flexible Server names it: postgres \"13\"-\"16\", \"17\" (azurerm 4.46+); mysql \"8.0.21\", \"8.4\" (azurerm 4.55+)."
  type        = string
}

variable "sku_name" {
  description = "Compute SKU, <tier>_<size>: B_Standard_B1ms (burstable, small); postgres GP_Standard_D2ds_v5, MO_Standard_E2ds_v5; mysql GP_Standard_D2ads_v5, MO_Standard_E2ds_v5 (each engine accepts its own list)."
  type        = string
  default     = "B_Standard_B1ms"
}

variable "storage_mb" {
  description = "postgres: initial storage in MB, one of Flexible Server's sizes (32768 ... 33553408). It auto-grows; later changes are ignored."
  type        = number
  default     = 32768

  validation {
    condition     = contains([32768, 65536, 131072, 262144, 524288, 1048576, 2097152, 4193280, 4194304, 8388608, 16777216, 33553408], var.storage_mb)
    error_message = "storage_mb must be one of the Flexible Server sizes 32768, 65536, 131072, 262144, 524288, 1048576, 2097152, 4193280, 4194304, 8388608, 16777216, 33553408."
  }
}

variable "storage_gb" {
  description = "mysql: initial storage in GB (20-16384). It auto-grows; later changes are ignored."
  type        = number
  default     = 20

  validation {
    condition     = var.storage_gb >= 20 && var.storage_gb <= 16384
    error_message = "storage_gb must be between 20 and 16384 (MySQL flexible server)."
  }
}

variable "backup_retention_days" {
  description = "Days of automated backups kept (postgres 7-35, mysql 1-35)."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_days >= (var.engine == "postgres" ? 7 : 1) && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 7 (postgres) or 1 (mysql) and 35."
  }
}

variable "database_name" {
  description = "Name of the database created on the server."
  type        = string
  default     = "app"
}

variable "username" {
  description = "Administrator login, which is also the contract's username. Azure rejects azure_superuser, azure_pg_admin, admin, administrator, root, guest, public, sa and (postgres) names starting with pg_; mysql logins have at most 32 characters."
  type        = string
  default     = "appadmin"

  validation {
    condition     = can(regex(var.engine == "postgres" ? "^[a-z][a-z0-9_]{0,62}$" : "^[a-z][a-z0-9_]{0,31}$", var.username)) && !startswith(var.username, "pg_") && !contains(["azure_superuser", "azure_pg_admin", "admin", "administrator", "root", "guest", "public", "sa"], var.username)
    error_message = "username must be lower-case letters, digits and \"_\" (1-63 for postgres, 1-32 for mysql), start with a letter, not start with pg_ and not be a reserved name."
  }
}

variable "delegated_subnet_id" {
  description = "Subnet delegated to Microsoft.DBforPostgreSQL/flexibleServers (postgres) or Microsoft.DBforMySQL/flexibleServers (mysql) for private (VNet-integrated) access; host then resolves to the private address. Null only together with public_access_cidrs."
  type        = string
  default     = null
}

variable "private_dns_zone_id" {
  description = "Private DNS zone used with delegated_subnet_id (privatelink.postgres.database.azure.com or privatelink.mysql.database.azure.com), linked to the cluster's virtual network."
  type        = string
  default     = null
}

variable "public_access_cidrs" {
  description = "Explicit opt-in to public access, without a delegated subnet only: a firewall rule per CIDR block. Empty (the default): no public access."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.public_access_cidrs : can(cidrhost(c, 0))])
    error_message = "public_access_cidrs must be IPv4 CIDR blocks such as 203.0.113.0/24."
  }
}

variable "zone_redundant" {
  description = "High availability: a standby server in another availability zone, failed over to automatically. Needs a GP_ or MO_ sku_name (not Burstable) and a region with availability zones."
  type        = bool
  default     = false
}

variable "geo_redundant_backup" {
  description = "Copy backups to the paired region, so the server can be restored there. Fixed at creation: changing it replaces the server."
  type        = bool
  default     = false
}

variable "delete_lock" {
  description = "Put a CanNotDelete management lock on the server: Azure refuses to delete it until the lock is removed. Removing the lock needs Microsoft.Authorization/locks/delete (Owner or User Access Administrator)."
  type        = bool
  default     = false
}

variable "customer_managed_key_id" {
  description = "Versionless id of a Key Vault key (https://VAULT.vault.azure.net/keys/NAME) that encrypts the server's data and backups; null: Microsoft-managed keys. Fixed at creation. The key must be in the vault key_vault_id names, which must use Azure RBAC: the module creates a user-assigned identity and grants it Key Vault Crypto Service Encryption User there (the deployer needs permission to assign roles). Not with geo_redundant_backup (that needs a second key in the paired region)."
  type        = string
  default     = null
}
