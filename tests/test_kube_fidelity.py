"""Kubernetes delivery where a real cluster differs from a naive API (issue 20): immutable Jobs
and claims, keyed-list removals, typed-patch errors, CRD establishment, rollouts, a namespace
being deleted, and the hpa trait taking over `replicas`.

Each case is written once and runs on the stand-in with its fidelity knobs
(tests/support/kube_lifecycle.py) and, opt-in, on a real cluster (`-m cluster`, KUBECONFIG and
APPC_TEST_REAL_CLUSTER=1; the `target` fixture of tests/test_kubernetes.py)."""

from __future__ import annotations

import copy
import time

import pytest

from tests.helpers import appc
from tests.test_kubernetes import Target, apply, make_sink, messages, project, state, target  # noqa: F401 - target is a fixture

PAUSE = "registry.k8s.io/pause:3.9"
PAUSE_NEXT = "registry.k8s.io/pause:3.10"


def app(*components: dict) -> dict:
    return {
        "apiVersion": "composer.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "shop"},
        "spec": {"components": list(components)},
    }


def env_of(t: Target) -> dict:
    return {"context": t.context, "namespace": t.namespace}


def jobs(t: Target) -> list[dict]:
    return [
        j
        for j in (t.get(f"/apis/batch/v1/namespaces/{t.namespace}/jobs") or {}).get("items", [])
        if j["metadata"]["labels"].get("composer.dev/component") == "migrate"
    ]


def ok(r) -> None:
    assert r.code == 0, messages(r)


def test_a_task_whose_image_changes_twice_applies_cleanly(tmp_path, target):
    """A Job's pod template is immutable: each change of the task is a new, content-named Job;
    the old one is pruned, and the plan shows the replace (one add, one remove)."""
    if target.standin:
        target.standin.set_auto_ready(True)
    for n, image in enumerate((PAUSE, PAUSE_NEXT, "registry.k8s.io/pause:3.8")):
        f = project(tmp_path, env_of(target), app({"name": "migrate", "type": "task", "properties": {"image": image}}))
        if n:
            r = appc("plan", "-f", str(f), "-e", "dev", "--json")
            ok(r)
            planned = [e for e in r.events if e.get("unit") == "migrate" and e.get("changes")]
            assert planned and planned[0]["changes"] == {"add": 1, "change": 0, "remove": 1}
        ok(apply(f, target))
        live = jobs(target)
        assert [j["spec"]["template"]["spec"]["containers"][0]["image"] for j in live] == [image]
        assert live[0]["metadata"]["name"].startswith("migrate-")


def test_a_changed_k8s_objects_job_is_deleted_and_created_again(target):
    """A Job under a fixed name (k8s-objects): the 422 "field is immutable" leads to a delete and
    a fresh create, not a failure."""
    sink = make_sink(target)
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "seed", "labels": {"composer.dev/app": "shop", "composer.dev/component": "seed"}},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "seed", "image": PAUSE}]}}},
    }
    items, _ = sink.apply("seed", [job], ())
    first_uid = target.get(f"/apis/batch/v1/namespaces/{target.namespace}/jobs/seed")["metadata"]["uid"]
    changed = copy.deepcopy(job)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = PAUSE_NEXT
    make_sink(target).apply("seed", [changed], items)
    live = target.get(f"/apis/batch/v1/namespaces/{target.namespace}/jobs/seed")
    assert (
        live["spec"]["template"]["spec"]["containers"][0]["image"] == PAUSE_NEXT
        and live["metadata"]["uid"] != first_uid
    )


def volume_app(size: str, storage_class: str | None = None) -> dict:
    pvc = {"name": "data", "mountPath": "/data", "resources": {"requests": {"storage": size}}}
    if storage_class:
        pvc["storageClassName"] = storage_class
    return app(
        {
            "name": "db",
            "type": "worker",
            "properties": {"image": PAUSE},
            "traits": [{"type": "volume", "properties": {"pvc": [pvc]}}],
        }
    )


