variable "name" {
  description = "Globally unique bucket name, e.g. \"webshop-dev-uploads\". 3-63 lower-case letters, digits, \"-\" and \"_\", starting and ending with a letter or digit, not starting with \"goog\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$", var.name)) && !startswith(var.name, "goog")
    error_message = "name must be 3-63 characters of lower-case letters, digits, \"-\" and \"_\", start and end with a letter or digit and not start with \"goog\"."
  }
}

variable "project" {
  description = "GCP project id that owns the bucket and the connection secret."
  type        = string
}

variable "region" {
  description = "Bucket location: a region such as \"europe-west1\" (or a multi-region such as \"eu\")."
  type        = string
}

variable "secret_name" {
  description = "Secret Manager secret id that receives the connection JSON, e.g. \"webshop-dev-uploads\". Secret Manager ids cannot contain \"/\": letters, digits, \"-\" and \"_\" only, at most 255 characters."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.secret_name))
    error_message = "secret_name may only contain letters, digits, \"-\" and \"_\" (no \"/\"), 1-255 characters."
  }
}

variable "tags" {
  description = "Labels put on the bucket and the secret. GCP label rules apply: lower-case keys starting with a letter, values of lower-case letters, digits, \"-\" and \"_\"."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for k, v in var.tags : can(regex("^[a-z][a-z0-9_-]{0,62}$", k)) && can(regex("^[a-z0-9_-]{0,63}$", v))
    ])
    error_message = "tags must follow GCP label rules: keys ^[a-z][a-z0-9_-]{0,62}$, values ^[a-z0-9_-]{0,63}$."
  }
}

variable "storage_class" {
  description = "Default storage class: STANDARD, NEARLINE, COLDLINE or ARCHIVE."
  type        = string
  default     = "STANDARD"

  validation {
    condition     = contains(["STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"], var.storage_class)
    error_message = "storage_class must be STANDARD, NEARLINE, COLDLINE or ARCHIVE."
  }
}

variable "versioning" {
  description = "Keep noncurrent object versions."
  type        = bool
  default     = false
}

variable "force_destroy" {
  description = "Let destroy delete a bucket that still holds objects. Off by default so that data is never deleted by accident."
  type        = bool
  default     = false
}

variable "kms_key_name" {
  description = "Customer-managed Cloud KMS key (projects/P/locations/REGION/keyRings/R/cryptoKeys/K) for the bucket's objects and the connection secret; null: Google-managed keys. The key must be in the environment's region, and the Cloud Storage and Secret Manager service agents need roles/cloudkms.cryptoKeyEncrypterDecrypter on it."
  type        = string
  default     = null
}

variable "soft_delete_retention_days" {
  description = "Days a deleted or overwritten object stays restorable (7-90, or 0 for none); null keeps Cloud Storage's default of 7 days."
  type        = number
  default     = null

  validation {
    condition     = var.soft_delete_retention_days == null || contains([0], coalesce(var.soft_delete_retention_days, 7)) || (coalesce(var.soft_delete_retention_days, 7) >= 7 && coalesce(var.soft_delete_retention_days, 7) <= 90)
    error_message = "soft_delete_retention_days must be 0 or between 7 and 90."
  }
}
