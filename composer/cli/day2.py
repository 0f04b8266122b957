"""Day-2 commands: `appc import` (adopt an existing cloud resource into a unit's Terraform state)
and `appc rotate` (rotate a generated secret). The engine does the work (engine/adopt.py,
engine/rotate.py); this module parses, runs one engine apply over the units concerned, and
reports with the exit codes of the rest of the CLI (0 ok, 1 invalid input, 3 failed, 4 locked).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from composer.cli.common import EXIT_APPLY_FAILED, EXIT_INVALID, Exit, ProjectOptions, app, compile_for, project_command
from composer.cli.run_commands import LockTimeoutOpt, TimeoutOpt
from composer.cli.views import View
from composer.diagnostics import Diagnostic, DiagnosticError

if TYPE_CHECKING:
    from composer.cli.wiring import RunOptions


def _closure(graph: Any, start: set[str], upward: bool) -> set[str]:
    """`start` with every unit it depends on (upward) or that depends on it."""
    seen = set(start)
    changed = True
    while changed:
        changed = False
        for n in graph.order:
            linked = (
                any(n in graph.dependencies(m) for m in seen)
                if upward
                else any(d in seen for d in graph.dependencies(n))
            )
            if linked and n not in seen:
                seen.add(n)
                changed = True
    return seen


def _terraform_component(compiled: Any, name: str) -> Any:
    c = compiled.resolved.component(name)
    if c is None or not c.is_terraform:
        known = ", ".join(x.name for x in compiled.resolved.components if x.is_terraform) or "none"
        raise DiagnosticError(
            [Diagnostic(f"{name!r} is not a cloud resource of this app", f"expected one of: {known}", address=name)]
        )
    return c


def _run_units(view: View, compiled: Any, options: RunOptions, work: Any) -> int:
    """One engine run under the lock (session.run_engine); `work(session)` runs the apply."""
    from composer.cli.session import report, run_engine

    result, _ = run_engine(view, "apply", compiled, options, work, lambda s: True)
    return report(view, result, compiled.resolved.environment.name, "apply")


def _retire_previous(registry: Any, compiled: Any, c: Any, component: str) -> None:
    """The old value leaves the cloud secret store once everything reads the new one."""
    from composer.cli.wiring import open_store

    state = open_store(compiled, lambda m: None).read()
    unit = state.units.get(component) if state else None
    plugin = registry.get(c.implementation.implementation.provider)
    retire = getattr(plugin, "retire_previous_secret", None)
    if unit is not None and unit.secret_ref and retire is not None:
        retire(compiled.resolved.environment, unit.secret_ref)


@project_command(app, "import")
def import_resource(
    view: View,
    project: ProjectOptions,
    component: str = typer.Argument(..., help="The resource component whose unit adopts the resource."),
    resource_id: str | None = typer.Argument(
        None, help="The cloud's id of the resource (as its Terraform import documents)."
    ),
    address: str | None = typer.Argument(None, help="Resource address in the unit; omit to list them."),
    timeout: float = TimeoutOpt,
    lock_timeout: float = LockTimeoutOpt,
) -> None:
    """Adopt an existing cloud resource into a unit's Terraform state (an import block, this run only)."""
    from composer.cli.session import EngineSession
    from composer.cli.wiring import RunOptions
    from composer.engine import adopt

    compiled = compile_for(project)
    _terraform_component(compiled, component)
    expected = adopt.expected_addresses(component, compiled.modules.get(component))
    if address is None or resource_id is None:
        for a in expected:
            view.event("address", unit=component, address=a)
            view.info(a)
        view.info(f"give one of these as ADDRESS: appc import -e ENV {component} ID ADDRESS")
        view.summary(False, EXIT_INVALID, addresses=expected)
        raise Exit(EXIT_INVALID)
    target = adopt.check_target(component, address, resource_id)
    if address.split("[", 1)[0] not in [a.split("[", 1)[0] for a in expected]:
        raise DiagnosticError(
            [
                Diagnostic(
                    f"the module of {component} declares no resource {address}",
                    "expected one of: " + ", ".join(expected),
                    address=component,
                )
            ]
        )
    graph = compiled.graph
    hold = set(graph.order) - _closure(graph, {component}, upward=True)

    def work(s: EngineSession) -> Any:
        s.engine.imports = {component: (target,)}
        state = s.state
        prev = state.units.get(component)
        if prev is not None:  # in memory only: the unit runs even if its hash is unchanged
            state = state.with_unit(component, prev.model_copy(update={"hash": ""}))
        view.event("import", unit=component, address=target.address)
        return s.engine.apply(state, prune=False, hold=hold)

    options = RunOptions(parallelism=1, timeout=timeout, lock_timeout=lock_timeout)
    raise Exit(_run_units(view, compiled, options, work))


@project_command(app, "rotate")
def rotate_secret(
    view: View,
    project: ProjectOptions,
    component: str = typer.Argument(..., help="The resource component whose generated secret rotates."),
    key: str | None = typer.Argument(None, help="Which secret (default: password)."),
    timeout: float = TimeoutOpt,
    lock_timeout: float = LockTimeoutOpt,
) -> None:
    """Rotate a generated secret: new value, secret store entry, connection Secret, workloads rolled."""
    from composer.cli.common import registry
    from composer.cli.session import EngineSession
    from composer.cli.wiring import RunOptions
    from composer.engine import rotate
    from composer.engine.generated import generate_secret

    compiled = compile_for(project)
    c = _terraform_component(compiled, component)
    graph = compiled.graph
    affected = _closure(graph, {component}, upward=False)
    hold = set(graph.order) - _closure(graph, affected, upward=True)
    env_name = compiled.resolved.environment.name
    chosen: dict[str, Any] = {}

    def work(s: EngineSession) -> Any:
        scope = rotate.Scope(compiled.resolved.name, env_name, component, s.store.signing_key())
        step = rotate.begin(
            c, s.state.units.get(component), compiled.modules.get(component), key, scope, generate_secret
        )
        chosen["key"] = step.key
        state = s.store.write(s.state.with_unit(component, step.record))  # before Terraform sees the new value
        view.event("rotation", unit=component, key=step.key, version=step.version, status="started")
        return s.engine.apply(state, prune=False, hold=hold)

    code = _run_units(view, compiled, RunOptions(timeout=timeout, lock_timeout=lock_timeout), work)
    if code == 0:
        _retire_previous(registry(), compiled, c, component)
    if code == EXIT_APPLY_FAILED and chosen:
        resume = rotate.resume_command(str(project.files[0]), env_name, component, chosen["key"])
        view.err.print(
            f"[yellow]rotation of {component} {chosen['key']} did not finish; the new value is sealed in state "
            f"and the connection Secret still holds the old one. Resume with: {resume}[/yellow]"
        )
    raise Exit(code)
