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

variable "engine_version" {
  description = "PostgreSQL engine version; a major version (\"16\") lets RDS pick the current minor."
  type        = string
  default     = "16"
}

variable "instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t3.micro"
}

variable "allocated_storage" {
  description = "Allocated storage in GiB."
  type        = number
  default     = 20
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

variable "db_subnet_group_name" {
  description = "DB subnet group to place the instance in; null uses the default VPC."
  type        = string
  default     = null
}

variable "vpc_security_group_ids" {
  description = "Security groups of the instance; empty uses the VPC's default security group."
  type        = list(string)
  default     = []
}
