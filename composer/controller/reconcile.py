"""One reconcile's data: the project directory an Application and its Environment become, the
child `appc` run's JSON events read back (composer/runners/appc_child.py starts the process), and
the status conditions they give.

A child process per reconcile keeps one application's failure, memory and Terraform processes
away from the others, and makes the controller and the CLI the same code by construction. The
project directory (`<state root>/<namespace>/<app>/`) persists between reconciles: with a local
state store it holds the state, so local state is for a single replica (docs/controller.md).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from composer import safefs
from composer.controller import job_child
from composer.controller.binding import CatalogRef
from composer.controller.job_child import RunnerOptions
from composer.runners.appc_child import run_appc
from composer.runners.controller_catalog import CatalogReader
from composer.runners.controller_catalog_bundle import BundleRef

CATALOG_FILE = "definitions/catalog.yaml"

Verb = Literal["apply", "destroy"]
CONDITION_TYPES = ("Ready", "Progressing", "Degraded", "Drifted")
MESSAGE_CHARS = 1000  # of a condition's message; the events repeat it (kopf cuts them at 1024)


@dataclass(frozen=True)
class Outcome:
    """What one `appc` run said: its exit code, per-unit status and the first error."""

    exit_code: int
    units: dict[str, str] = field(default_factory=dict)
    message: str = ""
    terraform_runs: int = 0
    k8s_writes: int = 0
    catalog: str | None = None  # the catalog text this run used (None: the Environment names none)
    # the Degraded reason when not ok (CatalogRefused: composer/controller/catalogs.py; IdentityUnavailable:
    # job_child.NO_IDENTITY_REASON)
    reason: str = "ApplyFailed"

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
    env_revision: str = ""
    catalog: CatalogRef | None = None
    catalog_bundle: BundleRef | None = None
    runner: RunnerOptions = RunnerOptions()


def project_dir(root: Path, namespace: str, app: str) -> Path:
    return root / namespace / app


def write_project(root: Path, job: Job, catalog: str | None = None, keep_catalog: bool = False) -> Path:
    """The files `appc` reads, through safefs (no link below the root is followed): the app,
    its environment and the catalog's definitions (removed when the Environment names none,
    kept as last applied when `keep_catalog`)."""
    rel = Path(job.namespace) / job.app
    safefs.private_dir(root, rel)
    safefs.write_file(root, rel / "app.yaml", yaml.safe_dump(job.app_doc, sort_keys=False).encode())
    env_rel = rel / "environments" / f"{job.env}.yaml"
    safefs.write_file(root, env_rel, yaml.safe_dump(job.env_doc, sort_keys=False).encode())
    if catalog is not None:
        safefs.write_file(root, rel / CATALOG_FILE, catalog.encode())
    elif not keep_catalog:
        safefs.remove_file(root, rel / CATALOG_FILE)
    return root / rel


def run(root: Path, job: Job, verb: Verb, catalogs: CatalogReader | None = None) -> Outcome:
    """Write the project and run `appc VERB` in it. A catalog that cannot be read fails an apply
    before anything runs; a destroy goes on with the catalog it last applied with."""
    if job.catalog_bundle is not None:
        from composer.controller.catalogs import run_with_bundle

        return run_with_bundle(root, job, verb, catalogs or CatalogReader())
    catalog = None
    if job.catalog is not None:
        got = (catalogs or CatalogReader()).read(job.namespace, job.catalog.name, job.catalog.key)
        if got.problem is not None and verb == "apply":
            return Outcome(exit_code=1, message=got.problem)
        catalog = got.text
    directory = write_project(root, job, catalog, keep_catalog=job.catalog is not None)
    return dataclasses.replace(run_child(directory, job, verb), catalog=catalog)


def run_child(directory: Path, job: Job, verb: Verb, extra: tuple[str, ...] = ()) -> Outcome:
    """`appc VERB --json` in the project directory, read back as an Outcome."""
    args = [verb, "-f", str(directory / "app.yaml"), "-e", job.env, "--auto-approve", "--json", *extra]
    if verb == "apply":  # a resource its tags prove ours, left unrecorded by a killed replica, is taken back
        args.append("--adopt-owned")
    setup = job_child.prepare(directory, job.namespace, job.app, job.env_doc, job.runner, job.timeout_s)
    if setup.problem is not None:  # nothing ran: no child, no Terraform, no cloud call
        return Outcome(exit_code=1, message=setup.problem, reason=job_child.NO_IDENTITY_REASON)
    try:
        timeout = ["--timeout", str(int(job.timeout_s))]
        done = run_appc(directory, [*args, *timeout], job.timeout_s + 60, setup.env, setup.inherit_credentials)
    finally:
        job_child.clean_up(directory)
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
                first_error = _message(d.get("summary") or "", d.get("detail") or "")
    if exit_code != 0 and not first_error:
        first_error = (stderr.strip().splitlines() or [f"appc exited {exit_code}"])[-1][:500]
    return Outcome(
        exit_code=exit_code,
        units=units,
        message=first_error,
        terraform_runs=int(summary.get("terraform_runs", 0)),
        k8s_writes=int(summary.get("k8s_writes", 0)),
    )


def _message(summary: str, detail: str) -> str:
    """A diagnostic as a condition's message: the summary and its detail (e.g. the end of a failed
    Job's log), at most MESSAGE_CHARS, cut in the detail's middle so that its end stays."""
    if not detail:
        return summary
    text = f"{summary}; {detail}"
    if len(text) <= MESSAGE_CHARS:
        return text
    room = max(0, MESSAGE_CHARS - len(summary) - 3)
    return f"{summary}; …{detail[-room:]}" if room else summary[:MESSAGE_CHARS]


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
            "Ready": ("False", outcome.reason, outcome.message),
            "Degraded": ("True", outcome.reason, outcome.message),
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


def quiet_resync(
    outcome: Outcome, status: Mapping[str, Any], revision: str, env_revision: str, generation: int
) -> bool:
    """A resync that changed nothing and would write only what the status already says: Ready,
    the same revisions and generation, no Terraform run and no Kubernetes write. The controller
    then writes nothing (no status patch, no event): a no-op resync makes no mutating call."""
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    return (
        outcome.ok
        and outcome.terraform_runs == 0
        and outcome.k8s_writes == 0
        and ready
        and status.get("lastAppliedRevision") == revision
        and status.get("environmentRevision") == env_revision
        and status.get("observedGeneration") == generation
    )
