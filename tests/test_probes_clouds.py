"""The GCP and Azure reality probes at the transport seam (issue 13): the plugins' real HTTP
clients (google-auth's AuthorizedSession, azure-core's pipeline) against the local API stand-ins
(tests/support/cloud_apis.py), one paginated query per cloud and apply, compared with the
resource ids recorded from Terraform; then through composer/runners/cloud_probe.py into the
engine's decision, as apply and plan use it. There is no google or azurerm Terraform provider on
this machine, so the recorded ids are written here the way Terraform reports them."""

from __future__ import annotations

from composer.engine import probes
from composer.plugins import ProbedResource, ProbeRequest
from composer.project import compile_project, open_project
from composer.runners.cloud_probe import probe_clouds
from composer.state.model import CloudResource, UnitState
from tests.test_providers import SUB, azure_api, azure_project, gcp_api, gcp_project  # noqa: F401 (fixtures)

OWN = {"app": "shop", "env": "prod", "managed-by": "appc"}


def _asset(name: str, type_: str, labels: dict[str, str]) -> dict:
    return {"name": name, "assetType": type_, "project": "projects/acme-shop-prod", "labels": labels}


def _asked(unit: str, type_: str, id_: str) -> ProbedResource:
    return ProbedResource(unit, f"module.{unit}.{type_}.this", type_, id_)


def test_gcp_probe_is_one_paginated_cloud_asset_search_by_labels(tmp_path, gcp_api, monkeypatch, registry):
    from providers.gcp import plugin
    from providers.gcp.status import CLOUD_ASSET_ENDPOINT

    api, server = gcp_api
    monkeypatch.setenv(CLOUD_ASSET_ENDPOINT, server.url)
    env = compile_project(open_project([gcp_project(tmp_path)]), "prod", registry).resolved.environment
    api.assets = [
        _asset("//storage.googleapis.com/shop-prod-files", "storage.googleapis.com/Bucket", OWN),
        # Cloud Asset names a secret by project number where Terraform's id has the project id.
        _asset("//secretmanager.googleapis.com/projects/123456789012/secrets/shop-prod-files",
               "secretmanager.googleapis.com/Secret", OWN),
        _asset("//pubsub.googleapis.com/projects/acme-shop-prod/topics/shop-prod-jobs",
               "pubsub.googleapis.com/Topic", OWN),
        _asset("//redis.googleapis.com/projects/acme-shop-prod/locations/europe-west1/instances/shop-prod-cache",
               "redis.googleapis.com/Instance", OWN),
        _asset("//cloudsql.googleapis.com/projects/acme-shop-prod/instances/shop-prod-db",
               "sqladmin.googleapis.com/Instance", OWN),
        # The same name under another app's labels is not ours: the `gone` bucket counts as missing.
        _asset("//storage.googleapis.com/shop-prod-gone", "storage.googleapis.com/Bucket", {**OWN, "app": "other"}),
    ]  # fmt: skip
    asked = (
        _asked("files", "google_storage_bucket", "shop-prod-files"),
        _asked("files", "google_secret_manager_secret", "projects/acme-shop-prod/secrets/shop-prod-files"),
        _asked("files", "google_secret_manager_secret_version", "projects/1/secrets/shop-prod-files/versions/1"),
        _asked("jobs", "google_pubsub_topic", "projects/acme-shop-prod/topics/shop-prod-jobs"),
        _asked("cache", "google_redis_instance", "projects/acme-shop-prod/locations/europe-west1/instances/shop-prod-cache"),
        _asked("db", "google_sql_database_instance", "shop-prod-db"),
        _asked("gone", "google_storage_bucket", "shop-prod-gone"),
        _asked("jobs", "google_pubsub_subscription", "projects/acme-shop-prod/subscriptions/shop-prod-jobs"),
    )  # fmt: skip
    api.max_page = 2  # five labelled resources: three pages
    server.requests.clear()
    result = plugin.probe(ProbeRequest(env, "shop", asked))
    assert result.answered, result.reason
    assert [r.unit for r in result.missing] == ["gone", "jobs"]  # the bucket, and the subscription
    assert [r.type for r in result.unseen] == ["google_secret_manager_secret_version"]
    assert result.api_calls == len(server.requests) == 3
    assert {r.path for r in server.requests} == {"/v1/projects/acme-shop-prod:searchAllResources"}
    assert [r.query["query"] for r in server.requests] == [["labels.app=shop AND labels.env=prod"]] * 3
    assert [r.query.get("pageToken") for r in server.requests] == [None, ["2"], ["4"]]
    assert server.requests[0].query["pageSize"] == ["500"]

    # A no-op of a 50-unit app (bucket, secret and version each): one call.
    api.max_page, api.assets = 500, []
    many = []
    for i in range(50):
        api.assets += [
            _asset(f"//storage.googleapis.com/b{i}", "storage.googleapis.com/Bucket", OWN),
            _asset(f"//secretmanager.googleapis.com/projects/123456789012/secrets/b{i}",
                   "secretmanager.googleapis.com/Secret", OWN),
        ]  # fmt: skip
        many += [
            _asked(f"b{i}", "google_storage_bucket", f"b{i}"),
            _asked(f"b{i}", "google_secret_manager_secret", f"projects/acme-shop-prod/secrets/b{i}"),
            _asked(f"b{i}", "google_secret_manager_secret_version", f"projects/acme-shop-prod/secrets/b{i}/versions/1"),
        ]
    result = plugin.probe(ProbeRequest(env, "shop", tuple(many)))
    assert result.answered and result.missing == () and result.api_calls == 1

    # No permission: the probe cannot answer, and says why.
    api.denied.add("acme-shop-prod")
    result = plugin.probe(ProbeRequest(env, "shop", asked))
    assert not result.answered and result.api_calls == 1
    assert "403" in result.reason and "cloudasset.assets.searchAllResources" in result.reason


