variable "name" {
  description = "Globally unique name of the cache, e.g. \"webshop-dev-cache\"; it becomes <name>.redis.cache.windows.net. 1-63 letters, digits and single hyphens, starting and ending with a letter or digit."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$", var.name)) && !strcontains(var.name, "--")
    error_message = "name must be 1-63 letters, digits and single hyphens, starting and ending with a letter or digit."
  }
}

variable "resource_group_name" {
  description = "Existing resource group that receives the cache."
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
  description = "Key Vault secret name that receives the connection JSON, e.g. \"webshop-dev-cache\". Key Vault secret names cannot contain \"/\" (or \"_\"): letters, digits and \"-\" only, at most 127 characters."
  type        = string

  validation {
    condition     = can(regex("^[0-9A-Za-z-]{1,127}$", var.secret_name))
    error_message = "secret_name may only contain letters, digits and \"-\" (no \"/\"), 1-127 characters."
  }
}

variable "tags" {
  description = "Tags put on the cache and the secret."
  type        = map(string)
  default     = {}
}

variable "sku_name" {
  description = "Basic (single node, no SLA), Standard (replicated) or Premium."
  type        = string
  default     = "Basic"

  validation {
    condition     = contains(["Basic", "Standard", "Premium"], var.sku_name)
    error_message = "sku_name must be Basic, Standard or Premium."
  }
}

variable "family" {
  description = "C for Basic and Standard, P for Premium."
  type        = string
  default     = "C"

  validation {
    condition     = contains(["C", "P"], var.family)
    error_message = "family must be C or P."
  }
}

variable "capacity" {
  description = "Cache size within the family: C0-C6 or P1-P5 (C0 is 250 MB, C1 is 1 GB)."
  type        = number
  default     = 0
}

variable "engine_version" {
  description = "Redis major version (\"6\")."
  type        = string
  default     = "6"
}

variable "secret_version" {
  description = "Bump to force the connection secret to be rewritten. It is also rewritten whenever a contract value changes, including the access key."
  type        = number
  default     = 1
}

variable "private_endpoint_subnet_id" {
  description = "Subnet for a private endpoint; with it the public endpoint is disabled. Null: no private endpoint."
  type        = string
  default     = null
}

variable "private_dns_zone_id" {
  description = "Private DNS zone privatelink.redis.cache.windows.net for the private endpoint, linked to the cluster's virtual network."
  type        = string
  default     = null
}

variable "public_access_cidrs" {
  description = "Explicit opt-in to public access: CIDR blocks admitted to the public endpoint (a cache firewall rule each; TLS and the access key are still required). Empty (the default): the public endpoint is closed. Ignored with private_endpoint_subnet_id."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.public_access_cidrs : can(cidrhost(c, 0))])
    error_message = "public_access_cidrs must be IPv4 CIDR blocks such as 203.0.113.0/24."
  }
}

variable "zones" {
  description = "Availability zones to spread the Premium cache's nodes over, e.g. [\"1\", \"2\", \"3\"]; empty (the default): Azure's placement. Premium only."
  type        = list(string)
  default     = []
}

variable "delete_lock" {
  description = "Put a CanNotDelete management lock on the cache: Azure refuses to delete it until the lock is removed."
  type        = bool
  default     = false
}
