"""`appc status --cloud` on Google Cloud: what Cloud Asset Inventory says about a unit's resources.

One `searchAllResources` call per unit over Composer's ownership labels (app, env, component,
which every gcp module stamps from its `tags` input), through the REST API with google-auth's
AuthorizedSession, like the provider's other calls (providers/gcp/sdk.py). A unit whose labels
match nothing is `missing`; a refusal or an unreachable API is `unknown`, never an error.

| variable | default |
|---|---|
| COMPOSER_GCP_CLOUD_ASSET_ENDPOINT | https://cloudasset.googleapis.com |
"""

from __future__ import annotations

from typing import Any, cast

from composer.plugins import StatusRequest, UnitStatus
from providers.gcp.labels import label_query, ownership_labels
from providers.gcp.sdk import (
    TIMEOUT,
    NoCredentials,
    _api_error,
    _endpoint,
    _expected_errors,
    _http_error,
    _path,
    credentials,
)

CLOUD_ASSET_ENDPOINT = "COMPOSER_GCP_CLOUD_ASSET_ENDPOINT"
# The asset types each abstract type is served by (modules/gcp/*): the main resource of the unit.
MAIN_ASSET = {
    "postgres": "sqladmin.googleapis.com/Instance",
    "mysql": "sqladmin.googleapis.com/Instance",
    "redis": "redis.googleapis.com/Instance",
    "bucket": "storage.googleapis.com/Bucket",
    "queue": "pubsub.googleapis.com/Topic",
}
_HEALTHY = {"", "RUNNABLE", "READY", "ACTIVE"}


def unit_status(request: StatusRequest) -> UnitStatus:
    from google.auth.transport.requests import AuthorizedSession

    cloud = request.environment.spec.cloud
    project = cloud.project if cloud else None
    if not project:
        return UnitStatus("unknown", "no cloud.project in the environment")
    query = label_query(ownership_labels(request.app, request.environment.name, request.component))
    try:
        creds, _ = credentials()
    except NoCredentials as exc:
        return UnitStatus("unknown", f"no Google Cloud credentials: {exc}"[:300])
    url = f"{_endpoint(CLOUD_ASSET_ENDPOINT, 'https://cloudasset.googleapis.com')}/v1/projects/{_path(project)}:searchAllResources"
    session = AuthorizedSession(creds)
    try:
        resp = session.get(url, params={"query": query}, timeout=TIMEOUT)
    except _expected_errors() as exc:
        d = _api_error(cast(Exception, exc), "cannot search Cloud Asset Inventory")
        return UnitStatus("unknown", f"{d.summary}: {d.detail}"[:300])
    finally:
        session.close()
    if resp.status_code != 200:
        d = _http_error(
            resp, "cannot search Cloud Asset Inventory", "the credentials need cloudasset.assets.searchAllResources"
        )
        return UnitStatus("unknown", f"{d.summary}: {d.detail}"[:300])
    return _verdict(request.type, (resp.json() or {}).get("results") or [])


def _verdict(type_: str, results: list[Any]) -> UnitStatus:
    found = [r for r in results if isinstance(r, dict)]
    main = [r for r in found if r.get("assetType") == MAIN_ASSET.get(type_)] or found
    if not main:
        return UnitStatus("missing", "no resource carries this unit's labels")
    r = main[0]
    state = str(r.get("state") or "")
    name = str(r.get("displayName") or str(r.get("name", "")).rsplit("/", 1)[-1])
    where = f" in {r['location']}" if r.get("location") else ""
    kind = str(r.get("assetType", "")).split("/")[-1] or "resource"
    return UnitStatus(
        "available" if state.upper() in _HEALTHY else state.lower(),
        f"{kind} {name}{where}" + (f" ({len(found)} resources)" if len(found) > 1 else ""),
    )