def test_gcp_probe_through_the_engines_decision(tmp_path, gcp_api, monkeypatch, registry):
    """As apply and plan use it: missing runs the unit in every mode; an unanswered probe fails
    strict and runs the unit lenient."""
    from providers.gcp.status import CLOUD_ASSET_ENDPOINT

    api, server = gcp_api
    monkeypatch.setenv(CLOUD_ASSET_ENDPOINT, server.url)
    resolved = compile_project(open_project([gcp_project(tmp_path)]), "prod", registry).resolved
    api.assets = [_asset("//storage.googleapis.com/shop-prod-files", "storage.googleapis.com/Bucket", OWN)]

    def unit(id_: str) -> UnitState:
        bucket = CloudResource(address="module.x.google_storage_bucket.this", type="google_storage_bucket", id=id_)
        return UnitState(
            kind="terraform", type="bucket", hash="h", status="applied", provider="gcp", resources=(bucket,)
        )

    units = {"files": unit("shop-prod-files"), "logs": unit("shop-prod-logs")}
    cloud = probe_clouds(registry, resolved.environment, resolved.name, units)
    assert cloud.api_calls == {"gcp": 1}
    decision = probes.decide(cloud.findings, "strict", {"files": "bucket", "logs": "bucket"})
    assert decision.refusals == [] and list(decision.stale) == ["logs"]
    assert decision.stale["logs"] == (
        "bucket logs: module.x.google_storage_bucket.this (shop-prod-logs) not found in the cloud; re-applying"
    )
    api.denied.add("acme-shop-prod")
    cloud = probe_clouds(registry, resolved.environment, resolved.name, units)
    strict = probes.decide(cloud.findings, "strict", {})
    assert [d.address for d in strict.refusals] == ["files", "logs"] and "403" in strict.refusals[0].summary
    lenient = probes.decide(cloud.findings, "lenient", {})
    assert sorted(lenient.stale) == ["files", "logs"] and lenient.refusals == []


