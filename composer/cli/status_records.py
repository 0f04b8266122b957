"""Writing what `appc status` later shows of the checks against reality: the probe an apply ran
(per unit) and the last `appc drift` run (per environment), through the environment's state
store, under the lock the command holds (an atomic, signed write like every other).

`appc plan` records nothing: a plan leaves state byte for byte as it was (a plan may be saved
and applied later, and a plan run in CI on a pull request must not move the state its saved
plan pins). An apply whose probe asked nothing (a first apply, `--probe=off`, only GitOps
targets) writes nothing either: its output and state are as before probes existed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from composer.engine.check_records import drift_record, probe_records, with_probes
from composer.state.checks import RecordedMode
from composer.state.model import StateDoc
from composer.state.protocol import StateStore

if TYPE_CHECKING:
    from composer.engine.drift import DriftReport
    from composer.runners.probing import ProbeReport


def record_probe(store: StateStore, read: StateDoc, report: ProbeReport, mode: RecordedMode) -> StateDoc:
    """Write the probe's verdicts into `read` (the state as read under the lock) and return the
    run's state: the probe's copy (hashes of units that must run forgotten, never stored here)
    at the serial just written, so the engine's own writes follow on."""
    if not report.asked:
        return report.state
    written = store.write(with_probes(read, probe_records(report.asked, report.findings, mode)))
    return report.state.model_copy(update={"serial": written.serial, "probes": written.probes})


def record_drift(store: StateStore, read: StateDoc, report: DriftReport) -> None:
    """Write the drift check's counts into `read`; an environment never applied records nothing."""
    if read.serial == 0 and not read.units:
        return
    store.write(read.model_copy(update={"drift_check": drift_record(report)}))
