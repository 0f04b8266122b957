"""KubeVela resource-rule policies (garbage-collect, apply-once, take-over, resource-update,
read-only, shared-resource), the apply-object, apply-deployment and depends-on-app steps,
apply-component `cluster` / `namespace`, topology label selectors, and the refusals (rules
Composer cannot scope, controller-only steps, step inputs, two namespaces): docs/oam.md,
"Policies" and "Workflow". The corpus files 70-80 are also walked field by field
(test_kubevela_corpus.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from composer.model.loader import load_application
from composer.project import compile_project, open_project
from tests.helpers import ROOT, appc, write

CORPUS = ROOT / "tests" / "corpus" / "kubevela"
BARE_ENV = "apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {name: prod}\n"


def _warnings(name: str) -> list[tuple[int | None, str, str]]:
    loaded = load_application(CORPUS / name)
    return [(w.line, ".".join(map(str, w.path)), w.summary) for w in loaded.warnings]


def test_garbage_collect_rules_and_keep_legacy_are_warnings_naming_composers_behaviour():
    got = _warnings("70-gc-rules.yaml")
    assert [(line, path) for line, path, _ in got] == [
        (32, "spec.policies.0.properties.keepLegacyResource"),
        (34, "spec.policies.0.properties.rules.0"),
        (37, "spec.policies.0.properties.rules.1"),
        (40, "spec.policies.0.properties.rules.2"),
    ]
    assert got[1][2] == "garbage-collect strategy 'never' is Composer's protect for settings"
    assert got[2][2].startswith("garbage-collect strategy 'onAppDelete' is not Composer's")


def test_apply_once_rules_name_the_environments_ignore_drift_entry():
    loaded = load_application(CORPUS / "71-apply-once-rules.yaml")
    [rule] = [w for w in loaded.warnings if w.path[-1] == 0]
    assert (rule.line, rule.summary) == (26, "apply-once rule is Composer's ignoreDrift: api/Deployment.spec.replicas")


def test_apply_object_step_is_a_unit_applied_before_the_later_steps(tmp_path: Path, registry):
    write(tmp_path, {"app.yaml": (CORPUS / "74-apply-object.yaml").read_text(), "environments/prod.yaml": BARE_ENV})
    compiled = compile_project(open_project(tmp_path / "app.yaml"), "prod", registry)
    [claim] = list(yaml.safe_load_all(compiled.rendered.files["kubernetes/make-claim.yaml"]))
    assert (claim["kind"], claim["metadata"]["name"], claim["spec"]["resources"]["requests"]["storage"]) == (
        "PersistentVolumeClaim",
        "server-data",
        "2Gi",
    )
    assert ("make-claim", "server") in {(e.dependency, e.dependent) for e in compiled.graph.edges}


def test_apply_component_cluster_and_namespace_are_where_the_app_lands(tmp_path: Path, registry):
    text = (CORPUS / "75-apply-component-cluster.yaml").read_text()
    write(tmp_path, {"app.yaml": text, "environments/prod.yaml": BARE_ENV})
    compiled = compile_project(open_project(tmp_path / "app.yaml"), "prod", registry)
    kube = compiled.resolved.environment.spec.kubernetes
    assert [(t.context, t.namespace) for t in kube.resolved_targets()] == [("edge-1", "collectors")]


APP = """
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: shop}
spec:
  components:
    - {name: api, type: webservice, properties: {image: nginx:1}}
    - {name: jobs, type: worker, properties: {image: busybox:1}}
