terraform {
  # 1.11: write-only arguments.
  required_version = ">= 1.11"

  required_providers {
    azurerm = {
      source = "hashicorp/azurerm"
      # 4.23.0 added azurerm_key_vault_secret.value_wo, which this module relies on.
      version = ">= 4.23, < 5.0"
    }
  }
}
