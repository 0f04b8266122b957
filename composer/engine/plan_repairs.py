"""What a saved plan carries besides Terraform plans: every unit it plans to change, with the
reason its reality probe gave where the probe planned it (a Deployment deleted behind Composer's
back, an object another field manager edited), and the objects to write again or take back, so
that `appc apply FILE` runs exactly those, Kubernetes units included, whatever their hash (an
unchanged hash planned by the probe or by `--refresh`), with the reason the plan showed.

Pure: the `repairs` section of the signed plan document (engine/planfile.py), to and from JSON.
It names units, the probe's reasons and object keys (target, kind, namespace, name); never a
value. It is covered by the plan's signature like every other field, and read strictly: a
section that does not match this shape, or names a unit the model does not have, refuses the
plan (composer/engine/planfile.py says how).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from composer.engine.probes import ObjectKey

MAX_TEXT = 2000


@dataclass(frozen=True)
class PlannedRepairs:
    """Units the plan planned because of what the probe found, and the objects to write again."""

    reasons: Mapping[str, str] = field(default_factory=dict)  # unit planned -> the probe's reason ("" if none)
    rewrite: frozenset[ObjectKey] = frozenset()  # objects whose digests are forgotten: written again
    reclaim: frozenset[ObjectKey] = frozenset()  # objects another manager changed: our fields taken back

    def to_json(self) -> dict[str, Any]:
        return {
            "reasons": dict(sorted(self.reasons.items())),
            "rewrite": [list(k) for k in sorted(self.rewrite, key=_order)],
            "reclaim": [list(k) for k in sorted(self.reclaim, key=_order)],
        }

    def __bool__(self) -> bool:
        return bool(self.reasons or self.rewrite or self.reclaim)


@dataclass(frozen=True)
class SavedPlan:
    """A saved plan that passed every check: the Terraform plans to apply, per unit, and the repairs."""

    tfplans: dict[str, bytes]
    repairs: PlannedRepairs = PlannedRepairs()

    def runs(self) -> set[str]:
        """Units the apply runs whatever their hash: those with a Terraform plan, and the repairs."""
        return {n for n, tfplan in self.tfplans.items() if tfplan} | set(self.repairs.reasons)


def _order(key: ObjectKey) -> tuple[str, str, str, str]:
    return (key[0], key[1], key[2] or "", key[3])


def planned_repairs(
    stale: Mapping[str, str], planned: Collection[str], rewrite: Collection[ObjectKey], reclaim: Collection[ObjectKey]
) -> PlannedRepairs:
    """The units the plan shows as changing (`planned`), each with the probe's reason when it
    planned the unit (none when only its hash or `--refresh` did), and the probe's objects."""
    reasons = {unit: stale.get(unit, "") for unit in planned}
    return PlannedRepairs(reasons, frozenset(rewrite), frozenset(reclaim))


def repairs_from_json(raw: Any, units: Collection[str]) -> PlannedRepairs | None:
    """The section as saved, or None when it is not of this shape or names a unit not in `units`.
    An absent section (a plan of an earlier appc) is no repairs."""
    if raw is None:
        return PlannedRepairs()
    if not isinstance(raw, dict) or set(raw) != {"reasons", "rewrite", "reclaim"}:
        return None
    reasons = raw["reasons"]
    if not isinstance(reasons, dict) or not all(
        isinstance(u, str) and u in units and isinstance(r, str) and len(r) <= MAX_TEXT for u, r in reasons.items()
    ):
        return None
    rewrite, reclaim = _keys(raw["rewrite"]), _keys(raw["reclaim"])
    if rewrite is None or reclaim is None:
        return None
    return PlannedRepairs(dict(reasons), rewrite, reclaim)


def _keys(raw: Any) -> frozenset[ObjectKey] | None:
    if not isinstance(raw, list):
        return None
    out: set[ObjectKey] = set()
    for key in raw:
        if not (isinstance(key, list) and len(key) == 4):
            return None
        target, kind, namespace, name = key
        if not all(isinstance(v, str) and 0 < len(v) <= 253 for v in (target, kind, name)):
            return None
        if namespace is not None and not (isinstance(namespace, str) and 0 < len(namespace) <= 253):
            return None
        out.add((target, kind, namespace, name))
    return frozenset(out)
