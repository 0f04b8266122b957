"""Kubernetes delivery: ClusterSink (composer/runners/kubernetes.py) directly and through
`appc apply`, and the GitOps DirectorySink.

Every test asserts what exists afterwards in the API, read back through the official client.
The API is the stand-in (tests/support/kube_standin.py; the `kube` fixtures in conftest.py).
Tests taking the `target` fixture also run against a real cluster, opt-in: marker `cluster`,
with KUBECONFIG set and APPC_TEST_REAL_CLUSTER=1 (docs/kubernetes.md); they skip otherwise.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from composer.diagnostics import DiagnosticError
from composer.model.environment import SecretStoreRef
from composer.render.connection import Connection
from composer.render.kubernetes import standard_labels
from composer.runners.directory import DirectorySink
from composer.runners.kubernetes import ClusterSink, KubeClient
from composer.state.model import object_digest
from tests.helpers import appc, write
from tests.support.kube_handle import get

REAL_KUBECONFIG = os.environ.get("KUBECONFIG")  # read at import, before the stand-in fixture replaces it
REAL = os.environ.get("APPC_TEST_REAL_CLUSTER") == "1" and bool(REAL_KUBECONFIG)


# -- targets: the stand-in, or a real cluster (opt-in) ---------------------------------------


@dataclass
class Target:
    name: str
    kubeconfig: str
    context: str
    context_b: str
    namespace: str
    namespace_b: str
    standin: Any  # tests/support/kube_handle.KubeHandle, None on a real cluster
    api: Any
    bad_image: str = "registry.invalid/appc/never-ready:1"
    extra: dict = field(default_factory=dict)

    def get(self, path: str) -> dict | None:
        return get(self.api, path)

    def deployment(self, name: str, ns: str | None = None) -> dict | None:
        return self.get(f"/apis/apps/v1/namespaces/{ns or self.namespace}/deployments/{name}")

    def configmap(self, name: str, ns: str | None = None) -> dict | None:
        return self.get(f"/api/v1/namespaces/{ns or self.namespace}/configmaps/{name}")


@pytest.fixture(params=["standin", pytest.param("real", marks=pytest.mark.cluster)])
def target(request, monkeypatch):
    if request.param == "standin":
        kube = request.getfixturevalue("kube_clean")
        yield Target("standin", kube.kubeconfig_path, kube.context, kube.context_b, "shop", "shop-b", kube, kube.api())
        return
    if not REAL:
        pytest.skip("a real cluster is opt-in: set KUBECONFIG and APPC_TEST_REAL_CLUSTER=1")
    from kubernetes import client, config

    monkeypatch.setenv("KUBECONFIG", REAL_KUBECONFIG)
    _, current = config.list_kube_config_contexts(config_file=REAL_KUBECONFIG)
    context = os.environ.get("APPC_TEST_CONTEXT") or current["name"]
    suffix = uuid.uuid4().hex[:6]
    cfg = client.Configuration()
    config.load_kube_config(
        config_file=REAL_KUBECONFIG, context=context, client_configuration=cfg, persist_config=False
    )
    api = client.ApiClient(configuration=cfg)
    t = Target(
        "real",
        REAL_KUBECONFIG,
        context,
        os.environ.get("APPC_TEST_CONTEXT_B") or context,
        f"appc-test-{suffix}",
        f"appc-test-{suffix}-b",
        None,
        api,
    )
    yield t
    core = client.CoreV1Api(api)
    for ns in (t.namespace, t.namespace_b):
        try:
            core.delete_namespace(ns)
        except client.exceptions.ApiException:
            pass


def conn(values: dict[str, str], secret_ref: str | None = None, store: SecretStoreRef | None = None) -> Connection:
    """The connection of unit `db` of app `shop` in `dev`, as the engine hands it to a sink."""
    return Connection("shop", "dev", "db", "shop", values, secret_ref, store)


def make_sink(t: Target, namespace: str | None = None, context: str | None = None, **kw) -> ClusterSink:
    ctx = context or t.context
    kw.setdefault("no_wait", True)
    return ClusterSink(
        KubeClient.for_context(t.kubeconfig, ctx, 4),
        app="shop",
        environment="dev",
        context=ctx,
        namespace=namespace or t.namespace,
        **kw,
    )


def labels(component: str) -> dict:
    return standard_labels("shop", "dev", component)


def configmap(name: str, component: str = "web", **data: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels(component)},
        "data": data or {"mode": "fast"},
    }


def deployment(name: str, component: str = "web", image: str = "nginx:1.27", replicas: int = 1) -> dict:
    sel = {"composer.dev/app": "shop", "composer.dev/component": component}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels(component)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": sel},
            "template": {"metadata": {"labels": dict(sel)}, "spec": {"containers": [{"name": name, "image": image}]}},
        },
    }


def service(name: str, component: str = "web") -> dict:
    sel = {"composer.dev/app": "shop", "composer.dev/component": component}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels(component)},
        "spec": {"selector": sel, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def managers(obj: dict) -> dict[str, str]:
    return {m["manager"]: m["operation"] for m in obj["metadata"].get("managedFields") or []}


def messages(exc_or_result) -> str:
    if isinstance(exc_or_result, DiagnosticError):
        return "\n".join(d.summary + " " + d.detail for d in exc_or_result.diagnostics)
    parts = [exc_or_result.err]
    for e in exc_or_result.events:
        for d in [e] if e.get("type") == "diagnostic" else e.get("diagnostics") or []:
            parts.append(f"{d.get('summary', '')} {d.get('detail', '')}")
    return "\n".join(parts)


# -- ClusterSink directly ---------------------------------------------------------------------


def test_sink_creates_the_namespace_and_applies_server_side_as_appc(target):
    sink = make_sink(target)
    objects = [configmap("cfg"), deployment("web"), service("web")]
    items, writes = sink.apply("web", objects, ())
    assert target.get(f"/api/v1/namespaces/{target.namespace}") is not None
    dep = target.deployment("web")
    assert managers(dep).get("appc") == "Apply"
    assert managers(target.configmap("cfg")).get("appc") == "Apply"
    assert target.get(f"/api/v1/namespaces/{target.namespace}/services/web") is not None
    assert [(i.kind, i.name, i.hash) for i in items] == [
        (o["kind"], o["metadata"]["name"], object_digest(o)) for o in objects
    ]
    assert writes == 4  # the namespace and three objects


def test_sink_makes_no_write_for_unchanged_objects_and_writes_only_what_changed(kube_clean):
    t = Target(
        "standin", kube_clean.kubeconfig_path, "standin", "standin-b", "shop", "shop-b", kube_clean, kube_clean.api()
    )
    sink = make_sink(t)
    objects = [configmap("cfg"), deployment("web")]
    items, _ = sink.apply("web", objects, ())

    kube_clean.reset_counters()
    again, writes = make_sink(t).apply("web", objects, items)  # a fresh process: no cache
    assert writes == 0 and kube_clean.mutating() == 0 and again == items

    kube_clean.reset_counters()
    changed = [configmap("cfg", mode="slow"), deployment("web")]
    _, writes = sink.apply("web", changed, items)
    stats = kube_clean.stats()
    assert writes == 1 and stats["mutating"] == 1 and stats["mutating_by_verb"] == {"apply": 1}
    assert t.configmap("cfg")["data"] == {"mode": "slow"}


def test_sink_recreates_an_object_deleted_behind_its_back(kube_clean):
    t = Target(
        "standin", kube_clean.kubeconfig_path, "standin", "standin-b", "shop", "shop-b", kube_clean, kube_clean.api()
    )
    sink = make_sink(t)
    items, _ = sink.apply("web", [configmap("cfg"), deployment("web")], ())
    from kubernetes import client

    client.CoreV1Api(t.api).delete_namespaced_config_map("cfg", "shop")
    _, writes = sink.apply("web", [configmap("cfg"), deployment("web")], items)
    assert writes == 1 and t.configmap("cfg") is not None


def test_sink_creates_only_a_promoted_copys_namespace(kube_clean):
    """The one namespace besides its own that the sink creates is where a promoted copy lands
    (composer/model/promotion.py). An object of any other unit that names a missing namespace
    fails with the server's answer, as with kubectl, and nothing creates that namespace."""
    t = Target(
        "standin", kube_clean.kubeconfig_path, "standin", "standin-b", "shop", "shop-b", kube_clean, kube_clean.api()
    )
    sink = make_sink(t, promotions={"web-live": "shop-live"})
    elsewhere = configmap("cfg")
    elsewhere["metadata"]["namespace"] = "somewhere-else"
    with pytest.raises(DiagnosticError) as exc:
        sink.apply("web", [elsewhere], ())
    assert "somewhere-else" in messages(exc.value)
    assert t.get("/api/v1/namespaces/somewhere-else") is None

    copy = configmap("cfg", component="web-live")
    copy["metadata"]["namespace"] = "shop-live"
    _, writes = sink.apply("web-live", [copy], ())
    assert t.get("/api/v1/namespaces/shop-live") is not None
    assert t.get("/api/v1/namespaces/shop-live/configmaps/cfg") is not None
    assert writes == 2  # the copy's namespace and the ConfigMap (the first apply made the sink's own)


