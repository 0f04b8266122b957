"""What every command module shares: the typer apps it registers on, the common flags (each
with its COMPOSER_* variable), the exit codes, and `command()`, the frame that turns a command
body's diagnostics, refusals and bugs into one view's output and one exit code.

Command modules (composer/cli/<topic>.py) import from here, never from composer.cli.app,
which only gathers them (see its docstring).
"""

from __future__ import annotations

import functools
import inspect
import os
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from composer import __version__
from composer.cli.views import View
from composer.diagnostics import REDACTIONS, Diagnostic, DiagnosticError, Severity

if TYPE_CHECKING:  # imported where used: `appc --help` loads no catalog, engine or SDK (issue 13)
    from composer.plugins import PluginRegistry
    from composer.project import Compiled, Project

EXIT_OK, EXIT_INVALID, EXIT_CHANGES, EXIT_APPLY_FAILED, EXIT_LOCKED, EXIT_INTERNAL = 0, 1, 2, 3, 4, 70
EXIT_CANCELLED = 1  # a refusal to confirm (no, Ctrl-D, Ctrl-C at the prompt), as Terraform's "Apply cancelled"
EXIT_INTERRUPTED = 130

app = typer.Typer(
    name="appc",
    help="Composer: one application model -> Terraform for the cloud, Kubernetes for the workloads.",
    no_args_is_help=True,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)
def_app = typer.Typer(help="Inspect and check component and trait definitions.", no_args_is_help=True)
env_app = typer.Typer(help="List and show environments.", no_args_is_help=True)
sandbox_app = typer.Typer(
    help="The local sandbox: a long-lived embedded AWS emulator for `emulator: embedded` environments.",
    no_args_is_help=True,
)
app.add_typer(def_app, name="def")
app.add_typer(env_app, name="env")
app.add_typer(sandbox_app, name="sandbox")


def option(default: Any, *names: str, env: str, help: str, **extra: Any) -> Any:
    """A flag that also reads COMPOSER_<env> (every flag has one, for CI)."""
    return typer.Option(default, *names, envvar=f"COMPOSER_{env}", help=help, **extra)


def format_option(env: str, help: str) -> Any:
    """--format text | markdown (checked by `markdown_on_stdout`)."""
    return option("text", "--format", env=env, help=help)


def markdown_on_stdout(view: View, format: str, what: str) -> bool:
    """Whether --format asks for markdown. Markdown then has stdout to itself (progress and
    messages go to stderr: `appc plan --format markdown > plan.md`), unless --json has it."""
    if format not in ("text", "markdown"):
        raise DiagnosticError([Diagnostic(f"unknown {what} format {format!r}", "expected text or markdown")])
    if format == "markdown" and not view.json:
        view.out = view.err
    return format == "markdown"


FileOpt = option(
    [Path("app.yaml")],
    "-f",
    "--file",
    env="FILE",
    help="Application file; give -f again for each Score file of one application, or for the files of a KubeVela Application's Workflow and Policy objects.",
)
EnvOpt = option(None, "-e", "--env", env="ENV", help="Environment name (environments/<ENV>.yaml).")
JsonOpt = option(False, "--json", env="JSON", help="One JSON event per line on stdout.")
CatalogOpt = option([], "--catalog", env="CATALOG", help="Extra directory of platform definitions (repeatable).")
LockedOpt = option(
    False,
    "--locked",
    env="LOCKED",
    help="Every module must be recorded in composer.lock (local ones too); never change the lock.",
)
AllowOutsideOpt = option(
    False,
    "--allow-outside-project",
    env="ALLOW_OUTSIDE_PROJECT",
    help="Let state.path and kubernetes.directory name a directory outside the project.",
)


class Exit(Exception):
    """End the command with this exit code; whatever it had to say is already said."""

    def __init__(self, code: int):
        self.code = code


class Cancelled(Exception):
    """A person declined (no, Ctrl-D, Ctrl-C at the prompt); nothing was changed (cli/guide.py asks)."""


