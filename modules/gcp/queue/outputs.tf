output "name" {
  description = "Name of the topic, which is also the name of its pull subscription."
  value       = local.connection.name
}

output "url" {
  description = "REST URL of the topic (https://pubsub.googleapis.com/v1/projects/<project>/topics/<name>); append \":publish\" to publish."
  value       = local.connection.url
}

output "id" {
  description = "Topic id, projects/<project>/topics/<name>."
  value       = local.connection.id
}

output "connection_secret_id" {
  description = "Secret Manager secret (projects/<project>/secrets/<secret_name>) whose latest version holds the connection JSON: name, url, id."
  value       = google_secret_manager_secret.connection.id

  # Make sure a reader of this id finds the current version.
  depends_on = [google_secret_manager_secret_version.connection]
}