def test_sink_prunes_objects_no_longer_rendered_in_reverse_order(target):
    sink = make_sink(target)
    items, _ = sink.apply("web", [configmap("a"), configmap("b"), deployment("web"), service("web")], ())
    if target.standin:
        target.standin.reset_counters()
    kept, writes = sink.apply("web", [deployment("web")], items)
    assert [i.name for i in kept] == ["web"] and writes == 3
    assert target.configmap("a") is None and target.configmap("b") is None
    assert target.get(f"/api/v1/namespaces/{target.namespace}/services/web") is None
    assert target.deployment("web") is not None
    if target.standin:
        deletes = [(r["resource"], r["name"]) for r in target.standin.request_log() if r["verb"] == "delete"]
        assert deletes == [("services", "web"), ("configmaps", "b"), ("configmaps", "a")]

    assert sink.delete(kept) == 1
    assert target.deployment("web") is None


def test_sink_conflict_names_the_other_manager_and_force_takes_ownership(target):
    sink = make_sink(target)
    items, _ = sink.apply("web", [deployment("web", replicas=2)], ())
    # Another tool takes spec.replicas (e.g. an autoscaler or a hand edit with kubectl).
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": target.namespace},
        "spec": {"replicas": 5},
    }
    from kubernetes import client

    client.AppsV1Api(target.api).patch_namespaced_deployment(
        "web", target.namespace, body, field_manager="helm", force=True, _content_type="application/apply-patch+yaml"
    )

    with pytest.raises(DiagnosticError) as exc:
        sink.apply("web", [deployment("web", replicas=3)], items)
    text = messages(exc.value)
    assert "helm" in text and "spec.replicas" in text and "--force-conflicts" in text
    assert target.deployment("web")["spec"]["replicas"] == 5

    make_sink(target, force_conflicts=True).apply("web", [deployment("web", replicas=3)], items)
    dep = target.deployment("web")
    assert dep["spec"]["replicas"] == 3
    owned = next(m for m in dep["metadata"]["managedFields"] if m["manager"] == "appc")
    assert "f:replicas" in owned["fieldsV1"]["f:spec"]


