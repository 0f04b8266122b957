"""`appc drift -f app.yaml -e ENV`: what changed outside Composer since the last apply.

Registered on the app when composer.cli.app imports this module. It compares every applied
unit (composer/runners/drift_check.py: Terraform `plan -refresh-only`, a server-side-apply dry
run per workload object), prints each drifted attribute with its live and desired values
(secrets masked) and exits 0 with no drift, 2 with drift, 3 when a unit could not be compared.
`--format markdown` prints a comment for an issue or pull request on stdout alone. Entries of
`policies.ignoreDrift` are shown as ignored and do not count. `appc apply --refresh` repairs.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import typer

from composer.cli.app import (
    EXIT_APPLY_FAILED,
    EXIT_CHANGES,
    EXIT_OK,
    AllowOutsideOpt,
    CatalogOpt,
    EnvOpt,
    Exit,
    FileOpt,
    JsonOpt,
    LockedOpt,
    LockTimeoutOpt,
    TimeoutOpt,
    UntrustedOpt,
    _engine_setup,
    _interruptible,
    _locked,
    _units,
    app,
    command,
)
from composer.cli.views import RunView, View
from composer.diagnostics import Diagnostic, DiagnosticError
from composer.engine.drift import DriftReport


@app.command()
def drift(
    file: list[Path] = FileOpt,
    env: str | None = EnvOpt,
    format: str = typer.Option(
        "text",
        "--format",
        envvar="COMPOSER_DRIFT_FORMAT",
        help="text | markdown: a comment for an issue or pull request on stdout (values masked as in text); progress goes to stderr.",
    ),
    timeout: float = TimeoutOpt,
    lock_timeout: float = LockTimeoutOpt,
    untrusted: bool = UntrustedOpt,
    allow_outside: bool = AllowOutsideOpt,
    catalog: list[Path] = CatalogOpt,
    locked: bool = LockedOpt,
    json_mode: bool = JsonOpt,
) -> None:
    """Compare the environment with its last apply: exit 0 in sync, 2 drifted; `appc apply --refresh` repairs."""
    from composer.cli.wiring import preflight, running_engine
    from composer.runners.drift_check import check_drift

    with command("drift", json_mode) as view:
        if format not in ("text", "markdown"):
            raise DiagnosticError([Diagnostic(f"unknown drift format {format!r}", "expected text or markdown")])
        if format == "markdown" and not json_mode:
            view.out = view.err  # stdout carries the markdown alone
        compiled, reg, options = _engine_setup(
            file, env, catalog, json_mode, "drift", 1, False, timeout, lock_timeout, locked, untrusted, allow_outside
        )
        options.no_wait = True
        app_name, env_name = compiled.resolved.name, compiled.resolved.environment.name
        with (
            _locked(compiled, view, "drift", lock_timeout) as (store, state),
            _interruptible(view) as stop,
            RunView(view, _units(compiled), f"drift {app_name}/{env_name}") as progress,
            ExitStack() as stack,
        ):
            engine = stack.enter_context(running_engine(compiled, reg, options, progress, stop.is_set))
            engine.store = store
            if any(u.kind == "terraform" for u in state.units.values()):
                preflight(reg, compiled)
            report = check_drift(engine, state, progress)
        code = _show(view, report, format, app_name, env_name)
        raise Exit(code)


def _show(view: View, report: DriftReport, format: str, app_name: str, env_name: str) -> int:
    """The report as JSON, markdown or lines (values escaped: cloud text is never markup); the exit code."""
    from rich.markup import escape

    from composer.engine.drift import markdown

    view.event("drift", **report.to_json())
    if format == "markdown" and not view.json:
        view.text(markdown(report, app_name, env_name))
    elif not view.json:
        for i in report.items:
            what = f"{i.resource} {i.attribute}".rstrip()
            note = " (ignored: policies.ignoreDrift)" if i.ignored else ""
            view.info(escape(f"  {i.unit}: {what}: live {i.live}, desired {i.desired}{note}"))
    for unit, why in sorted(report.errors.items()):
        view.info(f"[yellow]{escape(unit)}: not compared ({escape(why)})[/yellow]")
    view.info(
        f"{len(report.drifted)} drifted attribute(s) in {env_name}; `appc apply --refresh -e {env_name}` repairs them"
        if report.drifted
        else f"[green]no drift[/green] in {len(report.checked)} unit(s)"
    )
    code = EXIT_APPLY_FAILED if report.errors else EXIT_CHANGES if report.drifted else EXIT_OK
    view.summary(code != EXIT_APPLY_FAILED, code, drifted=len(report.drifted), units_checked=len(report.checked))
    return code
