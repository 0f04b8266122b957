"""Azure API calls of the azure provider: preflight, azurerm state-backend bootstrap, Key Vault reads.

- Preflight asks Resource Manager for the environment's subscription
  (azure-mgmt-resource-subscriptions `SubscriptionClient.subscriptions.get`): it must be visible to
  the credentials and Enabled. Azure's own reason is reported otherwise.
- `bootstrap_azurerm_backend` makes sure of what the azurerm backend needs, through
  `azure.mgmt.resource.resources.ResourceManagementClient`: the resource group (created when
  missing, in the environment's region), the storage account (StorageV2, HTTPS and TLS 1.2 only,
  no public blob access), blob versioning on it, and the container. Present ones are verified and
  left untouched. The storage account and container are Resource Manager resources, so the
  generic `resources` API creates them; no storage SDK is needed.
- `read_secret` reads a Key Vault secret's current version with one GET of the Key Vault REST API
  (azure-core pipeline + bearer token for https://vault.azure.net), instead of adding
  azure-keyvault-secrets for one call. It sends the token only to Key Vault hosts.

Credentials: `DefaultAzureCredential` (environment, workload identity, managed identity, Azure
CLI, ...). Endpoints can be changed only through environment variables, so the code is the same in
production and tests:

| variable | default |
|---|---|
| COMPOSER_AZURE_ARM_ENDPOINT | the public cloud's Resource Manager (https://management.azure.com) |
| COMPOSER_AZURE_KEYVAULT_ENDPOINT | the vault named in the secret id (https://<vault>.vault.azure.net) |

`COMPOSER_AZURE_TEST_TOKEN=<token>` replaces DefaultAzureCredential by a static bearer token; it
exists for tests against a local API stand-in and is never right against Azure.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.model.environment import Environment
from composer.plugins import BackendResource, PreflightResult

ARM_ENDPOINT = "COMPOSER_AZURE_ARM_ENDPOINT"
KEYVAULT_ENDPOINT = "COMPOSER_AZURE_KEYVAULT_ENDPOINT"
TEST_TOKEN = "COMPOSER_AZURE_TEST_TOKEN"
STORAGE_API = "2023-05-01"
KEYVAULT_API = "7.4"
KEYVAULT_SCOPE = "https://vault.azure.net/.default"
# Key Vault DNS suffixes of the public and sovereign clouds: a bearer token goes nowhere else.
KEYVAULT_SUFFIXES = (".vault.azure.net", ".vault.azure.cn", ".vault.usgovcloudapi.net", ".vault.microsoftazure.de")


class _StaticToken:
    """A TokenCredential holding one token (COMPOSER_AZURE_TEST_TOKEN; tests only)."""

    def __init__(self, token: str):
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any):
        from azure.core.credentials import AccessToken

        return AccessToken(self.token, int(time.time()) + 3600)


def credential() -> Any:
    token = os.environ.get(TEST_TOKEN)
    if token:
        return _StaticToken(token)
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def _client_kwargs() -> dict[str, Any]:
    endpoint = os.environ.get(ARM_ENDPOINT)
    # retry_total: a 5xx from ARM is retried three times quickly rather than ten times slowly.
    return {"base_url": endpoint.rstrip("/"), "retry_total": 3} if endpoint else {"retry_total": 3}


def _azure_error(exc: Exception, what: str) -> Diagnostic:
    """azure-core / azure-identity errors at the edge -> one diagnostic, Azure's own words."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

    if isinstance(exc, ClientAuthenticationError) and getattr(exc, "status_code", None) is None:
        first = (
            str(exc.message or exc).strip().splitlines()[0] if str(exc.message or exc).strip() else type(exc).__name__
        )
        return Diagnostic(
            f"{what}: no usable Azure credentials",
            f"{first[:300]}. Run `az login`, or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET (or a federated token), or run with a managed identity.",
        )
    if isinstance(exc, HttpResponseError):
        err = getattr(exc, "error", None)
        code = getattr(err, "code", None) or getattr(exc, "reason", "") or ""
        message = getattr(err, "message", None) or exc.message or str(exc)
        return Diagnostic(
            f"{what}: {exc.status_code or ''} {code}".strip(),
            str(message).strip().splitlines()[0][:500] if str(message).strip() else "",
        )
    if isinstance(exc, ServiceRequestError):
        return Diagnostic(f"{what}: cannot reach Azure", str(exc)[:500])
    return Diagnostic(f"{what}: {type(exc).__name__}", str(exc)[:500])


