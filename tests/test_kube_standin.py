"""The Kubernetes stand-in (tests/support/kube_standin.py), driven by the official client and kubectl."""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from tests.support.kube_standin import CONTEXT_B, StandInRemote, start_standin

APPLY = "application/apply-patch+yaml"
ROOT = Path(__file__).resolve().parents[1]

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]},
        },
    },
}


@pytest.fixture(scope="module")
def standin():
    s = start_standin()
    yield s
    s.stop()


@pytest.fixture
def kube(standin):
    """A clean stand-in and an ApiClient loaded from its kubeconfig, as production code would."""
    standin.reset()
    cfg = client.Configuration()
    config.load_kube_config(config_file=standin.kubeconfig_path, context="standin", client_configuration=cfg)
    with client.ApiClient(configuration=cfg) as api:
        yield api


def raw_json(response) -> dict:
    return json.loads(response.data)


def apply_deployment(api: client.ApiClient, body: dict, manager: str = "appc", **kwargs):
    return client.AppsV1Api(api).patch_namespaced_deployment(
        body["metadata"]["name"],
        body["metadata"]["namespace"],
        body,
        field_manager=manager,
        _content_type=APPLY,
        **kwargs,
    )


def create_namespace(api: client.ApiClient, name: str = "shop") -> None:
    client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))


def test_namespaces_must_exist_and_can_be_created(kube):
    core = client.CoreV1Api(kube)
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_secret("shop", client.V1Secret(metadata=client.V1ObjectMeta(name="s")))
    assert exc.value.status == 404
    assert json.loads(exc.value.body)["message"] == 'namespaces "shop" not found'

    create_namespace(kube)
    with pytest.raises(ApiException) as exc:
        create_namespace(kube)
    assert exc.value.status == 409 and json.loads(exc.value.body)["reason"] == "AlreadyExists"
    ns = core.read_namespace("shop")
    assert ns.status.phase == "Active" and ns.metadata.uid and ns.metadata.creation_timestamp


def test_lists_carry_kinds_and_resource_versions(kube):
    create_namespace(kube)
    apply_deployment(kube, DEPLOYMENT)
    apps = client.AppsV1Api(kube)
    listing = raw_json(apps.list_namespaced_deployment("shop", _preload_content=False))
    assert listing["kind"] == "DeploymentList" and listing["apiVersion"] == "apps/v1"
    assert int(listing["metadata"]["resourceVersion"]) > 0
    assert [(i["kind"], i["apiVersion"], i["metadata"]["name"]) for i in listing["items"]] == [
        ("Deployment", "apps/v1", "web")
    ]
    namespaces = raw_json(client.CoreV1Api(kube).list_namespace(_preload_content=False))
    assert namespaces["kind"] == "NamespaceList"
    assert {"default", "shop"} <= {i["metadata"]["name"] for i in namespaces["items"]}
    assert client.AppsV1Api(kube).list_namespaced_deployment("shop", label_selector="app in (web,api)").items
    assert not client.AppsV1Api(kube).list_namespaced_deployment("shop", label_selector="app!=web").items


def test_server_side_apply_creates_then_is_a_no_op(kube):
    create_namespace(kube)
    first = apply_deployment(kube, DEPLOYMENT)
    second = apply_deployment(kube, DEPLOYMENT)
    assert first.metadata.resource_version == second.metadata.resource_version  # no-op SSA keeps the RV
    assert first.metadata.generation == second.metadata.generation == 1
    [entry] = second.metadata.managed_fields
    assert (entry.manager, entry.operation) == ("appc", "Apply")
    assert "f:replicas" in entry.fields_v1["f:spec"]
    assert second.status is None or not second.status.available_replicas  # no controller runs

    changed = copy.deepcopy(DEPLOYMENT)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    third = apply_deployment(kube, changed)
    assert int(third.metadata.resource_version) > int(second.metadata.resource_version)
    assert third.metadata.generation == 2

    # Fields the manager stops applying are removed.
    fewer = copy.deepcopy(changed)
    del fewer["metadata"]["labels"]
    assert not apply_deployment(kube, fewer).metadata.labels


def test_apply_conflict_names_the_other_manager(kube):
    create_namespace(kube)
    apply_deployment(kube, DEPLOYMENT)
    scaled = copy.deepcopy(DEPLOYMENT)
    scaled["spec"]["replicas"] = 5
    with pytest.raises(ApiException) as exc:
        apply_deployment(kube, scaled, manager="autoscaler")
    status = json.loads(exc.value.body)
    assert exc.value.status == 409 and status["kind"] == "Status" and status["reason"] == "Conflict"
    # An Apply manager is named alone; an Update manager with apiVersion and time (apiserver
    # pkg/endpoints/handlers/fieldmanager/internal/conflict.go, printManager).
    assert status["details"]["causes"] == [
        {"type": "FieldManagerConflict", "message": 'conflict with "appc"', "field": ".spec.replicas"}
    ]
    assert status["message"] == 'Apply failed with 1 conflict: conflict with "appc": .spec.replicas'

    forced = apply_deployment(kube, scaled, manager="autoscaler", force=True)
    assert forced.spec.replicas == 5
    owners = {e.manager: e.fields_v1["f:spec"] for e in forced.metadata.managed_fields}
    assert "f:replicas" in owners["autoscaler"] and "f:replicas" not in owners["appc"]


