"""Reality probes: whether a unit whose hash is unchanged may really be skipped. Pure.

A unit is skipped only when its hash matches its last successful apply *and* a probe says its
resources still exist as that apply left them. The I/O lives at the edges: provider plugins
answer one batched `ProbeRequest` per cloud (composer/plugins.py, providers/aws/probe.py), and
composer/runners/kube_probe.py lists each kind and namespace once. This module records what an
apply left, compares it with what the probes saw, and decides per `--probe` mode:

- `strict` (the default when `CI` is set): a unit the probe cannot vouch for fails the apply
  before anything runs;
- `lenient` (the default otherwise): such a unit runs, and the event says so;
- `off`: hashes alone decide, as before probes existed.

A unit that must run has its recorded hash forgotten in the run's copy of state (`forget`), so
the engine's one skip rule (hash equal and applied) sees it as changed; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from composer.diagnostics import Diagnostic
from composer.state.model import CloudResource, InventoryItem, StateDoc, UnitState

if TYPE_CHECKING:  # composer.plugins loads the model's definitions: not for a no-op served from the cache
    from composer.plugins import ProbedResource, ProbeResult

ProbeMode = Literal["strict", "lenient", "off"]
PROBE_MODES: tuple[ProbeMode, ...] = ("strict", "lenient", "off")
Verdict = Literal["missing", "modified", "unrecorded", "unknown"]
ObjectKey = tuple[str, str, str | None, str]  # (target, kind, namespace, name)


def default_mode(ci: bool) -> ProbeMode:
    """CI must not skip what it cannot see; a person at a terminal gets the unit run and a note."""
    return "strict" if ci else "lenient"


# -- what an apply left -------------------------------------------------------------------------


def recorded_after_apply(
    previous: tuple[CloudResource, ...] | None,
    seen: Iterable[tuple[str, str, str]],
    deleted: Iterable[str],
) -> tuple[CloudResource, ...]:
    """The unit's resources after an apply: those the run saw (address, type, id from Terraform's
    refresh and apply events), plus earlier records it neither saw nor deleted (an apply of a
    saved plan refreshes nothing), minus deleted ones. Sorted by address: stable state bytes."""
    now = {address: CloudResource(address=address, type=type_, id=id_) for address, type_, id_ in seen}
    gone = set(deleted) - set(now)
    kept = {r.address: r for r in previous or () if r.address not in gone and r.address not in now}
    return tuple(sorted({**kept, **now}.values(), key=lambda r: r.address))


# -- findings -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """Why one unit cannot be skipped; `detail` names the resource or object."""

    unit: str
    verdict: Verdict
    detail: str
    key: ObjectKey | None = None  # the Kubernetes object, for findings about one


@dataclass(frozen=True)
class LiveObject:
    """A Kubernetes object as a LIST returned it."""

    uid: str
    resource_version: str
    generation: int | None = None


# Providers whose resources live only in Terraform's state (or on the machine that ran it): no
# cloud holds them, so no probe can lose them, and a unit made of them alone asks nothing.
STATE_ONLY_PROVIDERS = ("terraform", "null", "random", "time", "tls", "local")


def probe_requests(units: Mapping[str, UnitState]) -> tuple[tuple[ProbedResource, ...], list[Finding]]:
    """The resources to look for, and the units that recorded none to look for (older state)."""
    from composer.plugins import ProbedResource

    wanted: list[ProbedResource] = []
    unrecorded: list[Finding] = []
    for name, unit in sorted(units.items()):
        if unit.resources is None:
            unrecorded.append(Finding(name, "unrecorded", "no resource ids recorded at its last apply"))
            continue
        wanted += [
            ProbedResource(name, r.address, r.type, r.id)
            for r in unit.resources
            if r.type.split("_", 1)[0] not in STATE_ONLY_PROVIDERS
        ]
    return tuple(wanted), unrecorded


def cloud_findings(asked: Sequence[ProbedResource], result: ProbeResult) -> list[Finding]:
    """One provider's answer for the resources it was asked about."""
    if not result.answered:
        units = sorted({r.unit for r in asked})
        return [Finding(u, "unknown", result.reason or "the cloud probe did not answer") for u in units]
    return [Finding(r.unit, "missing", f"{r.address} ({r.id}) not found in the cloud") for r in result.missing]


