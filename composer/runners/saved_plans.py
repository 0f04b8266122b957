"""Saved plan files on disk (`appc plan --out FILE`, `appc apply FILE`): the I/O half of
composer/engine/planfile.py, which makes and checks the signed document itself, and the step
that prepares an apply of one: every unit the plan says will change runs, whatever its hash.

The file holds Terraform plans that may carry secret values: it is written 0600 with a random
temporary name and a rename, never through a link, and read only when it is a regular file
(no link, no FIFO to wait on), through composer/safefs.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from composer.engine.plan_repairs import PlannedRepairs, SavedPlan
from composer.engine.planfile import decode_plan, encode_plan, not_a_plan, plan_not_found
from composer.safefs import read_path, write_private

if TYPE_CHECKING:
    from composer.engine.outcome import RunResult
    from composer.engine.run import Engine
    from composer.state.model import StateDoc


def write_plan(
    path: Path,
    compiled,
    state: StateDoc,
    result: RunResult,
    saved: dict[str, bytes],
    key: bytes,
    repairs: PlannedRepairs | None = None,
) -> None:
    write_private(path, encode_plan(compiled, state, result, saved, key, repairs))


def read_plan(path: Path, compiled, state: StateDoc, key: bytes) -> SavedPlan:
    """The Terraform plans and repairs to apply, after the signature and every staleness check passed."""
    try:
        data = read_path(path)
    except FileNotFoundError:
        raise plan_not_found(path) from None
    except OSError:
        raise not_a_plan(path) from None
    return decode_plan(path, data, compiled, state, key)


def prepare_saved_apply(engine: Engine, state: StateDoc, saved: SavedPlan) -> StateDoc:
    """The run's state for `appc apply FILE`: the units the plan planned have their hashes
    forgotten (so they run: Terraform units with their saved plan, Kubernetes units the probe
    found changed), the objects it would write again have their digests forgotten, the objects
    another manager changed are handed to the sinks to take back, and each repaired unit's
    outcome says the reason the plan showed. Nothing is probed again: the plan applies as saved
    (the state serial it was made against is checked, so state is as the plan saw it)."""
    from composer.engine.probes import forget
    from composer.runners.probing import hand_to_sinks  # the Kubernetes client only for an apply that needs it

    repairs = saved.repairs
    state = forget(state, sorted(n for n in saved.runs() if n in state.units), repairs.rewrite)
    hand_to_sinks(engine, state, set(repairs.reclaim))
    engine.probe_reasons = dict(repairs.reasons)
    return state
