"""Connection publishing on Azure: the connection document as a Key Vault secret.

The vault is the environment's `cloud.keyVaultId` (an ARM id, .../vaults/<name>). One PUT of
the Key Vault REST API sets the secret (a new version when it exists), like `read_secret`
(providers/azure/sdk.py) reads it; the return is the versionless secret id. Deleting is one
DELETE (soft delete, as the vault is configured).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.model.environment import Environment
from composer.plugins import SecretWritten

_VAULT_ID = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.KeyVault/vaults/([A-Za-z0-9-]{3,24})$",
    re.IGNORECASE,
)


def store_problems(environment: Environment) -> list[Diagnostic]:
    cloud = environment.spec.cloud
    vault = cloud.key_vault_id if cloud else None
    if not vault:
        return [
            Diagnostic(
                f"environment {environment.name} names no Key Vault",
                "set cloud.keyVaultId to the vault's resource id (/subscriptions/…/providers/Microsoft.KeyVault/vaults/NAME): connection details are kept there",
            )
        ]
    if not _VAULT_ID.match(vault):
        return [
            Diagnostic(
                f"cloud.keyVaultId of environment {environment.name} is not a Key Vault resource id",
                "expected /subscriptions/SUB/resourceGroups/RG/providers/Microsoft.KeyVault/vaults/NAME",
            )
        ]
    return []


def _vault(environment: Environment) -> tuple[str, str]:
    """(the vault's public URL, the URL requests go to: COMPOSER_AZURE_KEYVAULT_ENDPOINT in tests)."""
    from providers.azure.sdk import KEYVAULT_ENDPOINT

    problems = store_problems(environment)
    if problems:
        raise DiagnosticError(problems)
    name = _VAULT_ID.match(environment.spec.cloud.key_vault_id).group(1)  # type: ignore[union-attr]
    public = f"https://{name.lower()}.vault.azure.net"
    return public, (os.environ.get(KEYVAULT_ENDPOINT) or public).rstrip("/")


def _send(method: str, base: str, path: str, what: str, body: Any = None) -> Any:
    from azure.core import PipelineClient
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
    from azure.core.rest import HttpRequest

    from providers.azure.sdk import KEYVAULT_API, KEYVAULT_SCOPE, _azure_error, _errors, credential

    client = PipelineClient(
        base, policies=[RetryPolicy(retry_total=3), BearerTokenCredentialPolicy(credential(), KEYVAULT_SCOPE)]
    )
    try:
        return client.send_request(
            HttpRequest(method, f"{base}{path}", params={"api-version": KEYVAULT_API}, json=body)
        )
    except _errors() as exc:
        raise DiagnosticError([_azure_error(exc, what)]) from None
    finally:
        client.close()


def _refused(resp: Any, what: str, hint: str) -> DiagnosticError:
    try:
        err = (resp.json() or {}).get("error") or {}
    except ValueError:
        err = {}
    return DiagnosticError(
        [
            Diagnostic(
                f"{what}: {resp.status_code} {err.get('code', '')}".strip(),
                f"{str(err.get('message') or '')[:400]} ({hint})",
            )
        ]
    )


def write_secret(environment: Environment, name: str, values: Mapping[str, str]) -> SecretWritten:
    public, base = _vault(environment)
    what = f"cannot publish connection details to Key Vault secret {name}"
    body = {
        "value": json.dumps(dict(sorted(values.items()))),
        "contentType": "application/json",
        "tags": {"managed-by": "appc"},
    }
    resp = _send("PUT", base, f"/secrets/{name}", what, body)
    if resp.status_code != 200:
        raise _refused(resp, what, "the identity needs secret Set permission on the vault")
    return SecretWritten(f"{public}/secrets/{name}")


def delete_secret(environment: Environment, name: str) -> bool:
    public, base = _vault(environment)
    resp = _send("DELETE", base, f"/secrets/{name}", f"cannot delete Key Vault secret {name}")
    if resp.status_code == 404:
        return False
    if resp.status_code != 200:
        raise _refused(
            resp, f"cannot delete Key Vault secret {name}", "the identity needs secret Delete permission on the vault"
        )
    return True
