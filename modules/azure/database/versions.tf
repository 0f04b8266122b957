terraform {
  # 1.11: ephemeral input variables (1.10) and write-only arguments (1.11).
  required_version = ">= 1.11"

  required_providers {
    azurerm = {
      source = "hashicorp/azurerm"
      # 4.21.0 added administrator_password_wo on the flexible servers, 4.23.0
      # azurerm_key_vault_secret.value_wo, 4.46.0 PostgreSQL 17 and 4.55.0 MySQL 8.4 to the
      # version validations: with an older provider "17" or "8.4" fails validation.
      version = ">= 4.55, < 5.0"
    }
  }
}