def test_secret_string_data_is_folded_into_data(kube):
    create_namespace(kube)
    core = client.CoreV1Api(kube)
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "shop"},
        "stringData": {"password": "s3cret"},
    }
    secret = core.patch_namespaced_secret("db", "shop", body, field_manager="appc", _content_type=APPLY)
    assert secret.data == {"password": "czNjcmV0"} and secret.string_data is None and secret.type == "Opaque"
    again = core.patch_namespaced_secret("db", "shop", body, field_manager="appc", _content_type=APPLY)
    assert again.metadata.resource_version == secret.metadata.resource_version


def test_second_context_reaches_the_same_server(kube, standin):
    create_namespace(kube, "shared")
    cfg = client.Configuration()
    config.load_kube_config(config_file=standin.kubeconfig_path, context=CONTEXT_B, client_configuration=cfg)
    with client.ApiClient(configuration=cfg) as other:
        assert client.CoreV1Api(other).read_namespace("shared").metadata.name == "shared"


def test_request_counters(kube, standin):
    create_namespace(kube)
    standin.reset_counters()
    apply_deployment(kube, DEPLOYMENT)
    apply_deployment(kube, DEPLOYMENT)
    client.AppsV1Api(kube).read_namespaced_deployment("web", "shop")
    apply_deployment(kube, DEPLOYMENT, dry_run="All")
    stats = standin.stats()
    assert stats["total"] == 4 and stats["mutating"] == 2 and stats["dry_run"] == 1
    assert stats["mutating_by_verb"] == {"apply": 2} and stats["by_verb"] == {"apply": 3, "get": 1}
    assert standin.count("apply", resource="deployments") == 3
    assert [r.field_manager for r in standin.requests if r.verb == "apply"] == ["appc"] * 3


def test_fault_injection_and_readiness(kube, standin):
    create_namespace(kube)
    standin.fail_next(1, 403, verbs=["apply"])
    with pytest.raises(ApiException) as exc:
        apply_deployment(kube, DEPLOYMENT)
    assert exc.value.status == 403
    assert 'cannot patch resource "deployments" in API group "apps"' in json.loads(exc.value.body)["message"]
    assert client.CoreV1Api(kube).read_namespace("shop")  # the fault was used up

    deployment = apply_deployment(kube, DEPLOYMENT)
    assert not (deployment.status and deployment.status.available_replicas)
    standin.mark_ready("deployments", "shop", "web")
    ready = client.AppsV1Api(kube).read_namespaced_deployment("web", "shop")
    assert ready.status.available_replicas == 2 and ready.status.observed_generation == 1

    standin.auto_ready = True
    other = copy.deepcopy(DEPLOYMENT)
    other["metadata"]["name"] = "api"
    assert apply_deployment(kube, other).status.available_replicas == 2


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
def test_kubectl_get_works(kube, standin, tmp_path):
    create_namespace(kube)
    apply_deployment(kube, DEPLOYMENT)
    env = dict(os.environ, HOME=str(tmp_path))
    out = subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            standin.kubeconfig_path,
            "--cache-dir",
            str(tmp_path / "cache"),
            "get",
            "deployments",
            "-A",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    items = json.loads(out.stdout)["items"]
    assert [(i["kind"], i["metadata"]["namespace"], i["metadata"]["name"]) for i in items] == [
        ("Deployment", "shop", "web")
    ]
    table = subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            standin.kubeconfig_path,
            "--cache-dir",
            str(tmp_path / "cache"),
            "--context",
            "standin-b",
            "get",
            "deploy",
            "-n",
            "shop",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert table.stdout.split()[:3] == ["NAME", "AGE", "web"]


def test_process_mode(tmp_path):
    kubeconfig, port_file, log = tmp_path / "kubeconfig", tmp_path / "port", tmp_path / "standin.log"
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.kube_standin",
                "--port",
                "0",
                "--kubeconfig",
                str(kubeconfig),
                "--port-file",
                str(port_file),
            ],
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert port_file.exists(), log.read_text()
        port = int(port_file.read_text())
        cfg = client.Configuration()
        config.load_kube_config(config_file=str(kubeconfig), context="standin", client_configuration=cfg)
        with client.ApiClient(configuration=cfg) as api:
            create_namespace(api)
        remote = StandInRemote(f"http://127.0.0.1:{port}")
        assert remote.stats()["mutating_by_verb"] == {"create": 1}
        remote.reset()
        assert remote.stats()["total"] == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
