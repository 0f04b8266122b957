"""The composer state document. It never holds a secret value: secret outputs are kept as digests.

Written like Terraform writes its state: a lineage (uuid, fixed for the life of the
environment) and a serial (incremented on every write). Read strictly: a document with
an unknown format, another app's lineage or bad JSON is refused, never overwritten.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FORMAT = 1
MAX_REVISIONS = 50


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def secret_digest(value: Any) -> str:
    return "sha256:" + hashlib.sha256(str(value).encode()).hexdigest()


def object_digest(obj: Any) -> str:
    """Digest of a Kubernetes object as applied: sinks skip writes when it is unchanged."""
    import json

    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class UnitState(_Model):
    kind: Literal["terraform", "kubernetes"]
    type: str
    hash: str  # sha256 of rendered bytes + module content + upstream output digests
    status: Literal["applied", "failed"]
    outputs: dict[str, Any] = {}  # non-secret outputs only
    secret_digests: dict[str, str] = {}  # key -> sha256 of the value
    secret_ref: str | None = None  # where read_secret fetches secret keys (connection_secret_id)
    dependencies: tuple[str, ...] = ()
    # terraform and provider blocks of the last applied root: enough to destroy the unit's
    # resources after the component left the model (prune). Holds no secret.
    skeleton: dict[str, Any] = {}
    updated_at: str = Field(default_factory=now)
    error: str | None = None  # last failure summary (no values)


class InventoryItem(_Model):
    """One Kubernetes object applied for a component, on one target."""

    api_version: str = Field(alias="apiVersion")
    kind: str
    name: str
    namespace: str | None = None
    component: str
    hash: str  # digest of the content we applied (no write when unchanged)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Revision(_Model):
    serial: int
    at: str
    command: str
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()


class StateDoc(_Model):
    format: int = FORMAT
    lineage: str = Field(default_factory=lambda: str(uuid.uuid4()))
    serial: int = 0
    app: str
    environment: str
    units: dict[str, UnitState] = {}
    inventory: dict[str, tuple[InventoryItem, ...]] = {}  # target name -> objects
    revisions: tuple[Revision, ...] = ()
    emulator: str | None = None  # sandbox environments: the emulator instance this state describes

    def with_unit(self, name: str, unit: UnitState | None) -> "StateDoc":
        units = dict(self.units)
        if unit is None:
            units.pop(name, None)
        else:
            units[name] = unit
        return self.model_copy(update={"units": units})

    def with_revision(self, rev: Revision) -> "StateDoc":
        return self.model_copy(update={"revisions": (*self.revisions, rev)[-MAX_REVISIONS:]})


def new_state(app: str, environment: str) -> StateDoc:
    return StateDoc(app=app, environment=environment)
