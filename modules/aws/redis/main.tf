# A single-node Redis cluster. aws_elasticache_cluster has no AUTH token, so the contract's
# optional password key is absent; url is still a secret key of the contract.
resource "aws_elasticache_subnet_group" "this" {
  count = length(var.subnet_ids) > 0 ? 1 : 0

  name       = var.name
  subnet_ids = var.subnet_ids
  tags       = var.tags
}

resource "aws_elasticache_cluster" "this" {
  cluster_id      = var.name
  engine          = "redis"
  engine_version  = var.engine_version
  node_type       = var.node_type
  num_cache_nodes = 1
  port            = 6379

  # Daily snapshots kept this many days (0: none), and a final snapshot on deletion when asked.
  snapshot_retention_limit  = var.snapshot_retention_days
  final_snapshot_identifier = var.final_snapshot ? "${var.name}-final" : null

  # security_group_ids is null, not [], when none are given: ElastiCache then attaches the VPC's
  # default group, and an empty list in the configuration would show it as drift on every plan.
  subnet_group_name  = length(var.subnet_ids) > 0 ? aws_elasticache_subnet_group.this[0].name : null
  security_group_ids = length(var.security_group_ids) > 0 ? var.security_group_ids : null

  tags = var.tags
}

resource "aws_secretsmanager_secret" "connection" {
  name                    = var.secret_name
  description             = "Connection details of ${var.name} (redis), one JSON document."
  recovery_window_in_days = var.secret_recovery_window_days
  kms_key_id              = var.kms_key_id

  tags = var.tags
}

locals {
  connection = {
    host = aws_elasticache_cluster.this.cache_nodes[0].address
    port = aws_elasticache_cluster.this.cache_nodes[0].port
  }
}

# url is a secret key of the contract, so (as in every module whose JSON holds a secret key) the
# document goes through the write-only secret_string_wo and stays out of state. Its version is
# derived from the content, so the document is rewritten exactly when the endpoint changes.
resource "aws_secretsmanager_secret_version" "connection" {
  secret_id = aws_secretsmanager_secret.connection.id

  secret_string_wo = jsonencode(merge(local.connection, {
    url = format("redis://%s:%d", local.connection.host, local.connection.port)
  }))
  secret_string_wo_version = parseint(substr(sha256(jsonencode(local.connection)), 0, 12), 16)
}
