"""The Azure reality probe: do the resources Composer's last apply left still exist?

One Azure Resource Graph query (`POST /providers/Microsoft.ResourceGraph/resources`, paginated
with `$skipToken`, pages of 1,000, the API's largest) over the environment's subscription for
the resources whose ownership tags (`app`, `env`: stamped by every azure module from its `tags`
input) name the app and environment answers for every unit at once. Terraform's ids of azurerm
resources are their ARM ids, which Resource Graph returns as `id`; they are compared without
regard to case (ARM ids are case-insensitive, and resource group names come back in either).

Only the types the azure modules tag are probed. Child resources (a database inside a flexible
server, a Service Bus queue, firewall rules), Key Vault secrets (data plane, not in Resource
Graph) and any other type are `unseen`: neither presence nor absence; `appc drift` covers them.
A resource of a probed type that carries no ownership tags (a `terraform-module` component's own
module that does not pass them) cannot be told from a deleted one: its unit runs every apply.

The query goes through azure-core's pipeline with a bearer token for Resource Manager, like
providers/azure/sdk.py's Key Vault read; COMPOSER_AZURE_ARM_ENDPOINT points it elsewhere.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, cast

from composer.plugins import ProbeRequest, ProbeResult
from providers.inventory import Unanswered, collect, rows

GRAPH_API = "2022-10-01"
ARM_SCOPE = "https://management.azure.com/.default"
PAGE_SIZE = 1000  # Resource Graph's largest page
TIMEOUT = 30.0  # seconds to connect, and to wait for a page (as the gcp calls)
OWNER_TAGS = ("app", "env")
# Terraform types the azure modules tag, with their ARM resource types (lower case).
PROBED = {
    "azurerm_storage_account": "microsoft.storage/storageaccounts",
    "azurerm_postgresql_flexible_server": "microsoft.dbforpostgresql/flexibleservers",
    "azurerm_mysql_flexible_server": "microsoft.dbformysql/flexibleservers",
    "azurerm_redis_cache": "microsoft.cache/redis",
    "azurerm_servicebus_namespace": "microsoft.servicebus/namespaces",
    "azurerm_private_endpoint": "microsoft.network/privateendpoints",
}
_TAG_VALUE = re.compile(r"^[A-Za-z0-9._-]{1,256}$")  # Composer's names; nothing that could end a KQL string


def graph_query(app: str, env: str) -> str:
    """The Kusto query: the ids of the resources whose ownership tags name this app and environment."""
    for value in (app, env):
        if not _TAG_VALUE.match(value):
            raise Unanswered(f"{value!r} cannot be searched as a tag value")
    return f"Resources | where tags['{OWNER_TAGS[0]}'] == '{app}' and tags['{OWNER_TAGS[1]}'] == '{env}' | project id"


def probe(request: ProbeRequest) -> ProbeResult:
    """Answer for every requested resource with one query (more only past 1,000 resources)."""
    queried = [r for r in request.resources if r.type in PROBED]
    unseen = tuple(r for r in request.resources if r.type not in PROBED)
    if not queried:
        return ProbeResult(True, unseen=unseen)
    cloud = request.environment.spec.cloud
    try:
        if not cloud or not cloud.subscription:
            raise Unanswered("no cloud.subscription in the environment")
        found, calls = _query(cloud.subscription, graph_query(request.app, request.environment.name))
    except Unanswered as exc:
        return ProbeResult(False, reason=str(exc), api_calls=exc.calls)
    ids = {str(r.get("id", "")).lower() for r in found}
    missing = tuple(r for r in queried if r.id.lower() not in ids)
    return ProbeResult(True, missing=missing, unseen=unseen, api_calls=calls)


def _query(subscription: str, query: str) -> tuple[list[dict[str, Any]], int]:
    """Every row the query returns, page by page; the calls made."""
    from azure.core import PipelineClient
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy

    from providers.azure.sdk import ARM_ENDPOINT, credential

    base = (os.environ.get(ARM_ENDPOINT) or "https://management.azure.com").rstrip("/")
    client: Any = PipelineClient(
        base, policies=[RetryPolicy(retry_total=3), BearerTokenCredentialPolicy(credential(), ARM_SCOPE)]
    )

    def page(token: str) -> tuple[list[dict[str, Any]], str]:
        options: dict[str, Any] = {"$top": PAGE_SIZE, "resultFormat": "objectArray"}
        if token:
            options["$skipToken"] = token
        body = _post(client, base, {"subscriptions": [subscription], "query": query, "options": options})
        return rows(body, "data"), str(body.get("$skipToken") or "")

    try:
        return collect(page, "Resource Graph")
    finally:
        client.close()


def _post(client: Any, base: str, payload: dict[str, Any]) -> dict[str, Any]:
    from azure.core.rest import HttpRequest

    from providers.azure.sdk import _azure_error, _errors

    what = "cannot query Azure Resource Graph"
    request = HttpRequest(
        "POST",
        f"{base}/providers/Microsoft.ResourceGraph/resources",
        params={"api-version": GRAPH_API},
        json=payload,
    )
    try:
        resp = client.send_request(request, connection_timeout=TIMEOUT, read_timeout=TIMEOUT)
    except _errors() as exc:
        d = _azure_error(cast(Exception, exc), what)
        raise Unanswered(f"{d.summary}: {d.detail}") from None
    try:
        body = resp.json()
    except (ValueError, json.JSONDecodeError):
        body = None
    if resp.status_code != 200:
        err = (body or {}).get("error") or {} if isinstance(body, dict) else {}
        raise Unanswered(
            f"{what}: {resp.status_code} {err.get('code', '')}".strip()
            + f": {str(err.get('message') or '')[:300]} (the identity needs Reader on the subscription)"
        )
    if not isinstance(body, dict):
        raise Unanswered(f"{what}: the answer is not a JSON object")
    return body