def test_a_claim_grows_but_a_shrink_is_refused_at_plan_naming_the_component(tmp_path, target):
    if target.standin:
        target.standin.set_auto_ready(True)  # the claim binds; a real cluster needs a StorageClass that expands
    ok(apply(project(tmp_path, env_of(target), volume_app("1Gi")), target))
    claim = f"/api/v1/namespaces/{target.namespace}/persistentvolumeclaims/db-data"
    if target.standin:
        ok(apply(project(tmp_path, env_of(target), volume_app("2Gi")), target))
        assert target.get(claim)["spec"]["resources"]["requests"]["storage"] == "2Gi"
    size = target.get(claim)["spec"]["resources"]["requests"]["storage"]
    f = project(tmp_path, env_of(target), volume_app("500Mi"))
    r = appc("plan", "-f", str(f), "-e", "dev", "--json")
    assert (
        r.code != 0
        and f"component db: PersistentVolumeClaim {target.namespace}/db-data cannot shrink from {size} to 500Mi"
        in messages(r)
    )
    if target.standin:
        target.standin.reset_counters()
    r = apply(f, target)
    assert r.code == 3 and "cannot shrink" in messages(r)
    if target.standin:
        assert target.standin.mutating() == 0  # refused before anything of the unit was written
    r = apply(project(tmp_path, env_of(target), volume_app(size, "another-class")), target)
    assert r.code == 3 and "cannot change its storage class" in messages(r)


def web_app(full: bool) -> dict:
    props = {
        "image": PAUSE,
        "ports": [{"port": 8080, "expose": True}] + ([{"port": 9090, "expose": True}] if full else []),
        "env": {"A": "a", **({"B": "b"} if full else {})},
    }
    traits = [
        {
            "type": "volume",
            "properties": {
                "emptyDir": [{"name": "cache", "mountPath": "/cache"}]
                + ([{"name": "tmp", "mountPath": "/tmp"}] if full else [])
            },
        }
    ]
    if full:
        traits.append({"type": "sidecar", "properties": {"name": "proxy", "image": PAUSE, "env": {"X": "1"}}})
    return app({"name": "web", "type": "webservice", "properties": props, "traits": traits})


def test_removed_sidecar_env_port_and_volume_leave_exactly_the_rest(tmp_path, target):
    if target.standin:
        target.standin.set_auto_ready(True)
    ok(apply(project(tmp_path, env_of(target), web_app(True)), target))
    ok(apply(project(tmp_path, env_of(target), web_app(False)), target))
    pod = target.deployment("web")["spec"]["template"]["spec"]
    [c] = pod["containers"]
    assert c["name"] == "web" and c["env"] == [{"name": "A", "value": "a"}]
    assert [(p["containerPort"], p.get("protocol", "TCP")) for p in c["ports"]] == [(8080, "TCP")]
    tmp = {"name": "composer-tmp", "mountPath": "/tmp"}  # the read-only root's writable /tmp (docs/security.md)
    assert c["volumeMounts"] == [{"name": "cache", "mountPath": "/cache"}, tmp]
    assert pod["volumes"] == [{"name": "cache", "emptyDir": {}}, {"name": "composer-tmp", "emptyDir": {}}]
    svc = target.get(f"/api/v1/namespaces/{target.namespace}/services/web")
    assert [(p["port"], p.get("protocol", "TCP")) for p in svc["spec"]["ports"]] == [(8080, "TCP")]


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda d: d["spec"].update(replica=2), ".spec.replica"),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "MODE", "value": "slow"}),
            '.spec.template.spec.containers[name="tool"].env',
        ),
    ],
    ids=["unknown-field", "duplicate-env-name"],
)
def test_a_manifest_the_api_cannot_type_fails_once_naming_component_and_field(tmp_path, target, mutate, field):
    if target.standin:
        target.standin.set_knobs(strict_schema=True)
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "tool"},
        "spec": {
            "selector": {"matchLabels": {"app": "tool"}},
            "template": {
                "metadata": {"labels": {"app": "tool"}},
                "spec": {"containers": [{"name": "tool", "image": PAUSE, "env": [{"name": "MODE", "value": "fast"}]}]},
            },
        },
    }
    mutate(dep)
    f = project(
        tmp_path, env_of(target), app({"name": "tools", "type": "k8s-objects", "properties": {"objects": [dep]}})
    )
    if target.standin:
        target.standin.reset_counters()
    started = time.monotonic()
    r = apply(f, target)
    assert r.code == 3
    text = messages(r)
    assert "component tools: Deployment" in text and "does not match the API schema" in text and field in text
    assert "not retried" in text and time.monotonic() - started < 5
    if target.standin:
        applies = [q for q in target.standin.request_log() if q["verb"] == "apply" and q["name"] == "tool"]
        assert [q["status"] for q in applies] == [500]  # once: no retries
    assert state(f)["units"]["tools"]["status"] == "failed"


