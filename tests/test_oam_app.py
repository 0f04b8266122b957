"""KubeVela Application-level fields (docs/oam.md): policies, workflow gates and ordering,
behaviour annotations, and the Application's labels reaching every object."""

from __future__ import annotations

from pathlib import Path

import yaml

from composer.model.loader import load_application
from composer.project import compile_project, open_project
from tests.helpers import appc, write

ENV = """
apiVersion: composer.dev/v1alpha1
kind: Environment
metadata: {name: gitops}
spec:
  kubernetes: {directory: deploy, namespace: shop}
"""

GATED = """
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: shop}
spec:
  components:
    - {name: db-migrate, type: task, properties: {image: busybox:1}}
    - {name: api, type: webservice, properties: {image: nginx:1}}
  workflow:
    steps:
      - {name: migrate, type: apply-component, properties: {component: db-migrate}}
      - name: approve
        type: suspend
        properties: {message: check the migration}
      - {name: serve, type: apply-component, properties: {component: api}}
"""


def test_suspend_is_an_approval_gate_that_apply_stops_at(tmp_path: Path):
    write(tmp_path, {"app.yaml": GATED, "environments/gitops.yaml": ENV})
    app = tmp_path / "app.yaml"
    model = load_application(app).model
    assert [(g.name, g.components, g.message) for g in model.spec.gates] == [
        ("approve", ("api",), "check the migration")
    ]
    assert model.component("api").depends_on == ("db-migrate",)  # step order is apply order
    r = appc("apply", "-f", app, "--auto-approve", "--json")
    assert r.code == 0, r.err
    assert [e for e in r.events if e["type"] == "gate"] == [{"type": "gate", "gates": ["approve"], "held": ["api"]}]
    assert (tmp_path / "deploy" / "db-migrate.yaml").exists() and not (tmp_path / "deploy" / "api.yaml").exists()
    r = appc("apply", "-f", app, "--auto-approve", "--approve", "nope")
    assert r.code == 1 and "no approval gate of that name" in r.err and "approve" in r.err
    r = appc("apply", "-f", app, "--auto-approve", "--approve", "approve", "--json")
    assert r.code == 0, r.err
    assert not [e for e in r.events if e["type"] == "gate"]
    assert (tmp_path / "deploy" / "api.yaml").exists()


def test_pause_annotation_makes_apply_refuse(tmp_path: Path):
    paused = GATED.replace(
        "metadata: {name: shop}", 'metadata:\n  name: shop\n  annotations: {controller.core.oam.dev/pause: "true"}'
    )
    write(tmp_path, {"app.yaml": paused, "environments/gitops.yaml": ENV})
    r = appc("apply", "-f", tmp_path / "app.yaml", "--auto-approve", "--json")
    assert r.code == 1
    [d] = [e for e in r.events if e["type"] == "diagnostic"]
    assert (d["line"], d["path"], d["summary"]) == (
        5,
        "metadata.annotations.controller.core.oam.dev/pause",
        "the application is paused: apply changes nothing",
    )
    assert not (tmp_path / "deploy").exists()


MULTI = """
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: shop
  labels: {team: books}
  annotations: {app.oam.dev/service-account-name: shop-runner, note: hi}
spec:
  components:
    - name: api
      type: webservice
      properties: {image: nginx:1, cpu: "0.5"}
      traits: [{type: scaler, properties: {replicas: 1}}]
  policies:
    - {name: clusters, type: topology, properties: {clusters: [local, eu-1, us-1], namespace: shop-prod}}
    - name: bigger
      type: override
      properties:
        components:
          - name: api
            properties: {cpu: "2"}
            traits: [{type: scaler, properties: {replicas: 3}}]
    - {name: gc, type: garbage-collect, properties: {keepLegacyResource: false}}
  workflow:
    steps:
      - {name: ship, type: deploy, properties: {policies: [clusters, bigger]}}
"""


def test_topology_override_and_behaviour_annotations(tmp_path: Path, registry):
    env = "apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {name: prod}\n"
    write(tmp_path, {"app.yaml": MULTI, "environments/prod.yaml": env})
    compiled = compile_project(open_project(tmp_path / "app.yaml"), "prod", registry)
    kube = compiled.resolved.environment.spec.kubernetes
    assert [(t.context, t.namespace) for t in kube.resolved_targets()] == [("eu-1", "shop-prod"), ("us-1", "shop-prod")]
    objs = {o["kind"]: o for o in yaml.safe_load_all(compiled.rendered.files["kubernetes/api.yaml"])}
    dep = objs["Deployment"]
    assert (
        dep["spec"]["replicas"] == 3
        and dep["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "2"
    )
    assert dep["spec"]["template"]["spec"]["serviceAccountName"] == "shop-runner"
    # the app's labels and annotations reach every object; controller annotations do not
    for obj in objs.values():
        assert obj["metadata"]["labels"]["team"] == "books" and obj["metadata"]["annotations"] == {"note": "hi"}, obj[
            "kind"
        ]
    assert compiled.warnings == ()


def test_scaler_under_an_autoscaler_is_a_warning_in_json(tmp_path: Path):
    app = """
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: shop}
spec:
  components:
    - name: api
      type: webservice
      properties: {image: nginx:1, cpu: 500m}
      traits:
        - type: scaler
          properties: {replicas: 5}
        - {type: cpuscaler, properties: {min: 2, max: 6}}
"""
    write(tmp_path, {"app.yaml": app, "environments/gitops.yaml": ENV})
    r = appc("render", "-f", tmp_path / "app.yaml", "-o", tmp_path / "out", "--json")
    assert r.code == 0, r.err
    [w] = [e for e in r.events if e["type"] == "diagnostic"]
    assert (w["severity"], w["line"], w["path"]) == ("warning", 10, "spec.components[0].traits[0]")
    assert "autoscaler owns the replica count" in w["summary"]
    dep = [
        o
        for o in yaml.safe_load_all((tmp_path / "out" / "kubernetes" / "api.yaml").read_text())
        if o["kind"] == "Deployment"
    ][0]
    assert "replicas" not in dep["spec"]  # the HorizontalPodAutoscaler owns it


def test_hints_only_when_close_in_kubevela_words_and_errors_in_line_order(tmp_path: Path):
    app = """
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: shop}
spec:
  components:
    - name: api
      type: webservice
      properties: {image: nginx:1, ports: [{port: 80, expose: true}]}
      traits:
        - {type: kservice}
        - {type: gatway, properties: {domain: a.example.com}}
        - {type: gateway, properties: {domain: a.example.com, http: {"/": 80}, secretNme: tls}}
"""
    write(tmp_path, {"app.yaml": app, "environments/gitops.yaml": ENV})
    r = appc("validate", "-f", tmp_path / "app.yaml", "--json")
    assert r.code == 1
    diags = [e for e in r.events if e["type"] == "diagnostic"]
    by_line = {d["line"]: d for d in diags}
    assert "did you mean" not in by_line[10]["detail"]  # kservice: no misleading service-account
    assert by_line[11]["detail"].startswith("did you mean 'gateway'?")  # the KubeVela name, not 'ingress'
    gateway = by_line[12]["summary"] + by_line[12]["detail"]
    assert "secretName" in gateway and "tlsSecretName" not in gateway and "'secretNme'" in gateway
    assert [d["line"] for d in diags] == [10, 11, 12]
