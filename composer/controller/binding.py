"""From custom resources to the files Composer reads: an Application CR and the Environment it
binds to become `app.yaml` and `environments/<env>.yaml` documents, and the CR-only fields
(`spec.environment`, `resyncSeconds`, `suspend`) are taken out. Pure; docs/controller.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from composer.model.base import API_VERSION

DEFAULT_RESYNC_SECONDS = 600
CR_ONLY_ENV_FIELDS = ("resyncSeconds", "suspend")


@dataclass(frozen=True)
class Binding:
    """Which Environment an Application reconciles in, or why none can be chosen."""

    environment: str | None
    problem: str | None = None


@dataclass(frozen=True)
class EnvSettings:
    resync_seconds: int = DEFAULT_RESYNC_SECONDS
    suspend: bool = False


def bind(app_spec: Mapping[str, Any], namespace: str, environments: list[str]) -> Binding:
    """`spec.environment`, or else the only Environment of the namespace; ambiguity is a problem."""
    named = app_spec.get("environment")
    if isinstance(named, str) and named:
        if named in environments:
            return Binding(named)
        return Binding(None, f"Environment {named!r} does not exist in namespace {namespace!r}")
    if len(environments) == 1:
        return Binding(environments[0])
    if not environments:
        return Binding(None, f"namespace {namespace!r} has no Environment: create one, or name one in spec.environment")
    listed = ", ".join(sorted(environments))
    return Binding(None, f"namespace {namespace!r} has several Environments ({listed}): name one in spec.environment")


def app_document(name: str, namespace: str, meta: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    """The app.yaml of an Application CR: its workloads land in the CR's namespace unless the
    environment names one (as for `metadata.namespace` in a file)."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    for key in ("labels", "annotations"):
        own = {k: v for k, v in (meta.get(key) or {}).items() if not k.startswith(("kopf.", "composer.dev/"))}
        if own:
            metadata[key] = own
    body = {k: v for k, v in spec.items() if k != "environment"}
    return {"apiVersion": API_VERSION, "kind": "Application", "metadata": metadata, "spec": body}


def environment_document(name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in spec.items() if k not in CR_ONLY_ENV_FIELDS}
    return {"apiVersion": API_VERSION, "kind": "Environment", "metadata": {"name": name}, "spec": body}


def env_settings(spec: Mapping[str, Any]) -> EnvSettings:
    resync = spec.get("resyncSeconds")
    return EnvSettings(
        resync_seconds=resync if isinstance(resync, int) and resync >= 30 else DEFAULT_RESYNC_SECONDS,
        suspend=spec.get("suspend") is True,
    )


def revision(app: Mapping[str, Any], env: Mapping[str, Any]) -> str:
    """A short digest of what one reconcile applies: the status's `lastAppliedRevision`."""
    text = json.dumps([app, env], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
