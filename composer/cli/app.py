"""The appc command line: parse flags, call the pipeline or engine, hand results to a view.

Every flag also reads a COMPOSER_* environment variable, for CI. Exit codes follow
DESIGN.md: 0 ok, 1 invalid input, 2 changes present, 3 apply failed, 4 lock held,
70 internal error (a short report, never a bare traceback).
"""

from __future__ import annotations

import json
import sys
import traceback
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator, Optional

import typer
import yaml

from composer import __version__
from composer.cli import guide
from composer.cli.views import RunView, View
from composer.diagnostics import REDACTIONS, Diagnostic, DiagnosticError, Severity
from composer.plugins import PluginRegistry

EXIT_OK, EXIT_INVALID, EXIT_CHANGES, EXIT_APPLY_FAILED, EXIT_LOCKED, EXIT_INTERNAL = 0, 1, 2, 3, 4, 70
EXIT_CANCELLED = 1  # a refusal to confirm (no, Ctrl-D, Ctrl-C at the prompt), as Terraform's "Apply cancelled"

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
app.add_typer(def_app, name="def")
app.add_typer(env_app, name="env")

FileOpt = typer.Option(
    [Path("app.yaml")],
    "-f",
    "--file",
    envvar="COMPOSER_FILE",
    help="Application file; give -f again for each Score file of one application.",
)
EnvOpt = typer.Option(None, "-e", "--env", envvar="COMPOSER_ENV", help="Environment name (environments/<ENV>.yaml).")
JsonOpt = typer.Option(False, "--json", envvar="COMPOSER_JSON", help="One JSON event per line on stdout.")
CatalogOpt = typer.Option(
    [], "--catalog", envvar="COMPOSER_CATALOG", help="Extra directory of platform definitions (repeatable)."
)
LockedOpt = typer.Option(
    False,
    "--locked",
    envvar="COMPOSER_LOCKED",
    help="Every module must be recorded in composer.lock (local ones too); never change the lock.",
)
AllowOutsideOpt = typer.Option(
    False,
    "--allow-outside-project",
    envvar="COMPOSER_ALLOW_OUTSIDE_PROJECT",
    help="Let state.path and kubernetes.directory name a directory outside the project.",
)


class Exit(Exception):
    def __init__(self, code: int):
        self.code = code


def registry() -> PluginRegistry:
    return PluginRegistry.discover()


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
        raise typer.Exit(EXIT_INVALID)
    except Exit as exc:
        raise typer.Exit(exc.code)
    except guide.Cancelled:
        raise typer.Exit(EXIT_CANCELLED)
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        view.err.print("interrupted")
        raise typer.Exit(130)
    except Exception as exc:  # a bug: say so briefly and usefully
        tb = traceback.extract_tb(exc.__traceback__)
        where = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"
        report = REDACTIONS.apply(f"internal error: {type(exc).__name__} at {where}: {exc}")
        if json_mode:
            view.event(
                "internal_error", error=type(exc).__name__, where=where, message=REDACTIONS.apply(str(exc))[:500]
            )
            view.summary(False, EXIT_INTERNAL)
        else:
            view.err.print(
                f"[red]{report[:800]}[/red]\nThis is a bug in appc {__version__}. Please report it with the command you ran; set APPC_DEBUG=1 for the full traceback."
            )
        if _debug():
            traceback.print_exc()
        raise typer.Exit(EXIT_INTERNAL)
    finally:
        _VIEWS.remove(view)


_VIEWS: list[View] = []  # the running command's view, for load warnings


def _open(file: list[Path]):
    """Open the project and show the warnings its files raised (a Score or OAM field read differently)."""
    from composer.project import open_project

    project = open_project(file)
    if project.app.warnings and _VIEWS:
        _VIEWS[-1].diagnostics(project.app.warnings)
    return project


def _debug() -> bool:
    import os

    return os.environ.get("APPC_DEBUG") == "1"


def _compile(
    file: list[Path],
    env: Optional[str],
    catalog: list[Path],
    locked: bool = False,
    untrusted: bool = False,
    allow_outside: bool = False,
):
    import dataclasses

    from composer.project import compile_project

    project = _open(file)
    compiled = compile_project(project, env, registry(), catalog, locked=locked, untrusted=untrusted)
    if compiled.warnings and _VIEWS:
        _VIEWS[-1].diagnostics(compiled.warnings)
    return dataclasses.replace(compiled, allow_outside_project=allow_outside) if allow_outside else compiled


@app.command()
def validate(
    file: list[Path] = FileOpt,
    env: Optional[str] = EnvOpt,
    catalog: list[Path] = CatalogOpt,
    locked: bool = LockedOpt,
    json_mode: bool = JsonOpt,
) -> None:
    """Check the application (and definitions, environments) up to rendering. Writes nothing."""
    from composer.project import compile_project

    with command("validate", json_mode) as view:
        project = _open(file)
        names = [env] if env else (project.environment_names() or [None])
        reg = registry()
        cat = project.catalog(reg, catalog)
        errors: list[Diagnostic] = []
        checked = []
        for name in names:
            try:
                compiled = compile_project(project, name, reg, catalog, catalog=cat, locked=locked)
                view.diagnostics(compiled.warnings)
                checked.append((compiled.resolved.environment.name, len(compiled.rendered.units)))
                _render_notes(view, compiled)
            except DiagnosticError as exc:
                errors.extend(d for d in exc.diagnostics if d not in errors)
        if errors:
            raise DiagnosticError(errors)
        for name, units in checked:
            view.event("validated", environment=name, units=units)
            view.info(
                f"[green]✓[/green] {', '.join(map(str, file))} is valid for environment [bold]{name}[/bold] ({units} units)"
            )
        view.summary(True, EXIT_OK, environments=[n for n, _ in checked])


