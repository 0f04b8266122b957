variable "name" {
  description = "Physical name of the Memorystore instance, e.g. \"webshop-dev-cache\". Lower-case letters, digits and hyphens, starting with a letter, at most 40 characters."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,38}[a-z0-9]$", var.name))
    error_message = "name must be 2-40 characters of lower-case letters, digits and hyphens, start with a letter and not end with a hyphen."
  }
}

variable "project" {
  description = "GCP project id that owns the instance and the connection secret."
  type        = string
}

variable "region" {
  description = "GCP region of the instance, e.g. \"europe-west1\"."
  type        = string
}

variable "secret_name" {
  description = "Secret Manager secret id that receives the connection JSON, e.g. \"webshop-dev-cache\". Secret Manager ids cannot contain \"/\": letters, digits, \"-\" and \"_\" only, at most 255 characters."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.secret_name))
    error_message = "secret_name may only contain letters, digits, \"-\" and \"_\" (no \"/\"), 1-255 characters."
  }
}

variable "tags" {
  description = "Labels put on the instance and the secret. GCP label rules apply: lower-case keys starting with a letter, values of lower-case letters, digits, \"-\" and \"_\"."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for k, v in var.tags : can(regex("^[a-z][a-z0-9_-]{0,62}$", k)) && can(regex("^[a-z0-9_-]{0,63}$", v))
    ])
    error_message = "tags must follow GCP label rules: keys ^[a-z][a-z0-9_-]{0,62}$, values ^[a-z0-9_-]{0,63}$."
  }
}

variable "tier" {
  description = "Memorystore service tier: BASIC (single node) or STANDARD_HA (replicated, automatic failover)."
  type        = string
  default     = "BASIC"

  validation {
    condition     = contains(["BASIC", "STANDARD_HA"], var.tier)
    error_message = "tier must be BASIC or STANDARD_HA."
  }
}

variable "memory_size_gb" {
  description = "Memory size in GiB."
  type        = number
  default     = 1
}

variable "engine_version" {
  description = "Redis version as Memorystore names it, e.g. REDIS_7_2."
  type        = string
  default     = "REDIS_7_2"
}

variable "authorized_network" {
  description = "Id (projects/P/global/networks/N) or self link of the VPC network the instance is reachable from. It needs private services access: the instance connects through it (connect_mode PRIVATE_SERVICE_ACCESS). Required: there is no fallback to a \"default\" network, which many projects do not have."
  type        = string
  nullable    = false
}

variable "reserved_ip_range" {
  description = "Name of the private services access range to take the instance's addresses from; null lets Google pick one of the network's ranges."
  type        = string
  default     = null
}

variable "transit_encryption" {
  description = "Serve TLS only (SERVER_AUTHENTICATION, port 6378, url scheme rediss). Memorystore signs with its own CA, which is not part of the contract, so clients must be given that CA or skip verification; off by default for that reason."
  type        = bool
  default     = false
}

variable "secret_version" {
  description = "Bump to force the connection secret to be rewritten. It is also rewritten whenever a contract value changes, including the AUTH string."
  type        = number
  default     = 1
}

variable "kms_key_name" {
  description = "Customer-managed Cloud KMS key (projects/P/locations/REGION/keyRings/R/cryptoKeys/K) for the instance's data and the connection secret; null: Google-managed keys. The key must be in the environment's region, and the Memorystore and Secret Manager service agents need roles/cloudkms.cryptoKeyEncrypterDecrypter on it."
  type        = string
  default     = null
}

variable "rdb_snapshot_period" {
  description = "RDB persistence: snapshot the dataset every ONE_HOUR, SIX_HOURS, TWELVE_HOURS or TWENTY_FOUR_HOURS; null (the default): no persistence."
  type        = string
  default     = null

  validation {
    condition     = var.rdb_snapshot_period == null || contains(["ONE_HOUR", "SIX_HOURS", "TWELVE_HOURS", "TWENTY_FOUR_HOURS"], coalesce(var.rdb_snapshot_period, "ONE_HOUR"))
    error_message = "rdb_snapshot_period must be ONE_HOUR, SIX_HOURS, TWELVE_HOURS or TWENTY_FOUR_HOURS (or null)."
  }
}
