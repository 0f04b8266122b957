"""Day-2 calls of the aws provider: the tags of an existing resource (adoption), and retiring a
rotated secret's previous version.

Tags: by Terraform resource type and import id.

Used when an apply finds a resource that already exists (engine/adopt.py): only a resource
whose ownership tags (app, env, component) name the unit is ever adopted without being asked.
A resource that cannot be read, or a type not listed here, reports no tags: never adopted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from composer.model.environment import Environment


def _pairs(items: Any) -> dict[str, str]:
    return {str(t.get("Key")): str(t.get("Value", "")) for t in items or () if isinstance(t, dict) and t.get("Key")}


def _bucket(session: Any, id_: str) -> dict[str, str]:
    return _pairs(session.client("s3").get_bucket_tagging(Bucket=id_).get("TagSet"))


def _secret(session: Any, id_: str) -> dict[str, str]:
    return _pairs(session.client("secretsmanager").describe_secret(SecretId=id_).get("Tags"))


def _db_instance(session: Any, id_: str) -> dict[str, str]:
    rds = session.client("rds")
    arn = rds.describe_db_instances(DBInstanceIdentifier=id_)["DBInstances"][0]["DBInstanceArn"]
    return _pairs(rds.list_tags_for_resource(ResourceName=arn).get("TagList"))


def _queue(session: Any, id_: str) -> dict[str, str]:
    sqs = session.client("sqs")
    url = id_ if id_.startswith("https://") else sqs.get_queue_url(QueueName=id_)["QueueUrl"]
    return {str(k): str(v) for k, v in (sqs.list_queue_tags(QueueUrl=url).get("Tags") or {}).items()}


_READERS: dict[str, Callable[[Any, str], dict[str, str]]] = {
    "aws_s3_bucket": _bucket,
    "aws_secretsmanager_secret": _secret,
    "aws_db_instance": _db_instance,
    "aws_sqs_queue": _queue,
}


def resource_tags(environment: Environment, resource_type: str, resource_id: str) -> Mapping[str, str] | None:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    reader = _READERS.get(resource_type)
    if reader is None:
        return None
    cloud = environment.spec.cloud
    try:
        return reader(boto3.session.Session(region_name=cloud.region if cloud else None), resource_id)
    except (BotoCoreError, ClientError, KeyError, IndexError):
        return None  # unreadable: treated as untagged, so never adopted


def retire_previous_secret(environment: Environment, secret_id: str) -> bool:
    """After a rotation: the version labelled AWSPREVIOUS (the old password) loses its label, so
    the entry serves only the new value and Secrets Manager deprecates the old version."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    cloud = environment.spec.cloud
    sm = boto3.session.Session(region_name=cloud.region if cloud else None).client("secretsmanager")
    try:
        stages = sm.describe_secret(SecretId=secret_id).get("VersionIdsToStages") or {}
        for version, labels in stages.items():
            if "AWSPREVIOUS" in labels:
                sm.update_secret_version_stage(
                    SecretId=secret_id, VersionStage="AWSPREVIOUS", RemoveFromVersionId=version
                )
    except (BotoCoreError, ClientError):
        return False
    return True