@app.command()
def render(
    file: list[Path] = FileOpt,
    env: Optional[str] = EnvOpt,
    out: Path = typer.Option(..., "-o", "--out", envvar="COMPOSER_OUT", help="Directory to write the render tree to."),
    catalog: list[Path] = CatalogOpt,
    locked: bool = LockedOpt,
    json_mode: bool = JsonOpt,
) -> None:
    """Render Terraform roots and Kubernetes manifests into a directory (deterministic)."""
    from composer.runners.files import write_tree

    with command("render", json_mode) as view:
        compiled = _compile(file, env, catalog, locked)
        write_tree(compiled.rendered.files, out)
        for u in compiled.rendered.units:
            view.event("rendered", unit=u.name, kind=u.kind, files=list(u.files))
        view.table(
            None, ["unit", "kind", "file"], [[u.name, u.kind, ", ".join(u.files)] for u in compiled.rendered.units]
        )
        view.info(
            f"[green]✓[/green] rendered {len(compiled.rendered.units)} units for {compiled.resolved.name}/{compiled.resolved.environment.name} into {out}"
        )
        view.summary(True, EXIT_OK, files=len(compiled.rendered.files), out=str(out))


@app.command()
def graph(
    file: list[Path] = FileOpt,
    env: Optional[str] = EnvOpt,
    format: str = typer.Option("mermaid", "--format", envvar="COMPOSER_FORMAT", help="mermaid | dot | svg"),
    catalog: list[Path] = CatalogOpt,
    locked: bool = LockedOpt,
) -> None:
    """Draw the components, their connections and traits."""
    from composer.render import diagram

    with command("graph", False) as view:
        if format not in ("mermaid", "dot", "svg"):
            raise DiagnosticError([Diagnostic(f"unknown format {format!r}", "expected mermaid, dot or svg")])
        compiled = _compile(file, env, catalog, locked)
        if format == "mermaid":
            view.text(diagram.mermaid(compiled.resolved, compiled.graph))
        else:
            text = diagram.dot(compiled.resolved, compiled.graph)
            if format == "svg":
                from composer.runners.graphviz import to_svg

                text = to_svg(text)
            view.text(text)


@app.command()
def schema(
    out: Path = typer.Option(..., "-o", "--out", envvar="COMPOSER_OUT", help="Directory for the JSON Schema files."),
    file: list[Path] = FileOpt,
    catalog: list[Path] = CatalogOpt,
    locked: bool = LockedOpt,
) -> None:
    """Write JSON Schemas for app, environment and definition files (editor completion)."""
    from composer.catalog import Catalog
    from composer.model.schema import schemas

    with command("schema", False) as view:
        dirs = list(catalog)
        if (file[0].parent / "definitions").is_dir():
            dirs.insert(0, file[0].parent / "definitions")
        cat = Catalog.build(registry(), dirs)
        docs = schemas(
            [(n, t.schema) for n, t in sorted(cat.components.items())],
            [(n, t.schema) for n, t in sorted(cat.traits.items())],
        )
        from composer.safefs import write_path

        for name, doc in docs.items():
            write_path(
                out / name, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()
            )  # never through a planted link
        view.info(f"[green]✓[/green] wrote {len(docs)} schemas to {out}")


# -- engine commands ---------------------------------------------------------------------

ParallelismOpt = typer.Option(
    4, "--parallelism", envvar="COMPOSER_PARALLELISM", min=1, max=64, help="Units run at once."
)
RefreshOpt = typer.Option(
    False, "--refresh", envvar="COMPOSER_REFRESH", help="Plan every unit, even unchanged ones (drift)."
)
TimeoutOpt = typer.Option(
    3600.0,
    "--timeout",
    envvar="COMPOSER_TIMEOUT",
    help="Seconds any single wait may take (a terraform run, a rollout).",
)
UntrustedOpt = typer.Option(
    False,
    "--untrusted",
    envvar="COMPOSER_UNTRUSTED",
    help="Inputs may be hostile (CI on pull requests from forks): also refuse platform catalogs that no composer.lock covers.",
)
KubeWorkersOpt = typer.Option(
    4,
    "--kube-workers",
    envvar="COMPOSER_KUBE_WORKERS",
    min=1,
    max=64,
    help="Threads applying one unit's objects to a cluster (units run in parallel too: --parallelism).",
)
LockTimeoutOpt = typer.Option(
    0.0,
    "--lock-timeout",
    envvar="COMPOSER_LOCK_TIMEOUT",
    help="Seconds to wait for the environment's lock (0: fail at once, exit 4).",
)


@contextmanager
def _locked(compiled, view: View, operation: str, lock_timeout: float):
    """Hold the environment's state lock; a held lock is exit 4 naming the holder."""
    from composer.cli.wiring import open_store
    from composer.state.model import new_state
    from composer.state.protocol import LockHeld, new_lock_info

    from composer.diagnostics import Severity
    from composer.runners.terraform import environment_warnings

    store = open_store(compiled, lambda msg: view.diagnostics([Diagnostic(msg, severity=Severity.WARNING)]))
    view.diagnostics([Diagnostic(w, severity=Severity.WARNING) for w in environment_warnings()])
    info = new_lock_info(operation)
    try:
        store.lock(info, timeout=lock_timeout)
    except LockHeld as exc:
        view.diagnostics(
            [
                Diagnostic(
                    f"the state of {compiled.resolved.name}/{compiled.resolved.environment.name} is locked",
                    f"held by {exc.info.describe() if exc.info else 'an unknown holder'} at {exc.where}. "
                    f"Wait for it, pass --lock-timeout, or if that process is gone: appc force-unlock -e {compiled.resolved.environment.name} {exc.info.id if exc.info else ''} --force".replace(
                        "  ", " "
                    ),
                )
            ]
        )
        view.summary(False, EXIT_LOCKED)
        raise Exit(EXIT_LOCKED)
    try:
        with ExitStack() as stack:
            state = store.read() or new_state(compiled.resolved.name, compiled.resolved.environment.name)
            cloud = compiled.resolved.environment.spec.cloud
            if cloud is not None and cloud.emulator:
                state = _enter_sandbox(stack, compiled, store, state, view)
            yield store, state
    finally:
        store.unlock(info)


