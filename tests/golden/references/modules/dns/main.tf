variable "bucket_name" { type = string }
variable "note" { type = string }
variable "endpoint_url" { type = string }
variable "replicas" {
  type    = number
  default = 1
}
variable "nested" { type = any }

resource "terraform_data" "zone" {
  input = "${var.bucket_name}.zone.example.com"
}

output "fqdn" { value = terraform_data.zone.output }
output "api_key" {
  value     = sha256(var.bucket_name)
  sensitive = true
}
