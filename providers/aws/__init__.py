"""AWS provider plugin: RDS, ElastiCache, S3 and SQS implementations, the aws provider
block, the s3 backend, STS preflight and Secrets Manager reads. boto3 is imported lazily:
rendering never needs it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.model.environment import Environment
from composer.plugins import (
    BackendRequest,
    EnvironmentCheckRequest,
    EnvironmentProblem,
    PreflightRequest,
    PreflightResult,
    ProbeRequest,
    ProbeResult,
    SecretRequest,
    StatusRequest,
    TerraformProviderBlocks,
    TerraformRequest,
    UnitStatus,
)
from providers.base import ShippedProvider
from providers.network import Need, network_problems, network_values

# RDS and ElastiCache fall back to the default VPC without a network block; public access needs the
# VPC where the security group admitting the allowed CIDRs is created.
_PUBLIC_DB = Need(
    (("vpcId",),), "the VPC of the security group that admits spec.network.publicAccess.allowedCidrs", public_ok=False
)
NETWORK_NEEDS: dict[tuple[str, str], Need] = {}

AWS_PROVIDER_VERSION = ">= 5.100, < 6.0"


class AwsProvider(ShippedProvider):
    name = "aws"
    package_dir = Path(__file__).parent

    def template_context(self, environment: Environment) -> Mapping[str, Any]:
        cloud = environment.spec.cloud
        return {
            "region": cloud.region if cloud else None,
            "account": cloud.account if cloud else None,
            "network": network_values(environment),
        }

    def check_environment(self, request: EnvironmentCheckRequest) -> Sequence[EnvironmentProblem]:
        network = request.environment.spec.network
        needs = dict(NETWORK_NEEDS)
        if network is not None and network.public_access is not None:
            needs.update({("postgres", "aws-rds"): _PUBLIC_DB, ("mysql", "aws-rds"): _PUBLIC_DB})
        return network_problems(self.name, request, needs)

    def terraform_provider(self, request: TerraformRequest) -> TerraformProviderBlocks:
        env = request.environment
        cloud = env.spec.cloud
        block: dict[str, Any] = {}
        if cloud and cloud.region:
            block["region"] = cloud.region
        if cloud and cloud.account:
            block["allowed_account_ids"] = [cloud.account]
        block["default_tags"] = {
            "tags": {
                "composer.dev/app": request.app,
                "composer.dev/env": env.name,
                "composer.dev/component": request.component,
            }
        }
        return TerraformProviderBlocks(
            required_providers={"aws": {"source": "hashicorp/aws", "version": AWS_PROVIDER_VERSION}},
            provider={"aws": block},
        )

    def backend(self, request: BackendRequest) -> Mapping[str, Any] | None:
        state = request.environment.spec.state
        if state.backend != "s3":
            return None
        cloud = request.environment.spec.cloud
        block: dict[str, Any] = {
            "bucket": state.bucket,
            "key": f"{state.prefix.rstrip('/')}/{request.key}" if state.prefix else request.key,
            "region": state.region or (cloud.region if cloud else None),
            "encrypt": True,
        }
        if state.lock == "dynamodb":
            block["dynamodb_table"] = state.table or f"{state.bucket}-lock"
        else:
            block["use_lockfile"] = True
        return {"s3": {k: v for k, v in block.items() if v is not None}}

    def preflight(self, request: PreflightRequest) -> PreflightResult:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        env = request.environment
        cloud = env.spec.cloud
        known = (
            set(boto3.session.Session().get_available_regions("ec2"))
            | set(boto3.session.Session().get_available_regions("ec2", "aws-cn"))
            | set(boto3.session.Session().get_available_regions("ec2", "aws-us-gov"))
        )
        if cloud and cloud.region and cloud.region not in known:
            return PreflightResult(
                False,
                diagnostics=(
                    Diagnostic(
                        f"AWS region {cloud.region!r} does not exist",
                        "check cloud.region in the environment (e.g. eu-west-1)",
                    ),
                ),
            )
        try:
            ident = _session(env).client("sts").get_caller_identity()
        except (BotoCoreError, ClientError) as exc:
            return PreflightResult(False, diagnostics=(aws_error(exc, "AWS credentials were rejected"),))
        if cloud and cloud.account and ident.get("Account") != cloud.account:
            return PreflightResult(
                False,
                identity=ident.get("Arn", ""),
                diagnostics=(
                    Diagnostic(
                        f"credentials are for account {ident.get('Account')}, the environment wants {cloud.account}",
                        "switch AWS profile, or fix cloud.account",
                    ),
                ),
            )
        return PreflightResult(True, identity=ident.get("Arn", ""))

    def bootstrap_backend(self, request: PreflightRequest) -> PreflightResult:
        """The s3 state backend: bucket (and lock table) created when missing (providers/aws/sdk.py)."""
        if request.environment.spec.state.backend != "s3":
            return PreflightResult(True)
        from providers.aws.sdk import bootstrap_s3_backend

        return bootstrap_s3_backend(request.environment)

    def status(self, request: StatusRequest) -> UnitStatus:
        from providers.aws.sdk import unit_status

        return unit_status(request.environment, request.type, request.outputs)

    def probe(self, request: ProbeRequest) -> ProbeResult:
        """Do the recorded resources still exist? One batched query (providers/aws/probe.py)."""
        from providers.aws.probe import ClientSession, probe

        cloud = request.environment.spec.cloud
        return probe(request, ClientSession(cloud.region if cloud else None))

    def resource_tags(self, environment: Environment, resource_type: str, resource_id: str) -> Mapping[str, str] | None:
        """The tags of an existing resource (adoption of orphans, engine/adopt.py)."""
        from providers.aws.tags import resource_tags

        return resource_tags(environment, resource_type, resource_id)

    def retire_previous_secret(self, environment: Environment, secret_id: str) -> bool:
        """After `appc rotate`: the old value leaves the secret store entry."""
        from providers.aws.tags import retire_previous_secret

        return retire_previous_secret(environment, secret_id)

    def read_secret(self, request: SecretRequest) -> Mapping[str, str]:
        import json

        from botocore.exceptions import BotoCoreError, ClientError

        try:
            value = _session(request.environment).client("secretsmanager").get_secret_value(SecretId=request.secret_id)
        except (BotoCoreError, ClientError) as exc:
            raise DiagnosticError([aws_error(exc, f"cannot read secret {request.secret_id}")]) from None
        try:
            data = json.loads(value.get("SecretString") or "{}")
        except json.JSONDecodeError:
            raise DiagnosticError(
                [
                    Diagnostic(
                        f"secret {request.secret_id} does not hold a JSON document",
                        "connection details are stored as one JSON object",
                    )
                ]
            ) from None
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}


def _session(environment: Environment):
    import boto3

    cloud = environment.spec.cloud
    return boto3.session.Session(region_name=(cloud.region if cloud else None))


def aws_error(exc: Exception, what: str) -> Diagnostic:
    """botocore errors at the edge -> one diagnostic with AWS's own reason (never a secret)."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    if isinstance(exc, NoCredentialsError):
        return Diagnostic(
            f"{what}: no AWS credentials found",
            "set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run on a role",
        )
    if isinstance(exc, NoRegionError):
        return Diagnostic(f"{what}: no AWS region", "set cloud.region in the environment")
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return Diagnostic(f"{what}: {err.get('Code', 'error')}", err.get("Message", "")[:500])
    if isinstance(exc, BotoCoreError):
        return Diagnostic(f"{what}: {type(exc).__name__}", str(exc)[:500])
    return Diagnostic(f"{what}: {type(exc).__name__}", str(exc)[:300])


plugin = AwsProvider()
