"""Writing what `appc status` later shows of the checks against reality: the probe an apply ran
(per unit) and the last `appc drift` run (per environment), through the environment's state
store, under the lock the command holds (an atomic, signed write like every other).

`appc plan` records nothing: a plan leaves state byte for byte as it was (a plan may be saved
and applied later, and a plan run in CI on a pull request must not move the state its saved
plan pins). An apply whose probe asked nothing (a first apply, `--probe=off`, only GitOps
targets) writes nothing either, nor does a no-op apply whose verdicts are the recorded ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from composer.engine.check_records import drift_record, probe_records, same_verdicts, with_probes
from composer.state.checks import RecordedMode
from composer.state.model import StateDoc
from composer.state.protocol import StateStore

if TYPE_CHECKING:
    from composer.engine.drift import DriftReport
    from composer.runners.probing import ProbeReport


def record_probe(store: StateStore, read: StateDoc, report: ProbeReport, mode: RecordedMode) -> StateDoc:
    """The run's state (the probe's copy: hashes of units that must run forgotten, never stored
    here) carrying the probe's verdicts. Verdicts that differ from the recorded ones are written
    at once (into `read`, the state as read under the lock); equal ones only ride along with the
    engine's own writes, so a no-op apply stays free of state writes (a write of a state with
    1,000 objects costs 37-80 ms here) and `at` is the last time a run recorded the verdict."""
    if not report.asked:
        return report.state
    updated = with_probes(read, probe_records(report.asked, report.findings, mode))
    run = report.state.model_copy(update={"probes": updated.probes})
    if same_verdicts(read, updated):
        return run
    written = store.write(updated)
    return run.model_copy(update={"serial": written.serial})


def record_drift(store: StateStore, read: StateDoc, report: DriftReport) -> None:
    """Write the drift check's counts into `read`; an environment never applied records nothing."""
    if read.serial == 0 and not read.units:
        return
    store.write(read.model_copy(update={"drift_check": drift_record(report)}))
