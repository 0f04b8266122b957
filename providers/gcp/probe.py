"""The GCP reality probe: do the resources Composer's last apply left still exist?

One paginated Cloud Asset Inventory `searchAllResources` over the project, filtered by
Composer's ownership labels for the app and environment (providers/gcp/labels.py; pages of 500,
the API's largest), answers for every unit at once. Terraform records the provider's id, which
for most types is a path (`projects/P/secrets/S`) and for some a bare name (a bucket, a Cloud
SQL instance); Cloud Asset names a resource `//SERVICE/…` and sometimes by project number
where Terraform has the project id. So each probed type says which asset type it is and the
last segments of the asset name that its id ends with. Sub-resources Cloud Asset does not
search (a secret's version, a database inside an instance, IAM members) are `unseen`: neither
presence nor absence; `appc drift` covers them.

Same endpoint variable as `appc status --cloud` (COMPOSER_GCP_CLOUD_ASSET_ENDPOINT).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from composer.plugins import ProbedResource, ProbeRequest, ProbeResult
from providers.inventory import Unanswered, collect, rows

PAGE_SIZE = 500  # searchAllResources' largest page: a 50-unit app in one call


def _last(id_: str) -> str:
    return id_.rstrip("/").rsplit("/", 1)[-1]


# Terraform type -> (Cloud Asset type, the asset name's ending for a Terraform id)
ASSETS: dict[str, tuple[str, Callable[[str], str]]] = {
    "google_storage_bucket": ("storage.googleapis.com/Bucket", lambda id_: f"/{_last(id_)}"),
    "google_sql_database_instance": ("sqladmin.googleapis.com/Instance", lambda id_: f"/instances/{_last(id_)}"),
    "google_redis_instance": ("redis.googleapis.com/Instance", lambda id_: f"/instances/{_last(id_)}"),
    "google_pubsub_topic": ("pubsub.googleapis.com/Topic", lambda id_: f"/topics/{_last(id_)}"),
    "google_pubsub_subscription": ("pubsub.googleapis.com/Subscription", lambda id_: f"/subscriptions/{_last(id_)}"),
    "google_secret_manager_secret": ("secretmanager.googleapis.com/Secret", lambda id_: f"/secrets/{_last(id_)}"),
}


def probe(request: ProbeRequest) -> ProbeResult:
    """Answer for every requested resource with one search (more only past 500 resources)."""
    searched = [r for r in request.resources if r.type in ASSETS]
    unseen = tuple(r for r in request.resources if r.type not in ASSETS)
    if not searched:
        return ProbeResult(True, unseen=unseen)
    try:
        url, query, creds = _search_target(request)
        found, calls = _search(url, query, creds)
    except Unanswered as exc:
        return ProbeResult(False, reason=str(exc), api_calls=exc.calls)
    assets = {(str(r.get("assetType", "")), str(r.get("name", ""))) for r in found}
    missing = tuple(r for r in searched if not _present(r, assets))
    return ProbeResult(True, missing=missing, unseen=unseen, api_calls=calls)


def _present(resource: ProbedResource, found: set[tuple[str, str]]) -> bool:
    asset_type, ending = ASSETS[resource.type]
    tail = ending(resource.id)
    return any(t == asset_type and name.endswith(tail) for t, name in found)


def _search_target(request: ProbeRequest) -> tuple[str, str, Any]:
    """The search URL, its query and the credentials; nothing is sent yet."""
    from providers.gcp.labels import label_query, ownership_labels
    from providers.gcp.sdk import NoCredentials, _endpoint, _path, credentials
    from providers.gcp.status import CLOUD_ASSET_ENDPOINT

    cloud = request.environment.spec.cloud
    if not cloud or not cloud.project:
        raise Unanswered("no cloud.project in the environment")
    try:
        creds, _ = credentials()
    except NoCredentials as exc:
        raise Unanswered(f"no Google Cloud credentials: {exc}") from None
    base = _endpoint(CLOUD_ASSET_ENDPOINT, "https://cloudasset.googleapis.com")
    url = f"{base}/v1/projects/{_path(cloud.project)}:searchAllResources"
    return url, label_query(ownership_labels(request.app, request.environment.name)), creds


def _search(url: str, query: str, creds: Any) -> tuple[list[dict[str, Any]], int]:
    """Every labelled resource (Cloud Asset `ResourceSearchResult`s), page by page; the calls made."""
    from google.auth.transport.requests import AuthorizedSession

    from providers.gcp.sdk import TIMEOUT

    session = AuthorizedSession(creds)

    def page(token: str) -> tuple[list[dict[str, Any]], str]:
        params = {"query": query, "pageSize": str(PAGE_SIZE), **({"pageToken": token} if token else {})}
        body = _get(session, url, params, TIMEOUT)
        return rows(body, "results"), str(body.get("nextPageToken") or "")

    try:
        return collect(page, "Cloud Asset Inventory")
    finally:
        session.close()


def _get(session: Any, url: str, params: dict[str, str], timeout: float) -> dict[str, Any]:
    from providers.gcp.sdk import _api_error, _expected_errors, _http_error

    what = "cannot search Cloud Asset Inventory"
    try:
        resp = session.get(url, params=params, timeout=timeout)
    except _expected_errors() as exc:
        d = _api_error(cast(Exception, exc), what)
        raise Unanswered(f"{d.summary}: {d.detail}") from None
    if resp.status_code != 200:
        d = _http_error(resp, what, "the credentials need cloudasset.assets.searchAllResources")
        raise Unanswered(f"{d.summary}: {d.detail}")
    try:
        body = resp.json()
    except ValueError:
        raise Unanswered(f"{what}: the answer is not JSON") from None
    if not isinstance(body, dict):
        raise Unanswered(f"{what}: the answer is not a JSON object")
    return body
