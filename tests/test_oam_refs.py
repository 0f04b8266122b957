"""`spec.workflow.ref`: the Workflow (and the Policy objects its deploy steps name) read from the app
file itself or from the YAML files beside it (docs/oam.md, "Workflow")."""

from __future__ import annotations

from pathlib import Path

from composer.project import compile_project, open_project
from tests.helpers import appc, write

ENV = "apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {name: prod}\n"
APP = """
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: shop}
spec:
  components:
    - {name: db-migrate, type: task, properties: {image: busybox:1}}
    - {name: api, type: webservice, properties: {image: nginx:1}}
  workflow:
    ref: rollout
"""
WORKFLOW = """
apiVersion: core.oam.dev/v1alpha1
kind: Workflow
metadata: {name: rollout}
steps:
  - {name: approve, type: suspend}
  - {name: serve, type: deploy, properties: {policies: [eu]}}
"""
POLICY = """
apiVersion: core.oam.dev/v1alpha1
kind: Policy
metadata: {name: eu}
type: topology
properties: {clusters: [eu-1]}
"""


def test_a_workflow_and_policy_beside_the_app_are_its_steps(tmp_path: Path, registry):
    write(
        tmp_path,
        {
            "app.yaml": APP,
            "rollout.yaml": WORKFLOW,
            "eu.yml": POLICY,
            "notes.yaml": "[broken",
            "environments/prod.yaml": ENV,
        },
    )
    compiled = compile_project(open_project(tmp_path / "app.yaml"), "prod", registry)
    project = open_project(tmp_path / "app.yaml")
    assert [(g.name, g.components) for g in project.app.model.spec.gates] == [("approve", ("api", "db-migrate"))]
    assert [t.context for t in compiled.resolved.environment.spec.kubernetes.resolved_targets()] == ["eu-1"]


def test_a_workflow_in_the_same_file_is_reported_at_its_own_lines(tmp_path: Path):
    text = (
        APP.lstrip() + "---\n" + WORKFLOW.lstrip().replace("type: deploy", "type: deploi") + "---\n" + POLICY.lstrip()
    )
    write(tmp_path, {"app.yaml": text, "environments/prod.yaml": ENV})
    r = appc("validate", "-f", tmp_path / "app.yaml", "-e", "prod", "--json")
    assert r.code == 1
    [d] = [e for e in r.events if e["type"] == "diagnostic" and e["severity"] == "error"]
    assert (d["line"], d["path"], d["summary"]) == (
        16,
        "steps[1].type",
        "unknown workflow step type 'deploi' in step 'serve'",
    )
    assert "in the steps of Workflow 'rollout', a document of this file" in d["detail"]


def test_a_workflow_found_nowhere_is_refused_at_the_ref(tmp_path: Path):
    write(tmp_path, {"app.yaml": APP, "environments/prod.yaml": ENV})
    r = appc("validate", "-f", tmp_path / "app.yaml", "-e", "prod", "--json")
    assert r.code == 1
    [d] = [e for e in r.events if e["type"] == "diagnostic" and e["severity"] == "error"]
    assert (d["line"], d["path"], d["summary"]) == (
        9,
        "spec.workflow.ref",
        "no Workflow named 'rollout' in this file or beside it",
    )
    assert "spec.workflow.steps" in d["detail"]


def test_only_workflow_and_policy_documents_may_follow_an_application(tmp_path: Path):
    extra = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
    write(tmp_path, {"app.yaml": APP.lstrip() + extra, "environments/prod.yaml": ENV})
    r = appc("validate", "-f", tmp_path / "app.yaml", "-e", "prod", "--json")
    assert r.code == 1
    [d] = [e for e in r.events if e["type"] == "diagnostic"]
    assert (d["line"], d["summary"]) == (11, "expected one YAML document, found several")


def test_a_workflow_given_as_a_further_file_is_read_before_the_files_beside_the_app(tmp_path: Path, registry):
    elsewhere = WORKFLOW.replace("{name: approve, type: suspend}", "{name: hold, type: suspend}")
    write(
        tmp_path,
        {
            "app/app.yaml": APP,
            "app/rollout.yaml": WORKFLOW,
            "app/eu.yaml": POLICY,
            "shared/rollout.yaml": elsewhere,
            "app/environments/prod.yaml": ENV,
        },
    )
    project = open_project([tmp_path / "app" / "app.yaml", tmp_path / "shared" / "rollout.yaml"])
    assert [g.name for g in project.app.model.spec.gates] == ["hold"]
    r = appc("validate", "-f", tmp_path / "app" / "app.yaml", "-f", tmp_path / "shared" / "rollout.yaml", "-e", "prod")
    assert r.code == 0, r.out + r.err
    # A given object the Application never names is a warning at its name, not ignored without a word.
    write(tmp_path, {"shared/us.yaml": POLICY.replace("{name: eu}", "{name: us}")})
    given = ("-f", tmp_path / "shared" / "rollout.yaml", "-f", tmp_path / "shared" / "us.yaml")
    r = appc("validate", "-f", tmp_path / "app" / "app.yaml", *given, "-e", "prod", "--json")
    assert r.code == 0, r.out + r.err
    [w] = [e for e in r.events if e["type"] == "diagnostic" and "is not used" in e["summary"]]
    assert (Path(w["file"]).name, w["line"], w["summary"]) == (
        "us.yaml",
        3,
        "Policy 'us' is not used by the Application",
    )
    # A further file may hold only Workflow and Policy objects.
    write(tmp_path, {"shared/other.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"})
    r = appc("validate", "-f", tmp_path / "app" / "app.yaml", "-f", tmp_path / "shared" / "other.yaml", "-e", "prod")
    assert r.code == 1
    assert "other.yaml:2:" in r.err and "may hold only Workflow and Policy objects" in r.err, r.err


def test_two_different_objects_of_one_name_beside_the_app_are_a_warning_naming_both(tmp_path: Path):
    # a cluster would hold whichever was applied last: Composer reads the first file and says so
    other = POLICY.replace("clusters: [eu-1]", "clusters: [us-1]")
    write(
        tmp_path,
        {
            "app.yaml": APP,
            "a-rollout.yaml": WORKFLOW,
            "b-eu.yaml": POLICY,
            "c-eu.yaml": other,
            "environments/prod.yaml": ENV,
        },
    )
    r = appc("validate", "-f", tmp_path / "app.yaml", "-e", "prod", "--json")
    assert r.code == 0, r.out + r.err
    [w] = [
        e for e in r.events if e["type"] == "diagnostic" and e["severity"] == "warning" and "named 'eu'" in e["summary"]
    ]
    assert "2 different Policy objects" in w["summary"] and "b-eu.yaml" in w["summary"]
    assert "c-eu.yaml" in w["detail"]
    # the same object twice (a copy) is no ambiguity
    (tmp_path / "c-eu.yaml").write_text(POLICY)
    r = appc("validate", "-f", tmp_path / "app.yaml", "-e", "prod", "--json")
    assert not [e for e in r.events if e["type"] == "diagnostic" and "named 'eu'" in e["summary"]]
