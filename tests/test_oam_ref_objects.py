"""KubeVela's `ref-objects` component: the objects it references are read from the YAML files beside
the app and rendered as the component's objects (docs/oam.md, "Component types")."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from composer.project import compile_project, open_project
from tests.helpers import appc, write

ENV = "apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {name: prod}\nspec: {kubernetes: {context: c, namespace: shop}}\n"
APP = """
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: shop, namespace: shop}
spec:
  components:
    - name: web
      type: ref-objects
      properties:
        objects:
          - {resource: deployment, group: apps}
          - resource: configmaps
            labelSelector: {app: web}
      traits:
        - type: scaler
          properties: {replicas: 4}
"""
# As `kubectl get -o yaml` writes them: what the server set is not applied again.
LIVE = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  uid: 0c6d1c2e
  resourceVersion: "812"
  creationTimestamp: "2026-11-01T00:00:00Z"
  managedFields: [{manager: kubectl}]
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx:1.27}]}
status: {readyReplicas: 1}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-settings, labels: {app: web}}
data: {mode: fast}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: other-settings, labels: {app: other}}
data: {mode: slow}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-elsewhere, namespace: staging, labels: {app: web}}
data: {mode: slow}
"""


def test_the_referenced_objects_beside_the_app_are_the_components_objects(tmp_path: Path, registry):
    write(tmp_path, {"app.yaml": APP, "live.yaml": LIVE, "environments/prod.yaml": ENV})
    project = open_project(tmp_path / "app.yaml")
    compiled = compile_project(project, "prod", registry)
    objects = list(yaml.safe_load_all(compiled.rendered.files["kubernetes/web.yaml"]))
    assert sorted((o["kind"], o["metadata"]["name"]) for o in objects) == [
        ("ConfigMap", "web-settings"),
        ("Deployment", "web"),
    ]
    [deployment] = [o for o in objects if o["kind"] == "Deployment"]
    assert deployment["spec"]["replicas"] == 4  # the scaler trait, as KubeVela patches the workload
    assert "status" not in deployment
    assert not {"uid", "resourceVersion", "creationTimestamp", "managedFields"} & set(deployment["metadata"])
    assert deployment["metadata"]["namespace"] == "shop"
    assert deployment["metadata"]["labels"]["composer.dev/component"] == "web"
    [warning] = [w for w in project.app.warnings if "ref-objects" in w.summary]
    assert (warning.line, str(warning.path[-1])) == (7, "type")
    assert "live.yaml" in warning.detail and "take-over policy" in warning.detail


@pytest.mark.parametrize(
    ("selector", "line", "path", "summary"),
    [
        (
            "{resource: deployment, name: api}",
            10,
            "spec.components[0].properties.objects[0]",
            "no deployment named 'api' in the files beside the app",
        ),
        (
            "{resource: deployment, group: batch}",
            10,
            "spec.components[0].properties.objects[0]",
            "no deployment of group 'batch' named 'web' in the files beside the app",
        ),
        (
            "{resource: deployment, cluster: hub}",
            10,
            "spec.components[0].properties.objects[0].cluster",
            "ref-objects cluster 'hub' is not supported",
        ),
        (
            "{resource: deployment, name: web, labelSelector: {app: web}}",
            10,
            "spec.components[0].properties.objects[0].labelSelector",
            "name and labelSelector cannot be both set",
        ),
        (
            "{resource: deployment, nmae: web}",
            10,
            "spec.components[0].properties.objects[0].nmae",
            "unknown field 'nmae' of a ref-objects selector",
        ),
        (
            "{resource: configmap, name: web-settings}",
            12,
            "spec.components[0].traits[0].type",
            "scaler needs a Deployment, StatefulSet, ReplicaSet as the first ref-objects object",
        ),
    ],
)
def test_a_reference_that_cannot_be_read_is_refused_at_its_line(tmp_path: Path, selector, line, path, summary):
    app = APP.replace("- {resource: deployment, group: apps}", f"- {selector}").replace(
        "          - resource: configmaps\n            labelSelector: {app: web}\n", ""
    )
    write(tmp_path, {"app.yaml": app, "live.yaml": LIVE, "environments/prod.yaml": ENV})
    r = appc("validate", "-f", tmp_path / "app.yaml", "-e", "prod", "--json")
    assert r.code == 1, r.stdout
    errors = [e for e in r.events if e["type"] == "diagnostic" and e["severity"] == "error"]
    assert [(e["line"], e["path"], e["summary"]) for e in errors] == [(line, path, summary)]
    assert errors[0]["detail"]


