"""The plain-manifest sink: workloads as plain YAML files, no kustomize, for `kubectl apply -f`,
Config Sync or any tool that reads a directory of manifests
(`kubernetes: {directory: DIR, format: plain}`).

    <dir>/<component>.yaml     the component's objects, deterministic
    <dir>/.appc-manifests      appc's ownership marker

No secret value is ever written. Workloads reach their connections through `secretKeyRef`s
to the Secret `<app>-<component>-conn`, which this sink does not write: whoever applies the
files provides that Secret (docs/kubernetes.md). A component holding a Secret with data is
refused, wherever the Secret sits.

The directory may be hostile: every read, write and delete goes through composer/safefs.py
(no link followed, temp files with random names), and appc writes nothing into a directory
that holds files (other than hidden ones such as .gitkeep) unless its marker is there (it
proves appc wrote the directory; the GitOps sink's rule, with the marker in place of
kustomization.yaml).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from composer import safefs
from composer.diagnostics import Diagnostic, DiagnosticError
from composer.render import dump_yaml
from composer.render.connection import Connection
from composer.runners.directory import (
    inventory_items,
    no_generated_secrets,
    preview_against_file,
    refuse_secret_data,
)
from composer.state.model import InventoryItem

if TYPE_CHECKING:
    from composer.runners.sinks import SinkRequest

MARKER = ".appc-manifests"
MARKER_TEXT = (
    b"Written by appc (Composer): plain manifests, one file per component. appc rewrites them on every apply.\n"
)
_MARKER_LOCK = threading.Lock()
SECRET_FIX = (
    "plain manifests never hold secret values. Create the Secret with your own tooling and reference it, "
    "or deliver this environment to a cluster (kubernetes.context)."
)


class ManifestSink:
    needs_secret_store = False  # connections stay secretKeyRefs: nothing is published

    def __init__(self, directory: Path, app: str, environment: str):
        self.directory = directory
        self.app = app
        self.environment = environment
        self.target = f"dir:{directory}"
        self._owned = False

    def _check_owned(self) -> None:
        """Claim the directory: absent or empty (hidden files aside) gets the marker; anything
        else must hold it."""
        with _MARKER_LOCK:  # units are applied in parallel threads
            if self._owned:
                return
            if safefs.read_file(self.directory, MARKER) is None:
                if [n for n in safefs.list_dir(self.directory) if not n.startswith(".")]:  # .gitkeep is fine
                    raise DiagnosticError([self._not_ours()])
                safefs.write_file(self.directory, MARKER, MARKER_TEXT, dir_mode=0o755)
            self._owned = True

    def _not_ours(self) -> Diagnostic:
        return Diagnostic(
            f"refusing to write into {self.directory}: appc did not write this directory",
            f"it has files but no {MARKER} marker, so it is someone else's. "
            "Point kubernetes.directory at a new or empty directory.",
        )

    def write_connection(self, connection: Connection) -> int:
        return 0  # the workloads' secretKeyRefs name the Secret; its values never reach a file

    def delete_connection(self, component: str, secret_name: str) -> int:
        return 0

    def read_connection(self, component: str, secret_name: str) -> Mapping[str, str] | None:
        raise no_generated_secrets(component, "plain manifests", "or choose a cloud implementation")

    def apply(
        self, component: str, objects: list[dict], previous: tuple[InventoryItem, ...]
    ) -> tuple[tuple[InventoryItem, ...], int]:
        refuse_secret_data(component, objects, "the manifest directory", SECRET_FIX)
        self._check_owned()
        name = f"{component}.yaml"
        if objects:
            writes = int(safefs.write_file(self.directory, name, dump_yaml(objects), dir_mode=0o755))
        else:
            writes = int(safefs.remove_file(self.directory, name))
        return inventory_items(component, objects), writes

    def preview(self, component: str, objects: list[dict]) -> list[tuple[dict | None, dict]]:
        return preview_against_file(self.directory, f"{component}.yaml", objects)

    def admission_warnings(self, component: str) -> list[str]:
        return []  # no admission: whoever applies the files gets the cluster's warnings

    def delete(self, items: tuple[InventoryItem, ...]) -> int:
        if not items:
            return 0
        self._check_owned()
        return sum(int(safefs.remove_file(self.directory, f"{c}.yaml")) for c in sorted({i.component for i in items}))


def sinks_for(request: SinkRequest) -> tuple[ManifestSink, ...]:
    """The sink registry's entry for `format: plain` (composer/runners/sinks.py)."""
    assert request.directory is not None  # the registry chooses this module for directories only
    return (ManifestSink(request.directory, request.resolved.name, request.resolved.environment.name),)
