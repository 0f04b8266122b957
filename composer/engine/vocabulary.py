"""The engine's closed vocabularies as types: what a unit's outcome may say. One place, so a typo in a
status is a mypy error, not a silent miss in a view's `if status == ...`."""

from __future__ import annotations

from typing import Literal

from composer.state.model import UnitKind

__all__ = ["OutcomeStatus", "PlanAction", "UnitKind"]

# what happened to a unit in this run (plan, apply or destroy)
OutcomeStatus = Literal["applied", "unchanged", "failed", "blocked", "pruned", "destroyed", "planned", "refused"]
# what a plan will do to a unit; "" before the plan decided
PlanAction = Literal["", "create", "update", "prune", "none"]
