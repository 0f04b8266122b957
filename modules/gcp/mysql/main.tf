locals {
  port = 3306
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
      "mysql://%s:%s@%s:%d/%s",
      urlencode(var.username),
      urlencode(var.password),
      local.host,
      local.port,
      urlencode(var.database_name),
    )
  })
}

resource "google_sql_database_instance" "this" {
  project             = var.project
  region              = var.region
  name                = var.name
  database_version    = "MYSQL_${replace(var.engine_version, ".", "_")}"
  deletion_protection = var.deletion_protection

  settings {
    tier                        = var.tier
    edition                     = var.edition
    availability_type           = var.availability_type
    disk_type                   = "PD_SSD"
    disk_size                   = var.disk_size_gb
    disk_autoresize             = true
    deletion_protection_enabled = var.deletion_protection
    user_labels                 = var.tags

    ip_configuration {
      ipv4_enabled    = var.private_network == null
      private_network = var.private_network
      ssl_mode        = var.require_ssl ? "ENCRYPTED_ONLY" : "ALLOW_UNENCRYPTED_AND_ENCRYPTED"
    }

    backup_configuration {
      enabled            = var.backup_enabled
      binary_log_enabled = var.backup_enabled
    }
  }
}

resource "google_sql_database" "this" {
  project   = var.project
  instance  = google_sql_database_instance.this.name
  name      = var.database_name
  charset   = "utf8mb4"
  collation = "utf8mb4_unicode_ci"
}

resource "google_sql_user" "this" {
  project             = var.project
  instance            = google_sql_database_instance.this.name
  name                = var.username
  host                = "%"
  password_wo         = var.password
  password_wo_version = local.credential_version
}

resource "google_secret_manager_secret" "connection" {
  project   = var.project
  secret_id = var.secret_name
  labels    = var.tags

  replication {
    auto {}
  }
}

# A secret version is immutable: a new version number replaces it (the old version is destroyed
# first). create_before_destroy is deliberately not used: Terraform would propagate it to the
# resources this version depends on, and those must not create a same-named twin before the old one
# is gone when they are replaced.
resource "google_secret_manager_secret_version" "connection" {
  secret                 = google_secret_manager_secret.connection.id
  secret_data_wo         = local.connection_json
  secret_data_wo_version = local.credential_version

  depends_on = [google_sql_user.this, google_sql_database.this]
}
