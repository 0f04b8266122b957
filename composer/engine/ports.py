"""The ports the engine drives. Runners (composer/runners) and providers implement them.

The errors a port may raise are `DiagnosticError`s (docs/architecture.md, "Errors"): the
engine reports their diagnostics as they are and never inspects an exception's attributes
by name. The two defined here carry what the engine needs besides the words: which objects
may exist after a partial write (`PartialApply`), and which module outputs Terraform found
missing (`TerraformFailure`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.render.connection import Connection
from composer.state.model import InventoryItem


class Changes(Protocol):
    add: int
    change: int
    remove: int
    resource_actions: tuple[tuple[str, str, str], ...]  # (address, resource type, action) planned
    resources_seen: tuple[tuple[str, str, str], ...]  # (address, type, id) refreshed or written
    resources_deleted: tuple[str, ...]  # addresses deleted

    @property
    def any(self) -> bool: ...


class TerraformFailure(DiagnosticError):
    """A Terraform run failed. The runner translates Terraform's own words into diagnostics;
    `missing_outputs` names module outputs the root reads that the module does not declare
    (Terraform's "Unsupported attribute" on the module call), which the engine restates in
    the words of the component's output contract."""

    def __init__(self, diagnostics: list[Diagnostic], missing_outputs: tuple[str, ...] = ()):
        self.missing_outputs = missing_outputs
        super().__init__(list(diagnostics))


class TerraformPort(Protocol):
    """Terraform for one unit's root at a time. Every failure is a `TerraformFailure`."""

    runs: int  # processes started so far (a no-op apply must start none)

    def close(self) -> None: ...

    def init(self, unit: str, workdir: Path, backend_config: Mapping[str, str] | None = None) -> None: ...

    def plan(
        self,
        unit: str,
        workdir: Path,
        planfile: Path,
        variables: Mapping[str, str] | None = None,
        *,
        destroy: bool = False,
        refresh: bool = True,
        refresh_only: bool = False,
    ) -> Changes: ...

    def apply(
        self,
        unit: str,
        workdir: Path,
        planfile: Path | None = None,
        variables: Mapping[str, str] | None = None,
        *,
        destroy: bool = False,
    ) -> Changes: ...

    def show(self, unit: str, workdir: Path, planfile: Path) -> dict[str, Any]: ...

    def outputs(self, unit: str, workdir: Path) -> dict[str, tuple[Any, bool]]: ...

    def resources(self, unit: str, workdir: Path) -> list[str] | None: ...

    def show_json(self, unit: str, workdir: Path, planfile: Path) -> dict[str, Any]: ...


class Workspace(Protocol):
    """Where Terraform roots live on disk for runs (.composer/roots/<env>). Implementations
    never follow a link they did not create (composer/safefs.py)."""

    root: Path

    def sync(self, files: Mapping[str, bytes]) -> None: ...

    def write(self, rel: str, data: bytes) -> Path: ...

    def write_private(self, rel: str, data: bytes) -> Path:
        """Like write, for bytes that may hold a secret (a saved plan): 0600."""
        ...

    def workdir(self, unit: str) -> Path:
        """The unit's Terraform directory, checked: nothing Terraform writes there may be a
        planted link, FIFO or hard link."""
        ...

    def read(self, rel: str) -> bytes | None: ...

    def init_needed(self, unit: str, fingerprint: str) -> bool:
        """Whether the unit needs `terraform init` for this backend/module fingerprint; a
        Terraform directory the implementation cannot prove it made is refused."""
        ...

    def initialized(self, unit: str, fingerprint: str) -> None: ...

    def state_path(self, key: str) -> Path: ...

    def remove(self, rel: str) -> None: ...


class PartialApply(DiagnosticError):
    """A sink wrote some objects, then failed (a rejected object, a rollout that timed out).
    `items` are the objects that may now exist, so the engine can record them: a later
    prune must be able to find them. Over-approximating is fine (deletes tolerate 404)."""

    def __init__(self, diagnostics: list[Diagnostic], items: tuple[InventoryItem, ...]):
        super().__init__(list(diagnostics))
        self.items = items


class WorkloadSink(Protocol):
    """Where workloads and connection Secrets go: a cluster, a GitOps directory, or a test sink."""

    target: str  # inventory key, e.g. "kube:dev-eu/webshop" or "dir:deploy/local"
    # True when connections reach workloads through the cloud secret store (a GitOps directory's
    # ExternalSecrets): the engine then publishes each connection document there.
    needs_secret_store: bool

    def write_connection(self, connection: Connection) -> int:
        """Deliver the unit's connection as rendered (composer/render/connection.py): its Secret
        to a cluster, its ExternalSecret to a GitOps directory. Returns the number of writes."""
        ...

    def delete_connection(self, component: str, secret_name: str) -> int: ...

    def read_connection(self, component: str, secret_name: str) -> Mapping[str, str] | None: ...

    def apply(
        self, component: str, objects: list[dict], previous: tuple[InventoryItem, ...]
    ) -> tuple[tuple[InventoryItem, ...], int]: ...

    def delete(self, items: tuple[InventoryItem, ...]) -> int: ...

    def missing(self, component: str, objects: list[dict]) -> int:
        """How many of `objects` the live target lacks (`appc plan --refresh` counts them as
        drift to add); a sink that cannot see its target returns 0."""
        ...

    def preview(self, component: str, objects: list[dict]) -> list[tuple[dict | None, dict]] | None:
        """For each object, what the target holds now (None: absent) and what it would hold
        after apply (a server-side-apply dry run; a directory: the object itself), so `appc
        plan` diffs the two field by field. None: this sink cannot preview; the plan lists
        the objects from the inventory."""
        ...

    def check(self, component: str, objects: list[dict], previous: tuple[InventoryItem, ...]) -> list[Diagnostic]:
        """For `appc plan`: what the target would refuse (a claim shrunk); empty when nothing."""
        ...

    def admission_warnings(self, component: str) -> list[str]:
        """The warnings the target's admission answered the component's last preview with (a
        cluster's Pod Security warn mode: its pods would violate the namespace's level); empty for
        a target without admission."""
        ...


class SecretReader(Protocol):
    def __call__(self, provider: str, secret_id: str) -> Mapping[str, str]: ...