def _arm(group: str, kind: str, name: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{group}/providers/{kind}/{name}"


def test_azure_probe_is_one_paginated_resource_graph_query_by_tags(tmp_path, azure_api, registry):
    from providers.azure import plugin

    api, server = azure_api
    env = compile_project(open_project([azure_project(tmp_path)]), "prod", registry).resolved.environment
    account = _arm("shop-prod", "Microsoft.Storage/storageAccounts", "shopprodfiles")
    endpoint = _arm("shop-prod", "Microsoft.Network/privateEndpoints", "shop-prod-files")
    cache = _arm("shop-prod", "Microsoft.Cache/Redis", "shop-prod-cache")
    server_id = _arm("shop-prod", "Microsoft.DBforPostgreSQL/flexibleServers", "shop-prod-db")
    bus = _arm("shop-prod", "Microsoft.ServiceBus/namespaces", "shop-prod-jobs")
    dev = _arm("shop-dev", "Microsoft.Storage/storageAccounts", "shopdevfiles")
    for rid, tags in ((account, OWN), (endpoint, OWN), (cache, OWN), (server_id, OWN), (bus, OWN),
                      (dev, {**OWN, "env": "dev"})):  # fmt: skip
        api.resources[rid.lower()] = {"id": rid, "name": rid.rsplit("/", 1)[-1], "tags": tags, "properties": {}}
    asked = (
        # Terraform may spell the group differently from ARM's answer: ids compare without case.
        _asked("files", "azurerm_storage_account", account.replace("shop-prod", "SHOP-PROD")),
        _asked("files", "azurerm_private_endpoint", endpoint),
        _asked("files", "azurerm_storage_container", "https://shopprodfiles.blob.core.windows.net/files"),
        _asked("files", "azurerm_key_vault_secret", "https://shop-kv.vault.azure.net/secrets/shop-prod-files/1"),
        _asked("cache", "azurerm_redis_cache", cache),
        _asked("db", "azurerm_postgresql_flexible_server", server_id),
        _asked("jobs", "azurerm_servicebus_namespace", bus),
        _asked("jobs", "azurerm_servicebus_queue", f"{bus}/queues/jobs"),
        _asked("old", "azurerm_mysql_flexible_server", _arm("shop-prod", "Microsoft.DBforMySQL/flexibleServers", "x")),
        _asked("dev", "azurerm_storage_account", dev),  # tagged for another environment: not ours
    )
    api.max_page = 2  # five tagged resources: three pages
    server.requests.clear()
    result = plugin.probe(ProbeRequest(env, "shop", asked))
    assert result.answered, result.reason
    assert sorted(r.unit for r in result.missing) == ["dev", "old"]
    assert sorted(r.type for r in result.unseen) == [
        "azurerm_key_vault_secret",
        "azurerm_servicebus_queue",
        "azurerm_storage_container",
    ]
    assert result.api_calls == len(server.requests) == 3
    assert {(r.method, r.path, r.query["api-version"][0]) for r in server.requests} == {
        ("POST", "/providers/Microsoft.ResourceGraph/resources", "2022-10-01")
    }
    first = server.requests[0].body
    assert first["subscriptions"] == [SUB]
    assert first["query"] == "Resources | where tags['app'] == 'shop' and tags['env'] == 'prod' | project id"
    assert first["options"]["$top"] == 1000
    assert [r.body["options"].get("$skipToken") for r in server.requests] == [None, "2", "4"]

    # The API down or no permission: the probe cannot answer, and says why.
    api.graph_down = True
    result = plugin.probe(ProbeRequest(env, "shop", asked))
    assert not result.answered and "503" in result.reason
    api.graph_down = False
    api.denied.add(SUB)
    result = plugin.probe(ProbeRequest(env, "shop", asked))
    assert not result.answered and "403 AuthorizationFailed" in result.reason and result.api_calls == 1
    # Nothing to look for (only unseen types): no call at all.
    server.requests.clear()
    assert plugin.probe(ProbeRequest(env, "shop", asked[2:4])).answered and server.requests == []


def test_azure_probe_refuses_a_rejected_token(tmp_path, azure_api, registry, monkeypatch):
    from providers.azure import plugin
    from providers.azure.sdk import TEST_TOKEN

    api, server = azure_api
    env = compile_project(open_project([azure_project(tmp_path)]), "prod", registry).resolved.environment
    monkeypatch.setenv(TEST_TOKEN, "stolen")
    account = _arm("shop-prod", "Microsoft.Storage/storageAccounts", "shopprodfiles")
    result = plugin.probe(ProbeRequest(env, "shop", (_asked("files", "azurerm_storage_account", account),)))
    assert not result.answered and "401" in result.reason


def test_resources_that_live_only_in_terraform_state_are_never_probed(tmp_path, registry):
    """A `terraform_data` or `random_*` resource is in no cloud: a unit made of them asks no
    plugin (before, an environment without a cloud could not answer, and CI's strict mode
    refused every plan and apply after the first)."""
    from composer.model.environment import Environment

    env = Environment.model_validate(
        {"apiVersion": "composer.dev/v1alpha1", "kind": "Environment", "metadata": {"name": "e"}, "spec": {}}
    )
    state_only = (
        CloudResource(address="module.t.terraform_data.this", type="terraform_data", id="1f"),
        CloudResource(address="module.t.random_password.p", type="random_password", id="none"),
    )
    unit = UnitState(kind="terraform", type="terraform-module", hash="h", status="applied", resources=state_only)
    cloud = probe_clouds(registry, env, "a", {"t": unit})
    assert cloud.findings == [] and cloud.api_calls == {}
    bucket = CloudResource(address="module.t.aws_s3_bucket.b", type="aws_s3_bucket", id="b")
    mixed = unit.model_copy(update={"resources": (*state_only, bucket)})
    (finding,) = probe_clouds(registry, env, "a", {"t": mixed}).findings
    assert finding.verdict == "unknown" and "not installed" in finding.detail  # no cloud named: cannot answer


def test_every_probed_type_carries_the_ownership_marks_in_the_shipped_modules():
    """The probes find a resource only by its ownership labels (gcp) or tags (azure): every
    resource of a probed type in modules/gcp and modules/azure sets them from the `tags` input
    (which resolve fills with app, env, component and managed-by)."""
    from pathlib import Path

    import hcl2

    from providers.azure.probe import PROBED
    from providers.gcp.probe import ASSETS

    def marks(cloud: str, type_: str, body: dict) -> object:
        if type_ == "google_sql_database_instance":  # Cloud SQL keeps labels in settings
            return body["settings"][0].get("user_labels")
        return body.get("labels" if cloud == "gcp" else "tags")

    seen = set()
    for cloud, probed in (("gcp", ASSETS), ("azure", PROBED)):
        for main in sorted((Path(__file__).parent.parent / "modules" / cloud).glob("*/main.tf")):
            with main.open(encoding="utf-8") as f:
                blocks = hcl2.load(f).get("resource", [])
            for block in blocks:
                for quoted, named in block.items():
                    type_ = quoted.strip('"')
                    for name, body in named.items():
                        if type_ in probed:
                            seen.add(type_)
                            assert marks(cloud, type_, body) == "${var.tags}", f"{main}: {type_}.{name}"
    assert seen == set(ASSETS) | set(PROBED)  # every probed type is one a shipped module creates
