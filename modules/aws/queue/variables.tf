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

variable "fifo" {
  description = "Create FIFO queues; the names then end in \".fifo\"."
  type        = bool
  default     = false
}

variable "visibility_timeout_seconds" {
  description = "How long a received message stays invisible to other consumers (0-43200)."
  type        = number
  default     = 30
}

variable "message_retention_seconds" {
  description = "How long the queue keeps a message (60-1209600)."
  type        = number
  default     = 345600
}

variable "max_receive_count" {
  description = "Receives after which a message moves to the dead-letter queue."
  type        = number
  default     = 5
}

variable "kms_key_id" {
  description = "A customer-managed KMS key (ARN) for the messages and the connection secret; null: the AWS-managed key."
  type        = string
  default     = null
}
