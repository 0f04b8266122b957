"""KubeVela promotion (docs/oam.md "Promotion"): a workflow that deploys the same components
again to another namespace, with its own overrides. Each later deploy is a promoted copy: its
own unit, in its own namespace, after the steps before it and behind their gates; what cannot
be promoted soundly is refused at its line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from composer.diagnostics import DiagnosticError, format_path
from composer.model.loader import load_application
from composer.project import compile_project, open_project
from tests.helpers import appc, write

APP = """\
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: shop}
spec:
  components:
    - name: api
      type: webservice
      properties:
        image: nginx:1
        ports: [{port: 8080, expose: true}]
      traits: [{type: scaler, properties: {replicas: 1}}]
    - name: worker
      type: worker
      dependsOn: [api]
      properties: {image: busybox:1}
  policies:
    - {name: staging, type: topology, properties: {clusters: [local], namespace: shop-staging}}
    - {name: live, type: topology, properties: {clusters: [local], namespace: shop-live}}
    - name: ha
      type: override
      properties:
        components:
          - {name: api, traits: [{type: scaler, properties: {replicas: 3}}]}
  workflow:
    steps:
      - {name: deploy-staging, type: deploy, properties: {policies: [staging]}}
      - {name: approve, type: suspend, properties: {message: look at staging}}
      - {name: deploy-live, type: deploy, properties: {policies: [live, ha]}}
