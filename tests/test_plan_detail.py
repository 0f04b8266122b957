"""Plans say what will change: resources with their action, fields old → new, pruned units as
destroys whose totals match what apply then does, and never a secret value (issue 17).

Real Terraform against moto for Terraform units; the GitOps directory and the Kubernetes API
stand-in (server-side-apply dry run) for workloads.
"""

from __future__ import annotations

import hashlib
import json
import re

from tests.helpers import appc, write
from tests.support.projects import VERSIONS, cluster_env, make_project, token_component

WEB = (
    "    - name: web\n"
    "      type: webservice\n"
    "      properties: {image: 'nginx:1.25', port: 80}\n"
    "      traits:\n"
    "        - {type: scaler, properties: {replicas: 2}}\n"
)
CLUSTER_ENV = cluster_env("plan-detail")

# A module whose resource takes a secret upstream value: Terraform marks it sensitive.
ECHO_MODULE = {
    "versions.tf": VERSIONS,
    "main.tf": """
variable "name" { type = string }
variable "upstream" { type = string }
resource "aws_secretsmanager_secret" "this" {
  name                    = var.name
  description             = var.upstream
  recovery_window_in_days = 0
}
output "arn" { value = aws_secretsmanager_secret.this.arn }
""",
}


def _unit(events: list[dict], name: str) -> dict:
    return next(e for e in events if e["type"] == "unit" and e["unit"] == name)


def test_a_replicas_change_shows_the_field_on_the_deployment_from_the_last_written_file(tmp_path):
    app = make_project(tmp_path, WEB)
    assert appc("apply", "-f", app, "-e", "test", "--auto-approve").code == 0
    app.write_text(app.read_text().replace("replicas: 2", "replicas: 4"))
    r = appc("plan", "-f", app, "-e", "test")
    assert r.code == 0, r.err
    assert re.search(r"~ Deployment (t/)?web\n\s+spec\.replicas: 2 → 4\n", r.out), r.out
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in r.out
    web = _unit(appc("plan", "-f", app, "-e", "test", "--json").events, "web")
    assert web["resources"] == [{"address": web["resources"][0]["address"], "action": "update", "attributes": [{"path": "spec.replicas", "old": "2", "new": "4"}]}]
    assert web["changes"] == {"add": 0, "change": 1, "remove": 0}


def test_a_new_workload_is_a_create_not_a_change(tmp_path):
    app = make_project(tmp_path, WEB)
    web = _unit(appc("plan", "-f", app, "-e", "test", "--json").events, "web")
    assert web["changes"] == {"add": 2, "change": 0, "remove": 0}  # the Deployment and its Service
    assert sorted((r["address"].split()[0], r["action"]) for r in web["resources"]) == [("Deployment", "create"), ("Service", "create")]


def test_a_cluster_plan_diffs_the_server_side_apply_dry_run(tmp_path, kube_clean):
    app = make_project(tmp_path, WEB, env=CLUSTER_ENV)
    assert appc("apply", "-f", app, "-e", "test", "--auto-approve", "--no-wait").code == 0
    writes = kube_clean.mutating()
    app.write_text(app.read_text().replace("replicas: 2", "replicas: 4"))
    r = appc("plan", "-f", app, "-e", "test")
    assert r.code == 0, r.err
    assert "~ Deployment plan-detail/web\n      spec.replicas: 2 → 4\n" in r.out, r.out
    assert "managedFields" not in r.out and "resourceVersion" not in r.out
    assert kube_clean.mutating() == writes  # a dry run writes nothing


def test_terraform_resources_are_listed_with_attributes_and_secrets_stay_out(tmp_path, moto, kube_clean):
    b = "    - {name: b, type: terraform-module, properties: {source: modules/echo, inputs: {name: b-echo, upstream: '${a.token}'}, outputs: {arn: {}}}}\n"
    app = make_project(tmp_path, token_component("a"), env=CLUSTER_ENV)
    write(tmp_path, {f"modules/echo/{k}": v for k, v in ECHO_MODULE.items()})
    r = appc("plan", "-f", app, "-e", "test", "--json")
    assert r.code == 0, r.err
    a = _unit(r.events, "a")
    assert [(x["address"], x["action"]) for x in a["resources"]] == [("module.a.aws_secretsmanager_secret.this", "create")]
    attrs = {x["path"]: x for x in a["resources"][0]["attributes"]}
    assert attrs["name"]["new"] == '"a-token"' and attrs["arn"]["new"] == "(known after apply)"
    app.write_text(app.read_text() + b)
    assert appc("apply", "-f", app, "-e", "test", "--auto-approve", "--no-wait").code == 0
    # A changed name forces a new secret: a replace, with the reason, named in the plan.
    app.write_text(app.read_text().replace("name: b-echo", "name: b-echo2"))
    token = hashlib.sha256(b"token-a-token").hexdigest()
    outputs = []
    for args in ((), ("--json",), ("--format", "markdown")):
        r = appc("plan", "-f", app, "-e", "test", *args)
        assert r.code == 0, r.err
        outputs.append(r.out + r.err)
    text, js, md = outputs
    assert "-/+ module.b.aws_secretsmanager_secret.this" in text and 'name: "b-echo" → "b-echo2"' in text, text
    assert "description: (sensitive)" in text or "description" not in text
    b = _unit([json.loads(line) for line in js.splitlines()], "b")
    assert b["resources"][0]["action"] == "replace" and "name" in b["resources"][0]["reason"]
    assert "<details><summary><code>b</code>: update, 1 resource</summary>" in md
    for out in outputs:
        assert token not in out  # the upstream secret, in every format


def test_a_removed_component_plans_its_resources_as_destroys_and_apply_agrees(tmp_path, moto, kube_clean):
    app = make_project(tmp_path, token_component("a") + WEB, env=CLUSTER_ENV)
    assert appc("apply", "-f", app, "-e", "test", "--auto-approve", "--no-wait").code == 0
    app.write_text(app.read_text().replace(token_component("a"), ""))
    plan = appc("plan", "-f", app, "-e", "test", "--json").events
    a = _unit(plan, "a")
    assert a["action"] == "prune" and a["resources"] == [{"address": "module.a.aws_secretsmanager_secret.this", "action": "destroy", "attributes": []}]
    assert a["changes"] == {"add": 0, "change": 0, "remove": 1}
    md = appc("plan", "-f", app, "-e", "test", "--format", "markdown").out
    assert "**Totals**: 0 to add, 0 to change, 1 to destroy" in md and "- module.a.aws_secretsmanager_secret.this" in md
    text = appc("plan", "-f", app, "-e", "test").out
    assert "a (terraform): prune" in text and "- module.a.aws_secretsmanager_secret.this" in text and "Plan: 0 to add, 0 to change, 1 to destroy." in text
    applied = _unit(appc("apply", "-f", app, "-e", "test", "--auto-approve", "--no-wait", "--json").events, "a")
    assert applied["status"] == "pruned" and applied["changes"] == a["changes"]
