"""run_dag (composer/engine/scheduler.py) called directly: order, failure isolation, the parallelism
limit and stopping. Pure threads and sleeps of a few milliseconds: no Terraform."""

from __future__ import annotations

import threading
import time

from composer.engine.scheduler import BLOCKED, FAILED, OK, run_dag


class Recorder:
    """A `work` function that records starts, ends and the most units ever running at once."""

    def __init__(self, failing: frozenset[str] = frozenset(), seconds: float = 0.02, gather: int = 1) -> None:
        self.failing, self.seconds, self.gather = failing, seconds, gather
        self.started: list[str] = []
        self.finished: list[str] = []
        self.running = self.peak = 0
        self.lock = threading.Condition()

    def __call__(self, name: str) -> bool:
        with self.lock:
            self.started.append(name)
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.lock.notify_all()
            # wait (bounded) until `gather` units run at once, so a loaded machine cannot hide the limit
            self.lock.wait_for(lambda: self.running >= self.gather, timeout=5)
        time.sleep(self.seconds)
        with self.lock:
            self.running -= 1
            self.finished.append(name)
        return name not in self.failing


def test_a_unit_starts_only_after_all_its_dependencies_finished():
    deps = {"app": ["db", "cache"], "db": ["net"], "cache": ["net"]}
    work = Recorder()
    assert run_dag(["net", "db", "cache", "app"], deps, work) == {"net": OK, "db": OK, "cache": OK, "app": OK}
    for unit, needs in deps.items():
        assert all(work.finished.index(d) < work.started.index(unit) for d in needs), work.started


def test_a_failure_blocks_its_dependents_transitively_and_nothing_else():
    deps = {"db": [], "app": ["db"], "job": ["app"], "cache": [], "web": ["cache"]}
    work = Recorder(failing=frozenset({"db"}))
    result = run_dag(list(deps), deps, work, parallelism=2)
    assert result == {"db": FAILED, "app": BLOCKED, "job": BLOCKED, "cache": OK, "web": OK}
    assert sorted(work.started) == ["cache", "db", "web"]  # blocked units never ran


def test_independent_units_run_in_parallel_up_to_the_limit():
    names = [f"u{i}" for i in range(6)]
    for limit in (1, 2, 3):
        work = Recorder(gather=limit)
        assert set(run_dag(names, {}, work, parallelism=limit).values()) == {OK}
        assert work.peak == limit, (limit, work.peak)


def test_a_parallelism_below_one_still_runs_one_at_a_time():
    work = Recorder()
    assert run_dag(["a", "b"], {}, work, parallelism=0) == {"a": OK, "b": OK}
    assert work.peak == 1


def test_a_dependency_outside_the_run_blocks_its_dependent():
    work = Recorder()
    assert run_dag(["a", "b"], {"b": ["elsewhere"]}, work) == {"a": OK, "b": BLOCKED}
    assert work.started == ["a"]


def test_stopping_lets_running_units_finish_and_starts_no_new_one():
    work = Recorder(seconds=0.05)
    stop = threading.Event()

    def first_then_stop(name: str) -> bool:
        stop.set()
        return work(name)

    result = run_dag(["a", "b", "c"], {"b": ["a"], "c": ["b"]}, first_then_stop, should_stop=stop.is_set)
    assert result == {"a": OK, "b": BLOCKED, "c": BLOCKED}
    assert work.finished == ["a"]
