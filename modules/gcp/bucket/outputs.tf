output "name" {
  description = "Bucket name."
  value       = local.connection.name
}

output "region" {
  description = "Bucket location, lower-cased (e.g. europe-west1)."
  value       = local.connection.region
}

output "endpoint" {
  description = "Cloud Storage API endpoint."
  value       = local.connection.endpoint
}

output "id" {
  description = "Provider id of the bucket (for Cloud Storage this is the bucket name)."
  value       = local.connection.id
}

output "connection_secret_id" {
  description = "Secret Manager secret (projects/<project>/secrets/<secret_name>) whose latest version holds the connection JSON: name, region, endpoint, id."
  value       = google_secret_manager_secret.connection.id

  # Make sure a reader of this id finds the current version.
  depends_on = [google_secret_manager_secret_version.connection]
}
