"""AWS SDK calls of the aws provider beyond preflight: state-backend bootstrap and unit status.

Everything here talks to AWS through boto3 clients built from the default credential chain,
so endpoints (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`, ...) and credentials come from the
environment exactly as for every AWS tool; the code has no test switches. botocore errors are
translated at this edge into diagnostics with AWS's own reason (`aws_error`).

Bootstrap is idempotent: what exists is reported `present` and left untouched; only what is
missing is created, with the settings a Terraform state bucket needs (versioning, default
encryption, every public access blocked) and, for `lock: dynamodb`, the lock table Terraform
and Composer share (hash key `LockID`, a string; on-demand billing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from composer.diagnostics import Diagnostic
from composer.model.environment import Environment
from composer.plugins import BackendResource, PreflightResult, UnitStatus

TABLE_WAIT = {"Delay": 2, "MaxAttempts": 60}  # DynamoDB creates a table in seconds; 2 min at most


def backend_region(environment: Environment) -> str | None:
    state = environment.spec.state
    cloud = environment.spec.cloud
    return state.region or (cloud.region if cloud else None)


def lock_table(environment: Environment) -> str | None:
    """The DynamoDB lock table, named as the s3 backend block and the S3 state store name it."""
    state = environment.spec.state
    if state.lock != "dynamodb":
        return None
    return state.table or f"{state.bucket}-lock"


def _client(service: str, region: str | None) -> Any:
    import boto3

    return boto3.session.Session(region_name=region).client(service)


def _code(exc: Exception) -> str:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


# -- state backend ---------------------------------------------------------------------------


def bootstrap_s3_backend(environment: Environment) -> PreflightResult:
    """Create the state bucket and (with lock: dynamodb) the lock table when missing."""
    from botocore.exceptions import BotoCoreError, ClientError

    from providers.aws import aws_error

    state = environment.spec.state
    region = backend_region(environment)
    resources: list[BackendResource] = []
    try:
        resources.append(_ensure_bucket(state.bucket, region, environment.name))
        table = lock_table(environment)
        if table:
            resources.append(_ensure_table(table, region))
    except _Refused as exc:
        return PreflightResult(False, diagnostics=(exc.diagnostic,), resources=tuple(resources))
    except (BotoCoreError, ClientError) as exc:
        return PreflightResult(
            False, diagnostics=(aws_error(exc, "cannot prepare the s3 state backend"),), resources=tuple(resources)
        )
    return PreflightResult(True, resources=tuple(resources))


class _Refused(Exception):
    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.summary)
        self.diagnostic = diagnostic


def _ensure_bucket(bucket: str, region: str | None, env_name: str) -> BackendResource:
    from botocore.exceptions import ClientError

    s3 = _client("s3", region)
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = _code(exc)
        if code in ("403", "AccessDenied", "Forbidden"):
            raise _Refused(
                Diagnostic(
                    f"the state bucket {bucket!r} exists but these credentials cannot use it",
                    "S3 bucket names are global: another account may own it. Choose another state.bucket, "
                    f"or grant this identity s3:ListBucket, GetObject and PutObject on it (environment {env_name!r}).",
                )
            ) from None
        if code not in ("404", "NoSuchBucket", "NotFound"):
            raise
    else:
        versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status") or "not enabled"
        detail = f"versioning {versioning.lower()}"
        if versioning != "Enabled":
            detail += " (left as it is; enable it to keep earlier Terraform states)"
        return BackendResource("s3 bucket", bucket, "present", detail)

    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region and region != "us-east-1":  # us-east-1 is the one region S3 refuses as a constraint
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**kwargs)
    except ClientError as exc:
        if _code(exc) == "BucketAlreadyExists":
            raise _Refused(
                Diagnostic(
                    f"the state bucket name {bucket!r} is taken by another AWS account",
                    "S3 bucket names are global; choose another state.bucket",
                )
            ) from None
        if _code(exc) != "BucketAlreadyOwnedByYou":  # a concurrent init won the race: fine
            raise
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]
        },
    )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    return BackendResource(
        "s3 bucket",
        bucket,
        "created",
        f"in {region or 'the default region'}: versioning on, AES256 default encryption, public access blocked",
    )


def _ensure_table(table: str, region: str | None) -> BackendResource:
    from botocore.exceptions import ClientError

    ddb = _client("dynamodb", region)
    try:
        desc = ddb.describe_table(TableName=table)["Table"]
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise
    else:
        keys = {k["AttributeName"]: k["KeyType"] for k in desc.get("KeySchema", [])}
        types = {a["AttributeName"]: a["AttributeType"] for a in desc.get("AttributeDefinitions", [])}
        if keys != {"LockID": "HASH"} or types.get("LockID") != "S":
            raise _Refused(
                Diagnostic(
                    f"the lock table {table!r} exists with another key schema",
                    f"Terraform and Composer need the hash key LockID (a string) and nothing else; it has {keys}. Use another state.table.",
                )
            )
        return BackendResource(
            "dynamodb table", table, "present", f"status {desc.get('TableStatus', 'unknown').lower()}"
        )
    try:
        ddb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    except ClientError as exc:
        if _code(exc) != "ResourceInUseException":  # a concurrent init is creating it
            raise
    ddb.get_waiter("table_exists").wait(TableName=table, WaiterConfig=TABLE_WAIT)
    return BackendResource("dynamodb table", table, "created", "hash key LockID (string), on-demand billing")


# -- unit status -----------------------------------------------------------------------------


def unit_status(environment: Environment, type_: str, outputs: Mapping[str, Any]) -> UnitStatus:
    """What AWS says about the resource behind a unit, found from its non-secret outputs."""
    from botocore.exceptions import BotoCoreError, ClientError

    from providers.aws import aws_error

    cloud = environment.spec.cloud
    region = outputs.get("region") if type_ == "bucket" else None
    region = region or (cloud.region if cloud else None)
    try:
        if type_ in ("postgres", "mysql"):
            return _rds(_client("rds", region), _first_label(outputs, "host"))
        if type_ == "redis":
            return _elasticache(_client("elasticache", region), _first_label(outputs, "host"))
        if type_ == "bucket":
            return _bucket(_client("s3", region), str(outputs.get("name") or ""))
        if type_ == "queue":
            return _queue(_client("sqs", region), str(outputs.get("url") or ""))
    except _Unknown as exc:
        return UnitStatus("unknown", str(exc))
    except (BotoCoreError, ClientError) as exc:
        d = aws_error(exc, "cannot describe it")
        return UnitStatus("unknown", f"{d.summary}: {d.detail}".rstrip(": "))
    return UnitStatus("unknown", f"the aws provider reports no status for type {type_}")


class _Unknown(Exception):
    pass


def _first_label(outputs: Mapping[str, Any], key: str) -> str:
    """RDS and ElastiCache endpoints start with the instance or cluster identifier."""
    host = str(outputs.get(key) or "")
    if not host:
        raise _Unknown(f"no {key} output recorded; apply the unit first")
    return host.split(".", 1)[0]


def _rds(rds: Any, identifier: str) -> UnitStatus:
    from botocore.exceptions import ClientError

    try:
        db = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    except ClientError as exc:
        if _code(exc) == "DBInstanceNotFound":
            return UnitStatus("missing", f"RDS instance {identifier} does not exist")
        raise
    return UnitStatus(
        str(db.get("DBInstanceStatus", "unknown")),
        f"RDS {db.get('Engine', '')} {db.get('EngineVersion', '')} {db.get('DBInstanceClass', '')}".strip(),
    )


def _elasticache(ec: Any, cluster: str) -> UnitStatus:
    from botocore.exceptions import ClientError

    try:
        c = ec.describe_cache_clusters(CacheClusterId=cluster)["CacheClusters"][0]
    except ClientError as exc:
        if _code(exc) == "CacheClusterNotFound":
            return UnitStatus("missing", f"ElastiCache cluster {cluster} does not exist")
        raise
    return UnitStatus(
        str(c.get("CacheClusterStatus", "unknown")),
        f"ElastiCache {c.get('Engine', '')} {c.get('EngineVersion', '')} {c.get('CacheNodeType', '')}".strip(),
    )


def _bucket(s3: Any, name: str) -> UnitStatus:
    from botocore.exceptions import ClientError

    if not name:
        raise _Unknown("no name output recorded; apply the unit first")
    try:
        resp = s3.head_bucket(Bucket=name)
    except ClientError as exc:
        if _code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return UnitStatus("missing", f"S3 bucket {name} does not exist")
        if _code(exc) in ("403", "AccessDenied", "Forbidden"):
            return UnitStatus("unknown", f"S3 bucket {name}: access denied")
        raise
    region = (
        (resp.get("ResponseMetadata", {}).get("HTTPHeaders", {}) or {}).get("x-amz-bucket-region")
        or resp.get("BucketRegion")
        or ""
    )
    return UnitStatus("available", f"S3 bucket {name}" + (f" in {region}" if region else ""))


def _queue(sqs: Any, url: str) -> UnitStatus:
    from botocore.exceptions import ClientError

    if not url:
        raise _Unknown("no url output recorded; apply the unit first")
    try:
        attrs = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
    except ClientError as exc:
        if _code(exc) in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            return UnitStatus("missing", f"SQS queue {url} does not exist")
        raise
    return UnitStatus(
        "available",
        f"{attrs.get('ApproximateNumberOfMessages', '?')} messages waiting, {attrs.get('ApproximateNumberOfMessagesNotVisible', '?')} in flight",
    )
