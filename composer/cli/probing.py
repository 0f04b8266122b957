"""`plan|apply --probe=strict|lenient|off`: the reality probe before units are skipped.

The flag (COMPOSER_PROBE) defaults to strict when `CI` is set and lenient otherwise
(composer/engine/probes.py says why). This module resolves it, runs the probe through
composer/runners/probing.py, and turns a strict refusal into exit 3 before anything runs.
Plan and apply share it: a unit whose resources vanished is planned (a change, with the
probe's reason) exactly as apply would run it. The probe only reads; an apply then records its
verdicts in state for `appc status` (composer/cli/status_records.py), a plan never does.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import typer

from composer.diagnostics import Diagnostic, DiagnosticError

if TYPE_CHECKING:  # the engine is imported where used: `appc --help` loads none (issue 13)
    from composer.cli.session import EngineSession
    from composer.cli.views import View
    from composer.engine.plan_repairs import PlannedRepairs
    from composer.engine.probes import ProbeMode
    from composer.engine.run import Engine, RunResult
    from composer.runners.probing import ProbeReport
    from composer.state.model import StateDoc

EXIT_PROBE_REFUSED = 3  # as a failed apply: nothing was applied; state records only the probe's verdicts

ProbeOpt = typer.Option(
    None,
    "--probe",
    envvar="COMPOSER_PROBE",
    help="Before skipping an unchanged unit, check that its resources still exist: strict (fail when a probe cannot answer; the default when CI is set), lenient (run such units; the default otherwise) or off (hashes alone).",
)


def probe_mode(flag: str | None) -> ProbeMode:
    from composer.engine.probes import PROBE_MODES, default_mode

    if flag is None or flag == "":
        return default_mode(bool(os.environ.get("CI")))
    for mode in PROBE_MODES:
        if flag == mode:
            return mode
    raise DiagnosticError([Diagnostic(f"unknown probe mode {flag!r}", "expected strict, lenient or off")])


class Probed:
    """The apply's credentials check with the probe first. The session is frozen, so the probed
    state (units that must run have no hash) is kept here; `pending` and the run both use it.
    `record`: an apply writes the probe's verdicts to state for `appc status` (a plan never does:
    composer/cli/status_records.py says why). A saved plan is applied as saved
    (composer/runners/saved_plans.py: the units it planned run, Kubernetes units included)."""

    def __init__(
        self, view: View, flag: str | None, pending: Callable[[EngineSession], bool], record: bool = False
    ) -> None:
        self.view, self.flag, self.pending, self.record = view, flag, pending, record
        self._state: StateDoc | None = None
        self.report: ProbeReport | None = None

    def __call__(self, session: EngineSession) -> bool:
        from composer.cli.status_records import record_probe

        mode = probe_mode(self.flag)
        report = run_probe(session.engine, session.state, mode, session.progress)
        state = report.state
        if self.record and mode != "off":
            state = record_probe(session.store, session.state, report, mode)
        if report.refusals:
            self.view.diagnostics(report.refusals)
            self.view.summary(False, EXIT_PROBE_REFUSED)
            raise typer.Exit(EXIT_PROBE_REFUSED)
        if session.prepared:
            from composer.runners.saved_plans import prepare_saved_apply

            state = prepare_saved_apply(session.engine, state, session.prepared)
        self._state, self.report = state, report
        return self.pending(replace(session, state=self._state))

    def state(self, session: EngineSession) -> StateDoc:
        return self._state if self._state is not None else session.state

    def repairs(self, result: RunResult) -> PlannedRepairs:
        """What a saved plan carries of the probe's decision: the units it plans to change (not
        prune), with the probe's reason where it had one (none under --refresh), and the objects."""
        from composer.engine.plan_repairs import planned_repairs
        from composer.engine.probes import Decision

        decision = self.report.decision if self.report is not None else Decision()
        planned = {  # Terraform units ride on their saved Terraform plan, unless the probe planned them
            n
            for n, o in result.outcomes.items()
            if o.status == "planned"
            and o.action != "prune"
            and (o.changes or o.resources)
            and (o.kind == "kubernetes" or n in decision.stale)
        }
        return planned_repairs(decision.stale, planned, decision.rewrite, decision.reclaim)


def run_probe(engine: Engine, state: StateDoc, mode: ProbeMode, progress: Callable[..., None]) -> ProbeReport:
    """The probe's report for a plan or apply, its progress event emitted; refusals are the caller's."""
    from composer.cli.common import registry
    from composer.runners.probing import probe_reality

    report = probe_reality(engine, state, registry(), mode, progress)
    if report.probed:  # nothing to probe (a first apply): no event, the output is as before
        progress(
            "probes",
            mode=mode,
            units=len(report.probed),
            rerun=sorted(report.decision.stale),
            cloud_api_calls=report.cloud_calls,
            kube_lists=report.kube_lists,
        )
    return report