def _errors() -> tuple[type[BaseException], ...]:
    from azure.core.exceptions import AzureError

    return (AzureError,)


# -- preflight ---------------------------------------------------------------------------------


def preflight(environment: Environment) -> PreflightResult:
    from azure.mgmt.resource.subscriptions import SubscriptionClient

    cloud = environment.spec.cloud
    subscription = cloud.subscription if cloud else None
    if not subscription:
        return PreflightResult(
            False,
            diagnostics=(
                Diagnostic(
                    "the azure environment names no subscription",
                    f"set cloud.subscription in environment {environment.name!r} to the subscription id",
                ),
            ),
        )
    client = SubscriptionClient(credential(), **_client_kwargs())
    try:
        sub = client.subscriptions.get(subscription)
    except _errors() as exc:
        d = _azure_error(exc, f"cannot use Azure subscription {subscription}")
        return PreflightResult(
            False,
            diagnostics=(
                Diagnostic(
                    d.summary,
                    d.detail
                    + (
                        " (check cloud.subscription, and that the identity has a role on it, e.g. Reader)"
                        if "credentials" not in d.summary
                        else ""
                    ),
                ),
            ),
        )
    finally:
        client.close()
    state = str(getattr(sub.state, "value", sub.state) or "unknown")
    if state != "Enabled":
        return PreflightResult(
            False,
            diagnostics=(
                Diagnostic(
                    f"Azure subscription {subscription} is {state}, not Enabled",
                    "a subscription that is not Enabled accepts no new resources (Warned, PastDue and Disabled need the billing fixed; Deleted ones are gone)",
                ),
            ),
        )
    return PreflightResult(True, identity=f"subscription {sub.display_name or subscription} ({subscription})")


# -- azurerm state backend ---------------------------------------------------------------------


def bootstrap_azurerm_backend(environment: Environment) -> PreflightResult:
    """Resource group(s), storage account, blob versioning and container: created when missing."""
    from azure.mgmt.resource.resources import ResourceManagementClient

    state = environment.spec.state
    cloud = environment.spec.cloud
    subscription = cloud.subscription if cloud else None
    location = state.region or (cloud.region if cloud else None)
    if not subscription or not location:
        return PreflightResult(
            False,
            diagnostics=(
                Diagnostic(
                    "cannot prepare the azurerm state backend",
                    "set cloud.subscription and cloud.region (the location for what appc init creates)",
                ),
            ),
        )
    client = ResourceManagementClient(credential(), subscription, **_client_kwargs())
    resources: list[BackendResource] = []
    try:
        groups = [state.resource_group] + (
            [cloud.resource_group]
            if cloud and cloud.resource_group and cloud.resource_group != state.resource_group
            else []
        )
        for group in groups:
            resources.append(_ensure_group(client, group, location))
        account_id = f"/subscriptions/{subscription}/resourceGroups/{state.resource_group}/providers/Microsoft.Storage/storageAccounts/{state.storage_account}"
        resources.append(_ensure_account(client, account_id, state.storage_account, location))
        resources.append(_ensure_container(client, account_id, state.container))
    except _Refused as exc:
        return PreflightResult(False, diagnostics=(exc.diagnostic,), resources=tuple(resources))
    except _errors() as exc:
        return PreflightResult(
            False,
            diagnostics=(_azure_error(exc, "cannot prepare the azurerm state backend"),),
            resources=tuple(resources),
        )
    finally:
        client.close()
    return PreflightResult(True, resources=tuple(resources))


class _Refused(Exception):
    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.summary)
        self.diagnostic = diagnostic


def _ensure_group(client: Any, name: str, location: str) -> BackendResource:
    if client.resource_groups.check_existence(name):
        group = client.resource_groups.get(name)
        return BackendResource("resource group", name, "present", f"location {group.location}")
    client.resource_groups.create_or_update(name, {"location": location, "tags": {"managed-by": "appc"}})
    return BackendResource("resource group", name, "created", f"in {location}")


