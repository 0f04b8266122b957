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
from composer.runners.controller_catalog_bundle import BUNDLE_KEY, BundleRef

DEFAULT_RESYNC_SECONDS = 600
CR_ONLY_ENV_FIELDS = ("resyncSeconds", "suspend", "catalog")
DEFAULT_CATALOG_KEY = "definitions.yaml"
# The annotation that re-triggers an Application when its Environment changes (its value: the
# Environment's digest). Outside kopf's own `composer.dev/` prefix, whose annotations kopf
# leaves out of the diffs it reacts to.
ENV_REVISION_ANNOTATION = "env.composer.dev/revision"
_CONTROLLER_PREFIXES = ("kopf.", "composer.dev/", "env.composer.dev/")


@dataclass(frozen=True)
class Binding:
    """Which Environment an Application reconciles in, or why none can be chosen."""

    environment: str | None
    problem: str | None = None


@dataclass(frozen=True)
class CatalogRef:
    """`spec.catalog.configMap` of an Environment: which ConfigMap key holds its definitions."""

    name: str
    key: str = DEFAULT_CATALOG_KEY


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
        own = {k: v for k, v in (meta.get(key) or {}).items() if not k.startswith(_CONTROLLER_PREFIXES)}
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


def catalog_ref(spec: Mapping[str, Any]) -> CatalogRef | None:
    """The Environment's catalog ConfigMap, if it names one (the CRD's schema checks the shape)."""
    config_map = (spec.get("catalog") or {}).get("configMap") or {}
    name = config_map.get("name")
    if not isinstance(name, str) or not name:
        return None
    key = config_map.get("key")
    return CatalogRef(name, key if isinstance(key, str) and key else DEFAULT_CATALOG_KEY)


def bundle_ref(spec: Mapping[str, Any]) -> BundleRef | None:
    """The Environment's catalog bundle, if it names one: a Secret (`secret: {name, key}`) or a
    file (`path`) under the controller's catalog bundle directory."""
    bundle = (spec.get("catalog") or {}).get("bundle") or {}
    secret, path = bundle.get("secret") or {}, bundle.get("path")
    if isinstance(secret.get("name"), str) and secret["name"]:
        key = secret.get("key")
        return BundleRef(secret=secret["name"], key=key if isinstance(key, str) and key else BUNDLE_KEY)
    if isinstance(path, str) and path:
        return BundleRef(path=path)
    return None


def environment_revision(name: str, spec: Mapping[str, Any]) -> str:
    """A short digest of an Environment CR as it bears on its Applications (its document and its
    catalog reference; not resyncSeconds or suspend): the status's `environmentRevision`."""
    ref, bundle = catalog_ref(spec), bundle_ref(spec)
    refs: list[Any] = [environment_document(name, spec), None if ref is None else [ref.name, ref.key]]
    if bundle is not None:  # only then: an Environment without one keeps its digest
        refs.append([bundle.secret, bundle.key, bundle.path])
    return _digest(refs)


def stale_applications(
    apps: list[Mapping[str, Any]], env_name: str, env_names: list[str], env_revision: str
) -> list[str]:
    """The Applications (index entries: name, spec.environment, status.environmentRevision) bound
    to `env_name` that were last reconciled with another revision of it. Never-reconciled ones
    are left to their create handler."""
    stale = []
    for app in apps:
        bound = bind({"environment": app.get("environment")}, "", env_names).environment
        applied = app.get("environmentRevision")
        if bound == env_name and applied and applied != env_revision:
            stale.append(str(app["name"]))
    return sorted(stale)


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def revision(app: Mapping[str, Any], env: Mapping[str, Any], catalog: str | None = None) -> str:
    """A short digest of what one reconcile applies (with the catalog's text, read at that
    reconcile): the status's `lastAppliedRevision`."""
    return _digest([app, env] if catalog is None else [app, env, catalog])