def _enter_sandbox(stack: ExitStack, compiled, store, state, view: View):
    """Point every AWS client at the emulator; reset state made against another emulator."""
    from composer.cli.wiring import state_dir
    from composer.runners import sandbox
    from composer.runners.workspace import forget_terraform_states

    url, instance = stack.enter_context(sandbox.session(state_dir(compiled)))
    view.event("sandbox", url=url, instance=instance)
    if state.emulator != instance:
        if state.units:
            view.info(
                f"[yellow]the sandbox emulator at {url} is not the one the last run used: starting the sandbox from scratch[/yellow]"
            )
        forget_terraform_states(state_dir(compiled), compiled.resolved.name, compiled.resolved.environment.name)
        state = store.write(state.model_copy(update={"units": {}, "inventory": {}, "emulator": instance}))
    return state


@contextmanager
def _interruptible(view: View):
    """SIGINT/SIGTERM: stop starting units, ask running terraform to stop cleanly, keep state."""
    import signal
    import threading

    from composer.runners.terraform import interrupt_all, reset_interrupt

    stop = threading.Event()
    reset_interrupt()

    def handler(signum, frame):
        first = not stop.is_set()
        stop.set()
        n = interrupt_all()
        if first:
            view.err.print(
                f"[yellow]interrupted: {'asking ' + str(n) + ' terraform run(s) to stop cleanly; ' if n else ''}no new units start; state is kept[/yellow]"
            )

    previous = (
        {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        if threading.current_thread() is threading.main_thread()
        else {}
    )
    try:
        yield stop
    finally:
        for sig, h in previous.items():
            signal.signal(sig, h)


def _render_notes(view: View, compiled, tier: bool = False) -> None:
    """What the render says besides files: the environment's tier (plan), warnings such as a
    container without limits."""
    if tier:
        e = compiled.resolved.environment
        view.event("tier", environment=e.name, tier=e.spec.tier)
        durable = (
            "deletion protection, multi-AZ, backups; stateful units protected"
            if e.spec.tier == "production"
            else "fast, cheap defaults"
        )
        view.info(f"environment [bold]{e.name}[/bold]: tier [bold]{e.spec.tier}[/bold] ({durable})")
    warnings = [d for d in compiled.rendered.warnings if d.severity is Severity.WARNING]
    if warnings:
        view.diagnostics(warnings)


def _engine_setup(
    file,
    env,
    catalog,
    json_mode,
    name,
    parallelism=4,
    refresh=False,
    timeout=3600.0,
    lock_timeout=0.0,
    locked=False,
    untrusted=False,
    allow_outside=False,
):
    from composer.cli.wiring import RunOptions

    compiled = _compile(file, env, catalog, locked, untrusted, allow_outside)
    reg = registry()
    options = RunOptions(parallelism=parallelism, refresh=refresh, timeout=timeout, lock_timeout=lock_timeout)
    return compiled, reg, options


def _units(compiled, state=None) -> list[tuple[str, str]]:
    out = [
        (n, "terraform" if compiled.resolved.component(n).is_terraform else "kubernetes") for n in compiled.graph.order
    ]
    if state is not None:
        out += [(n, u.kind) for n, u in state.units.items() if n not in compiled.graph.order]
    return out


def _report(view: View, result, env_name: str, verb: str) -> int:
    failed = result.failed
    summary = result.summary()
    if result.interrupted:
        resume = f"appc {verb} -e {env_name}"
        message = f"{verb} interrupted; state is saved. Run `{resume}` to resume."
        view.event("interrupted", command=verb, resume=resume, unfinished=failed)
        if view.json:  # stdout is for events; people watching still learn how to resume
            view.err.print(f"[yellow]{message}[/yellow]")
        view.info(f"[yellow]{message}[/yellow]")
    elif failed:
        view.info(
            f"[red]{verb} failed for {', '.join(failed)}[/red]; the other units finished and state is saved. Fix the error and run `appc {verb} -e {env_name}` again."
        )
    else:
        view.info(
            f"[green]✓[/green] {verb}: {summary['units_changed']} changed, {summary['units_skipped']} unchanged, {summary['terraform_runs']} terraform runs, {summary['k8s_writes']} Kubernetes writes ({result.duration_s:.1f}s)"
        )
    code = EXIT_APPLY_FAILED if failed or result.interrupted else EXIT_OK
    view.summary(code == EXIT_OK, code, **summary, interrupted=result.interrupted)
    return code


@app.command()
def init(
    file: list[Path] = FileOpt,
    env: Optional[str] = EnvOpt,
    catalog: list[Path] = CatalogOpt,
    locked: bool = LockedOpt,
    json_mode: bool = JsonOpt,
) -> None:
    """Prepare an environment: check the cloud credentials, create the state backend if missing."""
    from composer.cli.wiring import bootstrap

    with command("init", json_mode) as view:
        compiled = _compile(file, env, catalog, locked)
        e = compiled.resolved.environment
        identity, resources = bootstrap(registry(), compiled)
        if e.spec.cloud is not None:
            view.event("preflight", provider=e.spec.cloud.provider, identity=identity)
            view.info(
                f"[green]✓[/green] {e.spec.cloud.provider} credentials work" + (f": {identity}" if identity else "")
            )
        for r in resources:
            view.event("backend", kind=r.kind, name=r.name, action=r.action, detail=r.detail)
        if resources:
            view.table(
                f"{e.spec.state.backend} state backend of {compiled.resolved.name}/{e.name}",
                ["resource", "name", "", "detail"],
                [[r.kind, r.name, r.action, r.detail] for r in resources],
            )
        elif e.spec.state.backend == "local":
            view.info("state is local (.composer/ beside app.yaml): nothing to create")
        created = sum(r.action == "created" for r in resources)
        view.info(f"[green]✓[/green] {e.name} is ready: {created} created, {len(resources) - created} already present")
        view.summary(True, EXIT_OK, backend=e.spec.state.backend, created=created, present=len(resources) - created)


@app.command()
def plan(
    file: list[Path] = FileOpt,
    env: Optional[str] = EnvOpt,
    out: Optional[Path] = typer.Option(
        None, "--out", envvar="COMPOSER_PLAN_OUT", help="Save the plan, to apply it exactly with `appc apply FILE`."
    ),
    detailed_exitcode: bool = typer.Option(
        False, "--detailed-exitcode", envvar="COMPOSER_DETAILED_EXITCODE", help="Exit 2 when there are changes."
    ),
    format: str = typer.Option(
        "text",
        "--format",
        envvar="COMPOSER_PLAN_FORMAT",
        help="text | markdown: for a pull-request comment, a summary table and a collapsed diff per unit (sensitive values masked), on stdout; progress goes to stderr.",
    ),
    markdown_out: Optional[Path] = typer.Option(
        None,
        "--markdown-out",
        envvar="COMPOSER_PLAN_MARKDOWN_OUT",
        help="Also write the markdown summary to this file (works with --json).",
    ),
    parallelism: int = ParallelismOpt,
    refresh: bool = RefreshOpt,
    timeout: float = TimeoutOpt,
    lock_timeout: float = LockTimeoutOpt,
    untrusted: bool = UntrustedOpt,
    allow_outside: bool = AllowOutsideOpt,
    catalog: list[Path] = CatalogOpt,
    locked: bool = LockedOpt,
    json_mode: bool = JsonOpt,
) -> None:
    """Show what apply would change: per-unit Terraform plans for changed units, and a summary."""
    from composer.cli.wiring import plan_key, preflight, running_engine
    from composer.cli.planview import plan_markdown, plan_text
    from composer.cli.planview import totals as plan_totals
    from composer.runners.saved_plans import write_plan

    with command("plan", json_mode) as view:
        if format not in ("text", "markdown"):
            raise DiagnosticError([Diagnostic(f"unknown plan format {format!r}", "expected text or markdown")])
        if format == "markdown" and not json_mode:
            view.out = view.err  # stdout carries the markdown alone: appc plan --format markdown > plan.md
        compiled, reg, options = _engine_setup(
            file,
            env,
            catalog,
            json_mode,
            "plan",
            parallelism,
            refresh,
            timeout,
            lock_timeout,
            locked=locked,
            untrusted=untrusted,
            allow_outside=allow_outside,
        )
        _render_notes(view, compiled, tier=True)
        with _locked(compiled, view, "plan", lock_timeout) as (store, state), _interruptible(view) as stop:
            with (
                RunView(
                    view, _units(compiled, state), f"plan {compiled.resolved.name}/{compiled.resolved.environment.name}"
                ) as progress,
                ExitStack() as stack,
            ):
                engine = stack.enter_context(running_engine(compiled, reg, options, progress, stop.is_set))
                engine.store = store
                if engine.pending(state):  # credentials are checked before any Terraform runs, and only then
                    preflight(reg, compiled)
                saved: dict[str, bytes] = {}
                result = engine.plan(state, saved)
        if format == "markdown" or markdown_out is not None:
            md = plan_markdown(
                compiled.resolved.name,
                compiled.resolved.environment.name,
                result,
                list(compiled.graph.order),
                set(state.units),
                str(out) if out is not None and not result.failed else None,
            )
            if markdown_out is not None:
                from composer.safefs import write_path

                write_path(markdown_out, md.encode())  # never through a planted link
            if format == "markdown" and not json_mode:
                view.text(md)
        if not json_mode:
            view.lines(plan_text(result, list(compiled.graph.order), set(state.units)))
        if result.failed:
            raise Exit(_report(view, result, compiled.resolved.environment.name, "plan"))
        changes = [o for o in result.outcomes.values() if o.status == "planned" and (o.changes or o.action == "prune")]
        if out is not None:
            write_plan(out, compiled, state, result, saved, plan_key(store))
            view.info(
                f"saved the plan to {out}; apply it with: appc apply -e {compiled.resolved.environment.name} {out}"
            )
        view.info(
            f"{len(changes)} unit(s) to change, {result.units_skipped} unchanged"
            if changes
            else "[green]no changes[/green]: the environment matches the model"
        )
        code = EXIT_CHANGES if detailed_exitcode and changes else EXIT_OK
        t = plan_totals(result.outcomes.values())
        view.summary(
            True,
            code,
            **result.summary(),
            changes_present=bool(changes),
            to_add=t.add,
            to_change=t.change,
            to_destroy=t.remove,
        )
        raise Exit(code)


@app.command()
def apply(
    planfile: Optional[Path] = typer.Argument(None, help="A plan saved by `appc plan --out`, applied exactly."),
    file: list[Path] = FileOpt,
    env: Optional[str] = EnvOpt,
    auto_approve: bool = typer.Option(
        False,
        "--auto-approve",
        envvar="COMPOSER_AUTO_APPROVE",
        help="Apply without asking (required when not interactive).",
    ),
    parallelism: int = ParallelismOpt,
    refresh: bool = RefreshOpt,
    no_wait: bool = typer.Option(False, "--no-wait", envvar="COMPOSER_NO_WAIT", help="Do not wait for rollouts."),
    force_conflicts: bool = typer.Option(
        False,
        "--force-conflicts",
        envvar="COMPOSER_FORCE_CONFLICTS",
        help="Take ownership of fields another field manager owns (server-side apply conflicts).",
    ),
    kube_workers: int = KubeWorkersOpt,
    timeout: float = TimeoutOpt,
    lock_timeout: float = LockTimeoutOpt,
    untrusted: bool = UntrustedOpt,
    approve: list[str] = typer.Option(
        [],
        "--approve",
        envvar="COMPOSER_APPROVE",
        help="Continue past the approval gate STEP (a KubeVela suspend step, or deploy with auto: false); repeatable.",
    ),
    allow_outside: bool = AllowOutsideOpt,
    catalog: list[Path] = CatalogOpt,
    locked: bool = LockedOpt,
    adopt_owned: bool = typer.Option(
        False,
        "--adopt-owned",
        envvar="COMPOSER_ADOPT_OWNED",
        help="Import a resource that already exists when its ownership tags name its unit.",
    ),
    json_mode: bool = JsonOpt,
) -> None:
    """Apply the model: changed units only, in dependency order, in parallel; prune removed ones."""
    from composer.cli.wiring import interactive, plan_key, preflight, running_engine
    from composer.runners.saved_plans import read_plan

    with command("apply", json_mode) as view:
        if planfile is None and not auto_approve and not interactive():
            raise DiagnosticError(
                [
                    Diagnostic(
                        "apply needs --auto-approve when it does not run in an interactive terminal",
                        "review the changes with `appc plan` first, or save them with `appc plan --out FILE` and run `appc apply FILE`",
                    )
                ]
            )
        compiled, reg, options = _engine_setup(
            file,
            env,
            catalog,
            json_mode,
            "apply",
            parallelism,
            refresh,
            timeout,
            lock_timeout,
            locked=locked,
            untrusted=untrusted,
            allow_outside=allow_outside,
        )
        from composer.project import held_units, refuse_paused

        refuse_paused(compiled)
        held, waiting = held_units(compiled, approve)
        options.no_wait = no_wait
        options.force_conflicts = force_conflicts
        options.kube_workers = kube_workers
        with _locked(compiled, view, "apply", lock_timeout) as (store, state), _interruptible(view) as stop:
            planned = read_plan(planfile, compiled, state, plan_key(store)) if planfile is not None else None
            with (
                RunView(
                    view,
                    _units(compiled, state),
                    f"apply {compiled.resolved.name}/{compiled.resolved.environment.name}",
                ) as progress,
                ExitStack() as stack,
            ):
                engine = stack.enter_context(running_engine(compiled, reg, options, progress, stop.is_set))
                engine.store = store
                _day2.wire_adoption(engine, reg, compiled, adopt_owned, file[0])
                if engine.pending(state):  # credentials are checked before any Terraform runs, and only then
                    preflight(reg, compiled)
                if planfile is None and not auto_approve:
                    preview = engine.plan(state)
                    if not any(o.changes or o.action == "prune" for o in preview.outcomes.values()):
                        view.info("[green]no changes[/green]")
                        view.summary(True, EXIT_OK, **preview.summary())
                        raise Exit(EXIT_OK)
                    with progress.paused():  # the question must not be redrawn over by the live table
                        guide.confirm_plan(view, preview, compiled, state)
                result = engine.apply(state, planned, hold=held)
                where = guide.destinations(compiled, store, engine.sinks, result)
        if waiting:
            view.event("gate", gates=waiting, held=sorted(held))
            view.info(
                f"stopped at approval gate {waiting[0]!r}: {', '.join(sorted(held))} not applied; continue with appc apply --approve {waiting[0]}"
            )
        view.event("where", **where)  # before the summary, which stays the last JSON line
        code = _report(view, result, compiled.resolved.environment.name, "apply")
        guide.tell_where(view, where)
        raise Exit(code)


@app.command()
def destroy(
    file: list[Path] = FileOpt,
    env: Optional[str] = EnvOpt,
    auto_approve: bool = typer.Option(
        False, "--auto-approve", envvar="COMPOSER_AUTO_APPROVE", help="Destroy without asking."
    ),
    parallelism: int = ParallelismOpt,
    kube_workers: int = KubeWorkersOpt,
    timeout: float = TimeoutOpt,
    lock_timeout: float = LockTimeoutOpt,
    allow_outside: bool = AllowOutsideOpt,
    catalog: list[Path] = CatalogOpt,
    locked: bool = LockedOpt,
    json_mode: bool = JsonOpt,
) -> None:
    """Destroy every unit of the environment, dependents first. Protected units refuse."""
    from composer.cli.wiring import interactive, preflight, running_engine

    with command("destroy", json_mode) as view:
        if not auto_approve and not interactive():
            raise DiagnosticError(
                [
                    Diagnostic(
                        "destroy needs --auto-approve when it does not run in an interactive terminal",
                        "there is no one to confirm the question (stdin/stdout are not a terminal, or CI is set); nothing was destroyed. Pass --auto-approve (COMPOSER_AUTO_APPROVE=1) to destroy every unit of the environment",
                    )
                ]
            )
        compiled, reg, options = _engine_setup(
            file,
            env,
            catalog,
            json_mode,
            "destroy",
            parallelism,
            False,
            timeout,
            lock_timeout,
            locked=locked,
            allow_outside=allow_outside,
        )
        options.kube_workers = kube_workers
        if not auto_approve:
            guide.destroy_warning(view, compiled)
            guide.confirm(
                view, f"destroy every unit of {compiled.resolved.name}/{compiled.resolved.environment.name}?", "destroy"
            )
        with _locked(compiled, view, "destroy", lock_timeout) as (store, state), _interruptible(view) as stop:
            with (
                RunView(
                    view,
                    _units(compiled, state),
                    f"destroy {compiled.resolved.name}/{compiled.resolved.environment.name}",
                ) as progress,
                ExitStack() as stack,
            ):
                engine = stack.enter_context(running_engine(compiled, reg, options, progress, stop.is_set))
                engine.store = store
                if state.units:  # credentials are checked before any Terraform runs, and only then
                    preflight(reg, compiled)
                result = engine.destroy(state)
        raise Exit(_report(view, result, compiled.resolved.environment.name, "destroy"))


@app.command()
def outputs(
    component: Optional[str] = typer.Argument(None, help="Only this component."),
    file: list[Path] = FileOpt,
    env: Optional[str] = EnvOpt,
    show_secrets: bool = typer.Option(
        False, "--show-secrets", envvar="COMPOSER_SHOW_SECRETS", help="Fetch and print secret outputs too."
    ),
    allow_outside: bool = AllowOutsideOpt,
    catalog: list[Path] = CatalogOpt,
    locked: bool = LockedOpt,
    json_mode: bool = JsonOpt,
) -> None:
    """Print the bound outputs of resource units (secret ones masked unless --show-secrets)."""
    from composer.cli.wiring import open_store, secret_reader

    with command("outputs", json_mode) as view:
        compiled = _compile(file, env, catalog, locked, allow_outside=allow_outside)
        state = open_store(compiled, lambda m: None).read()
        units = {
            n: u
            for n, u in (state.units.items() if state else [])
            if u.kind == "terraform" and (component is None or n == component)
        }
        if component is not None and component not in units:
            raise DiagnosticError(
                [
                    Diagnostic(
                        f"no applied resource unit {component!r}",
                        f"applied: {', '.join(sorted(n for n, u in (state.units.items() if state else []) if u.kind == 'terraform')) or 'none'}",
                    )
                ]
            )
        reader = secret_reader(registry(), compiled) if show_secrets else None
        with ExitStack() as stack:
            if show_secrets and any(u.secret_ref for u in units.values()):
                guide.sandbox_for_secrets(stack, compiled, state)
            rows = []
            for name, u in sorted(units.items()):
                values: dict = dict(u.outputs)
                secrets = {}
                if reader is not None and u.secret_ref:
                    c = compiled.resolved.component(name)
                    cloud = compiled.resolved.environment.spec.cloud
                    provider = c.provider if c else (cloud.provider if cloud else None)
                    fetched = reader(provider, u.secret_ref) if provider else {}
                    secrets = {k: fetched.get(k) for k in u.secret_digests}
                for k in u.secret_digests:
                    values[k] = secrets.get(k, "(secret)") if show_secrets else "(secret)"
                view.event("outputs", unit=name, outputs=values)
                rows += [[name, k, str(v)] for k, v in values.items()]
        view.table(None, ["unit", "output", "value"], rows)
        view.summary(True, EXIT_OK)


@app.command()
def status(
    file: list[Path] = FileOpt,
    env: Optional[str] = EnvOpt,
    cloud: bool = typer.Option(
        False,
        "--cloud",
        envvar="COMPOSER_STATUS_CLOUD",
        help="Also ask the cloud about each resource unit (needs credentials).",
    ),
    allow_outside: bool = AllowOutsideOpt,
    catalog: list[Path] = CatalogOpt,
    locked: bool = LockedOpt,
    json_mode: bool = JsonOpt,
) -> None:
    """Show each unit's last apply: status, time, and whether the model changed since."""
    from composer.cli.wiring import cloud_status, open_store

    with command("status", json_mode) as view:
        compiled = _compile(file, env, catalog, locked, allow_outside=allow_outside)
        store = open_store(compiled, lambda m: None)
        state = store.read()
        lock = store.current()
        live = cloud_status(registry(), compiled, state) if cloud else {}
        from composer.engine.statusinfo import changed_since_apply, unit_notes

        changed = (
            changed_since_apply(compiled.resolved, compiled.graph, compiled.rendered, compiled.modules, state)
            if state
            else set()
        )
        rows = []
        for name, kind in _units(compiled, state):
            u = state.units.get(name) if state else None
            in_model = name in compiled.graph.order
            st = u.status if u else "not applied"
            notes = unit_notes(u, name in changed)
            note = notes.text() if in_model else "removed from the model (pruned on next apply)"
            if u and u.error:
                note = u.error
            extra = {"cloud": {"state": live[name].state, "detail": live[name].detail}} if name in live else {}
            view.event(
                "status",
                unit=name,
                kind=kind,
                status=st,
                updated=u.updated_at if u else None,
                in_model=in_model,
                note=note,
                **notes.to_json(),
                **extra,
            )
            rows.append(
                [
                    name,
                    kind,
                    st,
                    *([f"{live[name].state} {live[name].detail}".strip() if name in live else ""] if cloud else []),
                    (u.updated_at[:19].replace("T", " ") if u else ""),
                    note,
                ]
            )
        view.table(
            f"{compiled.resolved.name}/{compiled.resolved.environment.name}"
            + (f"  serial {state.serial}" if state else ""),
            ["unit", "kind", "status", *(["cloud"] if cloud else []), "updated (UTC)", "note"],
            rows,
        )
        from composer.cli.wiring import workload_health

        health = workload_health(compiled, state)
        for h in health:
            view.event("health", **{k: v for k, v in h.items() if k != "objects"})
        if health:
            view.table(
                "workloads per cluster",
                ["target", "unit", "rollout", "ready", "warning"],
                [
                    [
                        h["target"],
                        h["unit"],
                        h["rollout"],
                        f"{h.get('ready', 0)}/{h.get('desired', 0)}",
                        h.get("error") or h.get("warning") or "",
                    ]
                    for h in health
                ],
            )
        if lock:
            view.info(f"[yellow]locked by {lock.describe()}[/yellow]")
        view.summary(True, EXIT_OK, serial=state.serial if state else 0, locked=bool(lock))


@app.command("force-unlock")
def force_unlock(
    lock_id: Optional[str] = typer.Argument(
        None, help="The lock id (printed with the lock error); guards against removing a newer lock."
    ),
    file: list[Path] = FileOpt,
    env: Optional[str] = EnvOpt,
    force: bool = typer.Option(
        False, "--force", envvar="COMPOSER_FORCE_UNLOCK", help="Required: remove the lock without asking."
    ),
    allow_outside: bool = AllowOutsideOpt,
    catalog: list[Path] = CatalogOpt,
    locked: bool = LockedOpt,
    json_mode: bool = JsonOpt,
) -> None:
    """Remove a lock left by a process that is gone, like `terraform force-unlock`."""
    from composer.cli.wiring import open_store

    with command("force-unlock", json_mode) as view:
        if not force:
            raise DiagnosticError(
                [
                    Diagnostic(
                        "force-unlock needs --force", "make sure no appc process still works on this environment first"
                    )
                ]
            )
        compiled = _compile(file, env, catalog, locked, allow_outside=allow_outside)
        removed = open_store(compiled, lambda m: None).force_unlock(lock_id)
        if removed is None:
            view.info("the state was not locked")
        else:
            view.info(f"removed the lock held by {removed.describe()}")
        view.summary(True, EXIT_OK, removed=removed.to_json() if removed else None)


# -- sandbox -------------------------------------------------------------------------

sandbox_app = typer.Typer(
    help="The local sandbox: a long-lived embedded AWS emulator for `emulator: embedded` environments.",
    no_args_is_help=True,
)
app.add_typer(sandbox_app, name="sandbox")


def _project_state_dir(file: list[Path]) -> Path:
    from composer.safefs import vetted_directory

    return vetted_directory(file[0].absolute().parent, Path(".composer"), "state directory .composer")


@sandbox_app.command("up")
def sandbox_up(file: list[Path] = FileOpt, json_mode: bool = JsonOpt) -> None:
    """Start the emulator in the background; later commands use it, so resources persist."""
    from composer.runners import sandbox

    with command("sandbox up", json_mode) as view:
        sb, started = sandbox.up(_project_state_dir(file))
        view.event("sandbox", url=sb.url, pid=sb.pid, instance=sb.instance, started_now=started)
        view.info(
            f"[green]✓[/green] sandbox {'started' if started else 'already up'} at {sb.url} (pid {sb.pid}); stop it with: appc sandbox down"
        )
        view.summary(True, EXIT_OK, url=sb.url)


@sandbox_app.command("down")
def sandbox_down(file: list[Path] = FileOpt, json_mode: bool = JsonOpt) -> None:
    """Stop the background emulator. Its resources are gone; the next apply starts afresh."""
    from composer.runners import sandbox

    with command("sandbox down", json_mode) as view:
        result = sandbox.down(_project_state_dir(file))
        if result.note:
            view.info(f"[yellow]{result.note}[/yellow]")
        view.info(f"stopped the sandbox at {result.sandbox.url}" if result.stopped else "no sandbox was up")
        view.summary(True, EXIT_OK, stopped=result.stopped)


@sandbox_app.command("status")
def sandbox_status(file: list[Path] = FileOpt, json_mode: bool = JsonOpt) -> None:
    """Show whether the background emulator is up."""
    from composer.runners import sandbox

    with command("sandbox status", json_mode) as view:
        sb = sandbox.current(_project_state_dir(file))
        if sb:
            view.event("sandbox", url=sb.url, pid=sb.pid, instance=sb.instance, started=sb.started)
            view.info(f"sandbox up at {sb.url} (pid {sb.pid}, since {sb.started})")
        else:
            view.info(
                "no sandbox is up: commands on emulator environments start one for their own duration (appc sandbox up keeps one)"
            )
        view.summary(True, EXIT_OK, up=bool(sb))


# -- def ---------------------------------------------------------------------------


def _catalog(file: list[Path], catalog: list[Path]):
    from composer.catalog import Catalog

    dirs = list(catalog)
    if (file[0].parent / "definitions").is_dir():
        dirs.insert(0, file[0].parent / "definitions")
    return Catalog.build(registry(), dirs)


@def_app.command("list")
def def_list(file: list[Path] = FileOpt, catalog: list[Path] = CatalogOpt, json_mode: bool = JsonOpt) -> None:
    """List component types and traits with their implementations and origin."""
    with command("def list", json_mode) as view:
        cat = _catalog(file, catalog)
        rows = []
        for name, t in sorted(cat.components.items()):
            impls = ", ".join(f"{n} ({e.implementation.provider})" for n, e in sorted(t.implementations.items()))
            rows.append(["component", name, t.category, impls, t.origin])
            view.event(
                "definition",
                kind="ComponentDefinition",
                name=name,
                category=t.category,
                implementations=sorted(t.implementations),
                origin=t.origin,
                outputs=list(t.definition.spec.outputs),
            )
        for name, t in sorted(cat.traits.items()):
            applies = ", ".join(t.definition.spec.applies_to) or "all workloads"
            rows.append(["trait", name, applies, "", t.origin])
            view.event(
                "definition",
                kind="TraitDefinition",
                name=name,
                appliesTo=list(t.definition.spec.applies_to),
                origin=t.origin,
            )
        view.table(None, ["kind", "name", "category / applies to", "implementations", "origin"], rows)
        view.summary(True, EXIT_OK, definitions=len(rows))


@def_app.command("show")
def def_show(
    name: str, file: list[Path] = FileOpt, catalog: list[Path] = CatalogOpt, json_mode: bool = JsonOpt
) -> None:
    """Show one definition: parameters, outputs, implementations."""
    import difflib

    with command("def show", json_mode) as view:
        cat = _catalog(file, catalog)
        entry = cat.component(name) or cat.trait(name)
        if entry is None:
            known = sorted([*cat.components, *cat.traits])
            close = difflib.get_close_matches(name, known, n=1)
            raise DiagnosticError(
                [
                    Diagnostic(
                        f"no definition named {name!r}",
                        (f"did you mean {close[0]!r}? " if close else "") + f"known: {', '.join(known)}",
                    )
                ]
            )
        doc = entry.definition.model_dump(by_alias=True, exclude_defaults=True, mode="json")
        doc["spec"].get("parameters", {}).pop("$defs", None)
        if hasattr(entry, "implementations"):
            doc["spec"]["implementations"] = {
                n: e.implementation.model_dump(by_alias=True, exclude_defaults=True, mode="json")
                for n, e in sorted(entry.implementations.items())
            }
        if json_mode:
            view.event("definition", origin=entry.origin, **doc)
            view.summary(True, EXIT_OK)
        else:
            view.text(f"# origin: {entry.origin}\n" + yaml.safe_dump(doc, sort_keys=False, width=120))


@def_app.command("validate")
def def_validate(files: list[Path] = typer.Argument(..., help="Definition files."), json_mode: bool = JsonOpt) -> None:
    """Check definition files: structure, parameter schemas and template syntax."""
    from composer.catalog import contract_problems
    from composer.catalog.checks import local_definition_diagnostics
    from composer.catalog.sources import AddressError, parse_address
    from composer.catalog import schema as jschema
    from composer.model import refs
    from composer.model.definitions import ComponentDefinition
    from composer.model.loader import load_definitions
    from composer.resolve import _contained
    from composer.templates import check_syntax

    with command("def validate", json_mode) as view:
        errors: list[Diagnostic] = []
        count = 0
        for f in files:
            try:
                loaded = load_definitions(f)
            except DiagnosticError as exc:
                errors.extend(exc.diagnostics)
                continue
            for item in loaded:
                count += 1
                d = item.model
                problem = jschema.schema_problem(d.spec.parameters)
                if problem:
                    errors.append(
                        item.source.diagnostic(
                            ("spec", "parameters", *problem[0]),
                            f"definition {d.name!r} has an invalid parameter schema",
                            problem[1],
                        )
                    )
                templates = []
                if isinstance(d, ComponentDefinition):
                    for iname, impl in d.spec.implementations.items():
                        base = ("spec", "implementations", iname)
                        if impl.manifests:
                            templates.append((base + ("manifests", "template"), impl.manifests.template))
                        if impl.terraform:
                            templates.extend(refs.walk_strings(impl.terraform.inputs, base + ("terraform", "inputs")))
                            try:
                                remote = parse_address(impl.terraform.module, impl.terraform.version).remote
                            except AddressError as exc:
                                errors.append(
                                    item.source.diagnostic(
                                        base + ("terraform", "module"), "unusable module source", str(exc)
                                    )
                                )
                                continue
                            module = _contained(f.parent, impl.terraform.module)
                            if remote:
                                pass  # checked against its interface once `appc lock` fetched it
                            elif module is None:
                                errors.append(
                                    item.source.diagnostic(
                                        base + ("terraform", "module"),
                                        "the module must be a directory inside the definition's directory",
                                        f"{impl.terraform.module!r} leaves {f.parent}; no absolute paths or '..' out of it",
                                    )
                                )
                            elif not module.is_dir():
                                errors.append(
                                    item.source.diagnostic(
                                        base + ("terraform", "module"), f"module directory not found: {module}"
                                    )
                                )
                            else:
                                errors.extend(
                                    _module_policy(
                                        item.source, base + ("terraform", "module"), module, d.spec.policy.allow
                                    )
                                )
                        for sub, summary, detail in contract_problems(d.spec.outputs, impl):
                            errors.append(
                                item.source.diagnostic(base + sub, f"implementation {iname!r} {summary}", detail)
                            )
                    tf_impls = {n: i.terraform for n, i in d.spec.implementations.items() if i.terraform is not None}
                    errors.extend(
                        local_definition_diagnostics(
                            d.name, f.parent, d.spec.outputs, tf_impls, item.source.diagnostic, remote=True
                        )
                    )
                else:
                    templates.extend(
                        (("spec", k), getattr(d.spec, k)) for k in ("patch", "objects") if getattr(d.spec, k)
                    )
                for path, text in templates:
                    problem = check_syntax(text)
                    if problem:
                        errors.append(item.source.diagnostic(path, "template syntax error", problem))
        if errors:
            raise DiagnosticError(errors)
        view.info(f"[green]✓[/green] {count} definitions are valid")
        view.summary(True, EXIT_OK, definitions=count)


def _module_policy(source, path, module: Path, allow) -> list[Diagnostic]:
    """`def validate`: the module policy over a definition's module, with the definition's own opt-ins."""
    from composer.catalog import read_module
    from composer.catalog.policy import check_module
    from composer.project import policy_message

    try:
        files = read_module(module, module.name).files
    except DiagnosticError as exc:
        return [source.diagnostic(path, d.summary, d.detail) for d in exc.diagnostics]
    return [
        source.diagnostic(
            path,
            *policy_message(module.name, v, "policy.allow of this definition (or an environment's policies.allow)"),
        )
        for v in check_module(files, allow)
    ]


# -- env ---------------------------------------------------------------------------


@env_app.command("list")
def env_list(file: list[Path] = FileOpt, json_mode: bool = JsonOpt) -> None:
    """List the environments of the application."""
    from composer.project import open_project

    with command("env list", json_mode) as view:
        project = open_project(file)
        rows = []
        for name in project.environment_names():
            e = project.environment(name).model.spec
            cloud = f"{e.cloud.provider} {e.cloud.region or ''}".strip() if e.cloud else "-"
            k = e.kubernetes
            target = (
                f"dir:{k.directory}"
                if k.directory
                else ", ".join(f"{t.context or '(current)'}/{t.namespace or 'default'}" for t in k.resolved_targets())
            )
            rows.append([name, cloud, target, e.state.backend])
            view.event("environment", name=name, cloud=cloud, kubernetes=target, state=e.state.backend)
        view.table(None, ["environment", "cloud", "kubernetes", "state"], rows)
        view.summary(True, EXIT_OK, environments=len(rows))


@env_app.command("show")
def env_show(name: str, file: list[Path] = FileOpt, json_mode: bool = JsonOpt) -> None:
    """Show one environment as Composer reads it (defaults filled in)."""
    from composer.project import open_project

    with command("env show", json_mode) as view:
        env = open_project(file).environment(name).model
        doc = env.model_dump(by_alias=True, mode="json", exclude_none=True)
        if json_mode:
            view.event("environment", **doc)
            view.summary(True, EXIT_OK)
        else:
            view.text(yaml.safe_dump(doc, sort_keys=False))


@app.callback(invoke_without_command=True)
def _root(version: bool = typer.Option(False, "--version", help="Print the version and exit.")) -> None:
    if version:
        typer.echo(f"appc {__version__}")
        raise typer.Exit(0)


# appc lock, def scaffold and def test live in their own module; importing it registers them.
from composer.cli import modules as _modules  # noqa: E402,F401
from composer.cli import day2 as _day2  # noqa: E402,F401  (appc import, appc rotate)


def run() -> None:
    from typer._click.exceptions import ClickException

    try:
        rv = app(prog_name="appc", standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except ClickException as exc:
        # click uses exit 2 for usage errors; DESIGN.md reserves 2 for "changes present".
        exc.show()
        sys.exit(EXIT_INVALID)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a bug outside any command body: still a short report, never a bare traceback
        tb = traceback.extract_tb(exc.__traceback__)
        where = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"
        sys.stderr.write(
            f"internal error: {type(exc).__name__} at {where}: {str(exc)[:500]}\nThis is a bug in appc {__version__}. Please report it with the command you ran; set APPC_DEBUG=1 for the full traceback.\n"
        )
        if _debug():
            traceback.print_exc()
        sys.exit(EXIT_INTERNAL)
    sys.exit(rv if isinstance(rv, int) else 0)


from composer.cli import controller as _controller  # noqa: E402,F401
