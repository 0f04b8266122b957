"""One Kubernetes unit: its objects to every sink, the inventory in state, and its plan.

An in-cluster resource binds first (its connection Secret must exist before the pods that
read it start). A sink that fails part-way reports which objects may now exist
(`PartialApply`); they are recorded, so a later prune can find them, and the unit fails.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from composer.diagnostics import DiagnosticError
from composer.engine import binding, preview
from composer.engine.changes import counts
from composer.engine.outcome import Outcome
from composer.engine.ports import PartialApply
from composer.state.model import InventoryItem, StateDoc

if TYPE_CHECKING:  # the engine imports this module
    from composer.engine.run import Engine

Applied = dict[str, tuple[InventoryItem, ...]]  # sink target -> the unit's objects there


def _with_inventory(state: StateDoc, name: str, applied: Applied) -> StateDoc:
    inventory = dict(state.inventory)
    for target, items in applied.items():
        inventory[target] = tuple(i for i in inventory.get(target, ()) if i.component != name) + items
    return state.model_copy(update={"inventory": inventory})


def _deliver(engine: Engine, name: str, objects: list[dict]) -> tuple[Applied, int]:
    """Every cluster target gets the workload (cloud units ran once). `objects` are the unit's
    own copy (binding.stamped_objects); a second target gets a copy of its own, made first."""
    applied: Applied = {}
    failure: PartialApply | None = None
    writes = 0
    batches = [objects] + [binding.tree_copy(objects) for _ in engine.sinks[1:]]
    for sink, batch in zip(engine.sinks, batches, strict=True):
        previous = tuple(i for i in engine.state.inventory.get(sink.target, ()) if i.component == name)
        try:
            items, n = sink.apply(name, batch, previous)
        except PartialApply as exc:
            applied[sink.target] = exc.items
            failure = failure or exc
            continue
        applied[sink.target] = tuple(items)
        writes += n
    if failure is not None:
        engine.save(lambda s: _with_inventory(s, name, applied))
        raise DiagnosticError(failure.diagnostics)
    return applied, writes


def apply_unit(engine: Engine, name: str) -> Outcome:
    c = engine.resolved.component(name)
    assert c is not None  # only units of the model are applied
    public: dict[str, Any] = {}
    digests: dict[str, str] = {}
    writes = 0
    if c.is_resource:  # served in-cluster: bind before the pods that read the Secret start
        public, digests, writes = binding.bind_in_cluster(engine, name)
    applied, delivered = _deliver(engine, name, binding.stamped_objects(engine, name))
    writes += delivered
    unit = engine.applied_unit(name, public, digests)
    engine.save(lambda s: _with_inventory(s.with_unit(name, unit), name, applied))
    return Outcome(name, "kubernetes", "applied", k8s_writes=writes, k8s_changed=writes)


def plan_unit(engine: Engine, name: str) -> Outcome:
    """What the sinks would refuse (a claim shrunk: the plan fails), and what changes: new
    objects (a replaced Job: its new name) are creates, removed ones destroys."""
    started = time.monotonic()
    objects = binding.stamped_objects(engine, name)
    for sink in engine.sinks:
        refusals = sink.check(
            name, objects, tuple(i for i in engine.state.inventory.get(sink.target, ()) if i.component == name)
        )
        if refusals:
            raise DiagnosticError(refusals)
    resources, warnings = preview.kubernetes_resources(engine, name, objects)
    return Outcome(
        name,
        "kubernetes",
        "planned",
        counts(resources) if resources else None,
        warnings,
        time.monotonic() - started,
        k8s_changed=len(resources),
        resources=resources,
    )
