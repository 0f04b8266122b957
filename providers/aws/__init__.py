"""AWS provider plugin: RDS, ElastiCache, S3 and SQS implementations, the aws provider
block, the s3 backend, and (issue 5) STS preflight, backend bootstrap and Secrets Manager reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from composer.model.environment import Environment
from composer.plugins import BackendRequest, TerraformProviderBlocks, TerraformRequest
from providers.base import ShippedProvider

AWS_PROVIDER_VERSION = ">= 5.100, < 6.0"


class AwsProvider(ShippedProvider):
    name = "aws"
    package_dir = Path(__file__).parent

    def template_context(self, environment: Environment) -> Mapping[str, Any]:
        cloud = environment.spec.cloud
        return {"region": cloud.region if cloud else None, "account": cloud.account if cloud else None}

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


plugin = AwsProvider()
