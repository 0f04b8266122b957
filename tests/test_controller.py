"""`appc controller run` against the Kubernetes API stand-in: an Application CR is applied by
the same engine as `appc apply`, its status says Ready, an edit re-applies, and deleting the CR
destroys what it made (the finalizer)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from composer.controller import binding
from composer.controller.manifests import InstallOptions, install_manifests
from composer.controller.operator import ControllerOptions
from composer.controller.reconcile import conditions, read_events

APPS = "/apis/composer.dev/v1alpha1/namespaces/team-a/applications"
ENVS = "/apis/composer.dev/v1alpha1/namespaces/team-a/environments"


def test_binding_rule():
    assert binding.bind({"environment": "dev"}, "ns", ["dev", "prod"]).environment == "dev"
    assert binding.bind({}, "ns", ["dev"]).environment == "dev"
    several = binding.bind({}, "ns", ["dev", "prod"])
    assert several.environment is None and "several Environments (dev, prod)" in several.problem
    assert "has no Environment" in binding.bind({}, "ns", []).problem
    assert "does not exist" in binding.bind({"environment": "qa"}, "ns", ["dev"]).problem
    doc = binding.app_document(
        "shop",
        "team-a",
        {"annotations": {"kopf.zalando.org/x": "1", "team": "a"}},
        {"environment": "dev", "components": []},
    )
    assert doc["metadata"] == {"name": "shop", "namespace": "team-a", "annotations": {"team": "a"}}
    assert "environment" not in doc["spec"]
    env = binding.environment_document("dev", {"suspend": True, "resyncSeconds": 60, "tier": "development"})
    assert env["spec"] == {"tier": "development"}
    assert binding.env_settings({"suspend": True, "resyncSeconds": 60}) == binding.EnvSettings(60, True)
    assert binding.env_settings({"resyncSeconds": 5}).resync_seconds == binding.DEFAULT_RESYNC_SECONDS
    apps = [
        {"name": "old", "environment": None, "environmentRevision": "r1"},
        {"name": "named", "environment": "dev", "environmentRevision": "r1"},
        {"name": "current", "environment": "dev", "environmentRevision": "r2"},
        {"name": "new", "environment": "dev", "environmentRevision": None},  # its create handler runs
        {"name": "other", "environment": "prod", "environmentRevision": "r1"},
    ]
    assert binding.stale_applications(apps, "dev", ["dev", "prod"], "r2") == ["named"]
    assert binding.stale_applications(apps, "dev", ["dev"], "r2") == ["named", "old"]


def test_events_become_conditions():
    out = read_events(
        3,
        '{"type": "unit", "unit": "web", "status": "failed", "diagnostics": [{"severity": "error", "summary": "boom"}]}\n{"type": "summary", "terraform_runs": 0}\nnot json\n',
        "",
    )
    assert out.units == {"web": "failed"} and out.message == "boom" and not out.ok
    conds = {c["type"]: c for c in conditions(out, None, "t", 2)}
    assert conds["Ready"]["status"] == "False" and conds["Degraded"]["status"] == "True"
    assert conds["Ready"]["message"] == "boom" and conds["Ready"]["observedGeneration"] == 2
    assert {c["type"] for c in conditions(None, "no env", "t", 1)} == {"Ready", "Progressing", "Degraded", "Drifted"}


def test_a_resync_that_changed_nothing_writes_nothing():
    from composer.controller.reconcile import Outcome, quiet_resync

    noop = Outcome(0, {"web": "unchanged"})
    status = {
        "conditions": conditions(noop, None, "t", 3),
        "lastAppliedRevision": "a",
        "environmentRevision": "e",
        "observedGeneration": 3,
    }
    assert quiet_resync(noop, status, "a", "e", 3)
    assert not quiet_resync(Outcome(0, {"web": "applied"}, k8s_writes=1), status, "a", "e", 3)  # a repair
    assert not quiet_resync(Outcome(0, {"b": "applied"}, terraform_runs=1), status, "a", "e", 3)
    assert not quiet_resync(Outcome(3, {}, "boom"), status, "a", "e", 3)
    assert not quiet_resync(noop, status, "b", "e", 3)  # the status says another revision
    assert not quiet_resync(noop, status, "a", "f", 3)
    assert not quiet_resync(noop, {**status, "conditions": conditions(Outcome(1), None, "t", 3)}, "a", "e", 3)


def _apply(kube, *docs: dict) -> None:
    from kubernetes import dynamic

    client = dynamic.DynamicClient(kube.api())
    for doc in docs:
        resource = client.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        client.server_side_apply(resource, body=doc, namespace=doc["metadata"].get("namespace"), field_manager="test")


def _wait(what: str, check: Callable[[], Any], timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _install_crds(kube) -> None:
    from kubernetes import dynamic

    client = dynamic.DynamicClient(kube.api())
    for doc in install_manifests(InstallOptions())[:2]:
        resource = client.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        client.server_side_apply(resource, body=doc, field_manager="test")
    _wait("the CRDs", lambda: kube.get("/apis/composer.dev/v1alpha1") is not None, 30)


def _start(controller: Any, serve_fn: Callable) -> tuple:
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=lambda: loop.run_until_complete(serve_fn(controller, stop)), daemon=True)
    thread.start()
    return controller, stop, thread, loop


def _stop(running: tuple) -> None:
    _, stop, thread, loop = running
    loop.call_soon_threadsafe(stop.set)
    thread.join(30)


@pytest.fixture
def controller(kube_clean, tmp_path: Path):
    from composer.controller.operator import Controller, serve_controller

    kube_clean.set_auto_ready(True)
    _install_crds(kube_clean)
    (tmp_path / "state").mkdir()
    opts = ControllerOptions(
        state_root=tmp_path / "state", workers=2, timeout_s=240, health_port=None, backoff_s=2, tick_s=600
    )
    running = _start(Controller(opts), serve_controller)
    yield kube_clean
    _stop(running)


def _ready(kube, name: str) -> Any:
    obj = kube.get(f"{APPS}/{name}")
    conds = {c["type"]: c for c in ((obj or {}).get("status") or {}).get("conditions", [])}
    return obj if conds.get("Ready", {}).get("status") == "True" else None


def _application(name: str) -> dict:
    web = {"name": "web", "type": "webservice", "properties": {"image": "nginx:1.27", "port": 8080}}
    return {
        "apiVersion": "composer.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "team-a"},
        "spec": {"components": [web]},
    }


def _create_ready(kube, names: list[str]) -> None:
    """Applications `names`, each with one webservice `web-<name>`, created at once; wait for all Ready."""
    for name in names:
        app = _application(name)
        app["spec"]["components"][0]["name"] = f"web-{name}"
        _apply(kube, app)
    for name in names:
        _wait(f"{name} Ready", lambda name=name: _ready(kube, name), 180)


def _image(kube, name: str) -> str | None:
    dep = kube.get(f"/apis/apps/v1/namespaces/team-a/deployments/{name}") or {}
    return dep.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [{}])[0].get("image")


def _buckets() -> list[str]:
    import boto3

    return sorted(b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"])


def test_an_application_cr_is_applied_edited_rebound_and_destroyed(moto, controller, tmp_path, monkeypatch):
    """One scenario, one real Terraform apply and one destroy (a bucket on moto): create → Ready
    with the connection Secret; a component edit re-runs only that unit; an Environment edit
    re-reconciles its Applications; deleting the CR leaves 0 buckets on moto."""
    from tests.support.terraform_env import terraform_env

    monkeypatch.setenv("TF_CLI_CONFIG_FILE", terraform_env(tmp_path)["TF_CLI_CONFIG_FILE"])
    kube = controller
    app = _application("shop")
    app["spec"]["components"][0]["connections"] = ["files"]
    app["spec"]["components"].append({"name": "jobs", "type": "worker", "properties": {"image": "busybox:1.36"}})
    app["spec"]["components"].append({"name": "files", "type": "bucket", "properties": {"force_destroy": True}})
    env_spec = {"cloud": {"provider": "aws", "region": "us-east-1"}, "kubernetes": {"context": kube.context}}
    env = {
        "apiVersion": "composer.dev/v1alpha1",
        "kind": "Environment",
        "metadata": {"name": "dev", "namespace": "team-a"},
        "spec": env_spec,
    }
    _apply(kube, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}, env, app)
    obj = _wait("Ready", lambda: _ready(kube, "shop"), 240)
    assert obj["status"]["units"] == {s: {"status": "applied"} for s in ("web", "jobs", "files")}, obj["status"]
    revision, env_revision = obj["status"]["lastAppliedRevision"], obj["status"]["environmentRevision"]
    assert _image(kube, "web") == "nginx:1.27"
    assert "composer.dev/destroy" in obj["metadata"]["finalizers"]
    secret = kube.get("/api/v1/namespaces/team-a/secrets/shop-files-conn")
    assert secret is not None and set(secret["data"]) == {"name", "region", "endpoint", "id"}
    assert len(_buckets()) == 1

    app["spec"]["components"][0]["properties"]["image"] = "nginx:1.28"
    _apply(kube, app)
    _wait("the new image", lambda: _image(kube, "web") == "nginx:1.28")
    edited = _wait(
        "a new revision",
        lambda: (
            (obj := _ready(kube, "shop")) and obj["status"].get("lastAppliedRevision") not in (None, revision) and obj
        ),
    )
    assert edited["status"]["units"] == {
        "web": {"status": "applied"},
        "jobs": {"status": "unchanged"},
        "files": {"status": "unchanged"},
    }  # one unit re-ran

    # The Environment changes (an override of one component): its Application re-reconciles now,
    # not at the next resync (600 s by default), and only the overridden unit runs.
    env["spec"] = {**env_spec, "overrides": {"jobs": {"properties": {"image": "busybox:1.37"}}}}
    _apply(kube, env)
    _wait("the override rolled", lambda: _image(kube, "jobs") == "busybox:1.37", 60)
    rebound = _wait(
        "a new environment revision",
        lambda: (
            (obj := _ready(kube, "shop"))
            and obj["status"].get("environmentRevision") not in (None, env_revision)
            and obj
        ),
        60,
    )
    assert rebound["status"]["units"]["jobs"] == {"status": "applied"}
    assert rebound["status"]["units"]["files"] == {"status": "unchanged"}

    from kubernetes import dynamic

    client = dynamic.DynamicClient(kube.api())
    resource = client.resources.get(api_version="composer.dev/v1alpha1", kind="Application")
    client.delete(resource, name="shop", namespace="team-a")
    _wait("the CR gone", lambda: kube.get(f"{APPS}/shop") is None, 180)
    assert kube.get("/apis/apps/v1/namespaces/team-a/deployments/web") is None
    assert kube.get("/api/v1/namespaces/team-a/secrets/shop-files-conn") is None
    assert _buckets() == []  # 0 left on moto


def test_an_application_without_an_environment_says_so(controller):
    kube = controller
    app = _application("lost")
    _apply(kube, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}, app)

    def degraded() -> Any:
        conds = {c["type"]: c for c in ((kube.get(f"{APPS}/lost") or {}).get("status") or {}).get("conditions", [])}
        return conds.get("Degraded", {}).get("status") == "True" and conds["Degraded"]["message"]

    assert "has no Environment" in _wait("Degraded", degraded, 60)


def _conditions(kube, name: str) -> dict[str, Any]:
    return {c["type"]: c for c in ((kube.get(f"{APPS}/{name}") or {}).get("status") or {}).get("conditions", [])}


def test_an_environment_takes_its_catalog_from_a_config_map(controller):
    """Environment.spec.catalog.configMap: the definitions in that key are the catalog of the
    Environment's Applications. Missing, it is Degraded with the reason; once it exists, the
    retry applies the platform's own type."""
    kube = controller
    definition = (Path(__file__).parents[1] / "examples/platform-catalog/definitions/static-site.yaml").read_text()
    env = {
        "apiVersion": "composer.dev/v1alpha1",
        "kind": "Environment",
        "metadata": {"name": "dev", "namespace": "team-a"},
        "spec": {"kubernetes": {"context": kube.context}, "catalog": {"configMap": {"name": "platform"}}},
    }
    site = {"name": "site", "type": "static-site", "properties": {"image": "nginx:1.27", "replicas": 1}}
    app = _application("docs")
    app["spec"]["components"] = [site]
    _apply(kube, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}, env, app)
    missing = _wait("Degraded", lambda: _conditions(kube, "docs").get("Degraded", {}).get("status") == "True", 60)
    assert missing and "ConfigMap team-a/platform does not exist" in _conditions(kube, "docs")["Degraded"]["message"]
    assert kube.get("/apis/apps/v1/namespaces/team-a/deployments/site") is None

    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "platform", "namespace": "team-a"},
        "data": {"definitions.yaml": definition},
    }
    _apply(kube, config_map)
    obj = _wait("Ready", lambda: _ready(kube, "docs"), 90)
    assert obj["status"]["units"] == {"site": {"status": "applied"}}
    dep = kube.get("/apis/apps/v1/namespaces/team-a/deployments/site")
    env_names = [e["name"] for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert env_names == ["CACHE_SECONDS"]  # rendered from the catalog's template


def test_shard_moves():
    from composer.runners.controller_shards import LeaseView, plan_moves, shard_of

    alone = plan_moves("a", [], 4)
    assert alone.take == (0, 1, 2, 3) and alone.give == ()
    shared = plan_moves(
        "a", [LeaseView(0, "a"), LeaseView(1, "a"), LeaseView(2, "a"), LeaseView(3, "a"), LeaseView(4, "b")], 6
    )
    assert shared.keep == (0, 1, 2) and shared.give == (3,) and shared.take == ()
    expired = plan_moves("b", [LeaseView(0, None), LeaseView(1, "b")], 2)
    assert expired.take == (0,) and expired.keep == (1,)
    assert {shard_of("ns", f"app-{i}", 4) for i in range(40)} == {0, 1, 2, 3}
    assert shard_of("ns", "x", 8) == shard_of("ns", "x", 8)


@pytest.mark.slow  # ~1-4 min: five appc children, two replicas, a Lease expiry
def test_two_replicas_share_the_applications_and_take_over(kube_clean, tmp_path: Path):
    from composer.controller.operator import Controller, serve_controller
    from composer.runners.controller_shards import shard_of

    kube = kube_clean
    kube.set_auto_ready(True)
    _install_crds(kube)
    _apply(kube, *[{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in ("team-a", "ops")])
    env = {
        "apiVersion": "composer.dev/v1alpha1",
        "kind": "Environment",
        "metadata": {"name": "dev", "namespace": "team-a"},
        "spec": {"kubernetes": {"context": kube.context}},
    }
    _apply(kube, env)
    replicas = {}
    for me in ("r0", "r1"):  # one state directory, as on a shared volume (or S3 state)
        opts = ControllerOptions(
            state_root=tmp_path,
            timeout_s=60,
            health_port=None,
            backoff_s=2,
            shards=4,
            identity=me,
            lease_namespace="ops",
            lease_seconds=6,
            tick_s=3,
        )
        replicas[me] = _start(Controller(opts), serve_controller)
    names = [f"app{i}" for i in range(4)]
    _create_ready(kube, names)
    controllers = {me: c for me, (c, _, _, _) in replicas.items()}
    applied = [
        (me, app, unit)
        for me, c in controllers.items()
        for (_, app, verb, outcome) in c.runs
        for unit, status in outcome.units.items()
        if verb == "apply" and status == "applied"
    ]
    assert sorted(app for _, app, _ in applied) == names, applied  # each unit applied once, by one replica
    # r0 stops (as if killed): r1 takes its shards once their Leases expire, and applies a new app there
    _stop(replicas.pop("r0"))
    r0_shards = controllers["r0"].keeper.owned
    assert r0_shards and controllers["r1"].keeper.owned and not r0_shards & controllers["r1"].keeper.owned
    orphan = next(f"late{i}" for i in range(100) if shard_of("team-a", f"late{i}", 4) in r0_shards)
    late = _application(orphan)
    late["spec"]["components"][0]["name"] = "web-late"
    _apply(kube, late)
    obj = _wait("the late app Ready", lambda: _ready(kube, orphan), 120)
    assert obj["status"]["reconciledBy"] == "r1"
    _stop(replicas.pop("r1"))


def test_the_controller_logs_one_line_per_reconcile_and_kopf_chatter_only_when_verbose():
    import logging

    from composer.controller import logs

    root = logging.getLogger()
    saved = (root.level, list(root.handlers), logging.getLogger(logs.CONTROLLER_LOGGER).level)
    try:
        logs.configure(verbose=False)
        assert not logging.getLogger("kopf.objects").isEnabledFor(logging.INFO)  # "Handler ... succeeded"
        assert logging.getLogger("kopf.objects").isEnabledFor(logging.WARNING)
        assert logging.getLogger(f"{logs.CONTROLLER_LOGGER}.x").isEnabledFor(logging.INFO)
        logs.configure(verbose=True)
        assert logging.getLogger("kopf.objects").isEnabledFor(logging.INFO)
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
        logging.getLogger(logs.CONTROLLER_LOGGER).setLevel(saved[2])
    assert logs.outcome_words(True, "ApplyFailed", "") == "Ready"
    assert logs.outcome_words(False, "CatalogRefused", "unsigned") == "Degraded (CatalogRefused): unsigned"
