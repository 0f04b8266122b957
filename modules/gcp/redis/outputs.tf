output "host" {
  description = "IP address of the Memorystore instance (reachable from the authorized network only)."
  value       = local.host
}

output "port" {
  description = "Redis port: 6379, or 6378 when transit encryption is on."
  value       = local.port
}

output "connection_secret_id" {
  description = "Secret Manager secret (projects/<project>/secrets/<secret_name>) whose latest version holds the connection JSON: host, port, password (the AUTH string), url."
  value       = google_secret_manager_secret.connection.id

  # Make sure a reader of this id finds the current version.
  depends_on = [google_secret_manager_secret_version.connection]
}