def test_a_fresh_crd_and_its_custom_resource_apply_in_one_go(tmp_path, target):
    if target.standin:
        target.standin.set_knobs(crd_establish_seconds=1.0)
    group = f"{target.namespace}.example.com"  # fresh on every run, also on a real cluster
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
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
    widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 3}}
    f = project(
        tmp_path,
        env_of(target),
        app({"name": "widgets", "type": "k8s-objects", "properties": {"objects": [crd, widget]}}),
    )
    try:
        ok(apply(f, target))
        assert target.get(f"/apis/{group}/v1/namespaces/{target.namespace}/widgets/w1")["spec"] == {"size": 3}
    finally:
        if target.standin is None:
            appc("destroy", "-f", str(f), "-e", "dev", "--auto-approve")


def test_a_rollout_is_waited_for_then_an_image_change_rolls_out(tmp_path, target):
    if target.standin:
        target.standin.set_auto_ready(True)
        target.standin.set_knobs(rollout_seconds=0.5)
    for image in (PAUSE, PAUSE_NEXT):
        f = project(tmp_path, env_of(target), app({"name": "pause", "type": "worker", "properties": {"image": image}}))
        ok(appc("apply", "-f", str(f), "-e", "dev", "--auto-approve", "--json", "--timeout", "180"))
        dep = target.deployment("pause")
        assert (
            dep["status"]["observedGeneration"] == dep["metadata"]["generation"]
            and dep["status"].get("availableReplicas") == 1
        )
        assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == image


def test_a_rollout_past_its_deadline_and_a_failed_job_fail_at_once(tmp_path, kube_clean):
    kube_clean.set_auto_ready(True)
    kube_clean.set_knobs(rollout_seconds=0.3, rollout_outcome="fail")
    f = project(
        tmp_path,
        {"context": "standin", "namespace": "shop"},
        app({"name": "pause", "type": "worker", "properties": {"image": PAUSE}}),
    )
    started = time.monotonic()
    r = appc("apply", "-f", str(f), "-e", "dev", "--auto-approve", "--json", "--timeout", "60")
    assert r.code == 3 and "progress deadline exceeded" in messages(r) and time.monotonic() - started < 20
    f = project(
        tmp_path,
        {"context": "standin", "namespace": "shop"},
        app({"name": "migrate", "type": "task", "properties": {"image": PAUSE}}),
    )
    r = appc("apply", "-f", str(f), "-e", "dev", "--auto-approve", "--json", "--timeout", "60")
    assert r.code == 3 and "failed: BackoffLimitExceeded" in messages(r) and time.monotonic() - started < 20


def test_destroy_then_namespace_deleted_then_apply_at_once(tmp_path, target):
    """A namespace being deleted (Terminating) is waited out, then created again."""
    if target.standin:
        target.standin.set_auto_ready(True)
        target.standin.set_knobs(namespace_terminating_seconds=1.5)
    f = project(tmp_path, env_of(target), app({"name": "pause", "type": "worker", "properties": {"image": PAUSE}}))
    ok(apply(f, target))
    ok(appc("destroy", "-f", str(f), "-e", "dev", "--auto-approve", "--json"))
    assert target.deployment("pause") is None
    from kubernetes import client

    client.CoreV1Api(target.api).delete_namespace(target.namespace)
    ok(apply(f, target, "--timeout", "120") if target.standin is None else apply(f, target))
    assert target.deployment("pause") is not None
    assert (target.get(f"/api/v1/namespaces/{target.namespace}") or {}).get("status", {}).get("phase") == "Active"