@dataclass(frozen=True)
class ProjectOptions:
    """The flags that say which project, environment and catalogs a command compiles."""

    files: tuple[Path, ...]
    env: str | None = None
    catalogs: tuple[Path, ...] = ()
    locked: bool = False
    untrusted: bool = False
    allow_outside: bool = False

    @classmethod
    def of(
        cls,
        file: list[Path],
        env: str | None,
        catalog: list[Path],
        locked: bool = False,
        untrusted: bool = False,
        allow_outside: bool = False,
    ) -> ProjectOptions:
        return cls(tuple(file), env, tuple(catalog), locked, untrusted, allow_outside)


def registry() -> PluginRegistry:
    from composer.plugins import PluginRegistry

    return PluginRegistry.discover()


_VIEWS: list[View] = []  # the running command's view, for load warnings


def current_view() -> View | None:
    return _VIEWS[-1] if _VIEWS else None


def debug() -> bool:
    return os.environ.get("APPC_DEBUG") == "1"


def bug_report(exc: BaseException) -> tuple[str, str]:
    """(where, one-line report) of an exception that is a bug: file:line, type and message."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"
    return where, f"internal error: {type(exc).__name__} at {where}: {exc}"


BUG_ADVICE = (
    f"This is a bug in appc {__version__}. Please report it with the command you ran; "
    "set APPC_DEBUG=1 for the full traceback."
)


def _internal_error(view: View, exc: Exception) -> None:
    where, report = bug_report(exc)
    if view.json:
        view.event("internal_error", error=type(exc).__name__, where=where, message=REDACTIONS.apply(str(exc))[:500])
        view.summary(False, EXIT_INTERNAL)
    else:
        view.err.print(f"[red]{REDACTIONS.apply(report)[:800]}[/red]\n{BUG_ADVICE}")
    if debug():
        traceback.print_exc()


@contextmanager
def command(name: str, json_mode: bool) -> Iterator[View]:
    """Run a command body: diagnostics -> exit 1, bugs -> exit 70 with a short report."""
    REDACTIONS.clear()  # values this command reads from ${env:...} are registered afresh
    view = View(json_mode, name)
    _VIEWS.append(view)
    try:
        yield view
    except DiagnosticError as exc:
        view.diagnostics(exc.diagnostics)
        view.summary(False, EXIT_INVALID)
        raise typer.Exit(EXIT_INVALID) from None
    except Exit as exc:
        raise typer.Exit(exc.code) from None
    except Cancelled:
        raise typer.Exit(EXIT_CANCELLED) from None
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        view.err.print("interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as exc:  # a bug: say so briefly and usefully
        _internal_error(view, exc)
        raise typer.Exit(EXIT_INTERNAL) from None
    finally:
        _VIEWS.remove(view)


def open_files(files: list[Path] | tuple[Path, ...]) -> Project:
    """Open the project and show the warnings its files raised (a Score or OAM field read differently)."""
    from composer.project import open_project

    project = open_project(list(files))
    view = current_view()
    if project.app.warnings and view is not None:
        view.diagnostics(project.app.warnings)
    return project


_ONE_COMMAND: ContextVar[bool] = ContextVar("appc_one_command", default=False)


@contextmanager
def one_command_process() -> Iterator[None]:
    """While `main` runs a command: the process exits after it, so what the command made may be
    frozen for the collector (`_model_kept`). Any other caller of compile_for (a test, a library
    use, a long-running process) freezes nothing."""
    token = _ONE_COMMAND.set(True)
    try:
        yield
    finally:
        _ONE_COMMAND.reset(token)


@contextmanager
def _model_kept() -> Iterator[None]:
    """The cyclic collector waits while the model is made, then, in an appc process, leaves it
    alone (`gc.freeze`).

    The parse and the compile allocate ~150k objects for 1,000 Kubernetes objects and make
    almost no cycles; everything they keep lives to the command's end. Re-enabled after each
    stage, the collector traversed them all at once (a ~30 ms collection at the compile's end)
    and again in every older-generation collection of the apply. Frozen, they are never
    traversed; a cycle among them is freed at exit, as `main` does with what is left."""
    import gc

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if _ONE_COMMAND.get():
            gc.freeze()
        if was_enabled:
            gc.enable()


def compile_for(options: ProjectOptions) -> Compiled:
    """Open, resolve and render the project for one environment, showing the warnings on the way."""
    from composer.cli.bundle import compile_input
    from composer.project import compile_project

    with _model_kept():
        compiled = compile_input(list(options.files), options.env)  # -f BUNDLE: verified, then compiled from it
        if compiled is None:
            compiled = compile_project(
                open_files(options.files),
                options.env,
                registry(),
                options.catalogs,
                locked=options.locked,
                untrusted=options.untrusted,
            )
    view = current_view()
    if compiled.warnings and view is not None:
        view.diagnostics(compiled.warnings)
    return replace(compiled, allow_outside_project=True) if options.allow_outside else compiled


def project_catalog_dirs(file: list[Path], catalog: list[Path]) -> list[Path]:
    """The project's own definitions/ directory (when there is one) first, then --catalog ones."""
    dirs = list(catalog)
    if (file[0].parent / "definitions").is_dir():
        dirs.insert(0, file[0].parent / "definitions")
    return dirs


def render_notes(view: View, compiled: Compiled, tier: bool = False) -> None:
    """What the render says besides files: the environment's tier (plan), warnings such as a
    container without limits."""
    if tier:
        e = compiled.resolved.environment
        durable = (
            "deletion protection, multi-AZ, backups; stateful units protected"
            if e.spec.tier == "production"
            else "fast, cheap defaults"
        )
        view.fact(
            "tier",
            f"environment [bold]{e.name}[/bold]: tier [bold]{e.spec.tier}[/bold] ({durable})",
            environment=e.name,
            tier=e.spec.tier,
        )
    warnings = [d for d in compiled.rendered.warnings if d.severity is Severity.WARNING]
    if warnings:
        view.diagnostics(warnings)


def _keyword(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def project_command(
    group: typer.Typer, name: str | None = None, *, outside: bool = True, json: bool = True
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a command that works on one project and environment. Its function takes
    `(view, project, **own_flags)`; this adds the shared flags around its own, in the order
    every such command shows them: its arguments, -f/--file, -e/--env, its own options, then
    --allow-outside-project (unless outside=False), --catalog, --locked and --json (unless
    json=False). The body runs inside `command()`, so a diagnostic is exit 1, a bug exit 70."""

    def register(func: Callable[..., None]) -> Callable[..., None]:
        own = list(inspect.signature(func, eval_str=True).parameters.values())[2:]  # after (view, project)
        arguments = [p for p in own if isinstance(p.default, typer.models.ArgumentInfo)]
        options = [p for p in own if p not in arguments]
        shared_tail = [
            *([_keyword("allow_outside", bool, AllowOutsideOpt)] if outside else []),
            _keyword("catalog", list[Path], CatalogOpt),
            _keyword("locked", bool, LockedOpt),
            *([_keyword("json_mode", bool, JsonOpt)] if json else []),
        ]
        params = [
            *(p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in arguments),
            _keyword("file", list[Path], FileOpt),
            _keyword("env", str | None, EnvOpt),
            *(p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in options),
            *shared_tail,
        ]
        command_name = name or func.__name__

        @functools.wraps(func)
        def run(**flags: Any) -> None:
            json_mode = flags.pop("json_mode", False)
            project = ProjectOptions.of(
                flags.pop("file"),
                flags.pop("env"),
                flags.pop("catalog"),
                flags.pop("locked"),
                allow_outside=flags.pop("allow_outside", False),
            )
            with command(command_name, json_mode) as view:
                func(view, project, **flags)

        run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in params}
        group.command(name)(run)
        return func

    return register
