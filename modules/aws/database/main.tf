locals {
  engines = {
    postgres = { port = 5432, url_scheme = "postgresql", default_version = "16" }
    mysql    = { port = 3306, url_scheme = "mysql", default_version = "8.0" }
  }
  engine         = local.engines[var.engine]
  engine_version = coalesce(var.engine_version, local.engine.default_version)

  # Storage autoscaling is always on: RDS grows allocated_storage up to this ceiling by itself, so
  # allocated_storage is only the starting size and is ignored after creation (lifecycle below).
  max_allocated_storage = coalesce(var.max_allocated_storage, min(max(var.allocated_storage * 10, 100), 65536))

  # Network: a subnet group of its own when subnets are given, else the default VPC. Security groups:
  # the given ones, plus one admitting public_access_cidrs when public access is opted into.
  subnet_group_name  = length(var.subnet_ids) > 0 ? aws_db_subnet_group.this[0].name : null
  public             = length(var.public_access_cidrs) > 0
  security_group_ids = concat(var.vpc_security_group_ids, aws_security_group.public[*].id)
}

# The master password comes from the caller (Composer generates it once and keeps it sealed until
# the secret below holds it) as an ephemeral variable: it is passed only to write-only arguments
# (password_wo, secret_string_wo), so it never enters plan or state.

resource "aws_db_subnet_group" "this" {
  count = length(var.subnet_ids) > 0 ? 1 : 0

  name       = var.name
  subnet_ids = var.subnet_ids
  tags       = var.tags
}

# Public access is an explicit opt-in: a security group admitting only the given CIDRs.
resource "aws_security_group" "public" {
  count = local.public ? 1 : 0

  name        = "${var.name}-public"
  description = "Database port of ${var.name} from the allowed CIDRs only."
  vpc_id      = var.vpc_id
  tags        = var.tags

  lifecycle {
    precondition {
      condition     = var.vpc_id != null
      error_message = "public_access_cidrs needs vpc_id (the VPC of the security group that admits them)."
    }
  }
}

resource "aws_vpc_security_group_ingress_rule" "public" {
  for_each = toset(local.public ? var.public_access_cidrs : [])

  security_group_id = aws_security_group.public[0].id
  description       = "Database port of ${var.name} from ${each.value} (public access, opted in)."
  cidr_ipv4         = each.value
  from_port         = local.engine.port
  to_port           = local.engine.port
  ip_protocol       = "tcp"
}

resource "aws_db_instance" "this" {
  identifier     = var.name
  engine         = var.engine
  engine_version = local.engine_version
  instance_class = var.instance_class
  multi_az       = var.multi_az

  allocated_storage     = var.allocated_storage
  max_allocated_storage = local.max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.kms_key_id

  # Automated backups (and with them point-in-time recovery) kept this many days; null: RDS's default.
  # Unless delete_automated_backups, they outlive the instance until their retention ends.
  backup_retention_period  = var.backup_retention_days
  delete_automated_backups = var.delete_automated_backups

  # Minor engine versions (security fixes) are applied in the maintenance window. RDS's default,
  # stated because an instance that stops taking them falls behind on CVEs silently.
  auto_minor_version_upgrade = true

  db_name  = var.database_name
  username = var.username
  # Write-only: sent on create and whenever password_wo_version changes.
  password_wo         = var.password
  password_wo_version = var.password_version

  # vpc_security_group_ids is null, not [], when none are given: RDS then attaches the VPC's
  # default group, and an empty list in the configuration would show it as drift on every plan.
  db_subnet_group_name   = local.subnet_group_name
  vpc_security_group_ids = length(local.security_group_ids) > 0 ? local.security_group_ids : null
  publicly_accessible    = local.public

  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = var.skip_final_snapshot
  final_snapshot_identifier = var.skip_final_snapshot ? null : "${var.name}-final"
  copy_tags_to_snapshot     = true

  tags = var.tags

  lifecycle {
    # Storage autoscaling grows allocated_storage; a plan must never try to shrink it back.
    ignore_changes = [allocated_storage]
  }
}

resource "aws_secretsmanager_secret" "connection" {
  name                    = var.secret_name
  description             = "Connection details of ${var.name} (${var.engine}), one JSON document."
  recovery_window_in_days = var.secret_recovery_window_days
  kms_key_id              = var.kms_key_id

  tags = var.tags
}

locals {
  connection = {
    host     = aws_db_instance.this.address
    port     = aws_db_instance.this.port
    database = aws_db_instance.this.db_name
    username = aws_db_instance.this.username
  }
}

# The JSON holds the password, so it is written through the write-only secret_string_wo. Its
# version is derived from everything it contains apart from the password, plus the instance's
# resource_id (new on replacement, when the new instance got this apply's password) and
# password_version (rotation), so the document is rewritten exactly when one of them changes.
resource "aws_secretsmanager_secret_version" "connection" {
  secret_id = aws_secretsmanager_secret.connection.id

  secret_string_wo = jsonencode(merge(local.connection, {
    password = var.password
    url = format("%s://%s:%s@%s:%d/%s",
      local.engine.url_scheme,
      urlencode(local.connection.username),
      urlencode(var.password),
      local.connection.host,
      local.connection.port,
      local.connection.database,
    )
  }))
  secret_string_wo_version = parseint(substr(sha256(jsonencode([
    var.password_version,
    aws_db_instance.this.resource_id,
    local.connection,
  ])), 0, 12), 16)
}
