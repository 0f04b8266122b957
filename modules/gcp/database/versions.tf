terraform {
  # 1.11: ephemeral input variables (1.10) and write-only arguments (1.11).
  required_version = ">= 1.11"

  required_providers {
    google = {
      source = "hashicorp/google"
      # 6.23.0 added the write-only arguments this module relies on:
      # google_secret_manager_secret_version.secret_data_wo and google_sql_user.password_wo.
      version = ">= 6.23, < 7.0"
    }
  }
}