"""


def env(name: str, kubernetes: str) -> str:
    return f"apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {{name: {name}}}\nspec:\n  kubernetes: {kubernetes}\n"


def _objects(files: dict[str, bytes], unit: str) -> dict[str, dict]:
    return {o["kind"]: o for o in yaml.safe_load_all(files[f"kubernetes/{unit}.yaml"])}


def _errors(tmp_path: Path, app: str, environment: str = "{context: c}", registry=None) -> list[tuple]:
    write(tmp_path, {"app.yaml": app, "environments/t.yaml": env("t", environment)})
    with pytest.raises(DiagnosticError) as exc:
        compile_project(open_project(tmp_path / "app.yaml"), "t", registry)
    return [(d.line, format_path(d.path), d.summary) for d in exc.value.diagnostics if d.severity.value == "error"]


def test_each_deploy_step_is_its_own_units_in_its_own_namespace(tmp_path: Path, registry):
    write(tmp_path, {"app.yaml": APP, "environments/t.yaml": env("t", "{context: c}")})
    project = open_project(tmp_path / "app.yaml")
    compiled = compile_project(project, "t", registry)
    model = project.app.model
    assert [(c.name, c.promotion.of if c.promotion else None) for c in model.spec.components] == [
        ("api", None),
        ("worker", None),
        ("api-shop-live", "api"),
        ("worker-shop-live", "worker"),
    ]
    # the gate holds the second deploy; the copies come after every component of the first
    assert [(g.name, g.components) for g in model.spec.gates] == [("approve", ("api-shop-live", "worker-shop-live"))]
    copy = model.component("worker-shop-live")
    assert copy is not None and copy.depends_on == ("api-shop-live", "api", "worker")
    files = compiled.rendered.files
    first, again = _objects(files, "api"), _objects(files, "api-shop-live")
    # same object names, each deploy in its namespace; the override reaches only the second deploy of api
    assert [(o["metadata"]["name"], o["metadata"]["namespace"]) for o in first.values()] == [
        ("api", "shop-staging"),
        ("api", "shop-staging"),
    ]
    assert [(o["metadata"]["name"], o["metadata"]["namespace"]) for o in again.values()] == [
        ("api", "shop-live"),
        ("api", "shop-live"),
    ]
    assert (first["Deployment"]["spec"]["replicas"], again["Deployment"]["spec"]["replicas"]) == (1, 3)
    # the unit's own label (inventory, prune); selectors and pods stay the promoted component's
    assert again["Deployment"]["metadata"]["labels"]["composer.dev/component"] == "api-shop-live"
    assert again["Deployment"]["spec"]["selector"]["matchLabels"]["composer.dev/component"] == "api"
    assert again["Service"]["spec"]["selector"]["composer.dev/component"] == "api"
    worker, worker_again = _objects(files, "worker"), _objects(files, "worker-shop-live")
    assert worker_again["Deployment"]["spec"] == worker["Deployment"]["spec"]  # no override for the worker
    # the override's replaced value is said once, at the line it replaces, naming the copy
    [said] = [w for w in project.app.warnings if "replaced by override" in w.summary]
    assert (said.line, format_path(said.path)) == (11, "spec.components[0].traits[0].properties.replicas")
    assert "step 'deploy-live' deploys to namespace 'shop-live'" in said.detail


def test_the_environment_namespace_is_the_first_deploys_and_a_warning_says_where_the_next_lands(
    tmp_path: Path, registry
):
    write(tmp_path, {"app.yaml": APP, "environments/t.yaml": env("t", "{context: c, namespace: shop}")})
    compiled = compile_project(open_project(tmp_path / "app.yaml"), "t", registry)
    files = compiled.rendered.files
    assert _objects(files, "api")["Deployment"]["metadata"]["namespace"] == "shop"
    assert _objects(files, "api-shop-live")["Deployment"]["metadata"]["namespace"] == "shop-live"
    said = {(d.line, format_path(d.path), d.summary) for d in compiled.rendered.warnings}
    assert (
        18,
        "spec.policies[1].properties.namespace",
        "'api' is deployed again to namespace 'shop-live' as the step says; environment 't' names the namespace "
        "of its first deploy ('shop')",
    ) in said


LIVE_IN_SHOP = APP.replace("namespace: shop-live}", "namespace: shop}")


@pytest.mark.parametrize(
    "app, environment, expected",
    [
        pytest.param(
            APP.replace("clusters: [local], namespace: shop-live", "clusters: [eu-2], namespace: shop-live"),
            "{context: c}",
            (18, "spec.policies[1].properties.clusters[0]", "step 'deploy-live' deploys the components again to "
             "cluster(s) eu-2, not those of the first deploy"),
            id="another-cluster",
        ),
        pytest.param(
            APP.replace("clusters: [local], namespace: shop-live", "clusterLabelSelector: {region: eu}"),
            "{context: c}",
            (18, "spec.policies[1].properties.clusterLabelSelector", "step 'deploy-live' deploys the components "
             "again to clusters chosen by label"),
            id="clusters-by-label",
        ),
        pytest.param(
            APP.replace("namespace: shop-live}", "namespace: shop-staging}"),
            "{context: c}",
            (18, "spec.policies[1].properties.namespace", "step 'deploy-live' deploys the components again to the "
             "namespace they are already in"),
            id="same-namespace",
        ),
        pytest.param(
            APP.replace("      - {name: deploy-staging, type: deploy, properties: {policies: [staging]}}",
                        "      - {name: deploy-staging, type: apply-component, properties: {component: api}}"),
            "{context: c}",
            (28, "spec.workflow.steps[2]", "step 'deploy-live' deploys worker for the first time and the others again"),
            id="first-and-again",
        ),
        pytest.param(
            APP.replace("properties: {image: busybox:1}", "properties: {image: busybox:1}\n      connections: [api]"),
            "{context: c}",
            (16, "spec.components[1].connections", "component 'worker' binds connections and is deployed again"),
            id="connections",
        ),
        pytest.param(
            APP.replace("properties: {image: busybox:1}", "properties: {image: busybox:1, cmd: [run, '${db.url}']}"),
            "{context: c}",
            (15, "spec.components[1].properties", "component 'worker' uses reference '${db.url}' and is deployed again"),
            id="reference",
        ),
        pytest.param(
            LIVE_IN_SHOP,
            "{context: c, namespace: shop}",
            (18, "spec.policies[1].properties.namespace", "components 'api' and 'api-shop' both write Deployment shop/api"),
            id="copy-in-the-environments-namespace",
        ),
        pytest.param(
            APP,
            "{directory: deploy, namespace: shop}",
            (18, "spec.policies[1].properties.namespace", "environment 't' writes a kustomization with namespace "
             "'shop', which would move the copy for namespace 'shop-live' there"),
            id="kustomize-directory",
        ),
    ],
)  # fmt: skip
def test_a_promotion_that_cannot_be_sound_is_refused_at_its_line(tmp_path, registry, app, environment, expected):
    errors = _errors(tmp_path, app, environment, registry)
    assert expected in errors, errors


def test_a_cloud_resource_deployed_again_is_refused(tmp_path: Path, registry):
    app = APP.replace("    - name: worker\n", "    - {name: uploads, type: bucket}\n    - name: worker\n")
    environment = "{context: c}\n  cloud: {provider: aws, region: eu-west-1}"
    errors = _errors(tmp_path, app, environment, registry)
    assert (
        29,
        "spec.workflow.steps[2]",
        "cloud resource 'uploads' would be made a second time by its promotion 'uploads-shop-live'",
    ) in errors, errors


@pytest.mark.parametrize(
    "components, expected",
    [
        ("- {name: b, type: worker, promotion: {of: nope, namespace: x}}", "which is no other component"),
        ("- {name: b, type: worker, promotion: {of: b, namespace: x}}", "which is no other component"),
        (
            "- {name: b, type: worker, promotion: {of: a, namespace: x}}\n"
            "    - {name: c, type: worker, promotion: {of: b, namespace: y}}",
            "itself a promotion",
        ),
        ("- {name: b, type: worker, promotion: {of: a, namespace: x}, connections: [a]}", "binds connections"),
        (
            "- {name: b, type: worker, promotion: {of: a, namespace: x}}\n"
            "    - {name: c, type: worker, properties: {env: {U: '${a.url}'}}, promotion: {of: a, namespace: y}}",
            "'c' binds connections or references",
        ),
        (
            "- {name: b, type: worker, promotion: {of: a, namespace: x}}\n"
            "    - {name: c, type: worker, promotion: {of: a, namespace: x}}",
            "both promote 'a' to namespace 'x'",
        ),
    ],
)
def test_native_promotions_are_checked(tmp_path: Path, components: str, expected: str):
    app = (
        "apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {name: shop}\nspec:\n  components:\n"
        f"    - {{name: a, type: worker}}\n    {components}\n"
    )
    write(tmp_path, {"app.yaml": app})
    with pytest.raises(DiagnosticError) as exc:
        load_application(tmp_path / "app.yaml")
    assert any(expected in d.summary for d in exc.value.diagnostics), exc.value.diagnostics


def test_apply_stops_at_the_gate_then_approve_deploys_the_second_namespace(tmp_path: Path, kube_clean):
    """End to end against the stand-in: the first namespace, the gate, the second (created),
    a no-op re-apply, then the promotion taken off the workflow prunes its objects only."""
    kube_clean.set_auto_ready(True)
    write(tmp_path, {"app.yaml": APP, "environments/t.yaml": env("t", "{context: standin, namespace: shop}")})
    app = str(tmp_path / "app.yaml")
    deployment = "/apis/apps/v1/namespaces/{}/deployments/api"
    r = appc("plan", "-f", app, "-e", "t", "--json")  # a dry run into a namespace that does not exist yet
    assert r.code == 0, r.err
    r = appc("apply", "-f", app, "-e", "t", "--auto-approve", "--json")
    assert r.code == 0, r.err
    assert [e for e in r.events if e["type"] == "gate"] == [
        {"type": "gate", "gates": ["approve"], "held": ["api-shop-live", "worker-shop-live"]}
    ]
    assert kube_clean.get(deployment.format("shop"))["spec"]["replicas"] == 1
    assert kube_clean.get(deployment.format("shop-live")) is None
    r = appc("apply", "-f", app, "-e", "t", "--auto-approve", "--approve", "approve", "--json")
    assert r.code == 0, r.err
    assert kube_clean.get("/api/v1/namespaces/shop-live") is not None
    live = kube_clean.get(deployment.format("shop-live"))
    assert live["spec"]["replicas"] == 3 and live["metadata"]["labels"]["composer.dev/component"] == "api-shop-live"
    assert kube_clean.get("/api/v1/namespaces/shop-live/services/api") is not None
    r = appc("apply", "-f", app, "-e", "t", "--auto-approve", "--approve", "approve", "--json")
    assert r.code == 0 and r.events[-1]["k8s_writes"] == 0, r.err
    staged_only = APP.split("      - {name: approve")[0]
    write(tmp_path, {"app.yaml": staged_only})
    r = appc("apply", "-f", app, "-e", "t", "--auto-approve", "--json")
    assert r.code == 0, r.err
    assert kube_clean.get(deployment.format("shop-live")) is None
    assert kube_clean.get("/api/v1/namespaces/shop-live/services/api") is None
    assert kube_clean.get(deployment.format("shop"))["spec"]["replicas"] == 1
    r = appc("destroy", "-f", app, "-e", "t", "--auto-approve")
    assert r.code == 0, r.err
    assert kube_clean.get(deployment.format("shop")) is None


def test_a_refused_promotion_is_exit_1_at_its_line_and_writes_nothing(tmp_path: Path):
    """Through the CLI: render and validate both refuse a copy that would land on the first deploy's objects."""
    write(tmp_path, {"app.yaml": LIVE_IN_SHOP, "environments/t.yaml": env("t", "{context: c, namespace: shop}")})
    out = tmp_path / "out"
    r = appc("render", "-f", str(tmp_path / "app.yaml"), "-e", "t", "-o", str(out))
    assert r.code == 1 and "Traceback" not in r.err + r.out and not out.exists(), (r.code, r.err)
    j = appc("validate", "-f", str(tmp_path / "app.yaml"), "-e", "t", "--json")
    assert j.code == 1
    errors = [(e["line"], e["path"], e["summary"]) for e in j.events if e.get("severity") == "error"]
    assert errors == [
        (18, "spec.policies[1].properties.namespace", f"components {c!r} and '{c}-shop' both write Deployment shop/{c}")
        for c in ("api", "worker")
    ]


@pytest.mark.parametrize(
    "broken",
    [
        ("    - name: worker\n", "    - name: [worker]\n"),  # a name that is no string (fuzz: unhashable)
        ("    - name: worker\n", "    - nom: worker\n"),  # no name at all (fuzz: KeyError)
    ],
)
def test_a_promoted_component_without_a_usable_name_is_an_error_not_a_crash(tmp_path: Path, broken):
    write(tmp_path, {"app.yaml": APP.replace(*broken), "environments/t.yaml": env("t", "{context: c}")})
    r = appc("validate", "-f", tmp_path / "app.yaml", "-e", "t", "--json")
    assert r.code == 1, r.out + r.err
    assert [e for e in r.events if e["type"] == "diagnostic" and e["severity"] == "error" and e.get("line")]
