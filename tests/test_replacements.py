"""Plans that replace or destroy stateful resources: a warning naming them, a refusal under protect.

The detection reads the plan (composer/engine/replacements.py); the end-to-end test runs real
Terraform against moto with a bucket whose name is a module input, so changing it replaces the
bucket: apply warns even with --auto-approve, and with policies.protect apply refuses and the
bucket stays (`plan` refuses on the same reading: tests/test_engine_units.py, fake Terraform).
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3

from composer.diagnostics import Severity
from composer.engine.replacements import STATEFUL_TYPES, StatefulChange, from_actions, from_plan, refusal, warning
from tests.helpers import ROOT, appc, write

RECORDED = ROOT / "tests" / "fixtures" / "plan_replaces_bucket.json"


def test_a_recorded_plan_names_the_replaced_bucket_only():
    """tests/fixtures/plan_replaces_bucket.json is `terraform show -json` of a real plan (aws
    5.100.0 on moto) that replaces a bucket, updates a secret and replaces a secret version (not
    stateful: its replacement is no loss)."""
    plan = json.loads(RECORDED.read_text())
    assert {tuple(rc["change"]["actions"]) for rc in plan["resource_changes"]} >= {("delete", "create")}
    assert from_plan(plan) == [StatefulChange("module.files.aws_s3_bucket.this", "aws_s3_bucket", "replace")]


def test_plan_actions_delete_and_replace_of_stateful_types_only():
    plan = {
        "resource_changes": [
            {
                "address": "module.db.aws_db_instance.this",
                "mode": "managed",
                "type": "aws_db_instance",
                "change": {"actions": ["create", "delete"]},
            },
            {
                "address": "module.db.aws_secretsmanager_secret.c",
                "mode": "managed",
                "type": "aws_secretsmanager_secret",
                "change": {"actions": ["delete"]},
            },
            {
                "address": "module.q.aws_sqs_queue.this",
                "mode": "managed",
                "type": "aws_sqs_queue",
                "change": {"actions": ["delete"]},
            },
            {
                "address": "module.c.aws_elasticache_cluster.this",
                "mode": "managed",
                "type": "aws_elasticache_cluster",
                "change": {"actions": ["update"]},
            },
            {
                "address": "data.aws_s3_bucket.x",
                "mode": "data",
                "type": "aws_s3_bucket",
                "change": {"actions": ["read"]},
            },
        ]
    }
    assert [(c.address, c.action) for c in from_plan(plan)] == [
        ("module.db.aws_db_instance.this", "replace"),
        ("module.q.aws_sqs_queue.this", "delete"),
    ]
    triples = [
        ("module.db.google_sql_database_instance.this", "google_sql_database_instance", "replace"),
        ("module.db.google_sql_database_instance.this", "google_sql_database_instance", "replace"),
        ("module.db.google_sql_user.this", "google_sql_user", "delete"),
    ]
    assert from_actions(triples) == [
        StatefulChange("module.db.google_sql_database_instance.this", "google_sql_database_instance", "replace")
    ]


def test_the_warning_and_the_refusal_name_the_resources():
    changes = [StatefulChange("module.db.aws_db_instance.this", "aws_db_instance", "replace")]
    w = warning("db", changes)
    assert (
        w.severity == Severity.WARNING
        and "module.db.aws_db_instance.this (replaced)" in w.summary
        and w.address == "db"
    )
    r = refusal("db", "prod", changes)
    assert r.severity == Severity.ERROR and "protected unit db" in r.summary and "policies.protect" in r.detail


def test_the_stateful_types_cover_every_stateful_resource_the_modules_use():
    import yaml

    recorded = {
        t
        for f in (ROOT / "tests" / "provider_schemas").glob("*.yaml")
        for t, e in yaml.safe_load(f.read_text())["resources"].items()
        if e.get("stateful")
    }
    assert recorded <= STATEFUL_TYPES, sorted(recorded - STATEFUL_TYPES)


# -- end to end on moto ---------------------------------------------------------------------------

MODULE = {
    "versions.tf": 'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws" }\n  }\n}\n',
    "main.tf": 'variable "bucket" { type = string }\nresource "aws_s3_bucket" "this" {\n  bucket        = var.bucket\n  force_destroy = true\n}\noutput "arn" { value = aws_s3_bucket.this.arn }\n',
}


def _project(root: Path, bucket: str, protect: bool = False) -> Path:
    env = "apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {name: test}\nspec:\n  cloud: {provider: aws, region: us-east-1}\n  kubernetes: {directory: deploy, namespace: t, secretStore: {name: s}}\n"
    if protect:
        env += "  policies: {protect: [files]}\n"
    app = "apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {name: shop}\nspec:\n  components:\n"
    app += f"    - {{name: files, type: terraform-module, properties: {{source: modules/store, inputs: {{bucket: {bucket}}}, outputs: {{arn: {{}}}}}}}}\n"
    write(
        root, {"app.yaml": app, "environments/test.yaml": env, **{f"modules/store/{k}": v for k, v in MODULE.items()}}
    )
    return root / "app.yaml"


def _buckets() -> set[str]:
    return {b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]}


def _apply(app: Path, registry) -> object:
    """apply through the engine, the connection going to a recording sink: a terraform-module's
    outputs cannot be delivered to a GitOps directory (issue 10), and no cluster is needed here."""
    from composer.cli.wiring import RunOptions, open_store, running_engine
    from composer.project import compile_project, open_project
    from composer.state.model import new_state
    from tests.support.sinks import RecordingSink

    compiled = compile_project(open_project(app), "test", registry)
    with running_engine(
        compiled, registry, RunOptions(), emit=lambda *a, **k: None, should_stop=lambda: False
    ) as engine:
        engine.sinks = (RecordingSink(),)
        engine.store = open_store(compiled, lambda m: None)
        return engine.apply(engine.store.read() or new_state(compiled.resolved.name, "test")).outcomes["files"]


def test_replacing_a_bucket_warns_and_protect_refuses_before_anything_changes(tmp_path, moto, registry):
    app = _project(tmp_path, "shop-files-one")
    assert _apply(app, registry).status == "applied"
    assert _buckets() == {"shop-files-one"}

    _project(tmp_path, "shop-files-two")
    outcome = _apply(app, registry)  # apply plans and applies in one process, as under --auto-approve
    assert outcome.status == "applied"
    assert [(d.severity.value, d.summary) for d in outcome.diagnostics] == [
        ("warning", "unit files replaces or destroys stateful resources: module.files.aws_s3_bucket.this (replaced)")
    ]
    assert _buckets() == {"shop-files-two"}  # a warning, not a refusal: the bucket was replaced

    # Protected: refused before anything changes. (`plan` refuses on the same reading of
    # Terraform's plan: tests/test_engine_units.py, on the fake port; one Terraform run less here.)
    _project(tmp_path, "shop-files-three", protect=True)
    r = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
    unit = next(e for e in r.events if e.get("type") == "unit" and e.get("unit") == "files")
    assert r.code == 3 and unit["status"] == "failed"
    assert unit["diagnostics"][0]["summary"] == (
        "refusing to replace or destroy stateful resources of protected unit files: module.files.aws_s3_bucket.this (replaced)"
    )
    assert _buckets() == {"shop-files-two"}  # nothing changed


class RecordedTerraform:
    """The Terraform port with recorded answers (the I/O seam): `show` returns the recorded plan
    that replaces the bucket; every call is logged, nothing runs."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.runs = 0

    def init(self, unit, workdir, backend_config=None):
        self.calls.append("init")

    def show(self, unit, workdir, planfile):
        self.calls.append(f"show {Path(planfile).name}")
        return json.loads(RECORDED.read_text())

    def apply(self, unit, workdir, planfile=None, variables=None, *, destroy=False):
        from composer.runners.terraform import Changes

        self.calls.append("apply " + (Path(planfile).name if planfile else "-"))
        return Changes(1, 1, 1)

    def outputs(self, unit, workdir):
        return {"arn": ("arn:aws:s3:::shop-files-two", False)}

    def close(self):
        pass