def test_sink_403_names_verb_and_resource(kube_clean):
    t = Target(
        "standin", kube_clean.kubeconfig_path, "standin", "standin-b", "shop", "shop-b", kube_clean, kube_clean.api()
    )
    sink = make_sink(t)
    sink.apply("web", [configmap("cfg")], ())
    kube_clean.fail_next(1, 403, verbs=["apply"], path="deployments/web")
    with pytest.raises(DiagnosticError) as exc:
        sink.apply("web", [deployment("web")], ())
    summary = exc.value.diagnostics[0].summary
    assert (
        "forbidden" in summary
        and "patch" in summary
        and "deployments.apps" in summary
        and 'namespace "shop"' in summary
    )
    assert t.deployment("web") is None


def test_sink_422_names_component_and_field(target):
    sink = make_sink(target)
    with pytest.raises(DiagnosticError) as exc:
        sink.apply(
            "settings",
            [
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "bad", "labels": labels("settings")},
                    "data": {"not a key!": "x"},
                }
            ],
            (),
        )
    d = exc.value.diagnostics[0]
    assert d.address == "settings" and "component settings" in d.summary and "data[not a key!]" in d.summary
    assert target.configmap("bad") is None


def test_sink_retries_429_with_retry_after_and_5xx(kube_clean):
    t = Target(
        "standin", kube_clean.kubeconfig_path, "standin", "standin-b", "shop", "shop-b", kube_clean, kube_clean.api()
    )
    sink = make_sink(t)
    sink.apply("web", [configmap("warmup")], ())
    kube_clean.fail_next(1, 429, verbs=["apply"], retry_after=1)
    kube_clean.fail_next(2, 503, verbs=["apply"])
    sink.apply("web", [configmap("cfg")], ())
    assert t.configmap("cfg") is not None
    by_status = {int(k): v for k, v in kube_clean.stats()["by_status"].items()}
    assert by_status.get(429) == 1 and by_status.get(503) == 2


def test_sink_gives_up_after_bounded_retries(kube_clean):
    t = Target(
        "standin", kube_clean.kubeconfig_path, "standin", "standin-b", "shop", "shop-b", kube_clean, kube_clean.api()
    )
    sink = make_sink(t)
    sink.apply("web", [configmap("warmup")], ())
    kube_clean.fail_next(100, 500, verbs=["apply"])
    with pytest.raises(DiagnosticError) as exc:
        sink.apply("web", [configmap("cfg")], ())
    assert "500" in exc.value.diagnostics[0].summary
    assert int(kube_clean.stats()["by_status"].get(500) or kube_clean.stats()["by_status"].get("500")) == 5


def test_sink_waits_for_rollouts_jobs_and_cronjobs(kube_clean):
    t = Target(
        "standin", kube_clean.kubeconfig_path, "standin", "standin-b", "shop", "shop-b", kube_clean, kube_clean.api()
    )
    kube_clean.set_auto_ready(True)
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate", "labels": labels("web")},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "busybox"}]}}},
    }
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly", "labels": labels("web")},
        "spec": {"schedule": "0 3 * * *", "jobTemplate": job["spec"] and {"spec": job["spec"]}},
    }
    sink = make_sink(t, no_wait=False, timeout=10)
    items, _ = sink.apply("web", [deployment("web", replicas=2), job, cron], ())
    assert t.deployment("web")["status"]["availableReplicas"] == 2
    health = sink.status("web", items)
    assert health["rollout"] == "complete" and (health["ready"], health["desired"]) == (3, 3)


