"""Secure pod defaults: rendered pods meet Pod Security Standards `restricted` unless relaxed.

Field-by-field assertions on the rendered examples (webshop, platform catalog, KubeVela) and on
the `security` trait's explicit relaxations (composer/render/security.py, docs/security.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from composer.diagnostics import DiagnosticError
from composer.project import compile_project, open_project
from tests.helpers import ROOT, write

ENV = """\
apiVersion: composer.dev/v1alpha1
kind: Environment
metadata: {name: staging}
spec:
  cloud: {provider: aws, region: eu-central-1}
  kubernetes: {context: staging, namespace: shop}
"""


def pods(files: dict[str, bytes]) -> dict[str, dict]:
    """component -> its pod template."""
    out = {}
    for name, data in files.items():
        if not name.startswith("kubernetes/"):
            continue
        for obj in yaml.safe_load_all(data):
            spec = obj.get("spec") or {}
            template = spec.get("template") or (spec.get("jobTemplate") or {}).get("spec", {}).get("template")
            if template:
                out[Path(name).stem] = template
    return out


def render_app(tmp_path: Path, registry, components: str) -> dict[str, dict]:
    app = f"apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {{name: shop}}\nspec:\n  components:\n{components}"
    write(tmp_path, {"app.yaml": app, "environments/staging.yaml": ENV})
    return pods(compile_project(open_project(tmp_path / "app.yaml"), "staging", registry).rendered.files)


def assert_restricted(template: dict, read_only_root: bool = True) -> None:
    spec = template["spec"]
    assert template["metadata"]["annotations"]["composer.dev/pod-security"] == "restricted"
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False
    for c in spec["containers"]:
        ctx = c["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False, c["name"]
        assert ctx["capabilities"]["drop"] == ["ALL"], c["name"]
        assert "add" not in ctx["capabilities"], c["name"]
        assert ctx["readOnlyRootFilesystem"] is read_only_root, c["name"]
        assert not ctx.get("privileged"), c["name"]


@pytest.mark.parametrize(
    "example,env", [("webshop", "prod"), ("webshop", "dev"), ("platform-catalog", "staging"), ("oam", None)]
)
def test_examples_meet_restricted(example: str, env: str | None, registry):
    project = open_project(ROOT / "examples" / example / "app.yaml")
    if env is None:
        env = sorted(p.stem for p in (ROOT / "examples" / example / "environments").glob("*.yaml"))[0]
    templates = pods(compile_project(project, env, registry).rendered.files)
    assert templates
    for name, template in templates.items():
        # the in-cluster dev stores' templates write outside /tmp and say so (providers/kubernetes)
        in_cluster_store = (example, env, name) in (("webshop", "dev", "db"), ("webshop", "dev", "cache"))
        assert_restricted(template, read_only_root=not in_cluster_store)
        if in_cluster_store:
            assert template["spec"]["securityContext"]["runAsUser"] == 999


def test_read_only_root_gets_a_writable_tmp(tmp_path, registry):
    pod = render_app(tmp_path, registry, "    - {name: w, type: worker, properties: {image: x:1}}\n")["w"]["spec"]
    assert {"name": "composer-tmp", "emptyDir": {}} in pod["volumes"]
    assert {"name": "composer-tmp", "mountPath": "/tmp"} in pod["containers"][0]["volumeMounts"]


def test_security_trait_relaxes_to_baseline(tmp_path, registry):
    templates = render_app(
        tmp_path,
        registry,
        "    - name: w\n      type: worker\n      properties: {image: x:1}\n"
        "      traits: [{type: security, properties: {runAsNonRoot: false, runAsUser: 0, readOnlyRootFilesystem: false, addCapabilities: [CHOWN]}}]\n",
    )
    pod = templates["w"]
    assert pod["metadata"]["annotations"]["composer.dev/pod-security"] == "baseline"
    assert pod["spec"]["securityContext"]["runAsUser"] == 0
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is False
    ctx = pod["spec"]["containers"][0]["securityContext"]
    assert ctx["readOnlyRootFilesystem"] is False and ctx["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN"]}
    assert "volumes" not in pod["spec"]  # no /tmp emptyDir for a writable root


def test_privileged_is_said(tmp_path, registry):
    pod = render_app(
        tmp_path,
        registry,
        "    - name: w\n      type: worker\n      properties: {image: x:1}\n      traits: [{type: security, properties: {privileged: true}}]\n",
    )["w"]
    assert pod["metadata"]["annotations"]["composer.dev/pod-security"] == "privileged"
    assert "allowPrivilegeEscalation" not in pod["spec"]["containers"][0]["securityContext"]


def test_run_as_user_for_images_that_need_one(tmp_path, registry):
    pod = render_app(
        tmp_path,
        registry,
        "    - name: w\n      type: worker\n      properties: {image: x:1}\n      traits: [{type: security, properties: {runAsUser: 10001}}]\n",
    )["w"]
    assert pod["spec"]["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert_restricted(pod)


def test_service_account_trait_asks_for_the_token(tmp_path, registry):
    pod = render_app(
        tmp_path,
        registry,
        "    - name: w\n      type: worker\n      properties: {image: x:1}\n      traits: [{type: service-account, properties: {name: robot}}]\n",
    )["w"]
    assert pod["spec"]["automountServiceAccountToken"] is True
    assert pod["metadata"]["annotations"]["composer.dev/pod-security"] == "restricted"


def test_root_user_with_non_root_is_refused(tmp_path, registry):
    with pytest.raises(DiagnosticError) as exc:
        render_app(
            tmp_path,
            registry,
            "    - name: w\n      type: worker\n      properties: {image: x:1}\n      traits: [{type: security, properties: {runAsUser: 0}}]\n",
        )
    text = str(exc.value.diagnostics[0])
    assert "runAsUser" in text and "runAsNonRoot: false" in text


def compile_app(tmp_path: Path, registry, components: str):
    app = f"apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {{name: shop}}\nspec:\n  components:\n{components}"
    write(tmp_path, {"app.yaml": app, "environments/staging.yaml": ENV})
    return compile_project(open_project(tmp_path / "app.yaml"), "staging", registry)


def test_requests_default_and_a_warning_without_limits(tmp_path, registry):
    compiled = compile_app(
        tmp_path,
        registry,
        "    - {name: w, type: worker, properties: {image: x:1}}\n    - {name: t, type: task, properties: {image: x:1, cpu: 1, memory: 1Gi}}\n",
    )
    got = pods(compiled.rendered.files)
    assert got["w"]["spec"]["containers"][0]["resources"] == {"requests": {"cpu": "100m", "memory": "128Mi"}}
    assert got["t"]["spec"]["containers"][0]["resources"] == {
        "requests": {"cpu": "1", "memory": "1Gi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }
    [warning] = compiled.rendered.warnings
    assert (
        warning.severity.value == "warning" and warning.address == "w" and "no CPU or memory limits" in warning.summary
    )


def test_examples_render_without_warnings(registry):
    compiled = compile_project(open_project(ROOT / "examples" / "webshop" / "app.yaml"), "prod", registry)
    assert compiled.rendered.warnings == []


def test_webservice_with_a_port_gets_probes(tmp_path, registry):
    got = pods(
        compile_app(
            tmp_path,
            registry,
            "    - {name: a, type: webservice, properties: {image: x:1, port: 8080}}\n"
            "    - name: b\n      type: webservice\n      properties: {image: x:1, port: 9000}\n      traits: [{type: probes, properties: {readiness: {path: /ready, port: 9000}}}]\n"
            "    - {name: c, type: webservice, properties: {image: x:1}}\n",
        ).rendered.files
    )
    a = got["a"]["spec"]["containers"][0]
    assert a["readinessProbe"]["tcpSocket"] == {"port": 8080} and a["livenessProbe"]["tcpSocket"] == {"port": 8080}
    b = got["b"]["spec"]["containers"][0]
    assert b["readinessProbe"] == {"httpGet": {"path": "/ready", "port": 9000}}  # the app's own probe stays
    assert b["livenessProbe"]["tcpSocket"] == {"port": 9000}
    assert "readinessProbe" not in got["c"]["spec"]["containers"][0]
