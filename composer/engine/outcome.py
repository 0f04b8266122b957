"""What a run reports: one `Outcome` per unit and the `RunResult` of a command.

Views render these (composer/cli), saved plans record them (engine/planfile.py); the
engine's steps produce them and nothing else decides a unit's status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from composer.diagnostics import Diagnostic
from composer.engine.changes import ResourceChange
from composer.state.model import StateDoc

UnitKind = Literal["terraform", "kubernetes"]


@dataclass
class Outcome:
    name: str
    kind: str
    status: str  # applied | unchanged | failed | blocked | pruned | destroyed | planned | refused
    changes: dict[str, int] | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    duration_s: float = 0.0
    k8s_writes: int = 0
    k8s_changed: int = 0
    action: str = ""  # for plans: create | update | prune | none
    resources: tuple[ResourceChange, ...] = ()  # for plans: what changes, resource by resource
    reason: str = ""  # why a unit its hash would skip runs (the reality probe: engine/probes.py)

    def to_json(self) -> dict:
        return {
            "unit": self.name,
            "kind": self.kind,
            "status": self.status,
            "changes": self.changes,
            "duration_s": round(self.duration_s, 3),
            "k8s_writes": self.k8s_writes,
            **({"action": self.action} if self.action else {}),
            **({"reason": self.reason} if self.reason else {}),
            **({"resources": [r.to_json() for r in self.resources]} if self.resources else {}),
            "diagnostics": [d.to_json() for d in self.diagnostics],
        }


@dataclass
class RunResult:
    command: str
    outcomes: dict[str, Outcome]
    state: StateDoc
    terraform_runs: int
    duration_s: float
    interrupted: bool = False

    @property
    def failed(self) -> list[str]:
        return [n for n, o in self.outcomes.items() if o.status in ("failed", "blocked", "refused")]

    @property
    def units_changed(self) -> int:
        return sum(
            o.status in ("applied", "pruned", "destroyed")
            or (o.status == "planned" and (bool(o.changes) or o.action == "prune"))
            for o in self.outcomes.values()
        )

    @property
    def units_skipped(self) -> int:
        return sum(o.status == "unchanged" for o in self.outcomes.values())

    @property
    def k8s_writes(self) -> int:
        return sum(o.k8s_writes for o in self.outcomes.values())

    def summary(self) -> dict:
        return {
            "units_changed": self.units_changed,
            "units_skipped": self.units_skipped,
            "terraform_runs": self.terraform_runs,
            "k8s_writes": self.k8s_writes,
            "units_failed": len(self.failed),
        }
