"""The last words of a plan, apply or destroy: where things went, what to run next, and the
summary with the exit code. Light on imports: the no-op fast path (composer/cli/fastpath.py)
prints them without loading the engine's run or the project."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from composer.cli.common import EXIT_APPLY_FAILED, EXIT_OK
from composer.cli.views import View

if TYPE_CHECKING:
    from composer.engine.outcome import RunResult

Verb = Literal["plan", "apply", "destroy", "drift"]


def where_of(env: str, app_file: Path | str, targets: Sequence[str], location: str, failed: bool) -> dict[str, Any]:
    """Where an apply put things (sink targets: `dir:PATH`, `kube:CONTEXT/NAMESPACE`), and what to run next."""
    flag = "" if Path(app_file).absolute() == Path("app.yaml").absolute() else f" -f {os.path.relpath(app_file)}"
    manifests = [t.removeprefix("dir:") for t in targets if t.startswith("dir:")]
    clusters = [t.removeprefix("kube:") for t in targets if t.startswith("kube:")]
    nxt = [f"appc status{flag} -e {env}", f"appc outputs{flag} -e {env}"]
    if failed:
        nxt = [f"appc apply{flag} -e {env} (after fixing the errors above)"]
    return {"manifests": manifests, "clusters": clusters, "state": location, "next": nxt}


def tell_where(view: View, where: dict[str, Any]) -> None:
    if view.json:
        return  # (the `where` event says it; rich stays unloaded)
    from rich.text import Text

    lines = [f"manifests written to {d} (commit them for Argo CD or Flux)" for d in where["manifests"]]
    lines += [f"workloads applied to cluster context/namespace {c}" for c in where["clusters"]]
    lines += [f"state kept in {where['state']}", "next: " + "  ·  ".join(where["next"])]
    view.lines(Text(line) for line in lines)


def report(view: View, result: RunResult, env_name: str, verb: Verb) -> int:
    """The last words of a run: finished, failed (which units) or interrupted (how to resume); the exit code."""
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