def test_sink_rollout_timeout_names_the_last_warning_event(kube_clean):
    t = Target(
        "standin", kube_clean.kubeconfig_path, "standin", "standin-b", "shop", "shop-b", kube_clean, kube_clean.api()
    )
    from kubernetes import client

    core = client.CoreV1Api(t.api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="shop")))
    core.create_namespaced_event(
        "shop",
        client.CoreV1Event(
            metadata=client.V1ObjectMeta(name="web-abc.1"),
            involved_object=client.V1ObjectReference(kind="Pod", name="web-abc-123", namespace="shop"),
            type="Warning",
            reason="Failed",
            message='Failed to pull image "nginx:nope": not found',
        ),
    )
    sink = make_sink(t, no_wait=False, timeout=0.5)
    with pytest.raises(DiagnosticError) as exc:
        sink.apply("web", [deployment("web")], ())
    d = exc.value.diagnostics[0]
    assert "Deployment shop/web was not ready within 0.5s" in d.summary
    assert "Failed to pull image" in d.detail and "--no-wait" in d.detail


def test_sink_applies_a_crd_and_its_custom_resource_in_one_go(kube_clean):
    t = Target(
        "standin", kube_clean.kubeconfig_path, "standin", "standin-b", "shop", "shop-b", kube_clean, kube_clean.api()
    )
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.acme.example.com", "labels": labels("crds")},
        "spec": {
            "group": "acme.example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }
    widget = {
        "apiVersion": "acme.example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1", "labels": labels("crds")},
        "spec": {"size": 3},
    }
    items, _ = make_sink(t).apply("crds", [crd, widget], ())
    assert t.get("/apis/acme.example.com/v1/namespaces/shop/widgets/w1")["spec"] == {"size": 3}
    assert t.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.acme.example.com") is not None

    with pytest.raises(DiagnosticError) as exc:
        make_sink(t).apply(
            "crds", [{"apiVersion": "nothing.example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}}], ()
        )
    assert "does not serve Gadget in nothing.example.com/v1" in exc.value.diagnostics[0].summary


def test_sink_connection_secret_holds_the_data_and_is_written_once(target):
    sink = make_sink(target)
    data = {"host": "db.internal", "password": "pa55-w0rd-never-logged"}
    assert sink.write_connection(conn(data)) == 2  # the namespace and the Secret
    secret = target.get(f"/api/v1/namespaces/{target.namespace}/secrets/shop-db-conn")
    assert secret["type"] == "Opaque"
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == data
    assert managers(secret).get("appc") == "Apply"

    if target.standin:
        target.standin.reset_counters()
    assert sink.write_connection(conn(data)) == 0  # cached: no request at all
    assert make_sink(target).write_connection(conn(data)) == 0  # GET and compare
    if target.standin:
        assert target.standin.stats()["mutating"] == 0

    assert sink.write_connection(conn({**data, "password": "rotated"})) == 1
    assert (
        base64.b64decode(target.get(f"/api/v1/namespaces/{target.namespace}/secrets/shop-db-conn")["data"]["password"])
        == b"rotated"
    )

    assert sink.delete_connection("db", "shop-db-conn") == 1
    assert target.get(f"/api/v1/namespaces/{target.namespace}/secrets/shop-db-conn") is None


def test_sink_never_echoes_a_secret_value_in_an_error(kube_clean):
    t = Target(
        "standin", kube_clean.kubeconfig_path, "standin", "standin-b", "shop", "shop-b", kube_clean, kube_clean.api()
    )
    sink = make_sink(t)
    kube_clean.fail_next(
        1,
        422,
        verbs=["apply"],
        path="secrets",
        message='Secret "shop-db-conn" is invalid: data: Invalid value: "hunter2-secret"',
    )
    with pytest.raises(DiagnosticError) as exc:
        sink.write_connection(conn({"password": "hunter2-secret"}))
    assert "hunter2-secret" not in str(exc.value) and "shop-db-conn" in str(exc.value)


def test_for_environment_makes_one_sink_per_target_from_the_kubeconfig(tmp_path, kube_clean, registry, monkeypatch):
    from composer.cli.wiring import RunOptions
    from composer.project import compile_project, open_project
    from tests.support.kube_standin import write_kubeconfig

    def sinks(kubernetes: dict) -> list[ClusterSink]:
        app = project(tmp_path, kubernetes)
        return ClusterSink.for_environment(
            compile_project(open_project(app), "dev", registry).resolved,
            RunOptions(no_wait=True, force_conflicts=True, timeout=9),
        )

    (a, b) = sinks({"targets": [{"context": "standin", "namespace": "shop"}, {"context": "standin-b"}]})
    assert (a.target, b.target) == ("kube:standin/shop", "kube:standin-b/default")  # the context's namespace
    assert a.no_wait and a.force_conflicts and a.timeout == 9 and a.client.server == kube_clean.url
    # No context: the kubeconfig's current context; KUBECONFIG may list several files, the first
    # that sets current-context wins (as with kubectl).
    other = write_kubeconfig(tmp_path / "other", "http://127.0.0.1:9", contexts=("elsewhere",))
    monkeypatch.setenv("KUBECONFIG", f"{kube_clean.kubeconfig_path}{os.pathsep}{other}")
    (c,) = sinks({"namespace": "shop"})
    assert c.target == "kube:standin/shop"
    (d,) = sinks({"context": "elsewhere", "namespace": "x"})
    assert d.client.server == "http://127.0.0.1:9"
    assert kube_clean.stats()["total"] == 0  # building sinks talks to no server


# -- appc apply, end to end -------------------------------------------------------------------

APP: dict = {
    "apiVersion": "composer.dev/v1alpha1",
    "kind": "Application",
    "metadata": {"name": "shop"},
    "spec": {
        "components": [
            {
                "name": "api",
                "type": "webservice",
                "properties": {"image": "ghcr.io/acme/api:1.0", "port": 8080, "env": {"LOG_LEVEL": "info"}},
                "traits": [
                    {"type": "scaler", "properties": {"replicas": 2}},
                    {"type": "ingress", "properties": {"host": "shop.example.com"}},
                ],
            },
            {"name": "worker", "type": "worker", "properties": {"image": "ghcr.io/acme/worker:1.0"}},
            {
                "name": "report",
                "type": "cron-task",
                "properties": {"image": "ghcr.io/acme/report:1.0", "schedule": "0 3 * * *"},
            },
            {
                "name": "settings",
                "type": "k8s-objects",
                "properties": {
                    "objects": [
                        {
                            "apiVersion": "v1",
                            "kind": "ConfigMap",
                            "metadata": {"name": "settings"},
                            "data": {"mode": "fast"},
                        }
                    ]
                },
            },
        ]
    },
}


def app_doc() -> dict:
    return json.loads(json.dumps(APP))


def project(root: Path, kubernetes: dict, app: dict | None = None, cloud: dict | None = None) -> Path:
    env = {
        "apiVersion": "composer.dev/v1alpha1",
        "kind": "Environment",
        "metadata": {"name": "dev"},
        "spec": {"kubernetes": kubernetes},
    }
    if cloud:
        env["spec"]["cloud"] = cloud
    write(
        root,
        {
            "app.yaml": yaml.safe_dump(app or app_doc(), sort_keys=False),
            "environments/dev.yaml": yaml.safe_dump(env, sort_keys=False),
        },
    )
    return root / "app.yaml"


def apply(app_file: Path, target: Target | None, *extra: str):
    args = ["apply", "-f", str(app_file), "-e", "dev", "--auto-approve", "--json", *extra]
    if target is not None and target.standin is None and "--timeout" not in extra:
        args.append("--no-wait")  # a real cluster cannot pull the example images
    return appc(*args)


def summary(result) -> dict:
    return result.events[-1]


def state(app_file: Path) -> dict:
    return json.loads((app_file.parent / ".composer" / "dev.state.json").read_text())


def ready_on_standin(target: Target) -> None:
    if target.standin:
        target.standin.set_auto_ready(True)


def test_apply_delivers_every_workload_and_a_second_apply_writes_nothing(tmp_path, target):
    ready_on_standin(target)
    app = project(tmp_path, {"context": target.context, "namespace": target.namespace})
    r = apply(app, target)
    assert r.code == 0, messages(r)
    ns = target.namespace
    assert target.get(f"/api/v1/namespaces/{ns}") is not None
    for path in (
        f"/apis/apps/v1/namespaces/{ns}/deployments/api",
        f"/api/v1/namespaces/{ns}/services/api",
        f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses/api",
        f"/apis/apps/v1/namespaces/{ns}/deployments/worker",
        f"/apis/batch/v1/namespaces/{ns}/cronjobs/report",
        f"/api/v1/namespaces/{ns}/configmaps/settings",
    ):
        obj = target.get(path)
        assert obj is not None, path
        assert managers(obj).get("appc") == "Apply", path
        assert obj["metadata"]["labels"]["composer.dev/app"] == "shop"
    assert target.deployment("api")["spec"]["replicas"] == 2
    inv = state(app)["inventory"][f"kube:{target.context}/{ns}"]
    assert sorted((i["kind"], i["name"]) for i in inv) == [
        ("ConfigMap", "settings"),
        ("CronJob", "report"),
        ("Deployment", "api"),
        ("Deployment", "worker"),
        ("Ingress", "api"),
        ("Service", "api"),
    ]

    if target.standin:
        target.standin.reset_counters()
    r = apply(app, target)
    assert r.code == 0 and summary(r)["k8s_writes"] == 0 and summary(r)["units_skipped"] == 4
    if target.standin:
        assert target.standin.mutating() == 0


def test_apply_writes_only_the_object_whose_property_changed(tmp_path, kube_clean):
    kube_clean.set_auto_ready(True)
    app = project(tmp_path, {"context": "standin", "namespace": "shop"})
    assert apply(app, None).code == 0
    doc = app_doc()
    doc["spec"]["components"][0]["properties"]["env"]["LOG_LEVEL"] = "debug"
    project(tmp_path, {"context": "standin", "namespace": "shop"}, doc)
    kube_clean.reset_counters()
    r = apply(app, None)
    assert r.code == 0, messages(r)
    stats = kube_clean.stats()
    assert stats["mutating"] == 1 and summary(r)["k8s_writes"] == 1
    env = kube_clean.get("/apis/apps/v1/namespaces/shop/deployments/api")["spec"]["template"]["spec"]["containers"][0][
        "env"
    ]
    assert {"name": "LOG_LEVEL", "value": "debug"} in env


def test_apply_prunes_a_removed_trait_and_a_removed_component(tmp_path, target):
    ready_on_standin(target)
    app = project(tmp_path, {"context": target.context, "namespace": target.namespace})
    assert apply(app, target).code == 0
    doc = app_doc()
    doc["spec"]["components"][0]["traits"] = [
        t for t in doc["spec"]["components"][0]["traits"] if t["type"] != "ingress"
    ]
    doc["spec"]["components"] = [c for c in doc["spec"]["components"] if c["name"] != "settings"]
    project(tmp_path, {"context": target.context, "namespace": target.namespace}, doc)
    r = apply(app, target)
    assert r.code == 0, messages(r)
    ns = target.namespace
    assert target.get(f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses/api") is None
    assert target.configmap("settings") is None
    assert target.deployment("api") is not None and target.get(f"/api/v1/namespaces/{ns}/services/api") is not None
    st = state(app)
    assert "settings" not in st["units"]
    assert {(i["kind"], i["name"]) for i in st["inventory"][f"kube:{target.context}/{ns}"]} >= {("Deployment", "api")}
    assert ("Ingress", "api") not in {(i["kind"], i["name"]) for i in st["inventory"][f"kube:{target.context}/{ns}"]}


def test_apply_conflict_exits_3_naming_the_manager_and_force_conflicts_succeeds(tmp_path, target):
    ready_on_standin(target)
    app = project(tmp_path, {"context": target.context, "namespace": target.namespace})
    assert apply(app, target).code == 0
    from kubernetes import client

    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": target.namespace},
        "spec": {"replicas": 7},
    }
    client.AppsV1Api(target.api).patch_namespaced_deployment(
        "api",
        target.namespace,
        body,
        field_manager="kubectl-edit",
        force=True,
        _content_type="application/apply-patch+yaml",
    )
    doc = app_doc()
    doc["spec"]["components"][0]["traits"][0]["properties"]["replicas"] = 3
    project(tmp_path, {"context": target.context, "namespace": target.namespace}, doc)

    r = apply(app, target)
    assert r.code == 3
    text = messages(r)
    assert "kubectl-edit" in text and "--force-conflicts" in text
    assert target.deployment("api")["spec"]["replicas"] == 7

    r = apply(app, target, "--force-conflicts")
    assert r.code == 0, messages(r)
    assert target.deployment("api")["spec"]["replicas"] == 3


def test_apply_403_names_verb_and_resource(tmp_path, kube_clean):
    kube_clean.set_auto_ready(True)
    app = project(tmp_path, {"context": "standin", "namespace": "shop"})
    kube_clean.fail_next(1, 403, verbs=["apply"], path="deployments/worker")
    r = apply(app, None)
    assert r.code == 3
    text = messages(r)
    assert "forbidden: cannot patch deployments.apps" in text and "Deployment shop/worker" in text
    assert kube_clean.get("/apis/apps/v1/namespaces/shop/deployments/worker") is None
    assert kube_clean.get("/apis/apps/v1/namespaces/shop/deployments/api") is not None  # the other units finished


def test_apply_422_names_component_and_field(tmp_path, target):
    ready_on_standin(target)
    doc = app_doc()
    doc["spec"]["components"][3]["properties"]["objects"][0]["data"] = {"bad key!": "x"}
    app = project(tmp_path, {"context": target.context, "namespace": target.namespace}, doc)
    r = apply(app, target)
    assert r.code == 3
    text = messages(r)
    assert "component settings" in text and "data[bad key!]" in text
    assert state(app)["units"]["settings"]["status"] == "failed"


def test_apply_unreachable_server_exits_3_naming_it_and_leaves_state_alone(tmp_path, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    from tests.support.kube_standin import write_kubeconfig

    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{port}", contexts=("down",))
    monkeypatch.setenv("KUBECONFIG", kubeconfig)
    app = project(tmp_path / "p", {"context": "down", "namespace": "shop"})
    r = apply(app, None, "--no-wait")
    assert r.code == 3
    assert f"cannot reach the Kubernetes API server at http://127.0.0.1:{port}" in messages(r)
    st = state(app)
    assert not any(st["inventory"].values()) and all(u["status"] == "failed" for u in st["units"].values())
    assert "Traceback" not in r.err


def test_apply_unknown_context_exits_1_listing_the_contexts(tmp_path, kube_clean):
    app = project(tmp_path, {"context": "prod-eu", "namespace": "shop"})
    r = apply(app, None)
    assert r.code == 1
    text = messages(r)
    assert "kubeconfig context 'prod-eu' does not exist" in text and "standin, standin-b" in text
    assert not (tmp_path / ".composer" / "dev.state.json").exists()
    assert kube_clean.stats()["total"] == 0


def test_apply_rollout_that_never_becomes_ready_exits_3(tmp_path, target):
    doc = app_doc()
    doc["spec"]["components"] = [{"name": "worker", "type": "worker", "properties": {"image": target.bad_image}}]
    app = project(tmp_path, {"context": target.context, "namespace": target.namespace}, doc)
    timeout = "2" if target.standin else "30"
    r = apply(app, target, "--timeout", timeout)
    assert r.code == 3
    text = messages(r)
    assert f"Deployment {target.namespace}/worker was not ready within {timeout}s" in text
    assert target.deployment("worker") is not None
    assert state(app)["units"]["worker"]["status"] == "failed"


def test_apply_to_several_clusters(tmp_path, target):
    ready_on_standin(target)
    targets = [
        {"context": target.context, "namespace": target.namespace},
        {"context": target.context_b, "namespace": target.namespace_b},
    ]
    app = project(tmp_path, {"targets": targets})
    r = apply(app, target)
    assert r.code == 0, messages(r)
    for t in targets:
        assert target.deployment("api", t["namespace"]) is not None
        assert target.configmap("settings", t["namespace"]) is not None
        assert state(app)["inventory"][f"kube:{t['context']}/{t['namespace']}"]

    r = appc("status", "-f", str(app), "-e", "dev", "--json")
    assert r.code == 0, r.err
    health = [e for e in r.events if e["type"] == "health"]
    assert {(h["target"], h["unit"]) for h in health} >= {
        (f"kube:{t['context']}/{t['namespace']}", "api") for t in targets
    }
    if target.standin:
        api = [h for h in health if h["unit"] == "api"]
        assert all(h["rollout"] == "complete" and (h["ready"], h["desired"]) == (2, 2) for h in api)


def test_status_reports_an_unreachable_cluster_without_failing(tmp_path, kube_clean, monkeypatch):
    kube_clean.set_auto_ready(True)
    app = project(tmp_path, {"context": "standin", "namespace": "shop"})
    assert apply(app, None).code == 0
    from tests.support.kube_standin import write_kubeconfig

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv(
        "KUBECONFIG", write_kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{port}", contexts=("standin",))
    )
    r = appc("status", "-f", str(app), "-e", "dev", "--json")
    assert r.code == 0
    health = [e for e in r.events if e["type"] == "health"]
    assert health and health[0]["rollout"] == "unreachable" and f"127.0.0.1:{port}" in health[0]["error"]


# -- GitOps directory -------------------------------------------------------------------------

GITOPS = {"directory": "deploy", "namespace": "shop", "secretStore": {"name": "aws-secrets"}}


def test_directory_output_is_deterministic_with_a_kustomization(tmp_path):
    a = project(tmp_path / "a", GITOPS)
    b = project(tmp_path / "b", GITOPS)
    assert apply(a, None).code == 0 and apply(b, None).code == 0
    files_a = {p.name: p.read_bytes() for p in sorted((tmp_path / "a" / "deploy").iterdir())}
    files_b = {p.name: p.read_bytes() for p in sorted((tmp_path / "b" / "deploy").iterdir())}
    assert files_a == files_b
    assert sorted(files_a) == ["api.yaml", "kustomization.yaml", "report.yaml", "settings.yaml", "worker.yaml"]
    kustomization = yaml.safe_load(files_a["kustomization.yaml"])
    assert kustomization == {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["api.yaml", "report.yaml", "settings.yaml", "worker.yaml"],
        "namespace": "shop",
    }

    doc = app_doc()
    doc["spec"]["components"] = [c for c in doc["spec"]["components"] if c["name"] != "settings"]
    project(tmp_path / "a", GITOPS, doc)
    assert apply(a, None).code == 0
    assert not (tmp_path / "a" / "deploy" / "settings.yaml").exists()
    assert (
        "settings.yaml"
        not in yaml.safe_load((tmp_path / "a" / "deploy" / "kustomization.yaml").read_text())["resources"]
    )
    r = appc("status", "-f", str(a), "-e", "dev", "--json")  # offline: no cluster to ask
    assert r.code == 0 and not [e for e in r.events if e["type"] == "health"]


def test_directory_connection_secret_is_an_external_secret_without_values(tmp_path):
    store = SecretStoreRef(name="aws-secrets")
    sink = DirectorySink(tmp_path / "deploy", "shop", "dev", "shop", store)
    value = "s3cr3t-Value-4711"
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/dev/db-AbCdEf"
    assert sink.write_connection(conn({"host": "db.internal", "password": value}, arn, store)) == 1
    assert sink.write_connection(conn({"host": "db.internal", "password": value}, arn, store)) == 0
    (es,) = list(yaml.safe_load_all((tmp_path / "deploy" / "db-conn.yaml").read_text()))
    # The same name and labels as the Secret a cluster gets (both rendered by render/connection.py).
    secret = conn({"password": value}, arn, store).secret()
    assert (
        es["metadata"]
        == secret["metadata"]
        == {
            "name": "shop-db-conn",
            "namespace": "shop",
            "labels": standard_labels("shop", "dev", "db"),
        }
    )
    assert es["apiVersion"] == "external-secrets.io/v1" and es["kind"] == "ExternalSecret"  # ESO >= 0.17 serves only v1
    assert es["spec"]["target"]["name"] == "shop-db-conn"
    assert es["spec"]["secretStoreRef"] == {"name": "aws-secrets", "kind": "ClusterSecretStore"}
    assert es["spec"]["dataFrom"] == [{"extract": {"key": arn}}]
    assert yaml.safe_load((tmp_path / "deploy" / "kustomization.yaml").read_text())["resources"] == ["db-conn.yaml"]
    for p in (tmp_path / "deploy").rglob("*"):
        data = p.read_bytes()
        assert value.encode() not in data and base64.b64encode(value.encode()) not in data, p
    assert sink.delete_connection("db", "shop-db-conn") == 1
    assert not (tmp_path / "deploy" / "db-conn.yaml").exists()


def test_directory_refuses_connection_secrets_without_a_secret_store(tmp_path):
    sink = DirectorySink(tmp_path / "deploy", "shop", "dev", "shop", None)
    with pytest.raises(DiagnosticError) as exc:
        sink.write_connection(conn({"password": "x"}, "arn:aws:secretsmanager:us-east-1:1:secret:x", None))
    d = exc.value.diagnostics[0]
    assert "names no secret store" in d.summary and "kubernetes.secretStore" in d.detail
    with pytest.raises(DiagnosticError) as exc:
        DirectorySink(tmp_path / "deploy", "shop", "dev", "shop", SecretStoreRef(name="s")).write_connection(
            conn({"password": "x"}, None, SecretStoreRef(name="s"))
        )
    assert "secrets: store" in exc.value.diagnostics[0].detail
    assert not (tmp_path / "deploy").exists() or not any((tmp_path / "deploy").iterdir())


def test_directory_refuses_a_raw_secret_object(tmp_path):
    sink = DirectorySink(tmp_path / "deploy", "shop", "dev", "shop", SecretStoreRef(name="s"))
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "api-key"},
        "stringData": {"key": "plain-text-value"},
    }
    with pytest.raises(DiagnosticError) as exc:
        sink.apply("keys", [secret], ())
    assert "ExternalSecret" in exc.value.diagnostics[0].detail
    assert not (tmp_path / "deploy" / "keys.yaml").exists()


# -- a connection Secret from real Terraform outputs (moto + terraform) -----------------------


def test_apply_binds_a_bucket_into_its_connection_secret(tmp_path, moto, kube_clean, monkeypatch):
    from tests.support.terraform_env import require_terraform, terraform_env

    require_terraform()
    env = terraform_env(tmp_path)
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", env["TF_CLI_CONFIG_FILE"])
    kube_clean.set_auto_ready(True)
    doc = app_doc()
    doc["spec"]["components"] = [
        {"name": "uploads", "type": "bucket", "properties": {"force_destroy": True}},
        {
            "name": "api",
            "type": "webservice",
            "properties": {"image": "ghcr.io/acme/api:1.0", "port": 8080},
            "connections": ["uploads"],
        },
    ]
    app = project(
        tmp_path / "p",
        {"context": "standin", "namespace": "shop"},
        doc,
        cloud={"provider": "aws", "region": "us-east-1"},
    )
    r = apply(app, None)
    assert r.code == 0, messages(r)
    secret = kube_clean.get("/api/v1/namespaces/shop/secrets/shop-uploads-conn")
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert set(data) == {"name", "region", "endpoint", "id"} and data["region"] == "us-east-1"
    env_vars = kube_clean.get("/apis/apps/v1/namespaces/shop/deployments/api")["spec"]["template"]["spec"][
        "containers"
    ][0]["env"]
    assert {
        "name": "UPLOADS_NAME",
        "valueFrom": {"secretKeyRef": {"name": "shop-uploads-conn", "key": "name"}},
    } in env_vars

    r = appc("destroy", "-f", str(app), "-e", "dev", "--auto-approve", "--json")
    assert r.code == 0, messages(r)
    assert kube_clean.get("/api/v1/namespaces/shop/secrets/shop-uploads-conn") is None
    assert kube_clean.get("/apis/apps/v1/namespaces/shop/deployments/api") is None


def test_objects_of_a_failed_unit_are_tracked_and_pruned_later(tmp_path, kube_clean):
    """A rejected object fails the unit after others were written; state still lists those,
    so removing the component from the model deletes them (no orphans)."""
    kube_clean.set_auto_ready(True)
    app = project(tmp_path, {"context": "standin", "namespace": "shop"})
    kube_clean.fail_next(1, 422, verbs=["apply"], path="ingresses/api")
    r = apply(app, None)
    assert r.code == 3
    assert kube_clean.get("/apis/apps/v1/namespaces/shop/deployments/api") is not None
    tracked = {(i["kind"], i["name"]) for i in state(app)["inventory"]["kube:standin/shop"] if i["component"] == "api"}
    assert ("Deployment", "api") in tracked
    doc = app_doc()
    doc["spec"]["components"] = [c for c in doc["spec"]["components"] if c["name"] != "api"]
    project(tmp_path, {"context": "standin", "namespace": "shop"}, doc)
    r = apply(app, None)
    assert r.code == 0, messages(r)
    assert kube_clean.get("/apis/apps/v1/namespaces/shop/deployments/api") is None
    assert kube_clean.get("/api/v1/namespaces/shop/services/api") is None
