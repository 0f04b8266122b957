"""What `appc status` says about a unit beyond its state record: whether the model changed
since its last apply, when its generated secrets were last rotated, what the reality probe of
the last apply found, and what the environment's last drift check found (both recorded in
state by apply and `appc drift`: composer/state/checks.py).

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
from composer.state.checks import DriftCheck, UnitProbe
from composer.state.model import StateDoc
from composer.state.protocol import StateStore

MODEL_CHANGED = "model changed since the last apply (applied on next apply)"


def _when(at: str) -> str:
    return at[:19].replace("T", " ")


@dataclass(frozen=True)
class UnitNotes:
    """Extra facts about one unit for `appc status`; every field may be absent."""

    model_changed: bool = False
    rotated_at: str | None = None
    probe: UnitProbe | None = None  # the last reality probe an apply ran of this unit
    drift: DriftCheck | None = None  # the environment's last drift check, when it compared this unit
    unit: str = ""

    def _drift_text(self) -> str:
        if self.drift is None:
            return ""
        d, n = self.drift, self.unit
        verdict = (
            "not compared"
            if n in d.not_compared
            else f"{d.drifted[n]} drifted attribute(s)"
            if n in d.drifted
            else "none"
        )
        ignored = f", {d.ignored[n]} ignored" if n in d.ignored else ""
        return f"drift {_when(d.at)}: {verdict}{ignored}"

    def text(self) -> str:
        parts = [MODEL_CHANGED] if self.model_changed else []
        if self.rotated_at:
            parts.append(f"secret rotated {_when(self.rotated_at)}")
        if self.probe:
            detail = f": {self.probe.detail}" if self.probe.detail else ""
            parts.append(f"probe {_when(self.probe.at)}: {self.probe.verdict}{detail}")
        if self.drift:
            parts.append(self._drift_text())
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        d, n = self.drift, self.unit
        return {
            "model_changed": self.model_changed,
            "rotated_at": self.rotated_at,
            "probe": self.probe.model_dump(mode="json") if self.probe else None,
            "drift": {
                "at": d.at,
                "compared": n not in d.not_compared,
                "drifted": d.drifted.get(n, 0),
                "ignored": d.ignored.get(n, 0),
            }
            if d
            else None,
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


def unit_notes(name: str, state: StateDoc | None, changed: bool) -> UnitNotes:
    unit = state.units.get(name) if state else None
    if unit is None or state is None:
        return UnitNotes()
    drift = state.drift_check
    compared = drift is not None and (name in drift.checked or name in drift.not_compared)
    return UnitNotes(
        model_changed=changed,
        rotated_at=unit.rotated_at,
        probe=state.probes.get(name),
        drift=drift if compared else None,
        unit=name,
    )


def drift_summary(state: StateDoc | None) -> tuple[str, dict[str, Any]]:
    """The environment's last drift check, as a line and as the fields of a JSON event."""
    d = state.drift_check if state else None
    if d is None:
        return "last drift check: never (`appc drift` records one)", {"checked": False}
    fields = {
        "checked": True,
        "at": d.at,
        "drift": d.drift,
        "drifted": d.drifted_total,
        "ignored": d.ignored_total,
        "units_checked": len(d.checked),
        "units_drifted": sorted(d.drifted),
        "not_compared": list(d.not_compared),
    }
    verdict = f"{d.drifted_total} drifted attribute(s) in {len(d.drifted)} unit(s)" if d.drift else "no drift"
    ignored = f", {d.ignored_total} ignored" if d.ignored_total else ""
    missed = f", {len(d.not_compared)} not compared" if d.not_compared else ""
    return f"last drift check {_when(d.at)}: {verdict} ({len(d.checked)} unit(s) compared{ignored}{missed})", fields
