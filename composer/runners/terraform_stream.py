"""What one Terraform `-json` run says, read from its messages: the change counts and planned
resource actions, the resources it refreshed, wrote or deleted (for the reality probes), and an
apply's root outputs when the stream holds their values. Pure: messages in, values out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Changes:
    add: int = 0
    change: int = 0
    remove: int = 0
    # (address, resource type, action) of every planned_change the run streamed
    resource_actions: tuple[tuple[str, str, str], ...] = ()
    # (address, type, id) of the resources the run refreshed or wrote, and those it deleted:
    # recorded in state for the reality probe (composer/runners/cloud_probe.py)
    resources_seen: tuple[tuple[str, str, str], ...] = ()
    resources_deleted: tuple[str, ...] = ()
    # An apply's root outputs from its own -json stream (name -> (value, sensitive)); None when
    # a sensitive output's value is not in the stream, so `terraform output -json` must run.
    outputs: dict[str, tuple[Any, bool]] | None = None

    @property
    def any(self) -> bool:
        return bool(self.add or self.change or self.remove)


def _changes(messages: list[dict]) -> Changes:
    """The last change summary of a -json run (plan or apply), and its planned resource actions."""
    counts: dict = {}
    actions = []
    for m in messages:
        if m.get("type") == "change_summary":
            counts = m.get("changes") or {}
        elif m.get("type") == "planned_change":
            change = m.get("change") or {}
            resource = change.get("resource") or {}
            actions.append(
                (str(resource.get("addr", "")), str(resource.get("resource_type", "")), str(change.get("action", "")))
            )
    from composer.runners.cloud_probe import resource_events

    seen, deleted = resource_events(messages)
    return Changes(
        counts.get("add", 0),
        counts.get("change", 0),
        counts.get("remove", 0),
        tuple(actions),
        resources_seen=seen,
        resources_deleted=deleted,
        outputs=_streamed_outputs(messages),
    )


def _streamed_outputs(messages: list[dict]) -> dict[str, tuple[Any, bool]] | None:
    """The values of the last `outputs` message (sent after an apply), when every output has
    its value there: the JSON UI leaves sensitive values out, and then None says so."""
    last = next((m for m in reversed(messages) if m.get("type") == "outputs"), None)
    outputs = last.get("outputs") if last else None
    if not isinstance(outputs, dict) or not all(isinstance(o, dict) and "value" in o for o in outputs.values()):
        return None
    return {k: (o["value"], bool(o.get("sensitive"))) for k, o in outputs.items()}
