"""azure provider plugin: Flexible Server, Azure Cache for Redis, Storage and Service Bus
implementations (implementations.yaml, modules/azure), the azurerm provider block, the azurerm
backend, and the Azure calls (providers/azure/sdk.py): subscription preflight, state-backend
bootstrap and Key Vault reads. The Azure libraries are imported lazily: rendering never needs them."""

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
from providers.network import Need, network_problems, network_values


def _flexible(engine: str, service: str) -> Need:
    return Need(
        (("delegatedSubnets", engine), ("privateDnsZones", engine)),
        f"a subnet delegated to Microsoft.{service}/flexibleServers and the private DNS zone privatelink.{engine}.database.azure.com linked to the cluster's virtual network: the server is VNet-integrated and host resolves to its private address",
    )


def _endpoint(zone_key: str, zone: str, what: str) -> Need:
    return Need(
        (("privateEndpointSubnetId",), ("privateDnsZones", zone_key)),
        f"a subnet for private endpoints and the private DNS zone {zone}: {what} gets a private endpoint and its public endpoint is disabled",
    )


# Service Bus Standard namespaces have no private endpoints (Premium only): queues need no network.
NETWORK_NEEDS = {
    ("postgres", "azure-flexible-server"): _flexible("postgres", "DBforPostgreSQL"),
    ("mysql", "azure-flexible-server"): _flexible("mysql", "DBforMySQL"),
    ("redis", "azure-cache"): _endpoint("redis", "privatelink.redis.cache.windows.net", "the cache"),
    ("bucket", "azure-storage"): _endpoint("blob", "privatelink.blob.core.windows.net", "the storage account"),
}

# The highest floor of the modules: 4.23 added the write-only value_wo and
# administrator_password_wo, 4.46 PostgreSQL 17 and 4.55 MySQL 8.4 (modules/azure/database).
AZURERM_PROVIDER_VERSION = ">= 4.55, < 5.0"


class AzureProvider(ShippedProvider):
    name = "azure"
    package_dir = Path(__file__).parent

    def template_context(self, environment: Environment) -> Mapping[str, Any]:
        """location (the environment's region), resource_group_name and key_vault_id for the module
        inputs. Unset values are left out, so a template that needs one fails at render naming it."""
        cloud = environment.spec.cloud
        values = {
            "location": cloud.region if cloud else None,
            "resource_group_name": cloud.resource_group if cloud else None,
            "key_vault_id": cloud.key_vault_id if cloud else None,
        }
        return {**{k: v for k, v in values.items() if v}, "network": network_values(environment)}

    def check_environment(self, request: EnvironmentCheckRequest) -> Sequence[EnvironmentProblem]:
        return network_problems(self.name, request, NETWORK_NEEDS)

    def terraform_provider(self, request: TerraformRequest) -> TerraformProviderBlocks:
        cloud = request.environment.spec.cloud
        block: dict[str, Any] = {"features": {}}
        if cloud and cloud.subscription:
            block["subscription_id"] = cloud.subscription
        return TerraformProviderBlocks(
            required_providers={"azurerm": {"source": "hashicorp/azurerm", "version": AZURERM_PROVIDER_VERSION}},
            provider={"azurerm": block},
        )

    def backend(self, request: BackendRequest) -> Mapping[str, Any] | None:
        state = request.environment.spec.state
        if state.backend != "azurerm":
            return None
        cloud = request.environment.spec.cloud
        block: dict[str, Any] = {
            "storage_account_name": state.storage_account,
            "container_name": state.container,
            "resource_group_name": state.resource_group,
            "key": f"{state.prefix.strip('/')}/{request.key}" if state.prefix else request.key,
        }
        if cloud and cloud.subscription:
            block["subscription_id"] = cloud.subscription
        return {"azurerm": block}

    def preflight(self, request: PreflightRequest) -> PreflightResult:
        from providers.azure.sdk import preflight

        return preflight(request.environment)

    def bootstrap_backend(self, request: PreflightRequest) -> PreflightResult:
        if request.environment.spec.state.backend != "azurerm":
            return PreflightResult(True)
        from providers.azure.sdk import bootstrap_azurerm_backend

        return bootstrap_azurerm_backend(request.environment)

    def status(self, request: StatusRequest) -> UnitStatus:
        from providers.azure.status import unit_status

        return unit_status(request)

    def probe(self, request: ProbeRequest) -> ProbeResult:
        """Do the recorded resources still exist? One Resource Graph query (providers/azure/probe.py)."""
        from providers.azure.probe import probe

        return probe(request)

    def read_secret(self, request: SecretRequest) -> Mapping[str, str]:
        from providers.azure.sdk import read_secret

        return read_secret(request.secret_id)


Provider = AzureProvider  # the name the stub exported
plugin = AzureProvider()
