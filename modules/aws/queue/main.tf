locals {
  suffix = var.fifo ? ".fifo" : ""
}

resource "aws_sqs_queue" "dead_letter" {
  name       = "${var.name}-dlq${local.suffix}"
  fifo_queue = var.fifo
  # Keep failed messages as long as SQS allows, to leave time to inspect them.
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = var.kms_key_id == null ? true : null
  kms_master_key_id         = var.kms_key_id

  tags = var.tags
}

resource "aws_sqs_queue" "this" {
  name                       = "${var.name}${local.suffix}"
  fifo_queue                 = var.fifo
  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = var.message_retention_seconds
  # SQS-managed encryption, or the customer-managed key when one is given (not both).
  sqs_managed_sse_enabled = var.kms_key_id == null ? true : null
  kms_master_key_id       = var.kms_key_id

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = var.tags
}

resource "aws_secretsmanager_secret" "connection" {
  name                    = var.secret_name
  description             = "Connection details of queue ${var.name}, one JSON document."
  recovery_window_in_days = var.secret_recovery_window_days
  kms_key_id              = var.kms_key_id

  tags = var.tags
}

locals {
  connection = {
    name = aws_sqs_queue.this.name
    url  = aws_sqs_queue.this.url
    id   = aws_sqs_queue.this.arn
  }
}

# The queue contract has no secret key, so the document is written with the plain secret_string
# (as in every module whose JSON holds no secret key): it may sit in state, and Terraform then
# sees and repairs drift of the secret and rewrites it on change without a version counter.
# Modules whose JSON holds a secret key (postgres, mysql, redis) use secret_string_wo instead.
resource "aws_secretsmanager_secret_version" "connection" {
  secret_id     = aws_secretsmanager_secret.connection.id
  secret_string = jsonencode(local.connection)
}
