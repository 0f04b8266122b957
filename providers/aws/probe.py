"""The AWS reality probe: do the resources Composer's last apply left still exist?

One paginated Resource Groups Tagging API `GetResources` call over Composer's ownership tags
(`composer.dev/app`, `composer.dev/env`; pages of 100 resources and 500 tags) answers for every unit at once.
Terraform records the provider's id, not always the ARN, so each probed type says how its ARN
ends. `aws_db_instance` ids are DBI resource ids, which no ARN holds: those are matched by one
batched `DescribeDBInstances`, made only when such a resource is recorded. Sub-resources the
tagging API does not list (a bucket's versioning, a secret's version) are `unseen`: neither
presence nor absence; `appc drift` covers them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from composer.plugins import ProbedResource, ProbeRequest, ProbeResult

OWNER_TAGS = ("composer.dev/app", "composer.dev/env")


class ClientSession:
    """`session.client(service)` on botocore alone: the probe makes two kinds of plain API calls,
    and boto3's session would import its resource layer and s3transfer for them (~12% of a
    50-unit no-op, issue 13). Credentials, region, endpoint and retry settings come from the same
    chain (environment, profile, role) as boto3's, which delegates them to botocore."""

    def __init__(self, region: str | None) -> None:
        self.region = region
        self._core: Any = None

    def client(self, service: str) -> Any:
        if self._core is None:
            import botocore.session

            self._core = botocore.session.get_session()
        return self._core.create_client(service, region_name=self.region)


def _queue_name(id_: str) -> str:
    return id_.rstrip("/").rsplit("/", 1)[-1]


# type -> how the ARN of a resource with this Terraform id ends
ARN_ENDINGS: dict[str, Callable[[str], str]] = {
    "aws_s3_bucket": lambda id_: f":::{id_}",
    "aws_sqs_queue": lambda id_: f":{_queue_name(id_)}",
    "aws_secretsmanager_secret": lambda id_: id_,
    "aws_elasticache_cluster": lambda id_: f":cluster:{id_}",
    "aws_elasticache_replication_group": lambda id_: f":replicationgroup:{id_}",
    "aws_security_group": lambda id_: f":security-group/{id_}",
}
DESCRIBED = ("aws_db_instance",)


def probe(request: ProbeRequest, session: Any) -> ProbeResult:
    """Answer for every requested resource with as few calls as the resources allow."""
    from botocore.exceptions import BotoCoreError, ClientError

    from providers.aws import aws_error

    tagged = [r for r in request.resources if r.type in ARN_ENDINGS]
    described = [r for r in request.resources if r.type in DESCRIBED]
    unseen = tuple(r for r in request.resources if r.type not in ARN_ENDINGS and r.type not in DESCRIBED)
    calls = 0
    missing: list[ProbedResource] = []
    try:
        if tagged:
            arns, calls = _tagged_arns(session, request)
            missing += [r for r in tagged if not any(_matches(arn, r) for arn in arns)]
        if described:
            ids, n = _db_instance_ids(session)
            calls += n
            missing += [r for r in described if r.id not in ids]
    except (BotoCoreError, ClientError) as exc:
        return ProbeResult(False, reason=aws_error(exc, "the AWS probe failed").summary, api_calls=calls + 1)
    return ProbeResult(True, missing=tuple(missing), unseen=unseen, api_calls=calls)


def _matches(arn: str, resource: ProbedResource) -> bool:
    ending = ARN_ENDINGS[resource.type](resource.id)
    return arn == ending or arn.endswith(ending)


def _tagged_arns(session: Any, request: ProbeRequest) -> tuple[set[str], int]:
    client = session.client("resourcegroupstaggingapi")
    filters = [
        {"Key": OWNER_TAGS[0], "Values": [request.app]},
        {"Key": OWNER_TAGS[1], "Values": [request.environment.name]},
    ]
    arns: set[str] = set()
    calls, token = 0, ""
    while True:
        # The largest pages the API allows (100 resources, 500 tags): a 50-unit app in 1-2 calls.
        page = client.get_resources(TagFilters=filters, ResourcesPerPage=100, TagsPerPage=500, PaginationToken=token)
        calls += 1
        arns |= {str(m.get("ResourceARN", "")) for m in page.get("ResourceTagMappingList") or []}
        token = page.get("PaginationToken") or ""
        if not token:
            return arns, calls


def _db_instance_ids(session: Any) -> tuple[set[str], int]:
    """Every DB instance's resource id and identifier (either may be a Terraform id)."""
    client = session.client("rds")
    ids: set[str] = set()
    calls, marker = 0, None
    while True:
        page = client.describe_db_instances(**({"Marker": marker} if marker else {}), MaxRecords=100)
        calls += 1
        for db in page.get("DBInstances") or []:
            ids |= {str(db.get("DbiResourceId", "")), str(db.get("DBInstanceIdentifier", ""))}
        marker = page.get("Marker")
        if not marker:
            return ids, calls
