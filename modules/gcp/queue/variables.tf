variable "name" {
  description = "Name of the topic and of its pull subscription, e.g. \"webshop-dev-jobs\"; the dead-letter topic is \"<name>-dlq\". 3-251 characters: letters, digits and \"-\", \"_\", \".\", starting with a letter, not starting with \"goog\"."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9._-]{2,250}$", var.name)) && !startswith(lower(var.name), "goog")
    error_message = "name must be 3-251 characters of letters, digits, \"-\", \"_\" and \".\", start with a letter and not start with \"goog\"."
  }
}

variable "project" {
  description = "GCP project id that owns the topics, the subscription and the connection secret."
  type        = string
}

variable "region" {
  description = "GCP region of the environment. Pub/Sub topics are global; the region is used as the only allowed message storage region."
  type        = string
}

variable "secret_name" {
  description = "Secret Manager secret id that receives the connection JSON, e.g. \"webshop-dev-jobs\". Secret Manager ids cannot contain \"/\": letters, digits, \"-\" and \"_\" only, at most 255 characters."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.secret_name))
    error_message = "secret_name may only contain letters, digits, \"-\" and \"_\" (no \"/\"), 1-255 characters."
  }
}

variable "tags" {
  description = "Labels put on the topics, the subscription and the secret. GCP label rules apply: lower-case keys starting with a letter, values of lower-case letters, digits, \"-\" and \"_\"."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for k, v in var.tags : can(regex("^[a-z][a-z0-9_-]{0,62}$", k)) && can(regex("^[a-z0-9_-]{0,63}$", v))
    ])
    error_message = "tags must follow GCP label rules: keys ^[a-z][a-z0-9_-]{0,62}$, values ^[a-z0-9_-]{0,63}$."
  }
}

variable "ack_deadline_seconds" {
  description = "Time a consumer has to acknowledge a message before it is redelivered (10-600)."
  type        = number
  default     = 30

  validation {
    condition     = var.ack_deadline_seconds >= 10 && var.ack_deadline_seconds <= 600
    error_message = "ack_deadline_seconds must be between 10 and 600."
  }
}

variable "message_retention" {
  description = "How long unacknowledged messages are kept, as a duration in seconds such as \"604800s\" (7 days, the maximum)."
  type        = string
  default     = "604800s"
}

variable "max_delivery_attempts" {
  description = "Deliveries of a message before it is moved to the dead-letter topic (5-100)."
  type        = number
  default     = 10

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100."
  }
}

variable "kms_key_name" {
  description = "Customer-managed Cloud KMS key (projects/P/locations/REGION/keyRings/R/cryptoKeys/K) for the topics' messages and the connection secret; null: Google-managed keys. The key must be in the environment's region, and the Pub/Sub and Secret Manager service agents need roles/cloudkms.cryptoKeyEncrypterDecrypter on it."
  type        = string
  default     = null
}
