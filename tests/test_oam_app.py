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
    assert [(g.name, g.components, g.message) for g in model.spec.gates] == [("approve", ("api",), "check the migration")]
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
    paused = GATED.replace("metadata: {name: shop}", "metadata:\n  name: shop\n  annotations: {controller.core.oam.dev/pause: \"true\"}")
    write(tmp_path, {"app.yaml": paused, "environments/gitops.yaml": ENV})
    r = appc("apply", "-f", tmp_path / "app.yaml", "--auto-approve", "--json")
    assert r.code == 1
    [d] = [e for e in r.events if e["type"] == "diagnostic"]
    assert (d["line"], d["path"], d["summary"]) == (5, "metadata.annotations.controller.core.oam.dev/pause", "the application is paused: apply changes nothing")
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
    assert dep["spec"]["replicas"] == 3 and dep["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "2"
    assert dep["spec"]["template"]["spec"]["serviceAccountName"] == "shop-runner"
    # the app's labels and annotations reach every object; controller annotations do not
    for obj in objs.values():
        assert obj["metadata"]["labels"]["team"] == "books" and obj["metadata"]["annotations"] == {"note": "hi"}, obj["kind"]
    assert compiled.warnings == ()
