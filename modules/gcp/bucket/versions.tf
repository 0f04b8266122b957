terraform {
  # 1.11: write-only arguments.
  required_version = ">= 1.11"

  required_providers {
    google = {
      source = "hashicorp/google"
      # 6.23.0 added google_secret_manager_secret_version.secret_data_wo, which this module relies on.
      version = ">= 6.23, < 7.0"
    }
  }
}
