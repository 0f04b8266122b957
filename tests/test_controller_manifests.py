"""`appc controller manifests`: the CRDs are structural and follow the file models, and the
whole install applies to the Kubernetes API stand-in (kubectl when installed, else the
official client), where an Application CR is then accepted."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from composer.controller.crds import application_crd, environment_crd, structural, structural_problems
from composer.controller.manifests import AGGREGATE_LABEL, InstallOptions, install_manifests
from tests.helpers import appc


def _schema(crd: dict) -> dict:
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def test_the_crds_are_structural_and_follow_the_file_models():
    for crd in (application_crd(), environment_crd()):
        assert structural_problems(_schema(crd)) == [], crd["metadata"]["name"]
    app_spec = _schema(application_crd())["properties"]["spec"]
    component = app_spec["properties"]["components"]["items"]
    assert component["required"] == ["name", "type"]
    assert component["properties"]["properties"]["x-kubernetes-preserve-unknown-fields"] is True
    env_spec = _schema(environment_crd())["properties"]["spec"]["properties"]
    assert {"cloud", "kubernetes", "state", "policies", "tier", "suspend", "resyncSeconds"} <= set(env_spec)


def test_structural_conversion_rules():
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "maybe": {"anyOf": [{"$ref": "#/$defs/Item"}, {"type": "null"}]},
            "port": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            "either": {"anyOf": [{"type": "object", "properties": {"a": {"type": "string"}}}, {"type": "integer"}]},
            "fixed": {"const": "x"},
            "free": {},
        },
        "$defs": {"Item": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Item"}}}},
    }
    out = structural(schema)
    assert structural_problems(out) == []
    props = out["properties"]
    assert props["maybe"]["nullable"] is True and props["maybe"]["type"] == "object"
    assert props["maybe"]["properties"]["next"]["x-kubernetes-preserve-unknown-fields"] is True  # recursion cut
    assert props["port"] == {"x-kubernetes-int-or-string": True}
    assert props["either"] == {"x-kubernetes-preserve-unknown-fields": True}
    assert props["fixed"] == {"enum": ["x"], "x-kubernetes-preserve-unknown-fields": True}
    assert "additionalProperties" not in out
    assert structural_problems({"properties": {"a": {"$ref": "#/x"}}}) == [
        "/: no type",
        "/a: $ref is not allowed",
        "/a: no type",
    ]


def test_rbac_is_least_privilege_and_extensible():
    objs = install_manifests(InstallOptions())
    roles = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ClusterRole"}
    bound = roles["appc-controller"]
    assert bound["rules"] == [] and bound["aggregationRule"]["clusterRoleSelectors"][0]["matchLabels"] == {
        AGGREGATE_LABEL: "true"
    }
    rules = roles["appc-controller-builtin"]["rules"]
    assert all("*" not in r["verbs"] and "*" not in r["resources"] and "*" not in r["apiGroups"] for r in rules)
    secrets = [r for r in rules if "secrets" in r["resources"]]
    assert secrets and all(r["apiGroups"] == [""] for r in secrets)
    assert not any("clusterroles" in r["resources"] or "rolebindings" in r["resources"] for r in rules)
    leases = next(o for o in objs if o["kind"] == "Role")
    assert leases["metadata"]["namespace"] == "composer-system"
    assert leases["rules"][0]["resources"] == ["leases"]


def test_the_cli_prints_every_object_with_the_given_options():
    r = appc("controller", "manifests", "--namespace", "ops", "--replicas", "3", "--image", "registry.local/appc:1")
    assert r.code == 0, r.err
    docs = list(yaml.safe_load_all(r.out))
    kinds = [d["kind"] for d in docs]
    assert kinds[:2] == ["CustomResourceDefinition", "CustomResourceDefinition"]
    assert {"Namespace", "ServiceAccount", "ClusterRoleBinding", "Deployment", "PodDisruptionBudget", "Service"} <= set(
        kinds
    )
    dep = next(d for d in docs if d["kind"] == "Deployment")
    assert dep["metadata"]["namespace"] == "ops" and dep["spec"]["replicas"] == 3
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.local/appc:1"
    assert container["resources"]["requests"] and container["livenessProbe"] and container["readinessProbe"]
    r2 = appc("controller", "manifests", "--namespace", "ops", "--replicas", "3", "--image", "registry.local/appc:1")
    assert r2.out == r.out  # deterministic: a kustomize base diffs cleanly


def _application_cr() -> dict:
    return {
        "apiVersion": "composer.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "shop", "namespace": "team-a"},
        "spec": {
            "environment": "dev",
            "components": [{"name": "web", "type": "webservice", "properties": {"image": "nginx:1.27"}}],
        },
    }


def _apply_with_kubectl(kube, text: str) -> None:
    """`kubectl apply -f -` (client-side, as the issue's install line; --server-side works too).
    The stand-in serves no OpenAPI document: no client validation (the CRD schemas are checked above)."""
    cmd = ["kubectl", "--kubeconfig", kube.kubeconfig_path, "--context", kube.context, "apply"]
    cmd += ["--validate=false", "-f", "-"]
    done = subprocess.run(cmd, input=text, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def _kubectl_docs(*docs: dict) -> str:
    return yaml.safe_dump_all(list(docs), sort_keys=False)


@pytest.mark.skipif(
    shutil.which("kubectl") is None, reason="kubectl is not installed (the client path is tested below)"
)
def test_installed_with_kubectl_an_application_waits_for_its_identity_then_is_ready(kube_clean, tmp_path):
    """The issue's install check: `appc controller manifests | kubectl apply -f -` creates every
    object on the stand-in, and an Application CR applied with kubectl reaches Ready. On the way,
    its Environment's identity names a ServiceAccount that does not exist yet: the Application is
    Degraded (IdentityUnavailable, naming the account) and nothing runs (no child `appc`, so no
    Terraform and no cloud call; no Deployment); once the account is created, the retry applies it.
    The stand-in runs no pods: the controller runs in this process (kopf in a thread)."""
    from composer.controller.operator import Controller, ControllerOptions, serve_controller
    from tests.test_controller import _start, _stop, _wait

    r = appc("controller", "manifests")
    assert r.code == 0, r.err
    _apply_with_kubectl(kube_clean, r.out)
    for doc in yaml.safe_load_all(r.out):
        ns = doc["metadata"].get("namespace")
        name = doc["metadata"]["name"]
        group_version = doc["apiVersion"]
        plural = {
            "PodDisruptionBudget": "poddisruptionbudgets",
            "CustomResourceDefinition": "customresourcedefinitions",
        }.get(doc["kind"], doc["kind"].lower() + ("es" if doc["kind"].endswith("s") else "s"))
        prefix = f"/api/{group_version}" if "/" not in group_version else f"/apis/{group_version}"
        path = f"{prefix}/namespaces/{ns}/{plural}/{name}" if ns else f"{prefix}/{plural}/{name}"
        assert kube_clean.get(path) is not None, path
    kube_clean.set_auto_ready(True)
    identity = {"aws": {"roleArn": "arn:aws:iam::123456789012:role/team-a", "serviceAccount": "deployer"}}
    env_spec = {"kubernetes": {"context": kube_clean.context}, "identity": identity}
    env = {
        "apiVersion": "composer.dev/v1alpha1",
        "kind": "Environment",
        "metadata": {"name": "dev", "namespace": "team-a"},
    }
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}
    _apply_with_kubectl(kube_clean, _kubectl_docs(namespace, {**env, "spec": env_spec}, _application_cr()))
    stored = kube_clean.get(f"{APPS}/shop")
    assert stored["spec"]["components"][0]["properties"] == {"image": "nginx:1.27"}

    (tmp_path / "state").mkdir()
    opts = ControllerOptions(
        state_root=tmp_path / "state", workers=1, timeout_s=240, health_port=None, backoff_s=2, tick_s=600, retries=20
    )
    running = _start(Controller(opts), serve_controller)
    try:
        degraded = _wait("Degraded", lambda: _condition(kube_clean, "Degraded").get("status") == "True", 60)
        assert degraded
        cond = _condition(kube_clean, "Degraded")
        assert cond["reason"] == "IdentityUnavailable", cond
        assert "ServiceAccount team-a/deployer" in cond["message"] and "404" in cond["message"], cond
        assert _condition(kube_clean, "Ready")["status"] == "False"
        events = kube_clean.get("/api/v1/namespaces/team-a/events")["items"]
        assert any(e["reason"] == "IdentityUnavailable" and "team-a/deployer" in e["message"] for e in events)
        # Nothing ran: the project holds only what the controller wrote, no child's work or state.
        project = tmp_path / "state" / "team-a" / "shop"
        assert sorted(p.relative_to(project).as_posix() for p in project.rglob("*")) == [
            "app.yaml",
            "environments",
            "environments/dev.yaml",
        ]
        assert kube_clean.get("/apis/apps/v1/namespaces/team-a/deployments/web") is None

        account = {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "deployer", "namespace": "team-a"},
        }
        _apply_with_kubectl(kube_clean, _kubectl_docs(account))
        _wait("Ready", lambda: _condition(kube_clean, "Ready").get("status") == "True", 120)
        assert _condition(kube_clean, "Degraded")["status"] == "False"
        assert kube_clean.get("/apis/apps/v1/namespaces/team-a/deployments/web") is not None
        assert not (project / ".appc-identity" / "token").exists()  # removed when the child ended
    finally:
        _stop(running)


APPS = "/apis/composer.dev/v1alpha1/namespaces/team-a/applications"


def _condition(kube, kind: str) -> dict:
    conds = ((kube.get(f"{APPS}/shop") or {}).get("status") or {}).get("conditions", [])
    return next((c for c in conds if c["type"] == kind), {})


def test_the_official_client_applies_the_install_to_the_standin(kube_clean):
    from kubernetes import utils

    api = kube_clean.api()
    created = []
    for doc in install_manifests(InstallOptions(namespace="ops")):
        if doc["kind"] == "CustomResourceDefinition":
            continue  # utils.create_from_dict has no CRD helper in every client version; kubectl covers them
        created += utils.create_from_dict(api, doc)
    assert kube_clean.get("/apis/apps/v1/namespaces/ops/deployments/appc-controller") is not None
    assert kube_clean.get("/api/v1/namespaces/ops/services/appc-controller-metrics") is not None


def test_controller_run_refuses_a_state_dir_that_is_a_planted_link(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "state").symlink_to(tmp_path / "elsewhere")
    r = appc("controller", "run", "--state-dir", str(tmp_path / "state"), "--health-port", "0")
    assert r.code == 1 and "symbolic link" in r.err, r.err
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_controller_run_refuses_a_lease_not_longer_than_its_renew_interval(tmp_path, monkeypatch):
    """--lease-seconds (COMPOSER_CONTROLLER_LEASE_SECONDS) is checked against the renew interval
    before anything runs: a Lease that expires before it is renewed would move shards under work."""
    state = tmp_path / "state"
    r = appc("controller", "run", "--state-dir", state, "--health-port", "0", "--lease-seconds", "4")
    assert r.code == 1 and "--lease-seconds 4 is not longer than the renew interval" in r.err, r.err
    assert "Traceback" not in r.err and not state.exists()
    monkeypatch.setenv("COMPOSER_CONTROLLER_LEASE_SECONDS", "30")
    monkeypatch.setenv("COMPOSER_CONTROLLER_LEASE_RENEW_SECONDS", "30")
    r = appc("controller", "run", "--state-dir", state, "--health-port", "0")
    assert r.code == 1 and "--lease-seconds 30 is not longer than the renew interval" in r.err, r.err
    r = appc("controller", "run", "--state-dir", state, "--lease-renew-seconds", "0")
    assert r.code == 1 and "--lease-renew-seconds must be more than 0" in r.err, r.err


def test_the_lease_timing_reaches_the_shard_keeper(tmp_path):
    from composer.controller.operator import Controller, ControllerOptions

    opts = ControllerOptions(state_root=tmp_path, shards=4, lease_seconds=60, lease_renew_s=10)
    keeper = Controller(opts).keeper
    assert keeper is not None and (keeper.lease_seconds, keeper.renew_seconds) == (60, 10)
