variable "db_host" { type = string }
variable "db_pass" {
  type      = string
  sensitive = true
}
variable "dsn" {
  type      = string
  sensitive = true
}
resource "terraform_data" "schema" { input = var.db_host }
output "version" { value = terraform_data.schema.id }
