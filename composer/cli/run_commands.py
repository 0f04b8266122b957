"""`appc init`, `plan`, `apply` and `destroy`: the commands that change or preview an environment.

Each parses its flags, compiles the project, and hands one engine step to
composer/cli/session.py (`run_engine`: lock, build, run) and its result to the view.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from composer.cli.common import (
    EXIT_CHANGES,
    EXIT_OK,
    Exit,
    ProjectOptions,
    app,
    compile_for,
    format_option,
    markdown_on_stdout,
    option,
    project_command,
    registry,
    render_notes,
)
from composer.cli.probing import ProbeOpt
from composer.cli.views import Record, View
from composer.diagnostics import Diagnostic, DiagnosticError
from composer.runners.kube.client import DEFAULT_BURST, DEFAULT_QPS

if TYPE_CHECKING:  # the rest is imported where used: `appc --help` loads no engine (issue 13)
    from composer.cli.session import EngineSession
    from composer.cli.wiring import RunOptions
    from composer.engine.plan_repairs import PlannedRepairs
    from composer.engine.run import RunResult
    from composer.project import Compiled

ParallelismOpt = option(4, "--parallelism", env="PARALLELISM", min=1, max=64, help="Units run at once.")
RefreshOpt = option(False, "--refresh", env="REFRESH", help="Plan every unit, even unchanged ones (drift).")
TimeoutOpt = option(
    3600.0, "--timeout", env="TIMEOUT", help="Seconds any single wait may take (a terraform run, a rollout)."
)
UntrustedOpt = option(
    False,
    "--untrusted",
    env="UNTRUSTED",
    help="Inputs may be hostile (CI on pull requests from forks): also refuse platform catalogs that no composer.lock covers.",
)
KubeWorkersOpt = option(
    4,
    "--kube-workers",
    env="KUBE_WORKERS",
    min=1,
    max=64,
    help="Threads applying one unit's objects to a cluster (units run in parallel too: --parallelism).",
)
KubeQpsOpt = option(
    DEFAULT_QPS,
    "--kube-qps",
    env="KUBE_QPS",
    min=0.001,
    help="Requests a second to one API server, sustained (a token bucket per server; 429 + Retry-After is honoured).",
)
KubeBurstOpt = option(
    DEFAULT_BURST,
    "--kube-burst",
    env="KUBE_BURST",
    min=1,
    help="Requests to one API server at once before --kube-qps applies.",
)
LockTimeoutOpt = option(
    0.0,
    "--lock-timeout",
    env="LOCK_TIMEOUT",
    help="Seconds to wait for the environment's lock (0: fail at once, exit 4).",
)
ForceConflictsOpt = option(
    False,
    "--force-conflicts",
    env="FORCE_CONFLICTS",
    help="Take ownership of fields another field manager owns (server-side apply conflicts).",
)
ApproveOpt = option(
    [],
    "--approve",
    env="APPROVE",
    help="Continue past the approval gate STEP (a KubeVela suspend step, or deploy with auto: false); repeatable.",
)
AdoptOwnedOpt = option(
    False,
    "--adopt-owned",
    env="ADOPT_OWNED",
    help="Import a resource that already exists when its ownership tags name its unit.",
)


def _pending(session: EngineSession) -> bool:
    return bool(session.engine.pending(session.state))


def _needs_terminal(verb: str, detail: str) -> DiagnosticError:
    return DiagnosticError(
        [Diagnostic(f"{verb} needs --auto-approve when it does not run in an interactive terminal", detail)]
    )


@project_command(app, outside=False)
def init(view: View, project: ProjectOptions) -> None:
    """Prepare an environment: check the cloud credentials, create the state backend if missing."""
    from composer.cli.wiring import bootstrap

    compiled = compile_for(project)
    e = compiled.resolved.environment
    identity, resources = bootstrap(registry(), compiled)
    if e.spec.cloud is not None:
        view.fact(
            "preflight",
            f"[green]✓[/green] {e.spec.cloud.provider} credentials work" + (f": {identity}" if identity else ""),
            provider=e.spec.cloud.provider,
            identity=identity,
        )
    records = [
        Record(dict(kind=r.kind, name=r.name, action=r.action, detail=r.detail), [r.kind, r.name, r.action, r.detail])
        for r in resources
    ]
    title = f"{e.spec.state.backend} state backend of {compiled.resolved.name}/{e.name}"
    if resources:
        view.records("backend", title, ["resource", "name", "", "detail"], records)
    elif e.spec.state.backend == "local":
        view.info("state is local (.composer/ beside app.yaml): nothing to create")
    created = sum(r.action == "created" for r in resources)
    view.info(f"[green]✓[/green] {e.name} is ready: {created} created, {len(resources) - created} already present")
    view.summary(True, EXIT_OK, backend=e.spec.state.backend, created=created, present=len(resources) - created)


@dataclass(frozen=True)
class PlanOutput:
    """Where a plan goes besides the view: a saved plan file, markdown on stdout or in a file."""

    out: Path | None
    markdown: bool
    markdown_out: Path | None
    detailed_exitcode: bool
    repairs: PlannedRepairs | None = None  # what the probe found changed, for `appc apply FILE`


@project_command(app)
def plan(
    view: View,
    project: ProjectOptions,
    out: Path | None = option(
        None, "--out", env="PLAN_OUT", help="Save the plan, to apply it exactly with `appc apply FILE`."
    ),
    detailed_exitcode: bool = option(
        False, "--detailed-exitcode", env="DETAILED_EXITCODE", help="Exit 2 when there are changes."
    ),
    format: str = format_option(
        "PLAN_FORMAT",
        "text | markdown: for a pull-request comment, a summary table and a collapsed diff per unit (sensitive values masked), on stdout; progress goes to stderr.",
    ),
    markdown_out: Path | None = option(
        None,
        "--markdown-out",
        env="PLAN_MARKDOWN_OUT",
        help="Also write the markdown summary to this file (works with --json).",
    ),
    parallelism: int = ParallelismOpt,
    refresh: bool = RefreshOpt,
    timeout: float = TimeoutOpt,
    lock_timeout: float = LockTimeoutOpt,
    untrusted: bool = UntrustedOpt,
    kube_qps: float = KubeQpsOpt,  # the cluster checks of a plan read through the same token bucket
    kube_burst: int = KubeBurstOpt,
    probe: str | None = ProbeOpt,
) -> None:
    """Show what apply would change: per-unit Terraform plans for changed units, and a summary."""
    from composer.cli.probing import Probed
    from composer.cli.session import run_engine
    from composer.cli.wiring import RunOptions

    markdown = markdown_on_stdout(view, format, "plan")
    compiled = compile_for(replace(project, untrusted=untrusted))
    options = RunOptions(parallelism=parallelism, refresh=refresh, timeout=timeout, lock_timeout=lock_timeout)
    options = replace(options, kube_qps=kube_qps, kube_burst=kube_burst)
    render_notes(view, compiled, tier=True)
    saved: dict[str, bytes] = {}
    checked = Probed(view, probe, _pending)  # the apply's probe: units whose resources vanished are planned
    result, session = run_engine(
        view, "plan", compiled, options, lambda s: s.engine.plan(checked.state(s), saved), checked
    )
    output = PlanOutput(out, markdown, markdown_out, detailed_exitcode, checked.repairs(result))
    raise Exit(_plan_report(view, compiled, result, session, saved, output))


def _plan_markdown(
    view: View, compiled: Compiled, result: RunResult, session: EngineSession, output: PlanOutput
) -> None:
    from composer.cli.planview import plan_markdown
    from composer.safefs import write_path

    md = plan_markdown(
        compiled.resolved.name,
        compiled.resolved.environment.name,
        result,
        list(compiled.graph.order),
        set(session.state.units),
        str(output.out) if output.out is not None and not result.failed else None,
    )
    if output.markdown_out is not None:
        write_path(output.markdown_out, md.encode())  # never through a planted link
    if output.markdown and not view.json:
        view.text(md)


def _plan_report(
    view: View,
    compiled: Compiled,
    result: RunResult,
    session: EngineSession,
    saved: dict[str, bytes],
    output: PlanOutput,
) -> int:
    """Everything after the plan ran: markdown, the plan text, the saved plan, the summary; the exit code."""
    from composer.cli.planview import plan_text
    from composer.cli.planview import totals as plan_totals
    from composer.cli.session import report
    from composer.cli.wiring import plan_key
    from composer.runners.saved_plans import write_plan

    env_name = compiled.resolved.environment.name
    if output.markdown or output.markdown_out is not None:
        _plan_markdown(view, compiled, result, session, output)
    view.lines(plan_text(result, list(compiled.graph.order), set(session.state.units)))
    if result.failed:
        return report(view, result, env_name, "plan")
    changes = [o for o in result.outcomes.values() if o.status == "planned" and (o.changes or o.action == "prune")]
    if output.out is not None:
        write_plan(output.out, compiled, session.state, result, saved, plan_key(session.store), output.repairs)
        view.info(f"saved the plan to {output.out}; apply it with: appc apply -e {env_name} {output.out}")
    view.info(
        f"{len(changes)} unit(s) to change, {result.units_skipped} unchanged"
        if changes
        else "[green]no changes[/green]: the environment matches the model"
    )
    code = EXIT_CHANGES if output.detailed_exitcode and changes else EXIT_OK
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
    return code


@project_command(app)
def apply(
    view: View,
    project: ProjectOptions,
    planfile: Path | None = typer.Argument(None, help="A plan saved by `appc plan --out`, applied exactly."),
    auto_approve: bool = option(
        False, "--auto-approve", env="AUTO_APPROVE", help="Apply without asking (required when not interactive)."
    ),
    parallelism: int = ParallelismOpt,
    refresh: bool = RefreshOpt,
    no_wait: bool = option(False, "--no-wait", env="NO_WAIT", help="Do not wait for rollouts."),
    force_conflicts: bool = ForceConflictsOpt,
    kube_workers: int = KubeWorkersOpt,
    kube_qps: float = KubeQpsOpt,
    kube_burst: int = KubeBurstOpt,
    timeout: float = TimeoutOpt,
    lock_timeout: float = LockTimeoutOpt,
    untrusted: bool = UntrustedOpt,
    approve: list[str] = ApproveOpt,
    probe: str | None = ProbeOpt,
    adopt_owned: bool = AdoptOwnedOpt,
) -> None:
    """Apply the model: changed units only, in dependency order, in parallel; prune removed ones."""
    from composer.cli.fastpath import NoopRequest, try_noop

    project = replace(project, untrusted=untrusted)
    served = (
        planfile is None and auto_approve and not approve and not refresh and not adopt_owned and not force_conflicts
    )
    fast = NoopRequest(probe, kube_workers, kube_qps, kube_burst, timeout, lock_timeout, served)
    code = try_noop(view, project, fast)  # first: a no-op served from the cache imports little else (issue 13)
    if code is not None:
        raise Exit(code)
    from composer.cli import compiled_cache
    from composer.cli.wiring import RunOptions, interactive
    from composer.compile_inputs import recording

    if planfile is None and not auto_approve and not interactive():
        raise _needs_terminal(
            "apply",
            "review the changes with `appc plan` first, or save them with `appc plan --out FILE` and run `appc apply FILE`",
        )
    with recording() as inputs:  # what compiling reads: the key of the compiled-model cache
        compiled = compile_for(project)
    options = RunOptions(
        parallelism=parallelism,
        refresh=refresh,
        timeout=timeout,
        lock_timeout=lock_timeout,
        no_wait=no_wait,
        force_conflicts=force_conflicts,
        kube_workers=kube_workers,
        kube_qps=kube_qps,
        kube_burst=kube_burst,
        adopt_owned=adopt_owned,
    )
    ask = planfile is None and not auto_approve
    status = _apply(view, compiled, options, planfile, ask=ask, approve=approve, probe=probe)
    if status == EXIT_OK and served:  # (its code digest began with try_noop)
        compiled_cache.save(project, compiled, inputs)
    raise Exit(status)


def _apply(
    view: View,
    compiled: Compiled,
    options: RunOptions,
    planfile: Path | None,
    ask: bool,
    approve: list[str],
    probe: str | None = None,
) -> int:
    """Apply after the gates: the saved plan (read under the lock) or a confirmed preview."""
    from composer.cli import guide
    from composer.cli.probing import Probed
    from composer.cli.session import report, run_engine
    from composer.cli.wiring import plan_key
    from composer.project import held_units, refuse_paused
    from composer.runners.saved_plans import read_plan

    refuse_paused(compiled)
    held, waiting = held_units(compiled, approve)

    checked = Probed(
        view, "off" if planfile is not None else probe, _pending, record=True
    )  # a saved plan applies as saved

    def step(s: EngineSession) -> RunResult:
        state = checked.state(s)
        if ask:
            preview = s.engine.plan(state)
            if not any(o.changes or o.action == "prune" for o in preview.outcomes.values()):
                view.info("[green]no changes[/green]")
                view.summary(True, EXIT_OK, **preview.summary())
                raise Exit(EXIT_OK)
            with s.progress.paused():  # the question must not be redrawn over by the live table
                guide.confirm_plan(view, preview, compiled, state)
        return s.engine.apply(state, s.prepared.tfplans if s.prepared else None, hold=held)

    def read_saved(store, state):
        return read_plan(planfile, compiled, state, plan_key(store)) if planfile is not None else None

    result, session = run_engine(view, "apply", compiled, options, step, checked, before=read_saved)
    where = guide.destinations(compiled, session.store, session.engine.sinks, result)
    if waiting:
        view.fact(
            "gate",
            f"stopped at approval gate {waiting[0]!r}: {', '.join(sorted(held))} not applied; continue with appc apply --approve {waiting[0]}",
            gates=waiting,
            held=sorted(held),
        )
    view.event("where", **where)  # before the summary, which stays the last JSON line
    code = report(view, result, compiled.resolved.environment.name, "apply")
    guide.tell_where(view, where)
    return code


@project_command(app)
def destroy(
    view: View,
    project: ProjectOptions,
    auto_approve: bool = option(False, "--auto-approve", env="AUTO_APPROVE", help="Destroy without asking."),
    parallelism: int = ParallelismOpt,
    kube_workers: int = KubeWorkersOpt,
    kube_qps: float = KubeQpsOpt,
    kube_burst: int = KubeBurstOpt,
    timeout: float = TimeoutOpt,
    lock_timeout: float = LockTimeoutOpt,
) -> None:
    """Destroy every unit of the environment, dependents first. Protected units refuse."""
    from composer.cli import guide
    from composer.cli.session import report, run_engine
    from composer.cli.wiring import RunOptions, interactive

    if not auto_approve and not interactive():
        raise _needs_terminal(
            "destroy",
            "there is no one to confirm the question (stdin/stdout are not a terminal, or CI is set); nothing was destroyed. Pass --auto-approve (COMPOSER_AUTO_APPROVE=1) to destroy every unit of the environment",
        )
    compiled = compile_for(project)
    options = RunOptions(parallelism=parallelism, timeout=timeout, lock_timeout=lock_timeout, kube_workers=kube_workers)
    options = replace(options, kube_qps=kube_qps, kube_burst=kube_burst)
    if not auto_approve:
        guide.destroy_warning(view, compiled)
        app_env = f"{compiled.resolved.name}/{compiled.resolved.environment.name}"
        guide.confirm(view, f"destroy every unit of {app_env}?", "destroy")
    result, _ = run_engine(
        view, "destroy", compiled, options, lambda s: s.engine.destroy(s.state), lambda s: bool(s.state.units)
    )
    raise Exit(report(view, result, compiled.resolved.environment.name, "destroy"))
