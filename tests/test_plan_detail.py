"""Plans say what will change: resources with their action, fields old → new, pruned units as
destroys whose totals match what apply then does, and never a secret value (issue 17).

Real Terraform against moto for Terraform units; the GitOps directory and the Kubernetes API
stand-in (server-side-apply dry run) for workloads.
"""

from __future__ import annotations

import hashlib
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
    assert web["resources"] == [
        {
            "address": web["resources"][0]["address"],
            "action": "update",
            "attributes": [{"path": "spec.replicas", "old": "2", "new": "4"}],
        }
    ]
    assert web["changes"] == {"add": 0, "change": 1, "remove": 0}


def test_a_new_workload_is_a_create_not_a_change(tmp_path):
    app = make_project(tmp_path, WEB)
    web = _unit(appc("plan", "-f", app, "-e", "test", "--json").events, "web")
    assert web["changes"] == {"add": 2, "change": 0, "remove": 0}  # the Deployment and its Service
    assert sorted((r["address"].split()[0], r["action"]) for r in web["resources"]) == [
        ("Deployment", "create"),
        ("Service", "create"),
    ]


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


def test_terraform_replaces_name_their_reason_pruned_units_list_their_destroys_and_secrets_stay_out(
    tmp_path, moto, kube_clean
):
    """One Terraform scenario, to keep the suite short: a replace with its reason (and a secret
    upstream value that must not show), then a removed component whose destroys the plan lists
    with totals that apply then matches. (Creates with `(known after apply)`: the golden plans
    of tests/test_plan_markdown.py.)"""
    b = "    - {name: b, type: terraform-module, properties: {source: modules/echo, inputs: {name: b-echo, upstream: '${a.token}'}, outputs: {arn: {}}}}\n"
    app = make_project(tmp_path, token_component("a") + b + WEB, env=CLUSTER_ENV)
    write(tmp_path, {f"modules/echo/{k}": v for k, v in ECHO_MODULE.items()})
    assert appc("apply", "-f", app, "-e", "test", "--auto-approve", "--no-wait").code == 0
    token = hashlib.sha256(b"token-a-token").hexdigest()  # a's secret output, b's input

    # A changed name forces a new secret: a replace, with the reason, in text and markdown (one
    # Terraform plan for both; the JSON view of plan resources: the prune below).
    app.write_text(app.read_text().replace("name: b-echo", "name: b-echo2"))
    text = appc("plan", "-f", app, "-e", "test", "--markdown-out", tmp_path / "plan.md")
    assert text.code == 0, text.err
    flat = " ".join(text.out.split())  # the reason may wrap at the terminal's width
    assert re.search(r"-/\+ module\.b\.aws_secretsmanager_secret\.this \([^)]*\bname\)", flat), text.out
    assert 'name: "b-echo" → "b-echo2"' in text.out, text.out
    assert "description: (sensitive)" in text.out or "description" not in text.out
    md = (tmp_path / "plan.md").read_text()
    assert "<details><summary><code>b</code>: update, 1 resource</summary>" in md
    for out in (text.out, text.err, md):
        assert token not in out

    # b removed: its resources are destroys, and the totals are what apply then does.
    app.write_text(app.read_text().replace(b.replace("b-echo", "b-echo2"), ""))
    plan = appc("plan", "-f", app, "-e", "test", "--json", "--markdown-out", tmp_path / "prune.md")
    pruned = _unit(plan.events, "b")
    assert pruned["action"] == "prune" and pruned["resources"] == [
        {"address": "module.b.aws_secretsmanager_secret.this", "action": "destroy", "attributes": []}
    ]
    assert pruned["changes"] == {"add": 0, "change": 0, "remove": 1}
    assert {k: plan.events[-1][k] for k in ("to_add", "to_change", "to_destroy")} == {
        "to_add": 0,
        "to_change": 0,
        "to_destroy": 1,
    }
    md = (tmp_path / "prune.md").read_text()
    assert "**Totals**: 0 to add, 0 to change, 1 to destroy" in md and "- module.b.aws_secretsmanager_secret.this" in md
    applied = _unit(appc("apply", "-f", app, "-e", "test", "--auto-approve", "--no-wait", "--json").events, "b")
    assert applied["status"] == "pruned" and applied["changes"] == pruned["changes"]
