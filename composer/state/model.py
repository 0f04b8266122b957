"""The composer state document. It never holds a secret value: secret outputs are kept as keyed digests.

Written like Terraform writes its state: a lineage (uuid, fixed for the life of the
environment) and a serial (incremented on every write). Read strictly: a document with
an unknown format, another app's lineage or bad JSON is refused, never overwritten.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from composer.model.base import Name
from composer.state.checks import DriftCheck, UnitProbe

FORMAT = 1
MAX_REVISIONS = 50


# Names read from state are checked like the model's (state may be hostile): a unit name
# becomes a directory and a Terraform state key, an object name an API path.
KubeName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_.:]*[A-Za-z0-9])?$", max_length=253)]
Kind = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9]*$", max_length=63)]
ApiVersion = Annotated[
    str, StringConstraints(pattern=r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?v[0-9][a-z0-9]*$", max_length=253)
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def secret_digest(value: Any, key: bytes) -> str:
    """How state remembers a secret value: an HMAC with the state's key (composer/state/keys.py),
    so a low-entropy value cannot be guessed offline from state, and states share nothing."""
    from composer.state.keys import keyed_digest

    return keyed_digest(key, value)


def object_digest(obj: Any) -> str:
    """Digest of a Kubernetes object as applied: sinks skip writes when it is unchanged."""
    import json

    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class CloudResource(_Model):
    """One managed resource of a Terraform unit as its last apply left it (address, type and the
    provider's id, from Terraform's own -json stream): what the reality probe looks for."""

    address: Annotated[str, StringConstraints(max_length=512)]
    type: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+$", max_length=128)]
    id: Annotated[str, StringConstraints(max_length=2048)]


UnitKind = Literal["terraform", "kubernetes"]  # who applies the unit


class InstalledFrom(_Model):
    """Where an applied unit came from (issue 16): a bundle's digest, or a source commit, the key
    that signed the bundle, and when. Written by composer/runners/bundle_install.py's store."""

    bundle_digest: str | None = Field(None, pattern=r"^sha256:[0-9a-f]{64}$")
    source: str | None = Field(None, max_length=2048)
    signer: str | None = Field(None, pattern=r"^sha256:[0-9a-f]{64}$")
    at: str | None = None


class UnitState(_Model):
    kind: UnitKind
    type: str
    hash: str  # sha256 of rendered bytes + module content + upstream output digests
    status: Literal["applied", "failed"]
    outputs: dict[str, Any] = {}  # non-secret outputs only
    secret_digests: dict[str, str] = {}  # key -> HMAC of the value with the state's key
    secret_ref: str | None = None  # where read_secret fetches secret keys (connection_secret_id)
    dependencies: tuple[Name, ...] = ()
    # The provider plugin whose Terraform provider the unit's root configured: prune renders a
    # root with that provider and the unit's backend (nothing else is taken from state).
    provider: Name | None = None
    # Written by earlier versions (their prune used it); read and ignored, never executed.
    skeleton: dict[str, Any] = {}
    updated_at: str = Field(default_factory=now)
    error: str | None = None  # last failure summary (no values)
    # Terraform units: the resources the last apply left (None: written before probes existed,
    # so the probe cannot vouch for the unit and it runs once to record them).
    resources: tuple[CloudResource, ...] | None = None
    # Day 2 (engine/rotate.py): generated inputs sealed with the state's key until the cloud
    # secret store holds them (so a failed first apply never generates a second password), the
    # rotation version of each generated secret, and when it was last rotated.
    sealed_inputs: dict[str, str] = {}
    secret_versions: dict[str, int] = {}
    rotated_at: str | None = None
    rotating: str | None = None  # the key of a rotation begun and not yet applied (resume sends the same value)
    installed: InstalledFrom | None = None  # absent in states written before bundles


class InventoryItem(_Model):
    """One Kubernetes object applied for a component, on one target."""

    api_version: ApiVersion = Field(alias="apiVersion")
    kind: Kind
    name: KubeName
    namespace: Name | None = None
    component: Name
    hash: str  # digest of the content we applied (no write when unchanged)
    # The object as the server answered our last write (None: written before probes existed):
    # the reality probe compares them with one LIST per kind and namespace.
    uid: str | None = Field(default=None, max_length=128)
    resource_version: str | None = Field(default=None, alias="resourceVersion", max_length=128)
    generation: int | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Revision(_Model):
    serial: int
    at: str
    command: str
    changed: tuple[Name, ...] = ()
    removed: tuple[Name, ...] = ()
    failed: tuple[Name, ...] = ()


class StateDoc(_Model):
    format: int = FORMAT
    lineage: str = Field(default_factory=lambda: str(uuid.uuid4()))
    serial: int = 0
    app: str
    environment: str
    units: dict[Name, UnitState] = {}  # names follow the model's rules: they become paths and keys
    inventory: dict[str, tuple[InventoryItem, ...]] = {}  # target name -> objects
    revisions: tuple[Revision, ...] = ()
    emulator: str | None = None  # sandbox environments: the emulator instance this state describes
    # What `appc status` shows of the last checks against reality (composer/state/checks.py):
    # per unit the last probe an apply ran, and the last `appc drift` run.
    probes: dict[Name, UnitProbe] = {}
    drift_check: DriftCheck | None = None

    def with_unit(self, name: str, unit: UnitState | None) -> StateDoc:
        units = dict(self.units)
        if unit is None:
            units.pop(name, None)
        else:
            units[name] = unit
        return self.model_copy(update={"units": units})

    def with_revision(self, rev: Revision) -> StateDoc:
        return self.model_copy(update={"revisions": (*self.revisions, rev)[-MAX_REVISIONS:]})


def new_state(app: str, environment: str) -> StateDoc:
    return StateDoc(app=app, environment=environment)