def kube_findings(
    recorded: Mapping[ObjectKey, InventoryItem], live: Mapping[ObjectKey, LiveObject | None]
) -> list[Finding]:
    """Recorded objects against one LIST per kind and namespace. `live[key]` is None when the
    object is absent; a key missing from `live` means its LIST could not be made (unknown)."""
    out: list[Finding] = []
    for key, item in sorted(recorded.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "", kv[0][3])):
        what = f"{item.kind} {item.name}"
        if key not in live:
            out.append(Finding(item.component, "unknown", f"{what}: the cluster could not be listed", key))
            continue
        obj = live[key]
        if obj is None:
            out.append(Finding(item.component, "missing", f"{what} not found in the cluster", key))
        elif item.uid is None:
            out.append(Finding(item.component, "unrecorded", f"{what}: no uid recorded at its last apply", key))
        elif obj.uid != item.uid:
            out.append(
                Finding(item.component, "modified", f"{what} was deleted and created again by someone else", key)
            )
        elif _changed(item, obj):
            out.append(Finding(item.component, "modified", f"{what} was changed by another field manager", key))
    return out


def _changed(item: InventoryItem, obj: LiveObject) -> bool:
    """The spec changed since our write. `generation` moves only on spec changes, so a controller
    writing status (every Deployment's) is not a change; kinds without one compare resourceVersion."""
    if item.generation is not None and obj.generation is not None:
        return obj.generation != item.generation
    return obj.resource_version != item.resource_version


# -- the decision -------------------------------------------------------------------------------


@dataclass
class Decision:
    stale: dict[str, str] = field(default_factory=dict)  # unit -> the reason shown in its event
    refusals: list[Diagnostic] = field(default_factory=list)  # strict: units the probe could not vouch for
    # Objects another field manager changed: re-applied taking our fields back (--force-conflicts
    # for these objects only), except the paths policies.ignoreDrift lets others own.
    reclaim: set[ObjectKey] = field(default_factory=set)
    # Objects whose digests are forgotten, so the sink writes them and a plan shows them: missing
    # ones (re-created), changed ones (taken back: `reclaim`), and those written before
    # identities were recorded (written once more, no force, to record them).
    rewrite: set[ObjectKey] = field(default_factory=set)


def decide(findings: Sequence[Finding], mode: ProbeMode, types: Mapping[str, str]) -> Decision:
    """Per unit, the first finding that makes it run (missing before modified before the rest)."""
    rank = {"missing": 0, "modified": 1, "unrecorded": 2, "unknown": 3}
    decision = Decision()
    for f in sorted(findings, key=lambda f: (f.unit, rank[f.verdict])):
        if f.verdict == "modified" and f.key is not None:
            decision.reclaim.add(f.key)
        if f.verdict in ("missing", "modified", "unrecorded") and f.key is not None:
            decision.rewrite.add(f.key)
        if f.unit in decision.stale or any(d.address == f.unit for d in decision.refusals):
            continue
        label = f"{types.get(f.unit, 'unit')} {f.unit}"
        if f.verdict == "unknown" and mode == "strict":
            decision.refusals.append(
                Diagnostic(
                    f"{label}: cannot tell whether its resources still exist ({f.detail})",
                    "--probe=strict (the default when CI is set) never counts an unanswered probe as unchanged. "
                    "Fix the access the probe needs, or run with --probe=lenient to re-apply such units "
                    "(--probe=off skips on hashes alone). Nothing was applied.",
                    address=f.unit,
                )
            )
        elif f.verdict == "unknown":
            decision.stale[f.unit] = f"{label}: the probe cannot answer ({f.detail}); re-applying (--probe=lenient)"
        elif f.verdict == "unrecorded":
            decision.stale[f.unit] = f"{label}: {f.detail}; re-applying to record them"
        else:
            decision.stale[f.unit] = f"{label}: {f.detail}; re-applying"
    return decision


def ignored_paths(entries: Iterable[str], component: str, kind: str) -> tuple[str, ...]:
    """The attribute paths policies.ignoreDrift leaves to others for one object or resource:
    entries are `[COMPONENT/]KIND.path`."""
    out = []
    for entry in entries:
        scope, _, rest = entry.rpartition("/")
        head, _, path = rest.partition(".")
        if head == kind and (not scope or scope == component):
            out.append(path)
    return tuple(out)


def forget(state: StateDoc, units: Iterable[str], objects: Iterable[ObjectKey] = ()) -> StateDoc:
    """The run's copy of state with these units' hashes forgotten (the engine runs them) and these
    objects' digests forgotten (the sink writes them). Saved as such if the run stops before
    them, which is right: what the probe found is still true."""
    out = state
    for name in units:
        unit = out.units.get(name)
        if unit is not None:
            out = out.with_unit(name, unit.model_copy(update={"hash": ""}))
    blank = set(objects)
    if blank:
        inventory = {
            target: tuple(
                i.model_copy(update={"hash": ""}) if (target, i.kind, i.namespace, i.name) in blank else i
                for i in items
            )
            for target, items in out.inventory.items()
        }
        out = out.model_copy(update={"inventory": inventory})
    return out
