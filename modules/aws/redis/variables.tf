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
  description = "Redis engine version (\"7.1\", \"6.2\", ...)."
  type        = string
  default     = "7.1"
}

variable "node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t3.micro"
}

variable "subnet_ids" {
  description = "Subnets for a cache subnet group of the node's own. Empty: the default VPC."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the node; they must admit port 6379 from the workloads. Empty uses the VPC's default security group."
  type        = list(string)
  default     = []
}

variable "kms_key_id" {
  description = "A customer-managed KMS key (ARN) for the connection secret; null: the AWS-managed key."
  type        = string
  default     = null
}

variable "snapshot_retention_days" {
  description = "Days of daily snapshots kept (0: no backups)."
  type        = number
  default     = 0

  validation {
    condition     = var.snapshot_retention_days >= 0 && var.snapshot_retention_days <= 35
    error_message = "snapshot_retention_days must be between 0 and 35."
  }
}

variable "final_snapshot" {
  description = "Take a final snapshot, named \"<name>-final\", when the cluster is deleted."
  type        = bool
  default     = false
}

variable "multi_az" {
  description = "A replication group of a primary and a replica in another availability zone with automatic failover, encrypted at rest and in transit (url rediss://), instead of a single node. Switching replaces the cache."
  type        = bool
  default     = false
}
