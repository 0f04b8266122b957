"""The GitOps directory sink: workloads as files, for Argo CD / Flux to apply.

    <dir>/<component>.yaml          the component's objects, deterministic
    <dir>/<component>-conn.yaml     an ExternalSecret for a resource's connection Secret
    <dir>/kustomization.yaml        every file above, sorted

No secret value is ever written here. A connection Secret becomes an ExternalSecret
(external-secrets.io) that pulls the entry the resource module wrote to the cloud
secret store; a unit whose secrets are not in a store is refused, with what to configure.

The directory is another tool's input and may be hostile: every write and delete goes
through composer/safefs.py (no link followed, temp files with random names), and appc
writes nothing into a directory whose kustomization.yaml it did not write (its first line
is KUSTOMIZATION_HEADER, or its content is exactly what appc would write).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from composer import safefs
from composer.diagnostics import Diagnostic, DiagnosticError
from composer.model.environment import SecretStoreRef
from composer.render import dump_yaml
from composer.render.connection import Connection
from composer.render.kubernetes import target_namespace
from composer.state.model import InventoryItem, object_digest

if TYPE_CHECKING:
    from composer.runners.sinks import SinkRequest

EXTERNAL_SECRETS_API = "external-secrets.io/v1"  # the default; kubernetes.secretStore.apiVersion chooses
_KUSTOMIZATION_LOCK = threading.Lock()
SECRET_FIX = (
    "GitOps output never holds secret values. Keep the value in your cloud secret store and declare an ExternalSecret "
    f"({EXTERNAL_SECRETS_API}) in the component instead, or deliver this environment to a cluster (kubernetes.context)."
)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


KUSTOMIZATION = "kustomization.yaml"
KUSTOMIZATION_HEADER = b"# Written by appc (Composer); it rewrites this file on every apply.\n"


def secrets_with_data(objects: list) -> list[str]:
    """Names of the Secrets holding data anywhere in `objects`: at the top, in the items of a
    `kind: List` (or any *List), or nested in any other field."""
    found: list[str] = []
    stack: list = list(reversed(objects))
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if str(node.get("kind", "")).lower() == "secret" and (node.get("data") or node.get("stringData")):
                meta = node.get("metadata")
                found.append(str(meta.get("name")) if isinstance(meta, dict) and meta.get("name") else "(unnamed)")
                continue
            stack.extend(reversed(list(node.values())))
        elif isinstance(node, list):
            stack.extend(reversed(node))
    return found


def refuse_secret_data(component: str, objects: list[dict], where: str, fix: str) -> None:
    """Refuse a component whose objects hold a Secret with its data: files never hold values."""
    raw = secrets_with_data(objects)
    if raw:
        raise DiagnosticError(
            [
                Diagnostic(
                    f"component {component} would write Secret {', '.join(raw)} with its data into {where}",
                    fix,
                    address=component,
                )
            ]
        )


def no_generated_secrets(component: str, where: str, fix: str) -> DiagnosticError:
    """Why a file sink cannot hand back a connection Secret appc generated in-cluster."""
    return DiagnosticError(
        [
            Diagnostic(
                f"{component} is served in-cluster with generated secrets, which {where} cannot hold",
                f"deliver this environment to a cluster (kubernetes.context), {fix}",
                address=component,
            )
        ]
    )


def inventory_items(component: str, objects: list[dict]) -> tuple[InventoryItem, ...]:
    """What a file sink wrote, for state: each object with its digest."""
    return tuple(
        InventoryItem(
            api_version=o["apiVersion"],
            kind=o["kind"],
            name=o["metadata"]["name"],
            namespace=o["metadata"].get("namespace"),
            component=component,
            hash=object_digest(o),
        )
        for o in objects
    )


def preview_against_file(directory: Path, name: str, objects: list[dict]) -> list[tuple[dict | None, dict]]:
    """Each object against its copy in the file written last (None: not written yet). A file
    that no longer parses, or that is not a plain file (a planted link), counts as absent:
    the plan then shows creates, and apply refuses what it cannot write."""
    written: dict[tuple, dict] = {}
    try:
        data = safefs.read_file(directory, name)
        docs = list(yaml.safe_load_all(data.decode("utf-8"))) if data is not None else []
    except (DiagnosticError, UnicodeDecodeError, yaml.YAMLError):
        docs = []
    for d in docs:
        if isinstance(d, dict) and isinstance(d.get("metadata"), dict):
            written[(d.get("kind"), d["metadata"].get("namespace"), d["metadata"].get("name"))] = d
    return [
        (written.get((o.get("kind"), o["metadata"].get("namespace"), o["metadata"].get("name"))), o) for o in objects
    ]


class DirectorySink:
    needs_secret_store = True  # connections are ExternalSecrets: the engine publishes what they read

    def __init__(
        self,
        directory: Path,
        app: str,
        environment: str,
        namespace: str | None,
        secret_store: SecretStoreRef | None,
    ):
        self.directory = directory
        self.app = app
        self.environment = environment
        self.namespace = namespace
        self.secret_store = secret_store
        self.target = f"dir:{directory}"
        self._owned = False

    def _write(self, name: str, data: bytes) -> int:
        self._check_owned()
        # atomic (a reader such as Argo CD, Flux or git add never sees half a file), never through a link
        written = safefs.write_file(self.directory, name, data, dir_mode=0o755)
        self._kustomization()
        return int(written)

    def _remove(self, name: str) -> int:
        self._check_owned()
        if not safefs.remove_file(self.directory, name):
            return 0
        self._kustomization()
        return 1

    def _kustomization(self) -> None:
        with _KUSTOMIZATION_LOCK:  # units are applied in parallel threads
            safefs.write_file(
                self.directory, KUSTOMIZATION, KUSTOMIZATION_HEADER + self._kustomization_doc(), dir_mode=0o755
            )

    def _kustomization_doc(self) -> bytes:
        files = [
            n
            for n in safefs.list_dir(self.directory)
            if n.endswith(".yaml") and n != KUSTOMIZATION and not n.startswith(".")
        ]
        doc = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": files}
        if self.namespace:
            doc["namespace"] = self.namespace
        return yaml.safe_dump(doc, sort_keys=False).encode()

    def _check_owned(self) -> None:
        """Refuse a directory whose kustomization.yaml appc did not write: it is someone
        else's GitOps tree, and appc's files would change what it deploys."""
        with _KUSTOMIZATION_LOCK:
            if self._owned:
                return
            current = safefs.read_file(self.directory, KUSTOMIZATION)
            if (
                current is not None
                and not current.startswith(KUSTOMIZATION_HEADER)
                and current != self._kustomization_doc()
            ):
                raise DiagnosticError(
                    [
                        Diagnostic(
                            f"refusing to write into {self.directory}: its {KUSTOMIZATION} was not written by appc",
                            "appc writes GitOps output only into a directory it manages. Point kubernetes.directory at a new "
                            "directory (and reference it from your own kustomization), or remove this one's kustomization.yaml.",
                        )
                    ]
                )
            self._owned = True

    def write_connection(self, connection: Connection) -> int:
        # The ExternalSecret is rendered by composer/render/connection.py (which refuses a unit
        # whose values are in no secret store); this sink only writes it.
        return self._write(f"{connection.component}-conn.yaml", dump_yaml([connection.external_secret()]))

    def read_connection(self, component: str, secret_name: str) -> Mapping[str, str] | None:
        raise no_generated_secrets(
            component,
            "a GitOps directory",
            "or choose a cloud implementation whose module keeps secrets in a secret store",
        )

    def delete_connection(self, component: str, secret_name: str) -> int:
        return self._remove(f"{component}-conn.yaml")

    def apply(
        self, component: str, objects: list[dict], previous: tuple[InventoryItem, ...]
    ) -> tuple[tuple[InventoryItem, ...], int]:
        refuse_secret_data(component, objects, "the GitOps directory", SECRET_FIX)
        writes = self._write(f"{component}.yaml", dump_yaml(objects)) if objects else self._remove(f"{component}.yaml")
        return inventory_items(component, objects), writes

    def missing(self, component: str, objects: list[dict]) -> int:
        """A directory has no live side to drift from: what it holds is what was written."""
        return 0

    def check(self, component: str, objects: list[dict], previous: tuple[InventoryItem, ...]) -> list[Diagnostic]:
        """A directory refuses nothing; the cluster that syncs it may, and says so there."""
        return []

    def admission_warnings(self, component: str) -> list[str]:
        return []  # no admission: the cluster that syncs the directory warns there

    def preview(self, component: str, objects: list[dict]) -> list[tuple[dict | None, dict]]:
        """Each object against its copy in the last written file (None: not written yet)."""
        return preview_against_file(self.directory, f"{component}.yaml", objects)

    def delete(self, items: tuple[InventoryItem, ...]) -> int:
        return sum(self._remove(f"{c}.yaml") for c in sorted({i.component for i in items}))


def sinks_for(request: SinkRequest) -> tuple[DirectorySink, ...]:
    """The sink registry's entry for `format: kustomize` (composer/runners/sinks.py)."""
    assert request.directory is not None  # the registry chooses this module for directories only
    env = request.resolved.environment
    return (
        DirectorySink(
            request.directory,
            request.resolved.name,
            env.name,
            target_namespace(request.resolved),
            env.spec.kubernetes.secret_store,
        ),
    )
