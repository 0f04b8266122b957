"""What a person is asked and told around the engine commands: the confirmation before apply
and destroy (naming what will be destroyed or replaced; no, Ctrl-D and Ctrl-C all cancel),
where an apply put things and what to run next, and where a sandbox's secrets can be read.

Every name and path here came from outside: it is printed as text, never as markup.
"""

from __future__ import annotations

import signal
import threading
from contextlib import ExitStack
from typing import Any

import typer

from composer.cli.common import Cancelled
from composer.cli.run_report import tell_where, where_of  # noqa: F401 (tell_where: commands call it from here)
from composer.cli.views import View
from composer.cli.wiring import open_store, state_dir
from composer.diagnostics import Diagnostic, DiagnosticError


def confirm(view: View, question: str, verb: str) -> None:
    """Ask; anything but yes (no, Ctrl-D, Ctrl-C) cancels with one exit code and one message."""
    import click  # (here, not at the top: an --auto-approve apply never asks; issue 13's start-up)

    # During the question Ctrl-C must end it, not only stop new units (_interruptible).
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler) if main else None
    try:
        yes = typer.confirm(question, default=False)
    except (typer.Abort, click.exceptions.Abort, EOFError, KeyboardInterrupt):
        view.err.print()  # the prompt line stays unfinished otherwise
        yes = False
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
    if not yes:
        view.err.print(f"{verb} cancelled: nothing was changed", markup=False)
        raise Cancelled(verb)


def confirm_plan(view: View, preview, compiled, state) -> None:
    """Show the plan, name what will be destroyed or replaced, then ask."""
    from composer.cli.planview import confirmation, plan_text  # (rich: not for an --auto-approve apply)

    view.lines(plan_text(preview, list(compiled.graph.order), set(state.units)))
    question, warnings = confirmation(preview)
    for w in warnings:
        view.err.print(w, style="bold red", markup=False, highlight=False)
    confirm(view, question, "apply")


def destinations(compiled, store, sinks, result) -> dict[str, Any]:
    """Where an apply put things, and what to run next (the last lines a person reads)."""
    targets = [s.target for s in sinks]
    return where_of(
        compiled.resolved.environment.name, compiled.project.app_file, targets, store.location, result.failed
    )


def sandbox_for_secrets(stack: ExitStack, compiled, state) -> None:
    """Secret values of a sandbox live in the emulator that applied them: read them there
    (the one `appc sandbox up` keeps), or say why they are gone. Never real AWS."""
    from composer.runners import sandbox

    cloud = compiled.resolved.environment.spec.cloud
    if cloud is None or not cloud.emulator:
        return

    sb = sandbox.current(state_dir(compiled))
    if sb is None or state is None or state.emulator != sb.instance:
        env = compiled.resolved.environment.name
        raise DiagnosticError(
            [
                Diagnostic(
                    "the secret values are gone with the emulator that applied them",
                    f"environment {env} is a sandbox: each command without `appc sandbox up` runs its own emulator, which ends with it. "
                    f"To read secrets afterwards: appc sandbox up, then appc apply -e {env} --auto-approve, then appc outputs -e {env} --show-secrets",
                )
            ]
        )
    stack.enter_context(sandbox.session(state_dir(compiled)))


def destroy_warning(view: View, compiled) -> None:
    """Before destroy's question: the units it takes down, by name."""
    applied = open_store(compiled, lambda m: None).read()
    names = sorted(applied.units) if applied else []
    text = (
        f"this DESTROYS {', '.join(names)} and everything in their Terraform state and inventory"
        if names
        else "nothing is applied in this environment"
    )
    view.err.print(text, style="bold red" if names else None, markup=False, highlight=False)
