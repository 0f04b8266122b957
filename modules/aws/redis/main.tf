# Redis on ElastiCache, in one of two shapes:
# - a single-node cluster (the default): aws_elasticache_cluster has no AUTH token, so the
#   contract's optional password key is absent; url is still a secret key of the contract;
# - with multi_az: a replication group of a primary and a replica in another availability zone,
#   failed over automatically, encrypted at rest (with kms_key_id when given) and in transit (the
#   url is rediss://; ElastiCache's certificate is signed by Amazon's public CA).
# Switching between them replaces the cache (a new endpoint; data is in the final snapshot only).
resource "aws_elasticache_subnet_group" "this" {
  count = length(var.subnet_ids) > 0 ? 1 : 0

  name       = var.name
  subnet_ids = var.subnet_ids
  tags       = var.tags
}

locals {
  # security_group_ids is null, not [], when none are given: ElastiCache then attaches the VPC's
  # default group, and an empty list in the configuration would show it as drift on every plan.
  subnet_group_name  = length(var.subnet_ids) > 0 ? aws_elasticache_subnet_group.this[0].name : null
  security_group_ids = length(var.security_group_ids) > 0 ? var.security_group_ids : null
  final_snapshot     = var.final_snapshot ? "${var.name}-final" : null
}

resource "aws_elasticache_cluster" "this" {
  count = var.multi_az ? 0 : 1

  cluster_id      = var.name
  engine          = "redis"
  engine_version  = var.engine_version
  node_type       = var.node_type
  num_cache_nodes = 1
  port            = 6379

  # Daily snapshots kept this many days (0: none), and a final snapshot on deletion when asked.
  snapshot_retention_limit  = var.snapshot_retention_days
  final_snapshot_identifier = local.final_snapshot

  subnet_group_name  = local.subnet_group_name
  security_group_ids = local.security_group_ids

  tags = var.tags
}

resource "aws_elasticache_replication_group" "this" {
  count = var.multi_az ? 1 : 0

  replication_group_id       = var.name
  description                = "Redis of ${var.name}: a primary and a replica in another availability zone."
  engine                     = "redis"
  engine_version             = var.engine_version
  node_type                  = var.node_type
  num_cache_clusters         = 2
  port                       = 6379
  multi_az_enabled           = true
  automatic_failover_enabled = true
  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_id
  transit_encryption_enabled = true

  snapshot_retention_limit  = var.snapshot_retention_days
  final_snapshot_identifier = local.final_snapshot

  subnet_group_name  = local.subnet_group_name
  security_group_ids = local.security_group_ids

  tags = var.tags
}

# The cluster was a single resource before the replicated shape existed: state written then moves
# to index 0.
moved {
  from = aws_elasticache_cluster.this
  to   = aws_elasticache_cluster.this[0]
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
    host = one(concat(aws_elasticache_cluster.this[*].cache_nodes[0].address, aws_elasticache_replication_group.this[*].primary_endpoint_address))
    port = one(concat(aws_elasticache_cluster.this[*].cache_nodes[0].port, aws_elasticache_replication_group.this[*].port))
  }
  scheme = var.multi_az ? "rediss" : "redis"
}

# url is a secret key of the contract, so (as in every module whose JSON holds a secret key) the
# document goes through the write-only secret_string_wo and stays out of state. Its version is
# derived from the content, so the document is rewritten exactly when the endpoint changes.
resource "aws_secretsmanager_secret_version" "connection" {
  secret_id = aws_secretsmanager_secret.connection.id

  secret_string_wo = jsonencode(merge(local.connection, {
    url = format("%s://%s:%d", local.scheme, local.connection.host, local.connection.port)
  }))
  # The scheme joins the digest only when it is not the single node's (whose version stays as before).
  secret_string_wo_version = parseint(substr(sha256("${jsonencode(local.connection)}${local.scheme == "redis" ? "" : local.scheme}"), 0, 12), 16)
}
