variable "create_bucket" {
  description = "Controls if the S3 bucket should be created"
  type        = bool
  default     = true
}

variable "bucket" {
  description = "The name of the bucket. If omitted, Terraform assigns a random, unique name"
  type        = string
  default     = null
}

variable "bucket_prefix" {
  description = "Creates a unique bucket name beginning with the specified prefix. Conflicts with bucket"
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Whether all objects should be deleted from the bucket when it is destroyed"
  type        = bool
  default     = false
}

variable "object_lock_enabled" {
  description = "Whether S3 bucket should have an Object Lock configuration enabled"
  type        = bool
  default     = false
}

variable "tags" {
  description = "A map of tags to assign to the bucket"
  type        = map(string)
  default     = {}
}

variable "versioning" {
  description = "Map containing versioning configuration (enabled, mfa_delete)"
  type        = map(string)
  default     = {}
}

variable "attach_public_policy" {
  description = "Controls if a user defined public bucket policy will be attached"
  type        = bool
  default     = true
}

variable "block_public_acls" {
  description = "Whether Amazon S3 should block public ACLs for this bucket"
  type        = bool
  default     = true
}

variable "block_public_policy" {
  description = "Whether Amazon S3 should block public bucket policies for this bucket"
  type        = bool
  default     = true
}

variable "ignore_public_acls" {
  description = "Whether Amazon S3 should ignore public ACLs for this bucket"
  type        = bool
  default     = true
}

variable "restrict_public_buckets" {
  description = "Whether Amazon S3 should restrict public bucket policies for this bucket"
  type        = bool
  default     = true
}

variable "control_object_ownership" {
  description = "Whether to manage S3 Bucket Ownership Controls on this bucket"
  type        = bool
  default     = false
}

variable "object_ownership" {
  description = "Object ownership: BucketOwnerEnforced, BucketOwnerPreferred or ObjectWriter"
  type        = string
  default     = "BucketOwnerEnforced"
}

variable "attach_policy" {
  description = "Controls if the bucket should have a bucket policy attached (set to true to use the value of policy)"
  type        = bool
  default     = false
}

variable "policy" {
  description = "A valid bucket policy JSON document"
  type        = string
  default     = null
}

variable "server_side_encryption_configuration" {
  description = "Map containing server-side encryption configuration (sse_algorithm, kms_master_key_id)"
  type        = any
  default     = {}
}

variable "lifecycle_rule" {
  description = "List of maps containing configuration of object lifecycle management"
  type        = any
  default     = []
}

variable "website" {
  description = "Map containing static web-site hosting or redirect configuration"
  type        = any
  default     = {}
}

variable "cors_rule" {
  description = "List of maps containing rules for Cross-Origin Resource Sharing"
  type        = any
  default     = []
}

variable "acceleration_status" {
  description = "Sets the accelerate configuration of an existing bucket: Enabled or Suspended"
  type        = string
  default     = null
}

variable "request_payer" {
  description = "Who pays for download and request fees: BucketOwner or Requester"
  type        = string
  default     = null
}

variable "expected_bucket_owner" {
  description = "The account ID of the expected bucket owner"
  type        = string
  default     = null
}

variable "logging" {
  description = "Map containing access bucket logging configuration (target_bucket, target_prefix)"
  type        = map(string)
  default     = {}
}

variable "intelligent_tiering" {
  description = "Map containing intelligent tiering configuration"
  type        = any
  default     = {}
}

variable "create_connection_tags" {
  description = "Whether the naming submodule adds its module marker tag"
  type        = bool
  default     = true
}