def _ensure_account(client: Any, account_id: str, name: str, location: str) -> BackendResource:
    from azure.core.exceptions import HttpResponseError

    if client.resources.check_existence_by_id(account_id, api_version=STORAGE_API):
        account = client.resources.get_by_id(account_id, api_version=STORAGE_API)
        props = account.properties or {}
        detail = f"kind {account.kind}, location {account.location}"
        if props.get("allowBlobPublicAccess"):
            detail += " (public blob access is allowed: left as it is)"
        return BackendResource("storage account", name, "present", detail)
    body = {
        "location": location,
        "kind": "StorageV2",
        "sku": {"name": "Standard_LRS"},
        "tags": {"managed-by": "appc"},
        "properties": {"minimumTlsVersion": "TLS1_2", "allowBlobPublicAccess": False, "supportsHttpsTrafficOnly": True},
    }
    try:
        client.resources.begin_create_or_update_by_id(account_id, body, api_version=STORAGE_API).result()
        # Versioning keeps earlier Terraform states, as S3 and GCS versioning do.
        client.resources.begin_create_or_update_by_id(
            f"{account_id}/blobServices/default", {"properties": {"isVersioningEnabled": True}}, api_version=STORAGE_API
        ).result()
    except HttpResponseError as exc:
        code = getattr(getattr(exc, "error", None), "code", "") or ""
        if code in ("StorageAccountAlreadyTaken", "StorageAccountAlreadyExists"):
            raise _Refused(
                Diagnostic(
                    f"the storage account name {name!r} is taken",
                    "storage account names are global; choose another state.storageAccount",
                )
            ) from None
        raise
    return BackendResource(
        "storage account",
        name,
        "created",
        f"in {location}: StorageV2, Standard_LRS, TLS 1.2, no public blob access, blob versioning on",
    )


def _ensure_container(client: Any, account_id: str, name: str) -> BackendResource:
    container_id = f"{account_id}/blobServices/default/containers/{name}"
    if client.resources.check_existence_by_id(container_id, api_version=STORAGE_API):
        return BackendResource("blob container", name, "present")
    client.resources.begin_create_or_update_by_id(
        container_id, {"properties": {"publicAccess": "None"}}, api_version=STORAGE_API
    ).result()
    return BackendResource("blob container", name, "created", "private")


# -- Key Vault ---------------------------------------------------------------------------------


def read_secret(secret_id: str) -> Mapping[str, str]:
    """The JSON document in the current version of a Key Vault secret (its versionless id)."""
    from azure.core import PipelineClient
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
    from azure.core.rest import HttpRequest

    parts = urlsplit(secret_id or "")
    segments = [s for s in parts.path.split("/") if s]
    host = (parts.hostname or "").lower()
    if (
        parts.scheme != "https"
        or not host.endswith(KEYVAULT_SUFFIXES)
        or len(segments) not in (2, 3)
        or segments[0] != "secrets"
    ):
        raise DiagnosticError(
            [
                Diagnostic(
                    f"not a Key Vault secret id: {secret_id!r}",
                    "expected https://<vault>.vault.azure.net/secrets/<name>, as the azure modules output connection_secret_id",
                )
            ]
        )
    base = (os.environ.get(KEYVAULT_ENDPOINT) or f"https://{parts.netloc}").rstrip("/")
    path = "/" + "/".join(segments)
    client = PipelineClient(
        base, policies=[RetryPolicy(retry_total=3), BearerTokenCredentialPolicy(credential(), KEYVAULT_SCOPE)]
    )
    try:
        resp = client.send_request(HttpRequest("GET", f"{base}{path}", params={"api-version": KEYVAULT_API}))
    except _errors() as exc:
        raise DiagnosticError([_azure_error(exc, f"cannot read secret {secret_id}")]) from None
    finally:
        client.close()
    if resp.status_code != 200:
        try:
            err = (resp.json() or {}).get("error") or {}
        except ValueError:
            err = {}
        raise DiagnosticError(
            [
                Diagnostic(
                    f"cannot read secret {secret_id}: {resp.status_code} {err.get('code', '')}".strip(),
                    f"{str(err.get('message') or resp.text())[:400]} (the identity needs secret Get permission on the vault)",
                )
            ]
        )
    try:
        data = json.loads(resp.json().get("value") or "{}")
    except (ValueError, TypeError, AttributeError):
        raise DiagnosticError(
            [
                Diagnostic(
                    f"secret {secret_id} does not hold a JSON document",
                    "connection details are stored as one JSON object",
                )
            ]
        ) from None
    if not isinstance(data, dict):
        raise DiagnosticError(
            [
                Diagnostic(
                    f"secret {secret_id} does not hold a JSON object",
                    "connection details are stored as one JSON object",
                )
            ]
        )
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
