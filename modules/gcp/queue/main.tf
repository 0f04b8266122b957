locals {
  dlq_name = "${var.name}-dlq"

  # Publishers send to the topic; consumers pull from the subscription of the same name.
  connection = {
    name = google_pubsub_topic.this.name
    url  = "https://pubsub.googleapis.com/v1/${google_pubsub_topic.this.id}"
    id   = google_pubsub_topic.this.id
  }

  # Pub/Sub's service agent moves messages to the dead-letter topic; it needs publish rights on
  # that topic and subscribe rights on the source subscription.
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

data "google_project" "this" {
  project_id = var.project
}

resource "google_pubsub_topic" "this" {
  project      = var.project
  kms_key_name = var.kms_key_name
  name         = var.name
  labels       = var.tags

  message_storage_policy {
    allowed_persistence_regions = [var.region]
  }
}

resource "google_pubsub_topic" "dead_letter" {
  project                    = var.project
  kms_key_name               = var.kms_key_name
  name                       = local.dlq_name
  labels                     = var.tags
  message_retention_duration = var.message_retention

  message_storage_policy {
    allowed_persistence_regions = [var.region]
  }
}

resource "google_pubsub_subscription" "this" {
  project                    = var.project
  name                       = var.name
  topic                      = google_pubsub_topic.this.id
  labels                     = var.tags
  ack_deadline_seconds       = var.ack_deadline_seconds
  message_retention_duration = var.message_retention

  # Never expire the subscription for inactivity.
  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }
}

# Subscription on the dead-letter topic, so dead letters are retained and can be inspected.
resource "google_pubsub_subscription" "dead_letter" {
  project                    = var.project
  name                       = local.dlq_name
  topic                      = google_pubsub_topic.dead_letter.id
  labels                     = var.tags
  message_retention_duration = var.message_retention

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  project = var.project
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  project      = var.project
  subscription = google_pubsub_subscription.this.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
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
