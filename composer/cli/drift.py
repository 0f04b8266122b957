"""`appc drift -f app.yaml -e ENV`: what changed outside Composer since the last apply.

Registered on the app when composer.cli.app imports this module. It compares every applied
unit (composer/runners/drift_check.py: Terraform `plan -refresh-only`, a server-side-apply dry
run per workload object), prints each drifted attribute with its live and desired values
(secrets masked) and exits 0 with no drift, 2 with drift, 3 when a unit could not be compared.
`--format markdown` prints a comment for an issue or pull request on stdout alone. Entries of
`policies.ignoreDrift` are shown as ignored and do not count. `appc apply --refresh` repairs.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from composer.cli.common import (
    EXIT_APPLY_FAILED,
    EXIT_CHANGES,
    EXIT_OK,
    Exit,
    ProjectOptions,
    app,
    compile_for,
    format_option,
    markdown_on_stdout,
    project_command,
)
from composer.cli.run_commands import LockTimeoutOpt, TimeoutOpt, UntrustedOpt
from composer.cli.views import View

if TYPE_CHECKING:
    from composer.engine.drift import DriftReport


@project_command(app)
def drift(
    view: View,
    project: ProjectOptions,
    format: str = format_option(
        "DRIFT_FORMAT",
        "text | markdown: a comment for an issue or pull request on stdout (values masked as in text); progress goes to stderr.",
    ),
    timeout: float = TimeoutOpt,
    lock_timeout: float = LockTimeoutOpt,
    untrusted: bool = UntrustedOpt,
) -> None:
    """Compare the environment with its last apply: exit 0 in sync, 2 drifted; `appc apply --refresh` repairs."""
    from composer.cli.session import EngineSession, run_engine
    from composer.cli.wiring import RunOptions
    from composer.runners.drift_check import check_drift

    markdown = markdown_on_stdout(view, format, "drift")
    compiled = compile_for(replace(project, untrusted=untrusted))
    options = RunOptions(parallelism=1, timeout=timeout, lock_timeout=lock_timeout, no_wait=True)

    def needs_credentials(s: EngineSession) -> bool:
        return any(u.kind == "terraform" for u in s.state.units.values())

    report, _ = run_engine(
        view, "drift", compiled, options, lambda s: check_drift(s.engine, s.state, s.progress), needs_credentials
    )
    env_name = compiled.resolved.environment.name
    raise Exit(_show(view, report, markdown, compiled.resolved.name, env_name))


def _show(view: View, report: DriftReport, as_markdown: bool, app_name: str, env_name: str) -> int:
    """The report as JSON, markdown or lines (values escaped: cloud text is never markup); the exit code."""
    from rich.markup import escape

    from composer.engine.drift import markdown

    view.event("drift", **report.to_json())
    if as_markdown and not view.json:
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
