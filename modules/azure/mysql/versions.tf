terraform {
  # 1.11: ephemeral input variables (1.10) and write-only arguments (1.11).
  required_version = ">= 1.11"

  required_providers {
    azurerm = {
      source = "hashicorp/azurerm"
      # 4.21.0 added administrator_password_wo on the flexible servers and 4.23.0 added
      # azurerm_key_vault_secret.value_wo, which this module relies on.
      version = ">= 4.23, < 5.0"
    }
  }
}
