variable "name" {
  description = "Physical name of the bucket and its IAM user, e.g. \"catalog-staging-assets\" (lowercase, DNS-safe, 3-40 characters)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}[a-z0-9]$", var.name))
    error_message = "The name must be 3-40 characters of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen."
  }
}

variable "expiration_days" {
  description = "Objects are deleted this many days after they were written."
  type        = number

  validation {
    condition     = var.expiration_days >= 1
    error_message = "The expiration_days must be at least 1."
  }
}

variable "noncurrent_days" {
  description = "Overwritten or deleted object versions are kept this many days."
  type        = number
  default     = 30
}

variable "versioning" {
  description = "Keep every version of each object (Enabled); false suspends versioning."
  type        = bool
  default     = true
}

variable "read_only" {
  description = "The access key may only read objects (true) or read and write them (false)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource the module creates."
  type        = map(string)
  default     = {}
}
