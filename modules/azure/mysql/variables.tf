variable "name" {
  description = "Globally unique name of the flexible server, e.g. \"webshop-dev-db\"; it becomes <name>.mysql.database.azure.com. 3-63 lower-case letters, digits and hyphens, not starting or ending with a hyphen."
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

variable "engine_version" {
  description = "MySQL version supported by Flexible Server: \"8.0.21\", \"8.4\" (azurerm 4.55+) or \"5.7\"."
  type        = string
  default     = "8.0.21"
}

variable "sku_name" {
  description = "Compute SKU, <tier>_<size>: B_Standard_B1ms (burstable, small), GP_Standard_D2ds_v5, MO_Standard_E2ds_v5, ..."
  type        = string
  default     = "B_Standard_B1ms"
}

variable "storage_size_gb" {
  description = "Storage size in GB (20 is the smallest); storage auto-grows from there."
  type        = number
  default     = 20
}

variable "backup_retention_days" {
  description = "Days of automated backups kept (1-35)."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 1 and 35."
  }
}

variable "database_name" {
  description = "Name of the database created on the server."
  type        = string
  default     = "app"
}

variable "username" {
  description = "Administrator login, which is also the contract's username. Azure rejects azure_superuser, admin, administrator, root, guest, public and sa."
  type        = string
  default     = "appadmin"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,31}$", var.username)) && !contains(["azure_superuser", "admin", "administrator", "root", "guest", "public", "sa"], var.username)
    error_message = "username must be 1-32 lower-case letters, digits and \"_\", start with a letter and not be a reserved name."
  }
}

variable "delegated_subnet_id" {
  description = "Subnet delegated to Microsoft.DBforMySQL/flexibleServers for private (VNet-integrated) access. When null the server has public access, restricted to firewall_rules."
  type        = string
  default     = null
}

variable "private_dns_zone_id" {
  description = "Private DNS zone (*.mysql.database.azure.com) used with delegated_subnet_id."
  type        = string
  default     = null
}

variable "firewall_rules" {
  description = "Public-access firewall rules, by rule name. {start_ip_address = \"0.0.0.0\", end_ip_address = \"0.0.0.0\"} admits all Azure services. Ignored when delegated_subnet_id is set."
  type = map(object({
    start_ip_address = string
    end_ip_address   = string
  }))
  default = {}
}
