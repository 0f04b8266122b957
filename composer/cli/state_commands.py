"""Commands over an environment's state, which change nothing but a stale lock: `appc outputs`,
`status` (with the cloud's and the clusters' word) and `force-unlock`.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import typer

from composer.cli.common import (
    EXIT_OK,
    ProjectOptions,
    app,
    compile_for,
    option,
    project_command,
    registry,
)
from composer.cli.views import Record, View
from composer.diagnostics import Diagnostic, DiagnosticError

if TYPE_CHECKING:
    from composer.plugins import PluginRegistry
    from composer.project import Compiled


@project_command(app)
def outputs(
    view: View,
    project: ProjectOptions,
    component: str | None = typer.Argument(None, help="Only this component."),
    show_secrets: bool = option(
        False, "--show-secrets", env="SHOW_SECRETS", help="Fetch and print secret outputs too."
    ),
) -> None:
    """Print the bound outputs of resource units (secret ones masked unless --show-secrets)."""
    from composer.cli import guide
    from composer.cli.wiring import open_store

    compiled = compile_for(project)
    state = open_store(compiled, lambda m: None).read()
    applied = {n: u for n, u in (state.units.items() if state else []) if u.kind == "terraform"}
    units = {n: u for n, u in applied.items() if component is None or n == component}
    if component is not None and component not in units:
        known = ", ".join(sorted(applied)) or "none"
        raise DiagnosticError([Diagnostic(f"no applied resource unit {component!r}", f"applied: {known}")])
    with ExitStack() as stack:
        if show_secrets and any(u.secret_ref for u in units.values()):
            guide.sandbox_for_secrets(stack, compiled, state)
        reg = registry()
        records = [_output_record(reg, compiled, name, u, show_secrets) for name, u in sorted(units.items())]
    _output_table(view, records)
    view.summary(True, EXIT_OK)


def _output_record(
    reg: PluginRegistry, compiled: Compiled, name: str, unit: Any, show_secrets: bool
) -> tuple[str, dict[str, Any]]:
    """One unit's outputs, secret ones masked unless read from the secret store."""
    from composer.cli.wiring import unit_secret_values

    values: dict[str, Any] = dict(unit.outputs)
    secrets = unit_secret_values(reg, compiled, name, unit) if show_secrets else {}
    for k in unit.secret_digests:
        values[k] = secrets.get(k, "(secret)") if show_secrets else "(secret)"
    return name, values


def _output_table(view: View, records: list[tuple[str, dict[str, Any]]]) -> None:
    """An event per unit (its outputs as one object), a table row per output."""
    for name, values in records:
        view.event("outputs", unit=name, outputs=values)
    view.table(
        None, ["unit", "output", "value"], [[name, k, str(v)] for name, values in records for k, v in values.items()]
    )


@project_command(app)
def status(
    view: View,
    project: ProjectOptions,
    cloud: bool = option(
        False, "--cloud", env="STATUS_CLOUD", help="Also ask the cloud about each resource unit (needs credentials)."
    ),
) -> None:
    """Show each unit's last apply: status, time, and whether the model changed since."""
    from composer.cli.wiring import cloud_status, open_store, workload_health

    compiled = compile_for(project)
    store = open_store(compiled, lambda m: None)
    state = store.read()
    lock = store.current()
    live = cloud_status(registry(), compiled, state) if cloud else None
    title = f"{compiled.resolved.name}/{compiled.resolved.environment.name}" + (
        f"  serial {state.serial}" if state else ""
    )
    columns = ["unit", "kind", "status", *(["cloud"] if cloud else []), "updated (UTC)", "note"]
    view.records("status", title, columns, _status_records(compiled, state, live))
    _health_table(view, workload_health(compiled, state))
    if lock:
        view.info(f"[yellow]locked by {lock.describe()}[/yellow]")
    view.summary(True, EXIT_OK, serial=state.serial if state else 0, locked=bool(lock))


def _status_records(compiled: Compiled, state: Any, live: dict[str, Any] | None) -> list[Record]:
    """A record per unit of the model or the state; `live` (with --cloud) adds the cloud's word."""
    from composer.cli.session import unit_kinds
    from composer.engine.statusinfo import changed_since_apply, unit_notes

    records = []
    changed = (
        changed_since_apply(compiled.resolved, compiled.graph, compiled.rendered, compiled.modules, state)
        if state
        else set()
    )
    for name, kind in unit_kinds(compiled, state):
        u = state.units.get(name) if state else None
        in_model = name in compiled.graph.order
        st = u.status if u else "not applied"
        notes = unit_notes(u, name in changed)  # model changed since, rotation, probe and drift (engine/statusinfo.py)
        note = (
            u.error
            if u and u.error
            else (notes.text() if in_model else "removed from the model (pruned on next apply)")
        )
        seen = live.get(name) if live is not None else None
        extra = {"cloud": {"state": seen.state, "detail": seen.detail}} if seen else {}
        extra.update(notes.to_json())
        updated = u.updated_at if u else None
        fields = dict(unit=name, kind=kind, status=st, updated=updated, in_model=in_model, note=note, **extra)
        cloud_cell = [f"{seen.state} {seen.detail}".strip() if seen else ""] if live is not None else []
        row = [name, kind, st, *cloud_cell, (updated[:19].replace("T", " ") if updated else ""), note]
        records.append(Record(fields, row))
    return records


def _health_table(view: View, health: list[dict[str, Any]]) -> None:
    """Workloads per cluster target: rollout and readiness (the `objects` stay out of --json)."""
    if not health:
        return
    view.records(
        "health",
        "workloads per cluster",
        ["target", "unit", "rollout", "ready", "warning"],
        [
            Record(
                {k: v for k, v in h.items() if k != "objects"},
                [
                    h["target"],
                    h["unit"],
                    h["rollout"],
                    f"{h.get('ready', 0)}/{h.get('desired', 0)}",
                    h.get("error") or h.get("warning") or "",
                ],
            )
            for h in health
        ],
    )


@project_command(app, "force-unlock")
def force_unlock(
    view: View,
    project: ProjectOptions,
    lock_id: str | None = typer.Argument(
        None, help="The lock id (printed with the lock error); guards against removing a newer lock."
    ),
    force: bool = option(False, "--force", env="FORCE_UNLOCK", help="Required: remove the lock without asking."),
) -> None:
    """Remove a lock left by a process that is gone, like `terraform force-unlock`."""
    from composer.cli.wiring import open_store

    if not force:
        detail = "make sure no appc process still works on this environment first"
        raise DiagnosticError([Diagnostic("force-unlock needs --force", detail)])
    removed = open_store(compile_for(project), lambda m: None).force_unlock(lock_id)
    view.info(f"removed the lock held by {removed.describe()}" if removed else "the state was not locked")
    view.summary(True, EXIT_OK, removed=removed.to_json() if removed else None)
