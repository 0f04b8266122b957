"""`appc status --cloud` on Google Cloud and Azure, at the transport seam: the plugins' real HTTP
clients against the local API stand-ins (tests/support/cloud_apis.py), one request per unit, found
by Composer's ownership labels/tags; trouble is a row (`unknown`), never an error."""

from __future__ import annotations

from composer.cli.wiring import cloud_status
from composer.project import compile_project, open_project
from composer.state.model import StateDoc, UnitState
from tests.test_providers import SUB, azure_api, azure_project, gcp_api, gcp_project  # noqa: F401 (fixtures)


def applied_state() -> StateDoc:
    unit = UnitState(kind="terraform", type="bucket", hash="h", status="applied", outputs={"name": "x"})
    return StateDoc(app="shop", environment="prod", units={"files": unit})


OWN = {"app": "shop", "env": "prod", "component": "files", "managed-by": "appc"}


def test_gcp_status_asks_cloud_asset_inventory_by_labels(tmp_path, gcp_api, monkeypatch, registry):
    from providers.gcp.status import CLOUD_ASSET_ENDPOINT

    api, server = gcp_api
    monkeypatch.setenv(CLOUD_ASSET_ENDPOINT, server.url)
    compiled = compile_project(open_project([gcp_project(tmp_path)]), "prod", registry)
    api.assets = [
        {"name": "//storage.googleapis.com/shop-prod-files", "assetType": "storage.googleapis.com/Bucket",
         "project": "projects/acme-shop-prod", "location": "europe-west1", "labels": OWN},
        {"name": "//storage.googleapis.com/other", "assetType": "storage.googleapis.com/Bucket",
         "project": "projects/acme-shop-prod", "labels": {**OWN, "app": "other"}},
    ]  # fmt: skip
    server.requests.clear()
    row = cloud_status(registry, compiled, applied_state())["files"]
    assert (row.state, row.detail) == ("available", "Bucket shop-prod-files in europe-west1")
    (req,) = server.requests
    assert req.path == "/v1/projects/acme-shop-prod:searchAllResources"
    assert req.query["query"] == ["labels.app=shop AND labels.env=prod AND labels.component=files"]

    api.assets = api.assets[1:]
    assert cloud_status(registry, compiled, applied_state())["files"].state == "missing"
    api.denied.add("acme-shop-prod")
    denied = cloud_status(registry, compiled, applied_state())["files"]
    assert denied.state == "unknown" and "403" in denied.detail


def test_azure_status_lists_the_resource_group_by_tags(tmp_path, azure_api, registry):
    api, server = azure_api
    compiled = compile_project(open_project([azure_project(tmp_path)]), "prod", registry)
    group = f"/subscriptions/{SUB}/resourceGroups/shop-prod"
    account = f"{group}/providers/Microsoft.Storage/storageAccounts/shopprodfiles"
    api.resources[account.lower()] = {
        "id": account, "name": "shopprodfiles", "type": "Microsoft.Storage/storageAccounts",
        "location": "westeurope", "tags": OWN, "properties": {"provisioningState": "Succeeded"},
    }  # fmt: skip
    foreign = f"{group}/providers/Microsoft.Storage/storageAccounts/otherfiles"
    api.resources[foreign.lower()] = {
        "id": foreign, "name": "otherfiles", "type": "Microsoft.Storage/storageAccounts",
        "tags": {**OWN, "env": "dev"}, "properties": {"provisioningState": "Succeeded"},
    }  # fmt: skip
    server.requests.clear()
    row = cloud_status(registry, compiled, applied_state())["files"]
    assert (row.state, row.detail) == ("available", "storageAccounts shopprodfiles in westeurope")
    (req,) = server.requests
    assert req.path.lower() == f"{group}/resources".lower()
    assert req.query["$filter"] == ["tagName eq 'component' and tagValue eq 'files'"]

    api.resources[account.lower()]["properties"]["provisioningState"] = "Deleting"
    assert cloud_status(registry, compiled, applied_state())["files"].state == "deleting"
    del api.resources[account.lower()]
    assert cloud_status(registry, compiled, applied_state())["files"].state == "missing"