def test_adding_hpa_keeps_the_replicas_running(tmp_path, target):
    """The hpa trait stops applying `replicas`; a separate field manager takes the field first
    (Server-Side Apply docs, "Transferring ownership"), so 3 replicas stay 3."""
    if target.standin:
        target.standin.set_auto_ready(True)
    base = {
        "name": "api",
        "type": "webservice",
        "properties": {"image": PAUSE, "port": 8080},
        "traits": [{"type": "scaler", "properties": {"replicas": 3}}],
    }
    ok(apply(project(tmp_path, env_of(target), app(base)), target))
    with_hpa = copy.deepcopy(base)
    with_hpa["traits"] = [{"type": "hpa", "properties": {"min": 2, "max": 5}}]
    ok(apply(project(tmp_path, env_of(target), app(with_hpa)), target))
    seen = []
    for _ in range(5 if target.standin else 20):
        seen.append(target.deployment("api")["spec"]["replicas"])
        time.sleep(0.1 if target.standin else 1.0)
    assert seen == [3] * len(seen), seen
    owners = {m["manager"]: m for m in target.deployment("api")["metadata"]["managedFields"]}
    assert "f:replicas" not in owners["appc"]["fieldsV1"]["f:spec"]
    # The autoscaler scales (an Update of the scale subresource, as the HPA controller writes it),
    # then a changed component is applied again: no conflict, and its count stays.
    from kubernetes import client

    client.AppsV1Api(target.api).patch_namespaced_deployment_scale(
        "api", target.namespace, {"spec": {"replicas": 4}}, field_manager="horizontal-pod-autoscaler"
    )
    with_hpa["properties"]["env"] = {"MODE": "scaled"}
    ok(apply(project(tmp_path, env_of(target), app(with_hpa)), target))
    dep = target.deployment("api")
    assert dep["spec"]["replicas"] == 4 and dep["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "MODE", "value": "scaled"}
    ]


def test_a_namespace_deleted_under_a_running_sink_is_waited_out(kube_clean):
    """The sink knows its namespace exists; deleted meanwhile, the write answers 403 "being
    terminated": the sink waits for it to go, creates it again and applies."""
    from tests.test_kubernetes import configmap

    kube_clean.set_knobs(namespace_terminating_seconds=1.0)
    t = Target(
        "standin", kube_clean.kubeconfig_path, "standin", "standin-b", "shop", "shop-b", kube_clean, kube_clean.api()
    )
    sink = make_sink(t)
    items, _ = sink.apply("web", [configmap("a")], ())
    from kubernetes import client

    client.CoreV1Api(t.api).delete_namespace("shop")
    sink.apply("web", [configmap("a"), configmap("b")], items)
    assert t.configmap("a") is not None and t.configmap("b") is not None
    terminated = [q["status"] for q in kube_clean.request_log() if q["verb"] == "apply" and q["name"] == "a"]
    assert 403 in terminated


def test_a_typed_patch_error_on_a_secret_names_the_field_not_the_value(kube_clean):
    from composer.diagnostics import DiagnosticError

    t = Target(
        "standin", kube_clean.kubeconfig_path, "standin", "standin-b", "shop", "shop-b", kube_clean, kube_clean.api()
    )
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "labels": {"composer.dev/app": "shop", "composer.dev/component": "web"}},
        "data": {"token": 918273645},
    }
    with pytest.raises(DiagnosticError) as exc:
        make_sink(t).apply("web", [secret], ())
    text = messages(exc.value)
    assert (
        "component web: Secret shop/s does not match the API schema (field .data.token)" in text
        and "918273645" not in text
    )


@pytest.mark.parametrize(
    "status, message, problems",
    [
        (
            500,
            "failed to create typed patch object (shop/x; apps/v1, Kind=Deployment): .spec.foo: field not declared in schema",
            [".spec.foo: field not declared in schema"],
        ),
        (
            500,
            "failed to create typed patch object: .status.loadBalancer: field not declared in schema",
            [".status.loadBalancer: field not declared in schema"],
        ),  # older servers
        (
            400,
            "failed to create typed patch object (/x; /v1, Kind=Service): .a: x\n.b: y",
            [".a: x", ".b: y"],
        ),  # kubernetes#139253 makes it a 400
        (500, "Internal error occurred: etcdserver: request timed out", []),
    ],
)
def test_typed_patch_errors_are_told_from_server_trouble(status, message, problems):
    from composer.runners.kube.client import ApiError

    err = ApiError(status, "", message, None, None)
    assert err.typed_patch == problems
    assert err.retryable == (status == 500 and not problems)
