variable "tags" {
  description = "Tags given by the caller"
  type        = map(string)
  default     = {}
}

variable "add_marker" {
  description = "Whether to add the module marker tag"
  type        = bool
  default     = true
}

output "tags" {
  description = "The tags, with the module's own marker added"
  value       = merge(var.add_marker ? { "module" = "s3-bucket" } : {}, var.tags)
}
