"""One reconcile's data: the project directory an Application and its Environment become, the
child `appc` run's JSON events read back (composer/runners/appc_child.py starts the process), and
the status conditions they give.

A child process per reconcile keeps one application's failure, memory and Terraform processes
away from the others, and makes the controller and the CLI the same code by construction. The
project directory (`<state root>/<namespace>/<app>/`) persists between reconciles: with a local
state store it holds the state, so local state is for a single replica (docs/controller.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from composer import safefs
from composer.runners.appc_child import run_appc

Verb = Literal["apply", "destroy"]
CONDITION_TYPES = ("Ready", "Progressing", "Degraded", "Drifted")


@dataclass(frozen=True)
class Outcome:
    """What one `appc` run said: its exit code, per-unit status and the first error."""

    exit_code: int
    units: dict[str, str] = field(default_factory=dict)
    message: str = ""
    terraform_runs: int = 0
    k8s_writes: int = 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass(frozen=True)
class Job:
    namespace: str
    app: str
    env: str
    app_doc: dict[str, Any]
    env_doc: dict[str, Any]
    timeout_s: float


def project_dir(root: Path, namespace: str, app: str) -> Path:
    return root / namespace / app


def write_project(root: Path, job: Job) -> Path:
    """The files `appc` reads, through safefs (no link below the root is followed)."""
    rel = Path(job.namespace) / job.app
    safefs.private_dir(root, rel)
    safefs.write_file(root, rel / "app.yaml", yaml.safe_dump(job.app_doc, sort_keys=False).encode())
    env_rel = rel / "environments" / f"{job.env}.yaml"
    safefs.write_file(root, env_rel, yaml.safe_dump(job.env_doc, sort_keys=False).encode())
    return root / rel


def run(root: Path, job: Job, verb: Verb) -> Outcome:
    directory = write_project(root, job)
    args = [verb, "-f", str(directory / "app.yaml"), "-e", job.env, "--auto-approve", "--json"]
    done = run_appc(directory, [*args, "--timeout", str(int(job.timeout_s))], job.timeout_s + 60)
    return read_events(done.exit_code, done.stdout, done.stderr)


def read_events(exit_code: int, stdout: str, stderr: str) -> Outcome:
    units: dict[str, str] = {}
    first_error = ""
    summary: dict[str, Any] = {}
    for line in stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("type") == "unit":
            units[event["unit"]] = event.get("status", "")
        elif event.get("type") == "summary":
            summary = event
        for d in event.get("diagnostics") or []:
            if d.get("severity") == "error" and not first_error:
                first_error = d.get("summary", "")
    if exit_code != 0 and not first_error:
        first_error = (stderr.strip().splitlines() or [f"appc exited {exit_code}"])[-1][:500]
    return Outcome(
        exit_code=exit_code,
        units=units,
        message=first_error,
        terraform_runs=int(summary.get("terraform_runs", 0)),
        k8s_writes=int(summary.get("k8s_writes", 0)),
    )


def conditions(outcome: Outcome | None, problem: str | None, now: str, generation: int) -> list[dict[str, Any]]:
    """The four conditions of an Application after a reconcile (None: one is running)."""
    if problem is not None:
        state = {"Ready": ("False", "NoEnvironment", problem), "Degraded": ("True", "NoEnvironment", problem)}
    elif outcome is None:
        state = {"Ready": ("Unknown", "Reconciling", ""), "Progressing": ("True", "Reconciling", "appc apply")}
    elif outcome.ok:
        state = {"Ready": ("True", "Applied", f"{len(outcome.units)} units")}
    else:
        state = {
            "Ready": ("False", "ApplyFailed", outcome.message),
            "Degraded": ("True", "ApplyFailed", outcome.message),
        }
    out = []
    for kind in CONDITION_TYPES:
        status, reason, message = state.get(kind, ("False", "AsExpected", ""))
        out.append(
            {
                "type": kind,
                "status": status,
                "reason": reason,
                "message": message,
                "lastTransitionTime": now,
                "observedGeneration": generation,
            }
        )
    return out


def protected_refusal(outcome: Outcome) -> bool:
    """`appc destroy` refused because of `policies.protect`: the finalizer must stay."""
    return not outcome.ok and "protect" in outcome.message