"""


@pytest.mark.parametrize(
    ("tail", "line", "path", "summary"),
    [
        (
            "  policies:\n    - {name: ro, type: read-only, properties: {rules: [{selector: {traitTypes: [gateway]}}]}}\n",
            9,
            "spec.policies[0].properties.rules[0].selector",
            "this read-only rule selects objects Composer cannot tell apart",
        ),
        (
            "  policies:\n    - {name: s, type: shared-resource, properties: {rules: [{selector: {}, mode: all}]}}\n",
            9,
            "spec.policies[0].properties.rules[0].mode",
            "unknown shared-resource rule field 'mode'",
        ),
        (
            "  policies:\n    - name: gc\n      type: garbage-collect\n      properties:\n"
            "        rules: [{selector: {componentName: [api]}, strategy: never}]\n",
            12,
            "spec.policies[0].properties.rules[0].selector.componentName",
            "unknown selector 'componentName'",
        ),
        (
            "  policies:\n    - name: gc\n      type: garbage-collect\n      properties:\n"
            "        rules: [{selector: {componentNames: [web]}, strategy: onAppDelete}]\n",
            12,
            "spec.policies[0].properties.rules[0].selector.componentNames[0]",
            "the rule selects no component 'web'",
        ),
        (
            "  policies:\n    - name: gc\n      type: garbage-collect\n      properties:\n"
            "        rules: [{selector: {componentNames: [api]}, strategy: sometimes}]\n",
            12,
            "spec.policies[0].properties.rules[0].strategy",
            "unknown strategy 'sometimes'",
        ),
        (
            "  policies:\n    - name: once\n      type: apply-once\n      properties:\n"
            "        rules: [{selector: {resourceTypes: [Deployment]}}]\n",
            12,
            "spec.policies[0].properties.rules[0].strategy",
            "expected strategy: {path: [field paths]}",
        ),
        (
            "  workflow:\n    steps:\n"
            "      - {name: a, type: apply-component, properties: {component: api}, outputs: [{name: msg, valueFrom: x}]}\n"
            "      - {name: b, type: apply-component, properties: {component: jobs}, inputs: [{from: msg, parameterKey: y}]}\n",
            11,
            "spec.workflow.steps[1].inputs[0]",
            "step 'b' reads 'msg' from step 'a' while the workflow runs, which needs a running controller",
        ),
        (
            "  workflow:\n    steps:\n"
            "      - {name: a, type: apply-component, properties: {component: api, cluster: eu-1}}\n"
            "      - {name: b, type: apply-component, properties: {component: jobs}}\n",
            10,
            "spec.workflow.steps[0].properties.cluster",
            "apply-component puts components in different clusters",
        ),
        (
            "  workflow:\n    steps:\n"
            "      - {name: api, type: apply-object, properties: {value: {apiVersion: v1, kind: ConfigMap}}}\n",
            10,
            "spec.workflow.steps[0].name",
            "apply-object step 'api' has the name of a component",
        ),
        (
            "  policies:\n"
            "    - {name: a, type: topology, properties: {clusters: [local], namespace: staging}}\n"
            "    - {name: b, type: topology, properties: {clusters: [local], namespace: live}}\n",
            10,
            "spec.policies[1].properties.namespace",
            "deploying to namespaces 'staging' and 'live' is two environments in Composer",
        ),
    ],
)
def test_refusals_are_at_their_line_with_what_to_do(tmp_path: Path, tail: str, line: int, path: str, summary: str):
    write(tmp_path, {"app.yaml": APP.lstrip("\n") + tail, "environments/prod.yaml": BARE_ENV})
    r = appc("validate", "-f", tmp_path / "app.yaml", "-e", "prod", "--json")
    assert r.code == 1, r.out + r.err
    errors = [e for e in r.events if e["type"] == "diagnostic" and e["severity"] == "error"]
    assert (errors[0]["line"], errors[0]["path"], errors[0]["summary"]) == (line, path, summary)
    assert errors[0]["detail"]


KEPT = """
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: shop}
spec:
  components:
    - {name: api, type: webservice, properties: {image: nginx:1}}
    - name: settings
      type: k8s-objects
      properties: {objects: [{apiVersion: v1, kind: ConfigMap, metadata: {name: settings}, data: {mode: quiet}}]}
  policies:
    - name: keep-settings
      type: garbage-collect
      properties:
        rules: [{selector: {componentNames: [settings]}, strategy: never}]
"""
GITOPS = "apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {name: gitops}\nspec:\n  kubernetes: {directory: deploy, namespace: shop}\n"


def test_garbage_collect_never_protects_a_removed_component_until_the_rule_goes(tmp_path: Path):
    write(tmp_path, {"app.yaml": KEPT, "environments/gitops.yaml": GITOPS})
    assert appc("apply", "-f", tmp_path / "app.yaml", "--auto-approve").code == 0
    written = tmp_path / "deploy" / "settings.yaml"
    assert written.exists()
    without = KEPT.replace(
        "    - name: settings\n      type: k8s-objects\n      properties: {objects: [{apiVersion: v1, kind: ConfigMap, "
        "metadata: {name: settings}, data: {mode: quiet}}]}\n",
        "",
    )
    (tmp_path / "app.yaml").write_text(without)
    r = appc("apply", "-f", tmp_path / "app.yaml", "--auto-approve", "--json")
    assert r.code == 1 and written.exists()
    errors = [e for e in r.events if e["type"] == "diagnostic" and e["severity"] == "error"]
    assert errors[0]["summary"] == "refusing to prune protected unit settings"
    (tmp_path / "app.yaml").write_text(without.split("  policies:")[0])
    assert appc("apply", "-f", tmp_path / "app.yaml", "--auto-approve").code == 0
    assert not written.exists()


def test_apply_once_rule_is_the_environments_ignore_drift(tmp_path: Path, registry):
    write(tmp_path, {"app.yaml": (CORPUS / "71-apply-once-rules.yaml").read_text(), "environments/prod.yaml": BARE_ENV})
    compiled = compile_project(open_project(tmp_path / "app.yaml"), "prod", registry)
    assert compiled.resolved.environment.spec.policies.ignore_drift == ("api/Deployment.spec.replicas",)


ADOPT = """
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: shop}
spec:
  components:
    - name: legacy
      type: k8s-objects
      properties: {objects: [{apiVersion: v1, kind: ConfigMap, metadata: {name: legacy-settings}, data: {owner: platform}}]}
