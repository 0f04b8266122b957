"""The appc command line: the typer app, the registration of every command module, and `run()`.

Every flag also reads a COMPOSER_* environment variable, for CI. Exit codes follow
DESIGN.md: 0 ok, 1 invalid input, 2 changes present, 3 apply failed, 4 lock held,
70 internal error (a short report, never a bare traceback).

Adding commands: write a module composer/cli/<topic>.py that imports what it needs from
composer.cli.common (`app`, `def_app`, `env_app`, `sandbox_app`, the shared options such as
`FileOpt`, `command()`, `compile_for()`, the exit codes) and decorates its functions:

    from composer.cli.common import EXIT_OK, FileOpt, JsonOpt, app, command

    @app.command()
    def drift(file: list[Path] = FileOpt, json_mode: bool = JsonOpt) -> None:
        # the docstring is the help text
        with command("drift", json_mode) as view:
            view.fact("drift", "no drift", units=0)
            view.summary(True, EXIT_OK)

then register it with one line in COMMAND_MODULES below. Import what the command runs (the
project, the engine, runners, SDKs) inside its function, not at the module's top: every command
module is imported for every command, `appc --help` included (tests/test_cli_imports.py).
Commands appear in `appc --help` and docs/cli.md in registration order; regenerate docs/cli.md
with scripts/gen_cli_docs.py.
Every new flag needs a COMPOSER_* envvar (tests/test_cli_envvars.py).
"""

from __future__ import annotations

import importlib
import sys
import traceback

import typer

from composer import __version__
from composer.cli.common import (  # noqa: F401 (re-exported for command modules and scripts)
    BUG_ADVICE,
    EXIT_APPLY_FAILED,
    EXIT_CANCELLED,
    EXIT_CHANGES,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_LOCKED,
    EXIT_OK,
    AllowOutsideOpt,
    CatalogOpt,
    EnvOpt,
    Exit,
    FileOpt,
    JsonOpt,
    LockedOpt,
    app,
    bug_report,
    command,
    debug,
    def_app,
    env_app,
    registry,
    sandbox_app,
)

COMMAND_MODULES = (  # one line per module; the order is the order of `appc --help`
    "composer.cli.inspect",  # validate, render, graph, schema
    "composer.cli.run_commands",  # init, plan, apply, destroy
    "composer.cli.drift",  # drift
    "composer.cli.state_commands",  # outputs, status, force-unlock
    "composer.cli.defs",  # def list, def show, def validate
    "composer.cli.envs",  # env list, env show
    "composer.cli.sandbox",  # sandbox up, down, status
    "composer.cli.modules",  # lock, def scaffold, def test
    "composer.cli.controller",  # controller manifests, controller run
    "composer.cli.day2",  # import, rotate
    "composer.cli.bundle",  # keygen, bundle, verify, check, inventory
    "composer.cli.runner",  # runner terraform-unit (a Job's entrypoint)
)


@app.callback(invoke_without_command=True)
def _root(version: bool = typer.Option(False, "--version", help="Print the version and exit.")) -> None:
    if version:
        typer.echo(f"appc {__version__}")
        raise typer.Exit(0)


for _module in COMMAND_MODULES:
    importlib.import_module(_module)


def run() -> None:
    from typer._click.exceptions import ClickException

    try:
        rv = app(prog_name="appc", standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(EXIT_INTERRUPTED)
    except ClickException as exc:
        # click uses exit 2 for usage errors; DESIGN.md reserves 2 for "changes present".
        exc.show()
        sys.exit(EXIT_INVALID)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # a bug outside any command body: still a short report, never a bare traceback
        _, report = bug_report(exc)
        sys.stderr.write(f"{report[:500]}\n{BUG_ADVICE}\n")
        if debug():
            traceback.print_exc()
        sys.exit(EXIT_INTERNAL)
    sys.exit(rv if isinstance(rv, int) else 0)
