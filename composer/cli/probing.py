"""`plan|apply --probe=strict|lenient|off`: the reality probe before units are skipped.

The flag (COMPOSER_PROBE) defaults to strict when `CI` is set and lenient otherwise
(composer/engine/probes.py says why). This module resolves it, runs the probe through
composer/runners/probing.py, and turns a strict refusal into exit 3 before anything runs.
Plan and apply share it: a unit whose resources vanished is planned (a change, with the
probe's reason) exactly as apply would run it. The probe only reads.
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
    from composer.engine.probes import ProbeMode
    from composer.engine.run import Engine
    from composer.state.model import StateDoc

EXIT_PROBE_REFUSED = 3  # as a failed apply: nothing was applied, state is as it was

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
    state (units that must run have no hash) is kept here; `pending` and the run both use it."""

    def __init__(self, view: View, flag: str | None, pending: Callable[[EngineSession], bool]) -> None:
        self.view, self.flag, self.pending = view, flag, pending
        self._state: StateDoc | None = None

    def __call__(self, session: EngineSession) -> bool:
        from composer.engine.probes import forget

        state = probe_before_apply(self.view, session.engine, session.state, self.flag, session.progress)
        if session.prepared:  # a saved plan applies as saved: every unit it planned runs, whatever its hash
            state = forget(state, [n for n, tfplan in session.prepared.items() if tfplan and n in state.units])
        self._state = state
        return self.pending(replace(session, state=self._state))

    def state(self, session: EngineSession) -> StateDoc:
        return self._state if self._state is not None else session.state


def probe_before_apply(
    view: View, engine: Engine, state: StateDoc, flag: str | None, progress: Callable[..., None]
) -> StateDoc:
    """The run's state after the probe (for plan or apply). A strict refusal prints why and
    exits 3; nothing has been applied."""
    from composer.cli.common import registry
    from composer.runners.probing import probe_reality

    mode = probe_mode(flag)
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
    if report.refusals:
        view.diagnostics(report.refusals)
        view.summary(False, EXIT_PROBE_REFUSED)
        raise typer.Exit(EXIT_PROBE_REFUSED)
    return report.state
