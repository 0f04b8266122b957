"""What `appc status` says about a unit beyond its state record: whether the model changed
since its last apply, when its generated secrets were last rotated, and what the reality
probes and the last drift check found (recorded by other commands; read defensively, since a
state written by an older or newer appc may lack or carry those fields).

Pure: state and the compiled model in, notes out. No cloud or cluster is asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from composer.catalog import ModuleSource
from composer.engine.ports import SecretReader, TerraformPort, Workspace
from composer.engine.run import Engine
from composer.graph import Graph
from composer.render import Rendered
from composer.resolve import Resolved
from composer.state.model import StateDoc, UnitState
from composer.state.protocol import StateStore

MODEL_CHANGED = "model changed since the last apply (applied on next apply)"


@dataclass(frozen=True)
class UnitNotes:
    """Extra facts about one unit for `appc status`; every field may be absent."""

    model_changed: bool = False
    rotated_at: str | None = None
    probe: str | None = None  # the last reality probe's verdict, when one was recorded
    drift: str | None = None  # the last drift check's verdict and time, when one was recorded

    def text(self) -> str:
        parts = [MODEL_CHANGED] if self.model_changed else []
        if self.rotated_at:
            parts.append(f"secret rotated {self.rotated_at[:19].replace('T', ' ')}")
        if self.probe:
            parts.append(f"probe: {self.probe}")
        if self.drift:
            parts.append(f"drift: {self.drift}")
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "model_changed": self.model_changed,
            "rotated_at": self.rotated_at,
            "probe": self.probe,
            "drift": self.drift,
        }


def changed_since_apply(
    resolved: Resolved, graph: Graph, rendered: Rendered, modules: Mapping[str, ModuleSource], state: StateDoc
) -> set[str]:
    """Units applied successfully whose hash (rendered bytes, module digest, upstream outputs)
    differs from the one recorded: the next apply would run them. The same hash the engine
    skips by, computed without any port (no Terraform, cluster or store is touched)."""
    hasher = Engine(
        resolved=resolved,
        graph=graph,
        rendered=rendered,
        modules=modules,
        store=cast(StateStore, None),
        terraform=cast(TerraformPort, None),
        workspace=cast(Workspace, None),
        sinks=(),
        read_secret=cast(SecretReader, None),
    )
    pending = set(hasher.pending(state))
    return {n for n, u in state.units.items() if u.status == "applied" and n in graph.order and n in pending}


def _recorded(unit: UnitState, *names: str) -> str | None:
    """A field another lane records (probes, drift), read without relying on its shape."""
    data = unit.model_dump()
    for name in names:
        value = data.get(name)
        if isinstance(value, Mapping):
            verdict = value.get("verdict") or value.get("status") or value.get("result")
            at = value.get("at") or value.get("checked_at")
            value = " ".join(str(v) for v in (verdict, at) if v) or None
        if value:
            return str(value)[:200]
    return None


def unit_notes(unit: UnitState | None, changed: bool) -> UnitNotes:
    if unit is None:
        return UnitNotes()
    return UnitNotes(
        model_changed=changed,
        rotated_at=unit.rotated_at,
        probe=_recorded(unit, "probe", "last_probe"),
        drift=_recorded(unit, "drift", "last_drift", "drift_checked_at"),
    )