def _apply_saved(app: Path, registry) -> tuple[object, list[str]]:
    from composer.cli.wiring import RunOptions, open_store, running_engine
    from composer.project import compile_project, open_project
    from composer.state.model import new_state
    from tests.support.sinks import RecordingSink

    compiled = compile_project(open_project(app), "test", registry)
    with running_engine(
        compiled, registry, RunOptions(), emit=lambda *a, **k: None, should_stop=lambda: False
    ) as engine:
        engine.terraform = RecordedTerraform()
        engine.sinks = (RecordingSink(),)
        engine.store = open_store(compiled, lambda m: None)
        result = engine.apply(new_state(compiled.resolved.name, "test"), planned={"files": b"a saved plan"})
        return result.outcomes["files"], engine.terraform.calls


def test_a_saved_plan_of_a_protected_unit_is_read_and_refused_before_it_is_applied(tmp_path, registry):
    outcome, calls = _apply_saved(_project(tmp_path, "shop-files-two", protect=True), registry)
    assert outcome.status == "failed" and outcome.diagnostics[0].summary.startswith(
        "refusing to replace or destroy stateful resources of protected unit files"
    )
    assert calls == ["init", "show appc.tfplan"]  # never applied


def test_a_saved_plan_of_an_unprotected_unit_is_applied_as_saved_without_reading_it(tmp_path, registry):
    outcome, calls = _apply_saved(_project(tmp_path, "shop-files-two"), registry)
    assert outcome.status == "applied" and calls == ["init", "apply appc.tfplan"]
