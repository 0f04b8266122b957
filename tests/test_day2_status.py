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


def test_status_shows_the_last_probe_and_drift_check_and_plan_records_nothing(tmp_path, moto, kube_clean, monkeypatch):
    """Regression (issue 13): nothing recorded the probe's verdict or the last `appc drift`, so
    status could not show them. On the Kubernetes stand-in alone (no Terraform): an object
    another field manager edits is reported by drift (counts recorded, exit 2), found by the
    next apply's probe (recorded per unit), and both are shown by status in text and --json."""
    import json

    from tests.helpers import appc
    from tests.support.projects import cluster_env, make_project
    from tests.test_probes_plan import edit_image_as_another_manager

    monkeypatch.delenv("CI", raising=False)
    web = "    - {name: web, type: webservice, properties: {image: 'nginx:1.27', port: 8080}}\n"
    api = "    - {name: api, type: worker, properties: {image: 'nginx:1.27'}}\n"
    app = make_project(tmp_path, web + api, env=cluster_env("pstat"), app="pstat")
    kube_clean.set_auto_ready(True)
    assert appc("apply", "-f", app, "-e", "test", "--auto-approve").code == 0

    def status() -> tuple[dict[str, dict], dict, str]:
        r = appc("status", "-f", app, "-e", "test", "--json")
        assert r.code == 0, r.err
        rows = {e["unit"]: e for e in r.events if e["type"] == "status"}
        (drift,) = [e for e in r.events if e["type"] == "drift_check"]
        return rows, drift, appc("status", "-f", app, "-e", "test").out

    rows, drift, _ = status()
    assert rows["web"]["probe"] is None and rows["web"]["drift"] is None and drift["checked"] is False

    api_path = "/apis/apps/v1/namespaces/pstat/deployments/api"
    edit_image_as_another_manager(kube_clean, api_path, "api", "nginx:evil")
    state_file = tmp_path / ".composer" / "test.state.json"
    before = state_file.read_bytes()
    saved = tmp_path / "repair.plan"
    assert appc("plan", "-f", app, "-e", "test", "--detailed-exitcode", "--out", saved).code == 2
    assert state_file.read_bytes() == before  # a plan probes but records nothing
    assert appc("drift", "-f", app, "-e", "test", "--json").code == 2
    rows, drift, text = status()
    assert {k: drift[k] for k in ("checked", "drift", "drifted", "units_checked", "units_drifted")} == {
        "checked": True,
        "drift": True,
        "drifted": 1,
        "units_checked": 2,
        "units_drifted": ["api"],
    }
    assert rows["api"]["drift"] == {"at": drift["at"], "compared": True, "drifted": 1, "ignored": 0}
    assert rows["web"]["drift"]["drifted"] == 0 and rows["web"]["probe"] is None
    assert "1 drifted attribute(s) in 1 unit(s) (2 unit(s) compared)" in " ".join(text.split())

    # The drift record moved the serial, not what is applied: the saved plan still applies, and
    # it takes the image back though the unit's hash is unchanged (a Kubernetes-only plan file).
    r = appc("apply", "-f", app, "-e", "test", saved, "--json")
    assert r.code == 0, r.out + r.err
    (unit,) = [e for e in r.events if e["type"] == "unit" and e["unit"] == "api"]
    assert unit["reason"] == "worker api: Deployment api was changed by another field manager; re-applying"
    assert kube_clean.get(api_path)["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"

    edit_image_as_another_manager(kube_clean, api_path, "api", "nginx:evil")
    assert appc("plan", "-f", app, "-e", "test", "--out", saved).code == 0
    r = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
    assert r.code == 0, r.out + r.err
    rows, _, text = status()
    assert {n: (row["probe"]["verdict"], row["probe"]["mode"]) for n, row in rows.items()} == {
        "web": ("present", "lenient"),
        "api": ("foreign-modified", "lenient"),
    }
    assert rows["api"]["probe"]["detail"] == "Deployment api was changed by another field manager"
    assert "foreign-modified" in text and "changed by another field manager" in " ".join(text.split())
    stored = json.loads(state_file.read_bytes())
    assert set(stored["probes"]) == {"web", "api"} and stored["drift_check"]["drifted"] == {"api": 1}
    assert b"nginx:evil" not in state_file.read_bytes()  # counts and names, never the values compared
    # An apply that changed a unit since the plan was saved: the plan is refused as before.
    r = appc("apply", "-f", app, "-e", "test", saved)
    assert r.code == 1 and "the state moved since this plan was made" in r.out + r.err
    # A no-op apply records a changed verdict once; one that learns nothing new writes nothing.
    assert appc("apply", "-f", app, "-e", "test", "--auto-approve").code == 0
    assert status()[0]["api"]["probe"]["verdict"] == "present"
    settled = state_file.read_bytes()
    assert appc("apply", "-f", app, "-e", "test", "--auto-approve").code == 0
    assert state_file.read_bytes() == settled
    # A plan saved with --refresh plans the changed object too (no probe reason): its file applies it.
    edit_image_as_another_manager(kube_clean, api_path, "api", "nginx:evil")
    assert appc("plan", "-f", app, "-e", "test", "--refresh", "--detailed-exitcode", "--out", saved).code == 2
    assert appc("apply", "-f", app, "-e", "test", saved).code == 0
    assert kube_clean.get(api_path)["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    # The model changed since (app.yaml edited) is noted beside the recorded probe.
    app.write_text(app.read_text().replace("{image: 'nginx:1.27'}", "{image: 'nginx:1.28'}"))
    rows, _, _ = status()
    assert (rows["api"]["model_changed"], rows["web"]["model_changed"]) == (True, False)
    assert rows["api"]["note"].startswith("model changed since the last apply") and "probe " in rows["api"]["note"]


def test_probe_records_keep_the_deciding_verdict_and_only_units_in_state():
    from composer.engine.check_records import probe_records, with_probes
    from composer.engine.probes import Finding

    findings = [
        Finding("files", "unknown", "403 AccessDenied"),
        Finding("files", "missing", "module.files.aws_s3_bucket.this (b) not found in the cloud"),
        Finding("files", "missing", "module.files.aws_s3_bucket_versioning.this (b) not found in the cloud"),
        Finding("queue", "unknown", "503 Service Unavailable"),
    ]
    records = probe_records({"files", "queue", "web"}, findings, "strict", at="2026-11-29T15:20:01.000000Z")
    assert {n: (r.verdict, r.detail) for n, r in records.items()} == {
        "files": (
            "missing",
            "module.files.aws_s3_bucket.this (b) not found in the cloud; "
            "module.files.aws_s3_bucket_versioning.this (b) not found in the cloud",
        ),
        "queue": ("unanswerable", "503 Service Unavailable"),
        "web": ("present", ""),
    }
    state = with_probes(applied_state(), records)  # only `files` is in this state
    assert list(state.probes) == ["files"] and state.probes["files"].mode == "strict"
