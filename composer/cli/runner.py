"""`appc runner terraform-unit`: the entrypoint of a Terraform unit Job's pod, started by the
controller's job runner (composer/runners/controller_job.py), never by hand. Registered on the
app by composer.cli.app's COMMAND_MODULES. docs/controller.md, "The job runner".
"""

from __future__ import annotations

from pathlib import Path

import typer

from composer.cli.common import app

runner_app = typer.Typer(help="Entry points of the controller's Jobs (not for interactive use).", no_args_is_help=True)
app.add_typer(runner_app, name="runner", hidden=True)


@runner_app.command("terraform-unit")
def terraform_unit(
    unit: str = typer.Option(..., "--unit", envvar="COMPOSER_RUNNER_UNIT", help="The unit to run."),
    verb: str = typer.Option("apply", "--verb", envvar="COMPOSER_RUNNER_VERB", help="apply or destroy."),
    inputs: Path = typer.Option(..., "--inputs", envvar="COMPOSER_RUNNER_INPUTS", help="The mounted root and modules."),
    secrets: Path = typer.Option(..., "--secrets", envvar="COMPOSER_RUNNER_SECRETS", help="The mounted input Secret."),
    work: Path = typer.Option(..., "--work", envvar="COMPOSER_RUNNER_WORK", help="A writable directory."),
    result: Path = typer.Option(..., "--result", envvar="COMPOSER_RUNNER_RESULT", help="Where the result goes."),
    timeout: float = typer.Option(1800.0, "--timeout", envvar="COMPOSER_TIMEOUT", help="Seconds Terraform may take."),
) -> None:
    """Apply or destroy one Terraform unit inside a Job's pod; the result goes to --result."""
    from composer.cli.common import command
    from composer.runners.controller_job_unit import UnitRun
    from composer.runners.controller_job_unit import terraform_unit as run_unit

    if verb not in ("apply", "destroy"):
        raise typer.BadParameter("apply or destroy", param_hint="--verb")
    with command("runner", False):
        code = run_unit(UnitRun(unit, verb, inputs, secrets, work, result, timeout))
    raise typer.Exit(code)
