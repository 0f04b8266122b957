"""gcp provider plugin: Cloud SQL, Memorystore, Cloud Storage and Pub/Sub implementations
(implementations.yaml, modules/gcp), the google provider block, the gcs backend, and the
Google Cloud calls (providers/gcp/sdk.py): Resource Manager preflight, state-bucket bootstrap
and Secret Manager reads. The Google libraries are imported lazily: rendering never needs them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

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
from providers.gcp.labels import default_labels
from providers.network import Need, network_problems, network_values

_VPC = "a VPC network with private services access (projects/PROJECT/global/networks/NAME)"
NETWORK_NEEDS = {
    ("postgres", "gcp-cloudsql"): Need(
        (("vpc",),), f"{_VPC}: Cloud SQL gets a private IP there and host is that address"
    ),
    ("mysql", "gcp-cloudsql"): Need((("vpc",),), f"{_VPC}: Cloud SQL gets a private IP there and host is that address"),
    ("redis", "gcp-memorystore"): Need(
        (("vpc",),),
        f"{_VPC}: Memorystore connects through it; there is no fallback to a 'default' network",
        public_ok=False,
    ),
}

# As the modules' versions.tf: 6.23 added the write-only secret_data_wo and password_wo.
GOOGLE_PROVIDER_VERSION = ">= 6.23, < 7.0"


class GcpProvider(ShippedProvider):
    name = "gcp"
    package_dir = Path(__file__).parent

    def template_context(self, environment: Environment) -> Mapping[str, Any]:
        """project and region for the module inputs; `protected` (policies.protect) turns on the
        deletion protection that Cloud SQL offers. Unset values are left out, so a template that
        needs one fails at render naming it, not at plan."""
        cloud = environment.spec.cloud
        context: dict[str, Any] = {
            "protected": list(environment.spec.policies.protect),
            "network": network_values(environment),
        }
        if cloud and cloud.project:
            context["project"] = cloud.project
        if cloud and cloud.region:
            context["region"] = cloud.region
        return context

    def check_environment(self, request: EnvironmentCheckRequest) -> Sequence[EnvironmentProblem]:
        return network_problems(self.name, request, NETWORK_NEEDS)

    def terraform_provider(self, request: TerraformRequest) -> TerraformProviderBlocks:
        """`default_labels`: Composer's ownership labels on every labelled resource of the unit
        (providers/gcp/labels.py), as the aws provider's default_tags; the probe searches by them."""
        cloud = request.environment.spec.cloud
        block: dict[str, Any] = {
            k: v
            for k, v in {"project": cloud.project if cloud else None, "region": cloud.region if cloud else None}.items()
            if v
        }
        block["default_labels"] = default_labels(request.app, request.environment.name, request.component)
        return TerraformProviderBlocks(
            required_providers={"google": {"source": "hashicorp/google", "version": GOOGLE_PROVIDER_VERSION}},
            provider={"google": block},
        )

    def backend(self, request: BackendRequest) -> Mapping[str, Any] | None:
        """gcs keeps a unit's state at <prefix>/default.tfstate, so the per-unit key becomes the prefix."""
        state = request.environment.spec.state
        if state.backend != "gcs":
            return None
        unit = request.key.removesuffix(".tfstate")
        prefix = f"{state.prefix.strip('/')}/{unit}" if state.prefix else unit
        return {"gcs": {"bucket": state.bucket, "prefix": prefix}}

    def preflight(self, request: PreflightRequest) -> PreflightResult:
        from providers.gcp.sdk import preflight

        return preflight(request.environment)

    def bootstrap_backend(self, request: PreflightRequest) -> PreflightResult:
        if request.environment.spec.state.backend != "gcs":
            return PreflightResult(True)
        from providers.gcp.sdk import bootstrap_gcs_backend

        return bootstrap_gcs_backend(request.environment)

    def status(self, request: StatusRequest) -> UnitStatus:
        from providers.gcp.status import unit_status

        return unit_status(request)

    def probe(self, request: ProbeRequest) -> ProbeResult:
        """Do the recorded resources still exist? One Cloud Asset search (providers/gcp/probe.py)."""
        from providers.gcp.probe import probe

        return probe(request)

    def read_secret(self, request: SecretRequest) -> Mapping[str, str]:
        from providers.gcp.sdk import read_secret

        return read_secret(request.secret_id)


Provider = GcpProvider  # the name the stub exported
plugin = GcpProvider()
