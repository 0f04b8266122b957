"""azure provider plugin: Flexible Server, Azure Cache for Redis, Storage and Service Bus
implementations (implementations.yaml, modules/azure), the azurerm provider block, the azurerm
backend, and the Azure calls (providers/azure/sdk.py): subscription preflight, state-backend
bootstrap and Key Vault reads. The Azure libraries are imported lazily: rendering never needs them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from composer.model.environment import Environment
from composer.plugins import BackendRequest, PreflightRequest, PreflightResult, SecretRequest, TerraformProviderBlocks, TerraformRequest
from providers.base import ShippedProvider

# As the modules' versions.tf: 4.23 added the write-only value_wo and administrator_password_wo.
AZURERM_PROVIDER_VERSION = ">= 4.23, < 5.0"


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
        return {k: v for k, v in values.items() if v}

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

    def read_secret(self, request: SecretRequest) -> Mapping[str, str]:
        from providers.azure.sdk import read_secret

        return read_secret(request.secret_id)


Provider = AzureProvider  # the name the stub exported
plugin = AzureProvider()
