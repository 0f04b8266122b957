"""The state's records of the last checks against reality (composer/state/checks.py), made from
what a reality probe found (engine/probes.py) and what `appc drift` reported (engine/drift.py).
Pure: findings and reports in, records and state copies out; the CLI writes them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence

from composer.engine.drift import DriftReport
from composer.engine.probes import Finding
from composer.state.checks import DriftCheck, ProbeVerdict, RecordedMode, UnitProbe
from composer.state.model import StateDoc, now

_VERDICTS: Mapping[str, ProbeVerdict] = {
    "missing": "missing",
    "modified": "foreign-modified",
    "unrecorded": "unrecorded",
    "unknown": "unanswerable",
}
_RANK = ("missing", "modified", "unrecorded", "unknown")  # the order engine/probes.py decides by
DETAIL_LIMIT = 1000
RECORD_FIELDS = frozenset({"serial", "probes", "drift_check"})  # what a record-only write changes


def applied_digest(state: StateDoc) -> str:
    """sha256 of the state without the serial and the check records: equal digests mean the same
    applied reality, so a saved plan made before a probe or drift record was written still
    applies (engine/planfile.py), while any unit, object or revision written since refuses it."""
    doc = state.model_dump(mode="json", by_alias=True, exclude=set(RECORD_FIELDS))
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def probe_records(
    asked: Iterable[str], findings: Sequence[Finding], mode: RecordedMode, at: str | None = None
) -> dict[str, UnitProbe]:
    """One record per unit the probe asked about: `present` without a finding, else the verdict
    that decided it (missing before modified before the rest), with every finding of that
    verdict named in `detail`."""
    when = at or now()
    by_unit: dict[str, list[Finding]] = {}
    for f in findings:
        by_unit.setdefault(f.unit, []).append(f)
    records = {}
    for unit in sorted({*asked, *by_unit}):
        found = by_unit.get(unit, [])
        if not found:
            records[unit] = UnitProbe(at=when, mode=mode, verdict="present")
            continue
        first = min(found, key=lambda f: _RANK.index(f.verdict)).verdict
        detail = "; ".join(f.detail for f in found if f.verdict == first)
        if len(detail) > DETAIL_LIMIT:
            detail = detail[: DETAIL_LIMIT - 1] + "…"
        records[unit] = UnitProbe(at=when, mode=mode, verdict=_VERDICTS[first], detail=detail)
    return records


def with_probes(state: StateDoc, records: Mapping[str, UnitProbe]) -> StateDoc:
    """State with these units' probe records replaced; records of units no longer in state go."""
    kept = {n: r for n, r in state.probes.items() if n in state.units and n not in records}
    merged = {**kept, **{n: r for n, r in records.items() if n in state.units}}
    return state.model_copy(update={"probes": dict(sorted(merged.items()))})


def same_verdicts(before: StateDoc, after: StateDoc) -> bool:
    """The probe records say the same but for their times: writing them would tell nothing new."""

    def said(state: StateDoc) -> dict[str, tuple[str, str, str]]:
        return {n: (r.mode, r.verdict, r.detail) for n, r in state.probes.items()}

    return said(before) == said(after)


def drift_record(report: DriftReport, at: str | None = None) -> DriftCheck:
    """The environment's last drift check: counts per unit, no values."""
    drifted: dict[str, int] = {}
    ignored: dict[str, int] = {}
    for item in report.items:
        counts = ignored if item.ignored else drifted
        counts[item.unit] = counts.get(item.unit, 0) + 1
    return DriftCheck(
        at=at or now(),
        drift=bool(drifted),
        checked=tuple(report.checked),
        drifted=dict(sorted(drifted.items())),
        ignored=dict(sorted(ignored.items())),
        not_compared=tuple(sorted(report.errors)),
    )