def test_an_error_of_a_later_selector_is_at_its_own_line_when_an_earlier_one_matched_several(tmp_path: Path):
    app = APP.replace("- {resource: deployment, group: apps}", "- {resource: configmap, labelSelector: {app: web}}")
    app = app.replace(
        "          - resource: configmaps\n            labelSelector: {app: web}\n", "          - {resource: secret}\n"
    )
    live = LIVE.replace("name: other-settings, labels: {app: other}", "name: other-settings, labels: {app: web}")
    write(tmp_path, {"app.yaml": app, "live.yaml": live, "environments/prod.yaml": ENV})
    r = appc("validate", "-f", tmp_path / "app.yaml", "-e", "prod", "--json")
    errors = [e for e in r.events if e["type"] == "diagnostic" and e["severity"] == "error"]
    assert [(e["line"], e["path"]) for e in errors][:1] == [(11, "spec.components[0].properties.objects[1]")]


def test_urls_are_refused_with_what_to_do(tmp_path: Path):
    app = APP.replace("objects:\n", "urls: [https://example.com/web.yaml]\n        objects:\n")
    write(tmp_path, {"app.yaml": app, "live.yaml": LIVE, "environments/prod.yaml": ENV})
    r = appc("validate", "-f", tmp_path / "app.yaml", "-e", "prod", "--json")
    assert r.code == 1
    [e] = [e for e in r.events if e["type"] == "diagnostic" and e["severity"] == "error"]
    assert (e["line"], e["summary"]) == (9, "unsupported field 'urls' of ref-objects")
    assert "file beside the app" in e["detail"]


def test_referenced_objects_are_planned_applied_and_destroyed_with_the_component(tmp_path: Path, kube_clean):
    """Against the Kubernetes API stand-in: plan shows the objects read beside the app, apply
    writes them (replicas from the scaler, the server-set clusterIP left out), destroy deletes them."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    corpus = Path(__file__).parent / "corpus" / "kubevela"
    env = (
        "apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {name: dev}\n"
        f"spec:\n  kubernetes: {{context: {kube_clean.context}, namespace: refs}}\n"
    )
    write(
        tmp_path,
        {
            "app.yaml": (corpus / "50-ref-objects.yaml").read_text(),
            "objects.yaml": (corpus / "objects-50-ref-objects.yaml").read_text(),
            "environments/dev.yaml": env,
        },
    )
    r = appc("plan", "-f", tmp_path / "app.yaml", "--format", "markdown")
    assert r.code in (0, 2) and "nginx-conf" in r.out, r.out + r.err
    r = appc("apply", "-f", tmp_path / "app.yaml", "--auto-approve", "--no-wait")
    assert r.code == 0, r.out + r.err
    apps, core = client.AppsV1Api(kube_clean.api()), client.CoreV1Api(kube_clean.api())
    deployment = apps.read_namespaced_deployment("nginx", "refs")
    assert deployment.spec.replicas == 2 and deployment.metadata.labels["composer.dev/component"] == "nginx"
    assert core.read_namespaced_service("nginx", "refs").spec.cluster_ip != "10.96.12.7"
    assert core.read_namespaced_config_map("nginx-conf", "refs").data == {"worker_processes": "2"}
    r = appc("destroy", "-f", tmp_path / "app.yaml", "--auto-approve")
    assert r.code == 0, r.out + r.err
    with pytest.raises(ApiException):
        apps.read_namespaced_deployment("nginx", "refs")
