locals {
  endpoint = "https://storage.googleapis.com"

  connection = {
    name     = google_storage_bucket.this.name
    region   = lower(google_storage_bucket.this.location)
    endpoint = local.endpoint
    id       = google_storage_bucket.this.id
  }
}

resource "google_storage_bucket" "this" {
  project                     = var.project
  name                        = var.name
  location                    = var.region
  storage_class               = var.storage_class
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = var.force_destroy
  labels                      = var.tags

  versioning {
    enabled = var.versioning
  }

  # Deleted and overwritten objects stay restorable this long; null keeps Cloud Storage's default
  # (7 days).
  dynamic "soft_delete_policy" {
    for_each = var.soft_delete_retention_days == null ? [] : [var.soft_delete_retention_days]
    content {
      retention_duration_seconds = soft_delete_policy.value * 86400
    }
  }

  dynamic "encryption" {
    for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
    content {
      default_kms_key_name = encryption.value
    }
  }
}

resource "google_secret_manager_secret" "connection" {
  project   = var.project
  secret_id = var.secret_name
  labels    = var.tags

  # Replicated by Google. With a customer-managed key: kept in the environment's region and
  # encrypted with that (regional) key; automatic replication would need a global key.
  replication {
    dynamic "auto" {
      for_each = var.kms_key_name == null ? [1] : []
      content {}
    }

    dynamic "user_managed" {
      for_each = var.kms_key_name == null ? [] : [1]
      content {
        replicas {
          location = var.region
          customer_managed_encryption {
            kms_key_name = var.kms_key_name
          }
        }
      }
    }
  }
}

# A secret version is immutable: a new version number replaces it. ABANDON keeps the old version
# (and so versions/latest) readable until the new one exists; destroying the unit deletes the secret
# with all its versions. create_before_destroy is not used: Terraform would propagate it to the
# resources this version depends on, which must never get a same-named twin.
resource "google_secret_manager_secret_version" "connection" {
  secret          = google_secret_manager_secret.connection.id
  deletion_policy = "ABANDON"
  secret_data_wo  = jsonencode(local.connection)
  # Nothing here is secret; the number just changes whenever the document does.
  secret_data_wo_version = 1 + parseint(substr(sha256(jsonencode(local.connection)), 0, 7), 16)
}
