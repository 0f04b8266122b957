"""A DAG scheduler: independent units run in parallel, failures isolate their dependents.

`run_dag(order, deps, work, parallelism)` calls `work(name)` for each unit once all its
dependencies succeeded. A unit whose dependency failed (or was blocked) is not run and
is reported `blocked`; the others go on. `should_stop()` stops new units from starting
(Ctrl-C): running ones finish, the rest are reported `blocked`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Final, Literal

UnitResult = Literal["ok", "failed", "blocked"]
OK: Final = "ok"
FAILED: Final = "failed"
BLOCKED: Final = "blocked"


def run_dag(
    order: Sequence[str],
    deps: Mapping[str, Sequence[str]],
    work: Callable[[str], bool],
    parallelism: int = 4,
    should_stop: Callable[[], bool] = lambda: False,
) -> dict[str, UnitResult]:
    """Returns name -> ok | failed | blocked. `work` returns True on success."""
    result: dict[str, UnitResult] = {}
    pending = list(order)
    running: dict[Future[bool], str] = {}
    with ThreadPoolExecutor(max_workers=max(1, parallelism), thread_name_prefix="unit") as pool:
        while pending or running:
            progressed = True
            while progressed:
                progressed = False
                for name in list(pending):
                    ds = deps.get(name, ())
                    if any(result.get(d) in (FAILED, BLOCKED) for d in ds) or (should_stop() and name not in result):
                        result[name] = BLOCKED
                        pending.remove(name)
                        progressed = True
                    elif all(result.get(d) == OK for d in ds) and len(running) < max(1, parallelism):
                        pending.remove(name)
                        running[pool.submit(_guarded, work, name)] = name
                        progressed = True
            if not running:
                # Nothing runnable and nothing running: remaining units wait on missing deps.
                for name in pending:
                    result[name] = BLOCKED
                break
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in done:
                name = running.pop(fut)
                result[name] = OK if fut.result() else FAILED
    return result


def _guarded(work: Callable[[str], bool], name: str) -> bool:
    return bool(work(name))
