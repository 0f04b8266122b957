"""Stateful resources that a unit's plan replaces or destroys.

A database, cache, bucket or queue that Terraform replaces loses its data. The engine warns,
naming each one, whenever a plan would do that (also under --auto-approve), and refuses it for
units in `policies.protect`. This module only reads plans; it is kept small and self-contained
so that resource-level plan parsing elsewhere can take it over:

- `from_plan`: the `resource_changes` of `terraform show -json PLANFILE`;
- `from_actions`: (address, resource type, action) triples of the -json UI's `planned_change`
  messages, which `plan` and a one-process `apply` stream before they change anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from composer.diagnostics import Diagnostic, Severity

# Resource types that hold data: what the shipped modules create (tests/provider_schemas marks
# the same types `stateful`, and tests/test_module_schema.py keeps the two in step) and their
# closest kin. A platform's own module that uses other types is not covered.
STATEFUL_TYPES = frozenset(
    {
        # AWS
        "aws_db_instance",
        "aws_rds_cluster",
        "aws_elasticache_cluster",
        "aws_elasticache_replication_group",
        "aws_s3_bucket",
        "aws_sqs_queue",
        "aws_dynamodb_table",
        # Google Cloud
        "google_sql_database_instance",
        "google_sql_database",
        "google_redis_instance",
        "google_storage_bucket",
        "google_pubsub_topic",
        "google_pubsub_subscription",
        # Azure
        "azurerm_postgresql_flexible_server",
        "azurerm_postgresql_flexible_server_database",
        "azurerm_mysql_flexible_server",
        "azurerm_mysql_flexible_database",
        "azurerm_redis_cache",
        "azurerm_storage_account",
        "azurerm_storage_container",
        "azurerm_servicebus_namespace",
        "azurerm_servicebus_queue",
    }
)


@dataclass(frozen=True)
class StatefulChange:
    address: str  # e.g. module.db.aws_db_instance.this
    type: str
    action: str  # replace | delete


def _plan_action(actions: list[str]) -> str | None:
    if "delete" in actions and "create" in actions:
        return "replace"
    if actions == ["delete"]:
        return "delete"
    return None


def from_plan(plan: Mapping[str, Any]) -> list[StatefulChange]:
    """Replacements and deletions of stateful resources in a `terraform show -json` plan."""
    out = []
    for rc in plan.get("resource_changes") or []:
        if rc.get("mode", "managed") != "managed" or rc.get("type") not in STATEFUL_TYPES:
            continue
        action = _plan_action(list((rc.get("change") or {}).get("actions") or []))
        if action:
            out.append(StatefulChange(str(rc.get("address")), rc["type"], action))
    return out


def from_actions(actions: Iterable[tuple[str, str, str]]) -> list[StatefulChange]:
    """The same from (address, type, action) triples of planned_change messages."""
    seen: dict[str, StatefulChange] = {}
    for address, rtype, action in actions:
        if rtype in STATEFUL_TYPES and action in ("replace", "delete") and not address.startswith("data."):
            seen.setdefault(address, StatefulChange(address, rtype, action))
    return list(seen.values())


def _listing(changes: list[StatefulChange]) -> str:
    return ", ".join(f"{c.address} ({'replaced' if c.action == 'replace' else 'destroyed'})" for c in changes)


def warning(unit: str, changes: list[StatefulChange]) -> Diagnostic:
    return Diagnostic(
        f"unit {unit} replaces or destroys stateful resources: {_listing(changes)}",
        "their data is lost unless it was backed up; add the component to policies.protect to make apply refuse this",
        severity=Severity.WARNING,
        address=unit,
    )


def refusal(unit: str, env: str, changes: list[StatefulChange]) -> Diagnostic:
    return Diagnostic(
        f"refusing to replace or destroy stateful resources of protected unit {unit}: {_listing(changes)}",
        f"environment {env} lists {unit} under policies.protect; nothing was changed. Undo the change that forces the replacement "
        "(the plan names the argument), or remove the component from policies.protect to allow it",
        address=unit,
    )
