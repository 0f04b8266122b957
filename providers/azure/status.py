"""`appc status --cloud` on Azure: what Resource Manager says about a unit's resources.

One list call per unit: the resources of the environment's resource group whose `component`
tag names the unit (`$filter=tagName eq 'component' and tagValue eq '<unit>'`, with
`$expand=provisioningState`), then app and env tags checked here (Composer's ownership tags,
stamped by every azure module). Through azure-mgmt-resource's client, pointed elsewhere only by
COMPOSER_AZURE_ARM_ENDPOINT (providers/azure/sdk.py). Nothing found is `missing`; a refusal or
an unreachable API is `unknown`, never an error.
"""

from __future__ import annotations

from typing import Any, cast

from composer.plugins import StatusRequest, UnitStatus
from providers.azure.sdk import _azure_error, _client_kwargs, _errors, credential

# The main resource type each abstract type is served by (modules/azure/*).
MAIN_TYPE = {
    "postgres": "microsoft.dbforpostgresql/flexibleservers",
    "mysql": "microsoft.dbformysql/flexibleservers",
    "redis": "microsoft.cache/redis",
    "bucket": "microsoft.storage/storageaccounts",
    "queue": "microsoft.servicebus/namespaces",
}


def unit_status(request: StatusRequest) -> UnitStatus:
    from azure.mgmt.resource.resources import ResourceManagementClient

    cloud = request.environment.spec.cloud
    if not cloud or not cloud.subscription or not cloud.resource_group:
        return UnitStatus("unknown", "no cloud.subscription and cloud.resourceGroup in the environment")
    component = request.component.replace("'", "''")
    client = ResourceManagementClient(credential(), cloud.subscription, **_client_kwargs())
    try:
        found = list(
            client.resources.list_by_resource_group(
                cloud.resource_group,
                filter=f"tagName eq 'component' and tagValue eq '{component}'",
                expand="provisioningState",
            )
        )
    except _errors() as exc:
        d = _azure_error(cast(Exception, exc), "cannot list the resource group")
        return UnitStatus("unknown", f"{d.summary}: {d.detail}"[:300])
    finally:
        client.close()
    mine = [r for r in found if _owned(r, request)]
    return _verdict(request.type, mine)


def _owned(resource: Any, request: StatusRequest) -> bool:
    tags = getattr(resource, "tags", None) or {}
    return tags.get("env") == request.environment.name and (not request.app or tags.get("app") == request.app)


def _verdict(type_: str, resources: list[Any]) -> UnitStatus:
    if not resources:
        return UnitStatus("missing", "no resource in the resource group carries this unit's tags")
    main = [r for r in resources if str(getattr(r, "type", "")).lower() == MAIN_TYPE.get(type_)] or resources
    r = main[0]
    state = str(getattr(r, "provisioning_state", None) or "")
    where = f" in {r.location}" if getattr(r, "location", None) else ""
    kind = str(getattr(r, "type", "") or "resource").split("/")[-1]
    return UnitStatus(
        "available" if state in ("", "Succeeded") else state.lower(),
        f"{kind} {r.name}{where}" + (f" ({len(resources)} resources)" if len(resources) > 1 else ""),
    )
