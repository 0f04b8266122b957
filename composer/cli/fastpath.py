"""The no-op `appc apply` without compiling: when the compiled-model cache (composer/cli/
compiled_cache.py) still holds for every input, the unit hashes come from it and the state,
and the reality probe runs as always, on the clusters and the clouds (issue 13: convergence is
not given up, only compilation is skipped). Anything else (a unit changed, failed, added or
removed, a probe finding, a workspace an apply would rewrite, a held lock, a mode this path
does not serve) returns None before a byte is written, and the command compiles and runs
normally, which then decides and says why. The Terraform units' part is composer/cli/
fastpath_cloud.py. The one write it makes is the normal path's: the probe's verdicts, when they
differ from the recorded ones (the first probe after an apply).

What it prints is what the normal path prints for a no-op: the probe's event, one `unchanged`
event per unit, where things are, and the summary.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from composer.cli.compiled_cache import (
    CachedModel,
    cache_name,
    code_digest_ahead,
    decode,
    state_directory,
    still_valid,
)

if TYPE_CHECKING:
    from pathlib import Path

    from composer.cli.common import ProjectOptions
    from composer.cli.views import View
    from composer.engine.probes import ProbeMode
    from composer.runners.kube.targets import ClusterTarget
    from composer.state.checks import RecordedMode
    from composer.state.local import LocalStore
    from composer.state.model import StateDoc


@dataclass(frozen=True)
class NoopRequest:
    """The apply flags the fast path reads; `served` says whether it serves them at all."""

    probe: str | None
    kube_workers: int
    kube_qps: float
    kube_burst: int
    timeout: float
    lock_timeout: float
    served: bool


def try_noop(view: View, project: ProjectOptions, request: NoopRequest) -> int | None:
    """The exit code of a no-op served from the cache, or None: compile and run normally."""
    from composer.runners.terraform_env import environment_warnings

    if not request.served or project.env is None or len(project.files) != 1 or environment_warnings():
        return None  # (the normal path shows those warnings under the lock)
    code_digest_ahead()  # started now, asked for last: it runs while the cache is read and checked
    from composer import safefs
    from composer.state.local import LocalStore
    from composer.state.protocol import LockHeld, new_lock_info

    try:
        directory = state_directory(project)
        store = LocalStore(directory, "-", project.env)
        key = store.existing_key()
        data = safefs.read_file(directory, cache_name(project.env)) if key is not None else None
    except Exception:  # an unreadable key or cache: the normal path says what is wrong
        return None
    doc = decode(data, key) if key is not None else None
    model = still_valid(doc, project) if doc is not None else None
    if model is None:
        return None
    store = LocalStore(directory, model.app, model.environment)
    info = new_lock_info("apply")
    try:
        store.lock(info, timeout=request.lock_timeout)
    except LockHeld:
        return None
    try:
        return _under_lock(view, model, store, request, directory)
    finally:
        store.unlock(info)


def _hashes_hold(model: CachedModel, state: StateDoc) -> bool:
    from composer.engine.skip import hash_of_digests, upstream_of

    if set(state.units) != {u.name for u in model.units}:
        return False  # a unit to add or to prune
    for u in model.units:
        recorded = state.units[u.name]
        digests = [(p, bytes.fromhex(d)) for p, d in u.files]
        if recorded.status != "applied" or recorded.kind != u.kind:
            return False
        if recorded.hash != hash_of_digests(digests, u.module, upstream_of(u.dependencies, state)):
            return False
    return True


@dataclass(frozen=True)
class _Probed:
    mode: ProbeMode
    kube_lists: int
    cloud_calls: dict[str, int]


def _under_lock(view: View, model: CachedModel, store: LocalStore, request: NoopRequest, directory: Path) -> int | None:
    from composer.cli.fastpath_cloud import terraform_ready
    from composer.cli.probing import probe_mode

    started = time.monotonic()
    state = store.read()
    if state is None or not _hashes_hold(model, state):
        return None
    if model.terraform and not terraform_ready(model, directory):
        return None
    mode = probe_mode(request.probe)
    targets = _targets(model, state)
    if targets is None:
        return None
    probed = _probe(model, store, state, request, mode, targets) if mode != "off" else None
    if mode != "off" and probed is None:
        return None
    where = [f"kube:{t.name}/{t.namespace}" for t in targets]
    return _report(view, model, store, state, probed, where, started)


@dataclass(frozen=True)
class _Target:
    context: str | None
    namespace: str | None


def _targets(model: CachedModel, state: StateDoc) -> list[ClusterTarget] | None:
    """The environment's cluster targets against today's kubeconfig; None when the normal path
    must decide (an unknown context, no kubeconfig, objects recorded on another target)."""
    from composer.runners.kube.targets import targets_of

    names = {u.name for u in model.units}
    try:
        targets = targets_of(model.environment, [_Target(c, n) for c, n in model.targets])
    except Exception:
        return None
    holding = {t for t, items in state.inventory.items() if any(i.component in names for i in items)}
    kube = any(u.kind == "kubernetes" for u in model.units)  # (Terraform units record no objects)
    return targets if holding == ({f"kube:{t.name}/{t.namespace}" for t in targets} if kube else set()) else None


def _probe(
    model: CachedModel,
    store: LocalStore,
    state: StateDoc,
    request: NoopRequest,
    mode: ProbeMode,
    targets: list[ClusterTarget],
) -> _Probed | None:
    """The normal path's probe: one cloud request per provider plugin for the Terraform units,
    one LIST per kind and namespace for the Kubernetes units. What it asked, when every recorded
    resource and object is there as written (the verdicts recorded when they changed); else None."""
    from composer.cli.fastpath_cloud import probe_clouds
    from composer.engine.check_records import probe_records, same_verdicts, with_probes

    calls: dict[str, int] = {}
    asked = {u.name for u in model.units if u.kind == "terraform"}
    if asked:
        cloud = probe_clouds(model, state)
        if cloud is None or cloud.findings:
            return None  # missing or unanswered: the normal path repairs or refuses
        calls = cloud.api_calls
    kube = _probe_clusters(model, state, request, targets)
    if kube is None:
        return None
    lists, listed = kube
    asked |= listed
    recorded_mode: RecordedMode = "strict" if mode == "strict" else "lenient"  # (never "off" here)
    updated = with_probes(state, probe_records(asked, [], recorded_mode)) if asked else state
    if not same_verdicts(state, updated):  # the first probe after an apply: recorded as the normal path does
        store.write(updated)  # (composer/cli/status_records.py record_probe: only when the verdicts differ)
    return _Probed(mode, lists, calls)


def _probe_clusters(
    model: CachedModel, state: StateDoc, request: NoopRequest, targets: list[ClusterTarget]
) -> tuple[int, set[str]] | None:
    """LISTs made and units asked, when every recorded object is there as written; else None."""
    from composer.engine.probes import Finding, kube_findings
    from composer.runners.kube.base import ClusterBase
    from composer.runners.kube.client import KubeClient, RateLimit
    from composer.runners.kube_probe import list_live

    names = {u.name for u in model.units if u.kind == "kubernetes"}
    findings: list[Finding] = []
    lists, asked = 0, set[str]()
    rate = RateLimit(request.kube_qps, request.kube_burst)
    for t in targets if names else ():  # (the normal path asks no cluster without Kubernetes units)
        client = KubeClient.for_context(t.kubeconfig, t.context, request.kube_workers, rate)
        sink = ClusterBase(client, model.app, model.environment, t.name, t.namespace, timeout=request.timeout)
        recorded = {
            (sink.target, i.kind, i.namespace, i.name): i
            for i in state.inventory.get(sink.target, ())
            if i.component in names
        }
        findings += kube_findings(recorded, list_live(sink, recorded.values()))
        asked.update(i.component for i in recorded.values())
        lists += len({(i.api_version, i.kind, i.namespace) for i in recorded.values()})
    if findings:
        return None  # missing, modified, unrecorded or unanswered: the normal path repairs or refuses
    return lists, asked


def _report(
    view: View,
    model: CachedModel,
    store: LocalStore,
    state: StateDoc,
    probed: _Probed | None,
    targets: list[str],
    started: float,
) -> int:
    from composer.cli.run_report import report, tell_where, where_of
    from composer.cli.views import RunView
    from composer.engine.outcome import Outcome, RunResult

    view.event("compile", cached=True)
    outcomes = {}
    with RunView(view, [(u.name, u.kind) for u in model.units], f"apply {model.app}/{model.environment}") as run:
        if probed is not None and model.units:
            run(
                "probes",
                mode=probed.mode,
                units=len(model.units),
                rerun=[],
                cloud_api_calls=probed.cloud_calls,
                kube_lists=probed.kube_lists,
            )
        for u in model.units:
            outcomes[u.name] = Outcome(u.name, u.kind, "unchanged")
            run("unit", **outcomes[u.name].to_json())
    result = RunResult("apply", outcomes, state, 0, time.monotonic() - started)
    where = where_of(model.environment, model.app_file, targets, store.location, failed=False)
    view.event("where", **where)
    code = report(view, result, model.environment, "apply")
    tell_where(view, where)
    return code
