variable "name" {
  description = "Physical name of the Cloud SQL instance, e.g. \"webshop-dev-db\". Lower-case letters, digits and hyphens, starting with a letter, at most 63 characters. Cloud SQL does not let a name be reused for about a week after deletion."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,61}[a-z0-9]$", var.name))
    error_message = "name must be 2-63 characters of lower-case letters, digits and hyphens, start with a letter and not end with a hyphen."
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
  description = "Secret Manager secret id that receives the connection JSON, e.g. \"webshop-dev-db\". Secret Manager ids cannot contain \"/\": letters, digits, \"-\" and \"_\" only, at most 255 characters."
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

variable "password" {
  description = "Password of the database user. Ephemeral: it is written only to write-only arguments (google_sql_user.password_wo, secret_data_wo) and never enters plan or state. The caller (Composer) supplies it on every plan and apply, typically as TF_VAR_password from a root-level ephemeral variable: generated on first create, read back from the connection secret afterwards."
  type        = string
  sensitive   = true
  ephemeral   = true
  nullable    = false

  validation {
    condition     = length(var.password) >= 16
    error_message = "password must be at least 16 characters."
  }
}

variable "password_version" {
  description = "Bump to rotate: the password is (re)applied to the user and the connection secret is rewritten whenever this number or any non-secret contract value changes."
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
  description = "PostgreSQL major version (\"16\", becomes POSTGRES_16) or MySQL version (\"8.0\", becomes MYSQL_8_0)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+(\\.[0-9]+)?$", var.engine_version))
    error_message = "engine_version must look like \"16\" (postgres) or \"8.0\" (mysql)."
  }
}

variable "tier" {
  description = "Cloud SQL machine tier, e.g. db-custom-1-3840 (1 vCPU, 3.75 GB). Shared-core tiers (db-f1-micro, db-g1-small) suit throw-away environments only."
  type        = string
  default     = "db-custom-1-3840"
}

variable "edition" {
  description = "Cloud SQL edition: ENTERPRISE or ENTERPRISE_PLUS. The tier must belong to the edition."
  type        = string
  default     = "ENTERPRISE"

  validation {
    condition     = contains(["ENTERPRISE", "ENTERPRISE_PLUS"], var.edition)
    error_message = "edition must be ENTERPRISE or ENTERPRISE_PLUS."
  }
}

variable "availability_type" {
  description = "ZONAL, or REGIONAL for a high-availability standby in a second zone."
  type        = string
  default     = "ZONAL"

  validation {
    condition     = contains(["ZONAL", "REGIONAL"], var.availability_type)
    error_message = "availability_type must be ZONAL or REGIONAL."
  }
}

variable "disk_size_gb" {
  description = "Initial SSD size in GB (10-65536). Storage auto-grows from there; later changes of this value are ignored."
  type        = number
  default     = 10

  validation {
    condition     = var.disk_size_gb >= 10 && var.disk_size_gb <= 65536
    error_message = "disk_size_gb must be between 10 and 65536."
  }
}

variable "disk_autoresize_limit_gb" {
  description = "Ceiling of automatic storage growth in GB; 0 means no limit."
  type        = number
  default     = 0
}

variable "database_name" {
  description = "Name of the database created on the instance."
  type        = string
  default     = "app"
}

variable "username" {
  description = "Name of the built-in database user created for the application (for mysql: host \"%\", at most 32 characters)."
  type        = string
  default     = "app"

  validation {
    condition     = length(var.username) >= 1 && length(var.username) <= 63
    error_message = "username must be 1-63 characters."
  }
}

variable "private_network" {
  description = "Id (projects/P/global/networks/N) or self link of a VPC network with private services access. The instance gets a private IP there and host is that address. Null only together with authorized_networks (public access)."
  type        = string
  default     = null
}

variable "allocated_ip_range" {
  description = "Name of the private services access range to take the private IP from; null lets Google pick one of the network's ranges."
  type        = string
  default     = null
}

variable "authorized_networks" {
  description = "Explicit opt-in to public access: CIDR blocks allowed to reach a public IP. Empty (the default): no public IP."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.authorized_networks : can(cidrhost(c, 0))])
    error_message = "authorized_networks must be CIDR blocks such as 203.0.113.0/24."
  }
}

variable "require_ssl" {
  description = "Reject unencrypted connections (ssl_mode ENCRYPTED_ONLY); postgres urls then carry sslmode=require (mysql clients must use TLS)."
  type        = bool
  default     = true
}

variable "backup_enabled" {
  description = "Daily automated backups with point-in-time recovery (binary logging for mysql)."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Protect the instance from deletion, both in Terraform and in the Cloud SQL API. Set false for throw-away environments so that destroy works."
  type        = bool
  default     = true
}

variable "retained_backups" {
  description = "Number of daily automated backups kept (1-365); Cloud SQL's default is 7."
  type        = number
  default     = 7

  validation {
    condition     = var.retained_backups >= 1 && var.retained_backups <= 365
    error_message = "retained_backups must be between 1 and 365."
  }
}

variable "transaction_log_retention_days" {
  description = "Days of transaction logs kept for point-in-time recovery (1-7 on ENTERPRISE, up to 35 on ENTERPRISE_PLUS); at most retained_backups."
  type        = number
  default     = 7

  validation {
    condition     = var.transaction_log_retention_days >= 1 && var.transaction_log_retention_days <= 35
    error_message = "transaction_log_retention_days must be between 1 and 35."
  }
}

variable "retain_backups_on_delete" {
  description = "Keep the automated backups after the instance is deleted (each until its retention ends), so a deleted instance can still be restored."
  type        = bool
  default     = false
}

variable "kms_key_name" {
  description = "Customer-managed Cloud KMS key (projects/P/locations/REGION/keyRings/R/cryptoKeys/K) for the instance's disks and backups and for the connection secret; null: Google-managed keys. The key must be in the instance's region, and the Cloud SQL and Secret Manager service agents need roles/cloudkms.cryptoKeyEncrypterDecrypter on it. Setting it on an existing instance replaces the instance."
  type        = string
  default     = null
}
