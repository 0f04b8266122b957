"""`appc controller`: run Composer as a Kubernetes controller (docs/controller.md).

`appc controller manifests` prints what installing the controller takes, for
`kubectl apply -f -` or as a kustomize base. Registered on the app when composer.cli.app
imports this module.
"""

from __future__ import annotations

import typer
import yaml

from composer.cli.app import app
from composer.controller.manifests import InstallOptions, install_manifests

controller_app = typer.Typer(help="Run Composer as a Kubernetes controller.", no_args_is_help=True)
app.add_typer(controller_app, name="controller")


@controller_app.command("manifests")
def manifests(
    namespace: str = typer.Option(
        "composer-system", "--namespace", envvar="COMPOSER_CONTROLLER_NAMESPACE", help="Namespace of the controller."
    ),
    image: str = typer.Option(
        InstallOptions.image, "--image", envvar="COMPOSER_CONTROLLER_IMAGE", help="The controller's container image."
    ),
    replicas: int = typer.Option(
        2, "--replicas", min=1, envvar="COMPOSER_CONTROLLER_REPLICAS", help="Controller replicas (they share the work)."
    ),
    workers: int = typer.Option(
        2, "--workers", min=1, envvar="COMPOSER_CONTROLLER_WORKERS", help="Concurrent reconciles per replica."
    ),
) -> None:
    """Print the CRDs, RBAC, Deployment and Service that install the controller (YAML)."""
    opts = InstallOptions(namespace=namespace, image=image, replicas=replicas, workers=workers)
    typer.echo(yaml.safe_dump_all(install_manifests(opts), sort_keys=False), nl=False)
