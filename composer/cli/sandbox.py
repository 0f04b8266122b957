"""`appc sandbox up`, `down` and `status`: the long-lived embedded AWS emulator of a project
(composer/runners/sandbox.py runs it)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from composer.cli.common import EXIT_OK, FileOpt, JsonOpt, command, sandbox_app
from composer.cli.views import View

if TYPE_CHECKING:
    from composer.runners import sandbox


def _project_state_dir(file: list[Path]) -> Path:
    from composer.safefs import vetted_directory

    return vetted_directory(file[0].absolute().parent, Path(".composer"), "state directory .composer")


def _sandbox_fact(view: View, text: str, sb: sandbox.Sandbox, **extra: Any) -> None:
    view.fact("sandbox", text, url=sb.url, pid=sb.pid, instance=sb.instance, **extra)


@sandbox_app.command("up")
def sandbox_up(file: list[Path] = FileOpt, json_mode: bool = JsonOpt) -> None:
    """Start the emulator in the background; later commands use it, so resources persist."""
    from composer.runners import sandbox

    with command("sandbox up", json_mode) as view:
        sb, started = sandbox.up(_project_state_dir(file))
        text = f"[green]✓[/green] sandbox {'started' if started else 'already up'} at {sb.url} (pid {sb.pid}); stop it with: appc sandbox down"
        _sandbox_fact(view, text, sb, started_now=started)
        view.summary(True, EXIT_OK, url=sb.url)


@sandbox_app.command("down")
def sandbox_down(file: list[Path] = FileOpt, json_mode: bool = JsonOpt) -> None:
    """Stop the background emulator. Its resources are gone; the next apply starts afresh."""
    from composer.runners import sandbox

    with command("sandbox down", json_mode) as view:
        result = sandbox.down(_project_state_dir(file))
        if result.note:
            view.info(f"[yellow]{result.note}[/yellow]")
        view.info(
            f"stopped the sandbox at {result.sandbox.url}" if result.stopped and result.sandbox else "no sandbox was up"
        )
        view.summary(True, EXIT_OK, stopped=result.stopped)


@sandbox_app.command("status")
def sandbox_status(file: list[Path] = FileOpt, json_mode: bool = JsonOpt) -> None:
    """Show whether the background emulator is up."""
    from composer.runners import sandbox

    with command("sandbox status", json_mode) as view:
        sb = sandbox.current(_project_state_dir(file))
        if sb:
            _sandbox_fact(view, f"sandbox up at {sb.url} (pid {sb.pid}, since {sb.started})", sb, started=sb.started)
        else:
            view.info(
                "no sandbox is up: commands on emulator environments start one for their own duration (appc sandbox up keeps one)"
            )
        view.summary(True, EXIT_OK, up=bool(sb))
