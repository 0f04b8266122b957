locals {
  engines = {
    postgres = { port = 5432, scheme = "postgresql", database_version = "POSTGRES_${var.engine_version}", ssl_query = "?sslmode=require" }
    mysql    = { port = 3306, scheme = "mysql", database_version = "MYSQL_${replace(var.engine_version, ".", "_")}", ssl_query = "" }
  }
  engine   = local.engines[var.engine]
  postgres = var.engine == "postgres"
  port     = local.engine.port
  public   = length(var.authorized_networks) > 0
  host = (
    var.private_network != null
    ? google_sql_database_instance.this.private_ip_address
    : google_sql_database_instance.this.public_ip_address
  )

  # A number derived from every non-secret input of the connection document plus
  # var.password_version. It drives both write-only "version" arguments, so the user's password
  # and the connection secret are always (re)written together and cannot drift apart. It must not
  # depend on the (ephemeral) password, which a non-write-only argument cannot take.
  credential_version = 1 + parseint(substr(sha256(jsonencode({
    host             = local.host
    port             = local.port
    database         = var.database_name
    username         = var.username
    require_ssl      = var.require_ssl
    password_version = var.password_version
  })), 0, 7), 16)

  # Ephemeral (it contains var.password): only ever passed to write-only arguments.
  connection_json = jsonencode({
    host     = local.host
    port     = local.port
    database = var.database_name
    username = var.username
    password = var.password
    url = format(
      "%s://%s:%s@%s:%d/%s%s",
      local.engine.scheme,
      urlencode(var.username),
      urlencode(var.password),
      local.host,
      local.port,
      urlencode(var.database_name),
      var.require_ssl ? local.engine.ssl_query : "",
    )
  })
}

resource "google_sql_database_instance" "this" {
  project             = var.project
  region              = var.region
  name                = var.name
  database_version    = local.engine.database_version
  deletion_protection = var.deletion_protection
  # A customer-managed Cloud KMS key (in the instance's region); fixed at creation.
  encryption_key_name = var.kms_key_name

  settings {
    tier                        = var.tier
    edition                     = var.edition
    availability_type           = var.availability_type
    disk_type                   = "PD_SSD"
    disk_size                   = var.disk_size_gb
    disk_autoresize             = true
    disk_autoresize_limit       = var.disk_autoresize_limit_gb
    deletion_protection_enabled = var.deletion_protection
    # Keep the automated backups when the instance is deleted (each until its retention ends).
    retain_backups_on_delete = var.retain_backups_on_delete
    user_labels              = var.tags

    # Private by default: a private IP in the given VPC (which needs private services access), and
    # a public IP only when authorized_networks opt into it.
    ip_configuration {
      ipv4_enabled       = local.public
      private_network    = var.private_network
      allocated_ip_range = var.allocated_ip_range
      ssl_mode           = var.require_ssl ? "ENCRYPTED_ONLY" : "ALLOW_UNENCRYPTED_AND_ENCRYPTED"

      dynamic "authorized_networks" {
        for_each = var.authorized_networks
        content {
          name  = "allowed-${authorized_networks.key}"
          value = authorized_networks.value
        }
      }
    }

    backup_configuration {
      enabled                        = var.backup_enabled
      point_in_time_recovery_enabled = local.postgres ? var.backup_enabled : null
      binary_log_enabled             = local.postgres ? null : var.backup_enabled
      transaction_log_retention_days = var.backup_enabled ? var.transaction_log_retention_days : null

      backup_retention_settings {
        retained_backups = var.retained_backups
        retention_unit   = "COUNT"
      }
    }
  }

  lifecycle {
    # Cloud SQL grows the disk by itself (disk_autoresize). The provider replaces the instance when
    # the configured disk_size is below the actual one, so the size is ignored after creation.
    ignore_changes = [settings[0].disk_size]

    precondition {
      condition     = var.private_network != null || local.public
      error_message = "The instance would accept no connection: give private_network, or authorized_networks to opt into public access."
    }
  }
}

resource "google_sql_database" "this" {
  project   = var.project
  instance  = google_sql_database_instance.this.name
  name      = var.database_name
  charset   = local.postgres ? null : "utf8mb4"
  collation = local.postgres ? null : "utf8mb4_unicode_ci"
}

resource "google_sql_user" "this" {
  project             = var.project
  instance            = google_sql_database_instance.this.name
  name                = var.username
  host                = local.postgres ? null : "%"
  password_wo         = var.password
  password_wo_version = local.credential_version

  # Postgres refuses to drop a role that owns objects; the instance goes away with the unit anyway.
  deletion_policy = local.postgres ? "ABANDON" : null
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

# A secret version is immutable: a new credential_version replaces it. ABANDON keeps the old version
# (and so versions/latest) readable until the new one exists; destroying the unit deletes the secret
# with all its versions. create_before_destroy is not used: Terraform would propagate it to the
# instance this version depends on, which must never get a same-named twin.
resource "google_secret_manager_secret_version" "connection" {
  secret                 = google_secret_manager_secret.connection.id
  secret_data_wo         = local.connection_json
  secret_data_wo_version = local.credential_version
  deletion_policy        = "ABANDON"

  depends_on = [google_sql_user.this, google_sql_database.this]
}
