"""`appc controller`: run Composer as a Kubernetes controller (docs/controller.md).

`appc controller manifests` prints what installing the controller takes, for
`kubectl apply -f -` or as a kustomize base. Registered on the app by
composer.cli.app's COMMAND_MODULES.
"""

from __future__ import annotations

import os
import socket
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
import yaml

from composer.cli.common import app, command
from composer.controller import DEFAULT_IMAGE

# The options of `controller run` that configure where catalogs come from and how units run.
CatalogKeys = Annotated[
    list[Path] | None,
    typer.Option(
        "--catalog-key",
        envvar="COMPOSER_CONTROLLER_CATALOG_KEYS",
        help="Trusted public key (PEM, appc keygen) of Environment catalog bundles; repeatable. None: bundles are refused.",
    ),
]
CatalogBundleDir = Annotated[
    Path | None,
    typer.Option(
        "--catalog-bundle-dir",
        envvar="COMPOSER_CONTROLLER_CATALOG_BUNDLE_DIR",
        help="Directory (a mounted volume) that Environment `catalog.bundle.path` references are read from.",
    ),
]
Verbose = Annotated[
    bool,
    typer.Option("--verbose", envvar="COMPOSER_CONTROLLER_VERBOSE", help="Also log kopf's own per-handler INFO lines."),
]


class RunnerKind(str, Enum):
    process = "process"
    job = "job"


Runner = Annotated[
    RunnerKind,
    typer.Option(
        "--runner",
        envvar="COMPOSER_CONTROLLER_RUNNER",
        help="Where Terraform units run: process (the reconcile's child) or job (a Kubernetes Job each).",
    ),
]
JobImage = Annotated[
    str, typer.Option("--job-image", envvar="COMPOSER_CONTROLLER_JOB_IMAGE", help="The image of --runner job.")
]


Shards = Annotated[
    int,
    typer.Option(
        "--shards",
        min=0,
        envvar="COMPOSER_CONTROLLER_SHARDS",
        help="Divide the work among replicas in N shards (0: one replica does all).",
    ),
]
LeaseNamespace = Annotated[
    str,
    typer.Option(
        "--lease-namespace",
        envvar="COMPOSER_CONTROLLER_LEASE_NAMESPACE",
        help="Namespace of the shard Leases (the controller's own).",
    ),
]
LeaseSeconds = Annotated[
    int,
    typer.Option(
        "--lease-seconds",
        min=1,
        envvar="COMPOSER_CONTROLLER_LEASE_SECONDS",
        help="How long a shard's Lease lasts unless renewed: a dead replica's shards move after it; longer rides out a starved node.",
    ),
]
LeaseRenewSeconds = Annotated[
    float,
    typer.Option(
        "--lease-renew-seconds",
        envvar="COMPOSER_CONTROLLER_LEASE_RENEW_SECONDS",
        help="How often a replica renews its Leases; must be shorter than --lease-seconds.",
    ),
]


controller_app = typer.Typer(help="Run Composer as a Kubernetes controller.", no_args_is_help=True)
app.add_typer(controller_app, name="controller")


@controller_app.command("manifests")
def manifests(
    namespace: str = typer.Option(
        "composer-system", "--namespace", envvar="COMPOSER_CONTROLLER_NAMESPACE", help="Namespace of the controller."
    ),
    image: str = typer.Option(
        DEFAULT_IMAGE, "--image", envvar="COMPOSER_CONTROLLER_IMAGE", help="The controller's container image."
    ),
    replicas: int = typer.Option(
        1,
        "--replicas",
        min=1,
        envvar="COMPOSER_CONTROLLER_REPLICAS",
        help="Controller replicas (1 until sharding exists).",
    ),
    workers: int = typer.Option(
        2, "--workers", min=1, envvar="COMPOSER_CONTROLLER_WORKERS", help="Concurrent reconciles per replica."
    ),
) -> None:
    """Print the CRDs, RBAC, Deployment and Service that install the controller (YAML)."""
    from composer.controller.manifests import InstallOptions, install_manifests

    opts = InstallOptions(namespace=namespace, image=image, replicas=replicas, workers=workers)
    typer.echo(yaml.safe_dump_all(install_manifests(opts), sort_keys=False), nl=False)


@controller_app.command("run")
def run(
    state_dir: Path = typer.Option(
        Path(".appc-controller"),
        "--state-dir",
        envvar="COMPOSER_CONTROLLER_STATE_DIR",
        help="Where each application's project files (and local state) live between reconciles.",
    ),
    workers: int = typer.Option(
        2, "--workers", min=1, envvar="COMPOSER_CONTROLLER_WORKERS", help="Concurrent reconciles in this process."
    ),
    timeout: float = typer.Option(
        1800.0, "--timeout", min=1, envvar="COMPOSER_TIMEOUT", help="Seconds one apply or destroy may take."
    ),
    health_port: int = typer.Option(
        8080, "--health-port", envvar="COMPOSER_CONTROLLER_HEALTH_PORT", help="Port of /healthz (0: none)."
    ),
    shards: Shards = 0,
    lease_namespace: LeaseNamespace = "composer-system",
    lease_seconds: LeaseSeconds = 15,
    lease_renew_seconds: LeaseRenewSeconds = 5.0,
    namespace: list[str] = typer.Option(
        [], "--namespace", envvar="COMPOSER_CONTROLLER_NAMESPACES", help="Watch only these namespaces (repeatable)."
    ),
    catalog_key: CatalogKeys = None,
    catalog_bundle_dir: CatalogBundleDir = None,
    verbose: Verbose = False,
    runner: Runner = RunnerKind.process,
    job_image: JobImage = DEFAULT_IMAGE,
) -> None:
    """Reconcile Application resources in their Environments until stopped (kopf)."""
    import asyncio

    from composer.controller.job_child import RunnerOptions
    from composer.controller.operator import ControllerOptions, lease_problem, serve

    _refuse(lease_problem(lease_seconds, lease_renew_seconds))
    opts = ControllerOptions(
        state_root=_private_state_dir(state_dir),
        workers=workers,
        timeout_s=timeout,
        health_port=health_port or None,
        namespaces=tuple(namespace),
        shards=shards,
        identity=os.environ.get("POD_NAME") or socket.gethostname(),
        lease_namespace=lease_namespace,
        lease_seconds=lease_seconds,
        lease_renew_s=lease_renew_seconds,
        catalog_keys=tuple(k.absolute() for k in catalog_key or ()),
        catalog_bundle_dir=catalog_bundle_dir.absolute() if catalog_bundle_dir else None,
        verbose=verbose,
        runner=RunnerOptions("job" if runner is RunnerKind.job else "process", job_image),
    )
    asyncio.run(serve(opts))


def _refuse(problem: str | None) -> None:
    """A setting that cannot work is a diagnostic and exit 1, before anything runs."""
    from composer.diagnostics import MessageError

    if problem is not None:
        with command("controller", False):
            raise MessageError(problem)


def _private_state_dir(state_dir: Path) -> Path:
    """The controller's state directory, made 0700 and never through a planted link; a refusal is a
    diagnostic and exit 1, before anything runs."""
    from composer import safefs

    with command("controller", False):
        base = state_dir.absolute().parent
        base.mkdir(parents=True, exist_ok=True)  # the operator's path; the state directory itself is ours
        safefs.private_dir(base.resolve(), state_dir.name)
    return state_dir.resolve()
