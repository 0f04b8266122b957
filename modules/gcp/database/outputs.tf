output "host" {
  description = "IP address clients connect to: the private IP when private_network is set, otherwise the public IP."
  value       = local.host
}

output "port" {
  description = "Database port: 5432 for postgres, 3306 for mysql."
  value       = local.port
}

output "database" {
  description = "Name of the application database."
  value       = google_sql_database.this.name
}

output "username" {
  description = "Name of the application database user."
  value       = google_sql_user.this.name
}

output "connection_secret_id" {
  description = "Secret Manager secret (projects/<project>/secrets/<secret_name>) whose latest version holds the connection JSON: host, port, database, username, password, url."
  value       = google_secret_manager_secret.connection.id

  # Make sure a reader of this id finds the current version.
  depends_on = [google_secret_manager_secret_version.connection]
}
