"""The reality probe before an apply: which units whose hash is unchanged may really be skipped.

One cloud probe per provider plugin (composer/runners/cloud_probe.py) and one LIST per kind and
namespace per cluster target (composer/runners/kube_probe.py), over the units about to be
skipped only; composer/engine/probes.py compares and decides. The result is the run's state
with the hashes of units that must run forgotten, and, on each cluster sink, the objects to
take back from another field manager.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from composer.diagnostics import Diagnostic
from composer.engine.probes import Decision, Finding, ObjectKey, ProbeMode, decide, forget, ignored_paths, kube_findings
from composer.engine.run import Engine
from composer.plugins import PluginRegistry
from composer.runners.cloud_probe import probe_clouds
from composer.runners.kube_probe import list_live
from composer.runners.kubernetes import ClusterSink
from composer.state.model import StateDoc


@dataclass
class ProbeReport:
    state: StateDoc  # the run's state: units that must run have no hash
    decision: Decision
    probed: list[str] = field(default_factory=list)
    cloud_calls: dict[str, int] = field(default_factory=dict)
    kube_lists: int = 0
    asked: set[str] = field(default_factory=set)  # units a cloud or a cluster was asked about
    findings: list[Finding] = field(default_factory=list)  # what they said (for the state's records)

    @property
    def refusals(self) -> list[Diagnostic]:
        return self.decision.refusals


def probe_reality(
    engine: Engine, state: StateDoc, registry: PluginRegistry, mode: ProbeMode, emit: Callable[..., None]
) -> ProbeReport:
    """Probe the units a plan or apply would skip (all applied units with --refresh, whose sinks
    then rewrite what another manager changed). `off`: nothing is asked. Reads only: nothing is
    written to state, the clouds or the clusters here."""
    if mode == "off":
        return ProbeReport(state, Decision())
    pending = set(engine.pending(state))
    names = [
        n
        for n in engine.graph.order
        if (u := state.units.get(n)) is not None and u.status == "applied" and (engine.refresh or n not in pending)
    ]
    resolved = engine.resolved
    tf_units = {n: state.units[n] for n in names if state.units[n].kind == "terraform"}
    report = ProbeReport(state, Decision(), probed=names)
    findings = []
    if tf_units:
        cloud = probe_clouds(registry, resolved.environment, resolved.name, tf_units)
        findings += cloud.findings
        report.cloud_calls = cloud.api_calls
        report.asked.update(tf_units)
    kube_units = {n for n in names if state.units[n].kind == "kubernetes"}
    for sink in engine.sinks:
        if not isinstance(sink, ClusterSink) or not kube_units:
            continue  # a GitOps directory: Composer's own files, nothing another manager changes
        recorded = {
            (sink.target, i.kind, i.namespace, i.name): i
            for i in state.inventory.get(sink.target, ())
            if i.component in kube_units
        }
        live = list_live(sink, recorded.values())
        report.asked.update(i.component for i in recorded.values())
        report.kube_lists += len({(i.api_version, i.kind, i.namespace) for i in recorded.values()})
        findings += kube_findings(recorded, live)
    types = {c.name: c.type for c in resolved.components}
    report.findings = findings
    report.decision = decide(findings, mode, types)
    if engine.refresh:  # every unit runs anyway: the probe only says what to take back
        report.decision.stale.clear()
        report.decision.refusals.clear()
    hand_to_sinks(engine, state, report.decision.reclaim)
    engine.probe_reasons = dict(report.decision.stale)  # plan and apply outcomes say why the unit runs
    for unit, reason in sorted(report.decision.stale.items()):
        emit("probe", unit=unit, kind=state.units[unit].kind, reason=reason)
    report.state = forget(state, report.decision.stale, report.decision.rewrite)
    return report


def hand_to_sinks(engine: Engine, state: StateDoc, reclaim: set[ObjectKey]) -> None:
    """Each cluster sink learns which objects to take back, minus the paths ignoreDrift leaves."""
    entries = engine.resolved.environment.spec.policies.ignore_drift
    components = {(t, i.kind, i.namespace, i.name): i.component for t, items in state.inventory.items() for i in items}
    for sink in engine.sinks:
        mine: dict[tuple[str, str | None, str], tuple[str, ...]] = {}
        for key in reclaim:
            if key[0] == sink.target:
                mine[key[1:]] = ignored_paths(entries, components.get(key, ""), key[1])
        if mine and isinstance(sink, ClusterSink):
            sink.reclaim = mine
