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

variable "versioning" {
  description = "Keep every version of each object (Enabled); false suspends versioning."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Allow destroy to delete a bucket that still holds objects (every version is deleted)."
  type        = bool
  default     = false
}

variable "kms_key_id" {
  description = "A customer-managed KMS key (ARN) for the objects and the connection secret; null: the AWS-managed key."
  type        = string
  default     = null
}

variable "abort_incomplete_uploads_days" {
  description = "Days after which the parts of an unfinished multipart upload are deleted; 0: no lifecycle rule (the AWS provider waits at least 55 s after writing one)."
  type        = number
  default     = 7

  validation {
    condition     = var.abort_incomplete_uploads_days >= 0 && floor(var.abort_incomplete_uploads_days) == var.abort_incomplete_uploads_days
    error_message = "abort_incomplete_uploads_days is a whole number of days, 0 or more."
  }
}
