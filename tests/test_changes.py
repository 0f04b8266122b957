"""The plan structure (composer/engine/changes.py) and its markdown form, on plan documents in
the shape `terraform show -json` prints (format 1.2): actions, reasons, fields old → new,
sensitive and unknown values, and the comment-size limit."""

from __future__ import annotations

from dataclasses import dataclass

from composer.cli.planview import GITHUB_COMMENT_LIMIT, plan_markdown
from composer.engine.changes import (
    Redactor,
    ResourceChange,
    counts,
    managed_addresses,
    object_change,
    terraform_changes,
)
from composer.engine.outcome import Outcome

PASSWORD = "Zx9QmT4vR7pL2wK8"

PLAN = {
    "format_version": "1.2",
    "resource_changes": [
        {
            "address": "module.db.aws_db_instance.this",
            "action_reason": "replace_because_cannot_update",
            "change": {
                "actions": ["delete", "create"],
                "before": {"engine_version": "15", "password": PASSWORD, "tags": {"app": "shop"}, "id": "db-1"},
                "after": {"engine_version": "16", "password": PASSWORD, "tags": {"app": "shop"}},
                "after_unknown": {"id": True},
                "before_sensitive": {"password": True},
                "after_sensitive": {"password": True},
                "replace_paths": [["engine_version"]],
            },
        },
        {
            "address": "module.db.aws_secretsmanager_secret_version.this",
            "change": {
                "actions": ["update"],
                "before": {"secret_string": "old-" + PASSWORD},
                "after": {"secret_string": "new-" + PASSWORD},
                "after_unknown": {},
                "before_sensitive": {"secret_string": True},
                "after_sensitive": {"secret_string": True},
            },
        },
        {
            "address": "module.db.aws_security_group.old",
            "action_reason": "delete_because_no_resource_config",
            "change": {"actions": ["delete"], "before": {"name": "old"}, "after": None},
        },
        {"address": "module.db.data.aws_region.current", "change": {"actions": ["read"], "before": None, "after": {}}},
        {
            "address": "module.db.aws_s3_bucket.same",
            "change": {"actions": ["no-op"], "before": {"a": 1}, "after": {"a": 1}},
        },
        {
            "address": "module.db.aws_ssm_parameter.leaky",  # a module that forgot `sensitive`: the engine knows the value
            "change": {
                "actions": ["create"],
                "before": None,
                "after": {"value": f"postgres://app:{PASSWORD}@db"},
                "after_unknown": {},
                "after_sensitive": {},
            },
        },
    ],
}


def test_terraform_actions_reasons_and_fields():
    changes = terraform_changes(PLAN, Redactor(frozenset({PASSWORD})))
    by = {c.address: c for c in changes}
    assert [c.action for c in changes] == ["replace", "update", "destroy", "read", "create"]  # no-op left out
    db = by["module.db.aws_db_instance.this"]
    assert db.reason == "a changed attribute forces replacement: engine_version"
    assert [a.text() for a in db.attributes] == ['engine_version: "15" → "16"', 'id: "db-1" → (known after apply)']
    assert [
        a.text() for a in by["module.db.aws_secretsmanager_secret_version.this"].attributes
    ] == []  # sensitive both sides: nothing to tell
    assert by["module.db.aws_security_group.old"].reason == "no longer in the configuration"
    assert [a.text() for a in by["module.db.aws_ssm_parameter.leaky"].attributes] == ["value: (sensitive)"]
    assert counts(changes) == {"add": 2, "change": 1, "remove": 2}
    assert all(PASSWORD not in str(c.to_json()) for c in changes)


def test_sensitive_values_that_change_are_said_to_change_without_values():
    plan = {
        "resource_changes": [
            {
                "address": "x.y",
                "change": {
                    "actions": ["update"],
                    "before": {"p": "a", "n": 1},
                    "after": {"p": "b", "n": 2},
                    "before_sensitive": {"p": True},
                    "after_sensitive": {},
                },
            }
        ]
    }
    (c,) = terraform_changes(plan, Redactor())
    assert [a.text() for a in c.attributes] == ["n: 1 → 2", 'p: (sensitive) → "b"']


def test_kubernetes_objects_diff_fields_and_never_show_secret_data():
    before = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "resourceVersion": "7",
            "managedFields": [{"manager": "appc"}],
        },
        "spec": {"replicas": 2},
        "status": {"readyReplicas": 2},
    }
    after = {
        **before,
        "metadata": {**before["metadata"], "resourceVersion": "8"},
        "spec": {"replicas": 4},
        "status": {"readyReplicas": 0},
    }
    change = object_change(before, after, Redactor())
    assert (
        change is not None
        and change.address == "Deployment shop/web"
        and [a.text() for a in change.attributes] == ["spec.replicas: 2 → 4"]
    )
    assert object_change(before, before, Redactor()) is None
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"password": "c2VjcmV0"}}
    created = object_change(None, secret, Redactor())
    assert created.action == "create" and "data: (sensitive)" in [a.text() for a in created.attributes]
    changed = object_change(secret, {**secret, "data": {"password": "b3RoZXI="}}, Redactor())
    assert [a.text() for a in changed.attributes] == ["data: (sensitive) → (sensitive)"]
    assert "c2VjcmV0" not in str(created.to_json()) + str(changed.to_json())


def test_state_lists_keep_managed_resources_only():
    assert managed_addresses(
        [
            "module.a.aws_s3_bucket.b",
            "module.a.data.aws_region.r",
            "data.aws_caller_identity.me",
            "module.data.aws_sqs_queue.q",
        ]
    ) == ["module.a.aws_s3_bucket.b", "module.data.aws_sqs_queue.q"]


@dataclass
class _Result:
    outcomes: dict


def test_markdown_stays_within_githubs_comment_limit_and_says_it_was_cut():
    big = tuple(ResourceChange(f"ConfigMap shop/config-{i}", "create") for i in range(4000))
    outcomes = {
        n: Outcome(n, "kubernetes", "planned", changes={"add": len(big), "change": 0, "remove": 0}, resources=big)
        for n in ("a", "b")
    }
    md = plan_markdown("shop", "prod", _Result(outcomes), ["a", "b"], set(), saved="plan.json")
    assert len(md) <= GITHUB_COMMENT_LIMIT
    assert "**The details are cut here**" in md and md.rstrip().endswith("`appc apply -e prod plan.json`.")
    assert md.count("```diff") == md.count("\n```\n")  # every opened block is closed
    assert "**Totals**: 8000 to add, 0 to change, 0 to destroy" in md
