"""Removing units: which are protected, which the model no longer has, and one removal step.

Prune and destroy both remove units in reverse dependency order (a unit goes once everything
that depends on it is gone). A protected unit (`policies.protect`, or any Terraform unit in
the production tier) is never removed: the whole request is refused before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.engine import terraform_unit
from composer.engine.outcome import Outcome
from composer.engine.publishing import unpublish
from composer.render.bindings import secret_name
from composer.resolve import Resolved
from composer.state.model import StateDoc, UnitState

if TYPE_CHECKING:  # the engine imports this module
    from composer.engine.run import Engine


def protected_units(resolved: Resolved, state: StateDoc | None) -> set[str]:
    spec = resolved.environment.spec
    protected = set(spec.policies.protect)
    if spec.tier == "production":  # the production tier protects every stateful (Terraform) unit, removed ones too
        protected |= {c.name for c in resolved.components if c.is_terraform}
        protected |= {n for n, u in (state.units if state else {}).items() if u.kind == "terraform"}
    return protected


def refusal(names: Iterable[str], protected: set[str], env_name: str, verb: str) -> DiagnosticError | None:
    hit = sorted(set(names) & protected)
    if not hit:
        return None
    several = len(hit) > 1
    return DiagnosticError(
        [
            Diagnostic(
                f"refusing to {verb} protected unit{'s' if several else ''} {', '.join(hit)}",
                f"{', '.join(hit)} {'are' if several else 'is'} protected by policies.protect of environment "
                f"{env_name}, its production tier (stateful units), or the app's spec.protect (a KubeVela "
                "garbage-collect rule with strategy never); lift that protection to allow this",
                address=hit[0],
            )
        ]
    )


def removed_units(units: Mapping[str, UnitState], model: Iterable[str]) -> list[str]:
    """Units in state the model no longer has, dependents first."""
    present = set(model)
    gone = [n for n in units if n not in present]
    deps = {n: [d for d in units[n].dependencies if d in gone] for n in gone}
    order: list[str] = []
    seen: set[str] = set()

    def visit(n: str) -> None:
        if n in seen:
            return
        seen.add(n)
        for d in deps[n]:
            visit(d)
        order.append(n)

    for n in sorted(gone):
        visit(n)
    return list(reversed(order))


def remove_unit(engine: Engine, name: str, verb: str) -> Outcome:
    """Destroy one unit (Terraform resources, or its objects on every sink), its connection
    Secret and published document, then drop it from state and inventory."""
    unit = engine.state.units[name]
    connection = secret_name(engine.app, name)
    changes = None
    if unit.kind == "terraform":
        changes = terraform_unit.destroy_unit(engine, name, unit)
        writes = sum(s.delete_connection(name, connection) for s in engine.sinks)
        unpublish(engine.publisher, engine.resolved, engine.sinks, name, bool(unit.secret_ref))
    else:
        writes = sum(
            s.delete(tuple(i for i in engine.state.inventory.get(s.target, ()) if i.component == name))
            for s in engine.sinks
        )
        if unit.outputs or unit.secret_digests:  # an in-cluster resource: its Secret goes too
            writes += sum(s.delete_connection(name, connection) for s in engine.sinks)

    def update(s: StateDoc) -> StateDoc:
        inv = {t: tuple(i for i in items if i.component != name) for t, items in s.inventory.items()}
        return s.with_unit(name, None).model_copy(update={"inventory": inv})

    engine.save(update)
    return Outcome(name, unit.kind, verb, changes, k8s_writes=writes)