"""
TAKE_OVER = """  policies:
    - name: adopt
      type: take-over
      properties: {rules: [{selector: {resourceTypes: [ConfigMap]}}]}
"""


def test_take_over_forces_only_the_selected_objects_from_another_manager(tmp_path: Path, kube_clean):
    from kubernetes import client

    core = client.CoreV1Api(kube_clean.api())
    core.create_namespace({"metadata": {"name": "legacy"}})
    made_by_hand = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "legacy-settings"},
        "data": {"owner": "ops"},
    }
    core.patch_namespaced_config_map(
        "legacy-settings",
        "legacy",
        made_by_hand,
        field_manager="kubectl",
        force=True,
        _content_type="application/apply-patch+yaml",
    )
    env = (
        "apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {name: dev}\n"
        f"spec:\n  kubernetes: {{context: {kube_clean.context}, namespace: legacy}}\n"
    )
    write(tmp_path, {"app.yaml": ADOPT, "environments/dev.yaml": env})
    r = appc("apply", "-f", tmp_path / "app.yaml", "--auto-approve", "--no-wait")
    assert r.code == 3 and "kubectl" in r.out + r.err
    assert core.read_namespaced_config_map("legacy-settings", "legacy").data == {"owner": "ops"}
    (tmp_path / "app.yaml").write_text(ADOPT.lstrip() + TAKE_OVER)
    r = appc("apply", "-f", tmp_path / "app.yaml", "--auto-approve", "--no-wait")
    assert r.code == 0, r.out + r.err
    assert core.read_namespaced_config_map("legacy-settings", "legacy").data == {"owner": "platform"}


def test_recreate_fields_recreate_an_immutable_object_only_for_the_selected_component(tmp_path: Path, kube_clean):
    from kubernetes import client

    env = (
        "apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {name: dev}\n"
        f"spec:\n  kubernetes: {{context: {kube_clean.context}, namespace: frozen}}\n"
    )
    text = (CORPUS / "73-resource-update.yaml").read_text()
    write(tmp_path, {"app.yaml": text, "environments/dev.yaml": env})
    assert appc("apply", "-f", tmp_path / "app.yaml", "--auto-approve", "--no-wait").code == 0
    (tmp_path / "app.yaml").write_text(text.replace('level: "3"', 'level: "4"'))
    r = appc("apply", "-f", tmp_path / "app.yaml", "--auto-approve", "--no-wait")
    assert r.code == 0, r.out + r.err
    core = client.CoreV1Api(kube_clean.api())
    assert core.read_namespaced_config_map("frozen", "frozen").data == {"level": "4"}
    # Without the rule, the API server's refusal stands.
    (tmp_path / "app.yaml").write_text(text.replace('level: "3"', 'level: "5"').split("  policies:")[0])
    r = appc("apply", "-f", tmp_path / "app.yaml", "--auto-approve", "--no-wait")
    assert r.code != 0 and "immutable" in r.out + r.err
    assert core.read_namespaced_config_map("frozen", "frozen").data == {"level": "4"}


def _kube_env(kube_clean, namespace: str) -> str:
    return (
        "apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {name: dev}\n"
        f"spec:\n  kubernetes: {{context: {kube_clean.context}, namespace: {namespace}}}\n"
    )


def test_read_only_objects_are_read_never_written_and_refused_when_missing(tmp_path: Path, kube_clean):
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    write(
        tmp_path,
        {"app.yaml": (CORPUS / "77-read-only.yaml").read_text(), "environments/dev.yaml": _kube_env(kube_clean, "ro")},
    )
    apps = client.AppsV1Api(kube_clean.api())
    core = client.CoreV1Api(kube_clean.api())
    # Missing: plan and apply refuse, and apply writes nothing (the reader depends on the settings).
    r = appc("plan", "-f", tmp_path / "app.yaml")
    assert r.code == 3 and "read-only ConfigMap ro/platform-settings does not exist" in r.out + r.err, r.out + r.err
    r = appc("apply", "-f", tmp_path / "app.yaml", "--auto-approve", "--no-wait")
    assert r.code != 0 and "read-only ConfigMap ro/platform-settings does not exist" in r.out + r.err, r.out + r.err
    with pytest.raises(ApiException):
        apps.read_namespaced_deployment("reader", "ro")
    # Made by someone else: read, never written, never deleted.
    core.create_namespace({"metadata": {"name": "ro"}}) if not _exists(core, "ro") else None
    core.create_namespaced_config_map(
        "ro", {"metadata": {"name": "platform-settings"}, "data": {"region": "us-east-1"}}
    )
    r = appc("apply", "-f", tmp_path / "app.yaml", "--auto-approve", "--no-wait")
    assert r.code == 0, r.out + r.err
    assert core.read_namespaced_config_map("platform-settings", "ro").data == {"region": "us-east-1"}
    assert apps.read_namespaced_deployment("reader", "ro").spec.template.spec.containers[0].image.endswith(":1.4.0")
    r = appc("destroy", "-f", tmp_path / "app.yaml", "--auto-approve")
    assert r.code == 0, r.out + r.err
    assert core.read_namespaced_config_map("platform-settings", "ro").data == {"region": "us-east-1"}
    with pytest.raises(ApiException):
        apps.read_namespaced_deployment("reader", "ro")


def _exists(core, namespace: str) -> bool:
    return any(n.metadata.name == namespace for n in core.list_namespace().items)


def test_shared_objects_are_written_only_by_their_first_app_and_never_deleted(tmp_path: Path, kube_clean):
    from kubernetes import client

    core = client.CoreV1Api(kube_clean.api())
    core.create_namespace({"metadata": {"name": "shop"}})
    theirs = {"name": "shop-shared", "labels": {"composer.dev/app": "shop-backend"}}
    core.create_namespaced_config_map("shop", {"metadata": theirs, "data": {"currency": "USD"}})
    write(
        tmp_path,
        {
            "app.yaml": (CORPUS / "78-shared-resource.yaml").read_text(),
            "environments/dev.yaml": _kube_env(kube_clean, "shop"),
        },
    )
    r = appc("apply", "-f", tmp_path / "app.yaml", "--auto-approve", "--no-wait")
    assert r.code == 0, r.out + r.err
    assert core.read_namespaced_config_map("shop-shared", "shop").data == {"currency": "USD"}  # the other app's
    # Absent when the component next changes: this app is the first, so it writes it (and then
    # updates it); destroy leaves it for the apps sharing it.
    core.delete_namespaced_config_map("shop-shared", "shop")
    text = (CORPUS / "78-shared-resource.yaml").read_text()
    (tmp_path / "app.yaml").write_text(text.replace("currency: EUR", "currency: GBP"))
    r = appc("apply", "-f", tmp_path / "app.yaml", "--auto-approve", "--no-wait")
    assert r.code == 0, r.out + r.err
    assert core.read_namespaced_config_map("shop-shared", "shop").data == {"currency": "GBP"}
    (tmp_path / "app.yaml").write_text(text)
    r = appc("apply", "-f", tmp_path / "app.yaml", "--auto-approve", "--no-wait")
    assert r.code == 0, r.out + r.err
    assert core.read_namespaced_config_map("shop-shared", "shop").data == {"currency": "EUR"}
    r = appc("destroy", "-f", tmp_path / "app.yaml", "--auto-approve")
    assert r.code == 0, r.out + r.err
    assert core.read_namespaced_config_map("shop-shared", "shop").data == {"currency": "EUR"}
    assert not core.list_namespaced_service("shop").items  # the storefront's own objects are gone


def test_read_only_and_shared_are_refused_for_a_directory_environment(tmp_path: Path):
    gitops = "apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {name: git}\nspec:\n  kubernetes: {directory: out}\n"
    for name, line in (("77-read-only.yaml", 30), ("78-shared-resource.yaml", 30)):
        write(tmp_path, {"app.yaml": (CORPUS / name).read_text(), "environments/git.yaml": gitops})
        r = appc("validate", "-f", tmp_path / "app.yaml", "-e", "git")
        assert r.code == 1, r.out + r.err
        assert f"app.yaml:{line}:" in r.err and "delivers to a directory, which cannot keep objects" in r.err, r.err


def test_depends_on_app_is_an_approval_gate_naming_the_other_app():
    loaded = load_application(CORPUS / "79-depends-on-app.yaml")
    [gate] = loaded.model.spec.gates
    assert (gate.name, gate.components, gate.message) == (
        "wait-for-catalog",
        ("cache-warmer", "web"),
        "Application 'catalog' in namespace 'shop' must be running",
    )
    [w] = [w for w in loaded.warnings if w.path[:2] == ("spec", "workflow")]
    assert (w.line, w.summary) == (
        24,
        "depends-on-app is an approval gate in Composer: appc apply stops at step 'wait-for-catalog'",
    )
    assert "appc apply --approve wait-for-catalog" in w.detail


@pytest.mark.parametrize(
    ("properties", "path", "summary"),
    [
        (
            "{name: catalog}",
            "spec.workflow.steps[0].properties.namespace",
            "depends-on-app needs the namespace of the Application it waits for",
        ),
        (
            "{name: catalog, namespace: shop, wait: 5m}",
            "spec.workflow.steps[0].properties.wait",
            "depends-on-app 'wait' is not supported",
        ),
    ],
)
def test_depends_on_app_refuses_what_it_cannot_read(tmp_path: Path, properties: str, path: str, summary: str):
    assert _step_error(tmp_path, "depends-on-app", properties) == (10, path, summary)


def _step_error(tmp_path: Path, step_type: str, properties: str) -> tuple[int, str, str]:
    """The one error (line, path, summary) of APP with a single workflow step."""
    tail = f"  workflow:\n    steps:\n      - {{name: w, type: {step_type}, properties: {properties}}}\n"
    write(tmp_path, {"app.yaml": APP.lstrip("\n") + tail, "environments/prod.yaml": BARE_ENV})
    r = appc("validate", "-f", tmp_path / "app.yaml", "-e", "prod", "--json")
    assert r.code == 1
    [d] = [e for e in r.events if e["type"] == "diagnostic" and e["severity"] == "error"]
    return d["line"], d["path"], d["summary"]


def test_apply_deployment_step_is_the_definitions_deployment_applied_in_its_place(tmp_path: Path, registry):
    write(tmp_path, {"app.yaml": (CORPUS / "80-apply-deployment.yaml").read_text(), "environments/prod.yaml": BARE_ENV})
    compiled = compile_project(open_project(tmp_path / "app.yaml"), "prod", registry)
    [deployment] = list(yaml.safe_load_all(compiled.rendered.files["kubernetes/echo-server.yaml"]))
    selector = {"workflow.oam.dev/step-name": "smoke-tested-echo-server"}
    assert deployment["spec"]["selector"]["matchLabels"] == selector
    assert deployment["spec"]["template"]["metadata"]["labels"] == selector
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["template"]["spec"]["containers"] == [
        {"name": "echo-server", "image": "ghcr.io/acme/echo:0.9.1", "command": ["/echo", "--port", "9000"]}
    ]
    assert ("echo-server", "api") in {(e.dependency, e.dependent) for e in compiled.graph.edges}


@pytest.mark.parametrize(
    ("properties", "path", "summary"),
    [
        ("{replicas: 2}", "spec.workflow.steps[0].properties.image", "apply-deployment needs an image"),
        (
            "{image: busybox, replicas: two}",
            "spec.workflow.steps[0].properties.replicas",
            "expected replicas as a whole number",
        ),
        (
            "{image: busybox, args: [x]}",
            "spec.workflow.steps[0].properties.args",
            "unknown apply-deployment field 'args'",
        ),
    ],
)
def test_apply_deployment_refuses_what_the_definition_does_not_take(
    tmp_path: Path, properties: str, path: str, summary: str
):
    assert _step_error(tmp_path, "apply-deployment", properties) == (10, path, summary)


def test_every_vela_core_step_without_a_mapping_is_refused_by_name(tmp_path: Path):
    for step in (
        "apply-terraform-config",
        "clean-jobs",
        "create-config",
        "generate-jdbc-connection",
        "restart-workflow",
    ):
        tail = f"  workflow:\n    steps:\n      - {{name: x, type: {step}, properties: {{}}}}\n"
        write(tmp_path, {"app.yaml": APP.lstrip("\n") + tail, "environments/prod.yaml": BARE_ENV})
        r = appc("validate", "-f", tmp_path / "app.yaml", "-e", "prod", "--json")
        [d] = [e for e in r.events if e["type"] == "diagnostic" and e["severity"] == "error"]
        assert (r.code, d["line"], d["summary"]) == (1, 10, f"workflow step 'x' ({step}) is not supported"), step
        assert d["detail"], step
