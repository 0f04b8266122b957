variable "name" {
  description = "Physical name prefix of the resources, e.g. \"webshop-dev-db\" (lowercase, DNS-safe, 3-40 characters)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}[a-z0-9]$", var.name))
    error_message = "The name must be 3-40 characters of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen."
  }
}

variable "secret_name" {
  description = "Name of the Secrets Manager secret that receives the connection details as one JSON document, e.g. \"webshop/dev/db\"."
  type        = string
}

variable "secret_recovery_window_days" {
  description = "Recovery window of the connection secret on deletion: 0 deletes at once (so destroy and re-apply with the same name works), or 7-30 days."
  type        = number
  default     = 0

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "The secret_recovery_window_days must be 0 or between 7 and 30."
  }
}

variable "tags" {
  description = "Tags for every resource the module creates."
  type        = map(string)
  default     = {}
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
  description = "Engine version; a major version (\"16\", \"8.0\") lets RDS pick the current minor. Null: 16 for postgres, 8.0 for mysql."
  type        = string
  default     = null
}

variable "instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t3.micro"
}

variable "allocated_storage" {
  description = "Initial storage in GiB. Storage autoscaling grows it up to max_allocated_storage; later changes of this value are ignored (raise max_allocated_storage instead)."
  type        = number
  default     = 20

  validation {
    condition     = var.allocated_storage >= 20 && var.allocated_storage <= 65536
    error_message = "allocated_storage must be between 20 and 65536 GiB (gp3)."
  }
}

variable "max_allocated_storage" {
  description = "Ceiling of storage autoscaling in GiB. Null: ten times allocated_storage, at least 100, at most 65536."
  type        = number
  default     = null
}

variable "multi_az" {
  description = "Run a standby in a second availability zone."
  type        = bool
  default     = false
}

variable "database_name" {
  description = "Name of the database created in the instance."
  type        = string
  default     = "app"
}

variable "username" {
  description = "Master user name."
  type        = string
  default     = "app"
}

variable "password" {
  description = "Master password. Ephemeral: written only to write-only arguments (password_wo, secret_string_wo), never to plan or state. Composer supplies it on every plan and apply: generated before the first apply and sealed in its state until the connection secret holds it, read back from that secret afterwards."
  type        = string
  sensitive   = true
  ephemeral   = true
  nullable    = false

  validation {
    condition     = length(var.password) >= 16
    error_message = "The master password must have at least 16 characters."
  }
}

variable "password_version" {
  description = "Bump to rotate the master password: a new random password is written to the instance and the connection secret."
  type        = number
  default     = 1
}

variable "deletion_protection" {
  description = "Refuse to delete the instance while true."
  type        = bool
  default     = false
}

variable "skip_final_snapshot" {
  description = "Delete without a final snapshot; when false the final snapshot is named \"<name>-final\"."
  type        = bool
  default     = true
}

variable "vpc_id" {
  description = "VPC of the subnets; needed only with public_access_cidrs (the security group that admits them is created there)."
  type        = string
  default     = null
}

variable "subnet_ids" {
  description = "Subnets (in at least two availability zones) for a DB subnet group of the instance's own. Empty: the default VPC."
  type        = list(string)
  default     = []
}

variable "vpc_security_group_ids" {
  description = "Security groups of the instance; they must admit the database port from the workloads. Empty: the VPC's default security group."
  type        = list(string)
  default     = []
}

variable "public_access_cidrs" {
  description = "Explicit opt-in to public access: the instance becomes publicly accessible and a security group admits the database port from these CIDRs only. Empty (the default): private."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.public_access_cidrs : can(cidrhost(c, 0))])
    error_message = "public_access_cidrs must be CIDR blocks such as 203.0.113.0/24."
  }
}

variable "kms_key_id" {
  description = "A customer-managed KMS key (ARN) for the storage and the connection secret; null: the AWS-managed key."
  type        = string
  default     = null
}

variable "backup_retention_days" {
  description = "Days of automated backups and point-in-time recovery (0 turns them off); null: the RDS default."
  type        = number
  default     = null

  validation {
    # A conditional, not ||: Terraform evaluates both sides, and null >= 0 is an error.
    condition     = var.backup_retention_days == null ? true : (var.backup_retention_days >= 0 && var.backup_retention_days <= 35)
    error_message = "backup_retention_days must be between 0 and 35."
  }
}

variable "delete_automated_backups" {
  description = "Delete the automated backups when the instance is deleted (RDS's default). false keeps them, and point-in-time restore within them, until their retention ends."
  type        = bool
  default     = true
}
