"""A stateful Kubernetes API stand-in for tests and benchmarks, built on ``kmock``.

There is no Kubernetes API server (nor Docker) on the machines we test on, so this module serves
a small, in-memory Kubernetes API over plain HTTP on loopback.  The *official* ``kubernetes``
Python client (``config.load_kube_config(config_file=..., context=...)``, typed APIs and
``kubernetes.dynamic.DynamicClient``) and ``kubectl --kubeconfig PATH get ...`` work against it.

Two ways to use it::

    # 1. as a library (a background thread with its own event loop):
    from tests.support.kube_standin import start_standin
    standin = start_standin()                # port=0: any free port; starts in well under 1 s
    standin.url, standin.kubeconfig_path     # contexts "standin" and "standin-b" (same server)
    standin.stats()["mutating"]              # API request counters, see "Request counters" below
    standin.reset()                          # wipe all objects (and knobs, counters)
    standin.stop()                           # also: ``with start_standin() as standin: ...``

    # 2. as a process, serving until SIGTERM/SIGINT:
    python -m tests.support.kube_standin --port 0 --kubeconfig PATH [--port-file F] [--auto-ready]
    # the process is remote-controlled over HTTP at /standin/* (see ``StandInRemote``).

What kmock (PyPI, 0.8) provides and what we use from it
--------------------------------------------------------
* ``kmock.RawHandler``: the aiohttp request handler, its request model (``kmock.Request``), the
  request log, and the reaction DSL with priorities.  All built-in behaviour here is registered
  as *fallback* reactions, so a test can still override any request the kmock way and win::

      standin.handler["patch", kmock.resource("apps/v1/deployments")] << 500

  (do that from the stand-in's loop, e.g. ``standin.call(lambda h: h[...] << ...)``).
* ``kmock.KubernetesScaffold``: Kubernetes-style ``Status`` error rendering, the ``/version``
  and ``/`` endpoints, and the discovery endpoint routing.
* ``kmock.ResourcesArray.load_bundled()``: the discovery catalogue of a real (K3s) cluster:
  kinds, plural/singular names, scopes, verbs, short names and subresources of all built-ins.
* ``kmock.ObjectsArray``: the object store with per-object history; it is exposed as
  ``standin.handler.objects`` and keeps kmock's pattern assertions (``objects[...] >= {...}``).

What kmock lacks, and what is patched or added here (and why)
-------------------------------------------------------------
* Path parsing: kmock's ``parse_path`` crashes on ``/api/v1/namespaces`` and reads
  ``/api/v1/namespaces/foo`` as "namespace foo, no resource".  Requests are therefore parsed
  here (``parse_k8s_path``) and ``__call__`` builds kmock's ``Request`` itself.
* ``KubernetesEmulator`` semantics are replaced, not patched: it merges dicts blindly, has no
  PUT, no server-side apply (an apply of a missing object fails instead of creating it), no
  metadata (uid, resourceVersion, generation, creationTimestamp), no namespace existence checks,
  lists without ``kind``/``apiVersion``/``resourceVersion``, and 409s that don't look like the real
  API's.  Here: GET/LIST (label and field selectors, Table output for ``kubectl get``), WATCH
  (with ``resourceVersion`` and ``timeoutSeconds``), POST, PUT (optimistic concurrency on
  ``metadata.resourceVersion``), DELETE (finalizers, namespace cascade), DELETE collection,
  PATCH as server-side apply / JSON merge / strategic merge (an approximation) / JSON patch,
  the ``status`` and ``scale`` subresources, ``dryRun=All``.
* Server-side apply follows the real field-ownership model closely enough for client tests:
  per-manager field sets in ``metadata.managedFields`` (``FieldsV1``), associative lists keyed like
  the real schema (containers by name, ports by port+protocol, ...), 409 ``Conflict`` naming the
  other manager and the field when values differ and ``force`` is not set, ownership transfer
  with ``force=true``, removal of fields a manager stops applying, and no-op applies that do not
  bump ``resourceVersion``.  Removing an item of a keyed list removes the whole item.  Lists
  the key table (``_ASSOC_KEYS``) does not know are atomic; maps are granular except label
  selectors.
* Fidelity to a real API server where Composer depends on it (issue 20; each behaviour has a
  self-test citing the real rule in tests/test_kube_standin_fidelity.py): a typed-patch check of
  built-in kinds from the official client's model metadata (``kube_schema.py``: unknown fields,
  wrong types, duplicate list keys and bad quantities answer the real HTTP 500), update
  validation of immutable fields (``kube_immutable.py``: Job template, StatefulSet spec, PVC
  spec and shrinks, Service clusterIP, Secret type, immutable ConfigMaps), Job selector
  defaulting, ``limit``/``continue`` paging, the Apply-manager conflict wording, and timing knobs
  (``kube_lifecycle.py`` ``Knobs``, ``set_knobs()``): a CRD establish delay, a Terminating
  namespace, rollout status that lags ``observedGeneration``, progress-deadline and failed Jobs.
* Discovery is deterministic (the preferred version is the most stable, newest one, e.g.
  ``autoscaling/v2``), includes ``external-secrets.io/v1beta1`` (ExternalSecret and the stores),
  registers resources from applied ``CustomResourceDefinition`` objects and, unless
  ``strict_resources=True``, accepts writes to unknown custom resources, i.e. in groups with a dot
  that are not ``*.k8s.io`` (the kind comes from the body; lists of such resources are empty).
* kmock's ``Server`` is not used: it patches aiohttp's DNS resolution process-wide, which is
  not wanted in a background thread.  A plain ``aiohttp.web.Server`` serves the kmock handler.
* kmock's reaction responses carry mutable per-reaction metadata (status/headers) that is
  shared across concurrent requests; the built-in handlers therefore hand finished aiohttp
  responses back through a private exception (``_Reply``) instead.
* Speed and bounded memory: kmock matches a request against a view by re-filtering the root's
  whole request log, for every reaction, on every request (quadratic; ~25 ms per request after a
  few hundred requests).  The root log therefore holds only the requests in flight (the history is
  ``requests``/``stats()``), resource requests skip the DSL while no user reaction is registered,
  and reaction logs and object histories are trimmed.  Consequence: kmock's history-based views
  (``handler[...][:1]`` slices, iterating ``handler``) do not see past requests; use
  ``fail_next(n, ...)`` for counted faults.

Realism notes: namespaces must exist before namespaced writes (404 ``namespaces "x" not found``;
``default``, ``kube-system``, ``kube-public`` and ``kube-node-lease`` exist); Secrets'
``stringData`` is folded into base64 ``data``; ``generation`` moves only when the spec changes;
Deployments and friends never become ready unless ``auto_ready=True`` or ``mark_ready()``.

Knobs for fault tests: ``fail_next(n, status=403|409|422|429|500|503, ...)`` with realistic
Status bodies (RBAC-style 403 message, ``Retry-After`` on 429), ``set_delay(seconds)``,
``auto_ready``, ``mark_ready()``, ``set_status()``, ``set_knobs(...)`` (fidelity, above).

Request counters: ``stats()`` returns ``{"total", "api", "discovery", "by_verb", "mutating",
"mutating_by_verb", "dry_run", "errors", "by_status"}``; verbs are ``get, list, watch, create,
update, patch, apply, delete, deletecollection`` (discovery requests count as ``discovery``);
``mutating`` excludes dry-run requests.  ``requests`` lists ``RequestRecord`` entries (bounded).

TokenRequest: ``POST .../serviceaccounts/NAME/token`` answers a JWT-shaped token for an existing
ServiceAccount (``kube_tokens.py``). Jobs are stored, never run: ``kube_jobs.py`` is a kubelet a
test starts to run them as local processes.

Limitations: HTTP only (no TLS, no authentication or authorization, any token is accepted);
no controllers, garbage collection of owned objects, admission or defaulting beyond a few
fields; no OpenAPI documents (``/openapi/*`` is 404, so client-side ``kubectl apply`` needs
``--validate=false``); strategic merge patch ignores most ``$patch`` directives; no protobuf.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import collections
import contextlib
import copy
import datetime
import json
import os
import random
import re
import signal
import string
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import aiohttp.web
import attrs
import kmock
import yaml
from kmock._internal import parsing as _kparsing
from kmock._internal import rendering as _krendering

from tests.support import kube_lifecycle as lifecycle
from tests.support import kube_psa as psa
from tests.support.kube_immutable import immutable_causes
from tests.support.kube_lifecycle import Knobs
from tests.support.kube_schema import typed_errors, typed_patch_message
from tests.support.kube_ssa import (
    _MISSING,
    Path,
    _apply_merge,
    _assoc_keys,
    _delete_at,
    _fields_from_v1,
    _fields_match,
    _fields_to_v1,
    _fieldset,
    _json_patch,
    _labels_match,
    _merge_patch,
    _parse_field_selector,
    _parse_label_selector,
    _path_str,
    _prefixes,
    _removable,
    _strategic_merge,
    _value_at,
)
from tests.support.kube_tokens import token_request

__all__ = [
    "StandIn",
    "StandInHandler",
    "StandInRemote",
    "RequestRecord",
    "start_standin",
    "write_kubeconfig",
    "parse_k8s_path",
    "CONTEXT",
    "CONTEXT_B",
]

CONTEXT = "standin"
CONTEXT_B = "standin-b"
BUILTIN_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
SERVER_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-standin",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}

MUTATING_VERBS = ("create", "update", "patch", "apply", "delete", "deletecollection")
_MAX_LOG = 20_000  # RequestRecord entries kept
_MAX_REACTION_REQUESTS = 256  # kmock.Request objects kept per kmock reaction (they hold bodies)
_MAX_HISTORY = 20  # object versions kept per object
_MAX_EVENTS = 10_000  # watch events kept for resourceVersion-based resumption
_MAX_DELAY = 60.0
_DEFAULT_WATCH_TIMEOUT = 60.0
_MAX_WATCH_TIMEOUT = 600.0


# Resources that the stand-in serves in addition to kmock's bundled (K3s) catalogue.
_EXTRA_RESOURCES: dict[str, dict[str, Any]] = {
    "external-secrets.io/v1beta1/externalsecrets": dict(
        kind="ExternalSecret",
        singular="externalsecret",
        namespaced=True,
        shortnames={"es"},
        categories={"external-secrets"},
        subresources={"status"},
    ),
    "external-secrets.io/v1beta1/secretstores": dict(
        kind="SecretStore",
        singular="secretstore",
        namespaced=True,
        shortnames={"ss"},
        categories={"external-secrets"},
        subresources={"status"},
    ),
    "external-secrets.io/v1beta1/clustersecretstores": dict(
        kind="ClusterSecretStore",
        singular="clustersecretstore",
        namespaced=False,
        shortnames={"css"},
        categories={"external-secrets"},
        subresources={"status"},
    ),
    "external-secrets.io/v1beta1/clusterexternalsecrets": dict(
        kind="ClusterExternalSecret",
        singular="clusterexternalsecret",
        namespaced=False,
        shortnames={"ces"},
        categories={"external-secrets"},
        subresources={"status"},
    ),
}
_ALL_VERBS = {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

# Kinds that carry no metadata.generation in a real cluster.
_NO_GENERATION_KINDS = {
    "Secret",
    "ConfigMap",
    "ServiceAccount",
    "Event",
    "Namespace",
    "Endpoints",
    "Service",
    "PersistentVolumeClaim",
    "Lease",
    "EndpointSlice",
}
# Workloads whose pod template labels must match the selector, and whose selector is immutable.
_SELECTOR_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}


_NAME_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_NAME_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS_LABEL_KINDS = {"Namespace", "Service"}


# --------------------------------------------------------------------------------------------
# Small utilities
# --------------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _json_response(obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> aiohttp.web.Response:
    return aiohttp.web.Response(
        text=_dumps(obj), status=status, content_type="application/json", headers=dict(headers or {})
    )


def _version_rank(version: str) -> tuple[int, int, int]:
    """Sort key: GA > beta > alpha > other, then newer major/minor first (use with reverse)."""
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (0, 0, 0)
    stability = {None: 3, "beta": 2, "alpha": 1}[m.group(2)]
    return (stability, int(m.group(1)), int(m.group(3) or 0))


def _age(timestamp: str | None) -> str:
    if not timestamp:
        return "<unknown>"
    try:
        then = datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    except ValueError:
        return "<unknown>"
    s = max(0, int((datetime.datetime.now(datetime.UTC) - then).total_seconds()))
    if s < 120:
        return f"{s}s"
    if s < 3 * 3600:
        return f"{s // 60}m"
    if s < 48 * 3600:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


class _ApiError(Exception):
    """An error to be answered as a Kubernetes ``Status``."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if not self.reason:
            del body["reason"]  # errors that are not a StatusError (a typed-patch failure) carry none
        if self.details:
            body["details"] = self.details
        return body

    def response(self) -> aiohttp.web.Response:
        return _json_response(self.body(), status=self.code, headers=self.headers)


class _Reply(Exception):
    """Carries a finished response out of a kmock reaction (see the module docstring)."""

    def __init__(self, response: aiohttp.web.StreamResponse) -> None:
        super().__init__("reply")
        self.response = response


# --------------------------------------------------------------------------------------------
# Path parsing (kmock's parse_path mishandles the namespaces resource)
# --------------------------------------------------------------------------------------------


class K8sPath(NamedTuple):
    group: str | None  # None: not a Kubernetes API path; "" for the core group
    version: str | None
    plural: str | None
    namespace: str | None
    name: str | None
    subresource: str | None


def parse_k8s_path(path: str) -> K8sPath:
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 1 and parts[0] == "api":
        group, rest = "", parts[1:]
        version = rest.pop(0) if rest else None
    elif len(parts) >= 2 and parts[0] == "apis":
        group, rest = parts[1], parts[2:]
        version = rest.pop(0) if rest else None
    else:
        return K8sPath(None, None, None, None, None, None)
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and not (len(rest) == 3 and rest[2] in ("status", "finalize")):
        namespace, rest = rest[1], rest[2:]
    plural = rest[0] if len(rest) >= 1 else None
    name = rest[1] if len(rest) >= 2 else None
    subresource = "/".join(rest[2:]) or None
    return K8sPath(group, version, plural, namespace, name, subresource)


def _truthy(value: str | None) -> bool:
    """Go's strconv.ParseBool, as the API server parses boolean query parameters."""
    return (value or "") in ("1", "t", "T", "true", "TRUE", "True")


def _classify(method: str, p: K8sPath, params: Mapping[str, str], content_type: str) -> str:
    """The Kubernetes audit-like verb of a request (plus "apply" and "discovery")."""
    if p.group is None or p.version is None or p.plural is None:
        return "discovery"
    method = method.upper()
    if method == "GET":
        if _truthy(params.get("watch")):
            return "watch"
        return "get" if p.name else "list"
    if method == "POST":
        return "create"
    if method == "PUT":
        return "update"
    if method == "PATCH":
        return "apply" if content_type.startswith("application/apply-patch") else "patch"
    if method == "DELETE":
        return "delete" if p.name else "deletecollection"
    return method.lower()


# --------------------------------------------------------------------------------------------
# Request log and counters
# --------------------------------------------------------------------------------------------


class RequestRecord(NamedTuple):
    time: float
    method: str
    path: str
    query: str
    verb: str
    group: str | None
    version: str | None
    resource: str | None
    namespace: str | None
    name: str | None
    subresource: str | None
    status: int
    duration_ms: float
    field_manager: str | None
    dry_run: bool


class _Metrics:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.log: collections.deque[RequestRecord] = collections.deque(maxlen=_MAX_LOG)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.total = 0
            self.by_verb: collections.Counter[str] = collections.Counter()
            self.mutating_by_verb: collections.Counter[str] = collections.Counter()
            self.by_status: collections.Counter[int] = collections.Counter()
            self.dry_run = 0
            self.errors = 0
            self.log.clear()

    def record(self, rec: RequestRecord) -> None:
        with self.lock:
            self.total += 1
            self.by_verb[rec.verb] += 1
            self.by_status[rec.status] += 1
            if rec.status >= 400:
                self.errors += 1
            if rec.dry_run:
                self.dry_run += 1
            elif rec.verb in MUTATING_VERBS:
                self.mutating_by_verb[rec.verb] += 1
            self.log.append(rec)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            discovery = self.by_verb.get("discovery", 0)
            return {
                "total": self.total,
                "api": self.total - discovery,
                "discovery": discovery,
                "by_verb": dict(self.by_verb),
                "mutating": sum(self.mutating_by_verb.values()),
                "mutating_by_verb": dict(self.mutating_by_verb),
                "dry_run": self.dry_run,
                "errors": self.errors,
                "by_status": dict(self.by_status),
            }

    def records(self) -> list[RequestRecord]:
        with self.lock:
            return list(self.log)


@attrs.define
class _Fault:
    remaining: int
    status: int
    reason: str | None = None
    message: str | None = None
    verbs: frozenset[str] | None = None
    path: re.Pattern[str] | None = None
    include_discovery: bool = False
    retry_after: int | None = None

    def matches(self, verb: str, path: str) -> bool:
        if verb == "discovery" and not self.include_discovery:
            return False
        if self.verbs is not None and verb not in self.verbs:
            return False
        if self.path is not None and not self.path.search(path):
            return False
        return True


# --------------------------------------------------------------------------------------------
# The kmock handler
# --------------------------------------------------------------------------------------------


@attrs.define(kw_only=True)
class StandInHandler(kmock.KubernetesScaffold):
    """The kmock handler with the stand-in's Kubernetes semantics.  Lives in one event loop."""

    auto_ready: bool = False
    strict_resources: bool = False
    builtin_namespaces: tuple[str, ...] = BUILTIN_NAMESPACES
    server_address: str = "127.0.0.1:0"

    metrics: _Metrics = attrs.field(factory=_Metrics, init=False)
    server_errors: collections.deque[str] = attrs.field(factory=lambda: collections.deque(maxlen=50), init=False)
    _objects: kmock.ObjectsArray = attrs.field(factory=kmock.ObjectsArray, init=False)
    _rv: int = attrs.field(default=1000, init=False)
    _events: collections.deque[tuple[int, Any, str | None, str, dict[str, Any]]] = attrs.field(
        factory=lambda: collections.deque(maxlen=_MAX_EVENTS), init=False
    )
    _events_floor: int = attrs.field(default=0, init=False)  # events with rv <= floor are gone
    _event_signal: asyncio.Event | None = attrs.field(default=None, init=False)
    _closing: asyncio.Event | None = attrs.field(default=None, init=False)
    _knob_lock: threading.Lock = attrs.field(factory=threading.Lock, init=False)
    _faults: list[_Fault] = attrs.field(factory=list, init=False)
    _delay: float = attrs.field(default=0.0, init=False)
    _delay_verbs: frozenset[str] | None = attrs.field(default=None, init=False)
    _explicit_resources: dict[Any, kmock.ResourceInfo] = attrs.field(factory=dict, init=False)
    _auto_ready_default: bool = attrs.field(default=False, init=False)
    _cluster_ip: int = attrs.field(default=10, init=False)
    _request_seq: int = attrs.field(default=0, init=False)
    _builtin: set[Any] = attrs.field(factory=set, init=False)
    _builtin_payloads: set[int] = attrs.field(factory=set, init=False)
    knobs: Knobs = attrs.field(factory=Knobs, init=False)
    pod_logs: dict[tuple[str, str], str] = attrs.field(factory=dict, init=False)  # (namespace, pod) -> its log
    _pending_resources: set[Any] = attrs.field(factory=set, init=False)  # CRD resources not yet Established

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()  # kmock: 404 fallback, discovery routes, /version, /
        self._auto_ready_default = self.auto_ready
        self._load_catalogue()
        self.fallback[self._is_resource_request] << self._serve_resource
        self.fallback["get", re.compile(r"/openapi(/.*)?")] << self._serve_openapi
        self.fallback["get", re.compile(r"/(healthz|readyz|livez)(/.*)?")] << b"ok"
        self._builtin_payloads = {id(p) for p in self._payloads}
        self._create_builtin_namespaces()

    # ---- catalogue -----------------------------------------------------------------------

    def _load_catalogue(self) -> None:
        self.resources.clear()
        with warnings.catch_warnings():  # kmock 0.8 uses the deprecated importlib.resources.read_binary
            warnings.simplefilter("ignore", DeprecationWarning)
            self.resources.load_bundled()
        self._builtin = set(self.resources)
        for key, info in _EXTRA_RESOURCES.items():
            self.resources[key] = kmock.ResourceInfo(verbs=set(_ALL_VERBS), **info)
        for res, info in self._explicit_resources.items():
            self.resources[res] = info

    def register_resource(
        self,
        group_version: str,
        plural: str,
        *,
        kind: str,
        namespaced: bool = True,
        singular: str | None = None,
        shortnames: Iterable[str] = (),
        subresources: Iterable[str] = ("status",),
        explicit: bool = True,
    ) -> None:
        group, _, version = group_version.rpartition("/")
        res = kmock.resource(group, version, plural)
        info = kmock.ResourceInfo(
            kind=kind,
            namespaced=namespaced,
            singular=singular or kind.lower(),
            verbs=set(_ALL_VERBS),
            shortnames=set(shortnames),
            subresources=set(subresources),
        )
        self.resources[res] = info
        if explicit:
            self._explicit_resources[res] = info

    def _is_builtin(self, group: str, version: str, plural: str) -> bool:
        return kmock.resource(group, version, plural) in self._builtin

    def _info(self, group: str, version: str, plural: str) -> kmock.ResourceInfo | None:
        res = kmock.resource(group, version, plural)
        return self.resources[res] if res in self.resources else None

    def _versions(self, group: str) -> list[str]:
        versions = {r.version for r in self.resources if r.group == group and r.version}
        return sorted(versions, key=_version_rank, reverse=True)

    def _storage(self, group: str, plural: str) -> Any:
        """The storage key resource: one version per group+plural (versions share objects)."""
        versions = [r.version for r in self.resources if r.group == group and r.plural == plural and r.version]
        version = sorted(versions, key=_version_rank, reverse=True)[0] if versions else "v0"
        return kmock.resource(group, version, plural)

    def find_resource(self, ref: str) -> tuple[str, str, str, kmock.ResourceInfo]:
        """Resolve "deployments", "Deployment", "deploy", "apps/v1/deployments", "deployments.apps"."""
        ref = ref.strip()
        candidates = []
        if ref.count("/") >= 1 and not ref.startswith("/"):
            parts = ref.split("/")
            if len(parts) == 2:
                group, version, plural = "", parts[0], parts[1]
            else:
                group, version, plural = "/".join(parts[:-2]), parts[-2], parts[-1]
            info = self._info(group, version, plural)
            if info is not None:
                return group, version, plural, info
        name, _, group_hint = ref.partition(".")
        for res in self.resources:
            info = self.resources[res]
            names = {res.plural, (info.kind or "").lower(), info.singular or ""} | set(info.shortnames)
            if name.lower() in names and (not group_hint or res.group == group_hint):
                candidates.append((res, info))
        if not candidates:
            raise KeyError(f"unknown resource: {ref!r}")
        # Prefer the core group, then well-known groups, then the preferred version.
        candidates.sort(
            key=lambda c: (
                c[0].group != "",
                "." in c[0].group,
                c[0].group,
                tuple(-x for x in _version_rank(c[0].version)),
            )
        )
        res, info = candidates[0]
        return res.group, res.version, res.plural, info

    # ---- discovery (overrides of kmock's scaffold; deterministic, correct subresources) --------

    async def _serve_server_version(self, request: kmock.Request) -> Any:
        return dict(SERVER_VERSION)

    async def _serve_root(self, request: kmock.Request) -> Any:
        paths = {"/api", "/api/v1", "/apis", "/version", "/healthz", "/readyz", "/livez"}
        for res in self.resources:
            if res.group:
                paths.add(f"/apis/{res.group}")
                paths.add(f"/apis/{res.group}/{res.version}")
        return {"paths": sorted(paths)}

    async def _serve_api(self, request: kmock.Request) -> Any:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": self.server_address}],
        }

    def _group_doc(self, group: str) -> dict[str, Any]:
        versions = self._versions(group)
        return {
            "name": group,
            "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in versions],
            "preferredVersion": {"groupVersion": f"{group}/{versions[0]}", "version": versions[0]},
        }

    async def _serve_apis(self, request: kmock.Request) -> Any:
        groups = sorted({r.group for r in self.resources if r.group})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [self._group_doc(g) for g in groups]}

    async def _serve_group(self, request: kmock.Request) -> Any:
        group = request.resource.group if request.resource else None
        if not group or not self._versions(group):
            raise _ApiError(404, "NotFound", "the server could not find the requested resource")
        return dict(self._group_doc(group), kind="APIGroup", apiVersion="v1")

    async def _serve_version(self, request: kmock.Request) -> Any:
        assert request.resource is not None
        group, version = request.resource.group or "", request.resource.version
        entries = []
        for res in sorted(self.resources, key=lambda r: r.plural or ""):
            if res.group != group or res.version != version:
                continue
            info = self.resources[res]
            base = {
                "name": res.plural,
                "singularName": info.singular or res.plural,
                "namespaced": bool(info.namespaced),
                "kind": info.kind or res.plural.capitalize(),
                "verbs": sorted(info.verbs or _ALL_VERBS),
            }
            if info.shortnames:
                base["shortNames"] = sorted(info.shortnames)
            if info.categories:
                base["categories"] = sorted(info.categories)
            entries.append(base)
            for sub in sorted(info.subresources):
                entry = {
                    "name": f"{res.plural}/{sub}",
                    "singularName": "",
                    "namespaced": bool(info.namespaced),
                    "kind": info.kind or res.plural.capitalize(),
                    "verbs": ["get", "patch", "update"],
                }
                if sub == "scale":
                    entry.update(kind="Scale", group="autoscaling", version="v1")
                elif sub not in ("status",):
                    entry["verbs"] = ["create"] if sub in ("eviction", "binding", "token") else ["get"]
                entries.append(entry)
        if not entries:
            raise _ApiError(404, "NotFound", "the server could not find the requested resource")
        gv = f"{group}/{version}" if group else version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": entries}

    async def _serve_openapi(self, request: kmock.Request) -> Any:
        raise _ApiError(
            404, "NotFound", "the server could not find the requested resource (openapi is not served by the stand-in)"
        )

    # ---- request entry point ------------------------------------------------------------

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        started = time.perf_counter()
        await raw_request.read()
        if raw_request.path.startswith("/standin/"):
            return await self._serve_control(raw_request)
        request: kmock.Request | None = None
        try:
            request = await self._parse(raw_request)
            # kmock matches a request against a view by re-filtering the root's whole request log,
            # for every reaction, on every request (quadratic).  So the root log holds only the
            # requests in flight; RequestRecord is the history (see ``requests``/``stats()``).
            self._requests.append(request)
            try:
                response = await self._handle(request)
            finally:
                with contextlib.suppress(ValueError):
                    self._requests.remove(request)
        except _Reply as e:
            response = e.response
        except _ApiError as e:
            response = e.response()
        except _krendering.StreamingError as e:
            response = e.args[0]
        except kmock.KubernetesError as e:  # kmock's "no such endpoint" and friends
            response = _ApiError(
                e.status,
                "NotFound" if e.status == 404 else (e.reason or "InternalError"),
                "the server could not find the requested resource" if e.status == 404 else (e.message or repr(e)),
            ).response()
        except Exception as e:  # never crash the server: answer like the API server would
            self.server_errors.append(traceback.format_exc())
            response = _ApiError(500, "InternalError", f"Internal error occurred: {e!r}").response()
        self._record(raw_request, request, response, started)
        return response

    async def _parse(self, raw_request: aiohttp.web.BaseRequest) -> kmock.Request:
        body = await raw_request.read()
        text = body.decode("utf-8", errors="replace")
        content_type = (raw_request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        data: Any = None
        if body:
            try:
                data = json.loads(text)
            except ValueError:
                if "yaml" in content_type:
                    try:
                        data = yaml.safe_load(text)
                    except yaml.YAMLError:
                        data = None
        p = parse_k8s_path(raw_request.path)
        params = dict(raw_request.query)
        method = raw_request.method
        resource = None
        if p.group is not None:  # keywords: kmock.resource("apps", None, None) would read "apps" as a plural
            resource = kmock.resource(group=p.group, version=p.version, plural=p.plural)
        action = None
        if p.group is not None and p.plural is not None:
            action = _kparsing.guess_k8s(
                _kparsing.ParsedPath(p.group, p.version, p.plural, p.namespace, p.name, p.subresource),
                kmock.method(method),
                dict(params, watch="true") if _truthy(params.get("watch")) else params,
            )
        self._request_seq += 1
        request = kmock.Request(
            id=self._request_seq,
            raw_request=raw_request,
            url=raw_request.url,
            method=method,
            params=params,
            headers=dict(raw_request.headers),
            cookies=dict(raw_request.cookies),
            body=body,
            text=text,
            data=data,
            action=action,
            resource=resource,
            namespace=p.namespace,
            name=p.name,
            subresource=p.subresource,
        )
        if self._request_seq % _MAX_REACTION_REQUESTS == 0:  # reactions keep what they served; bound it
            for payload in self._payloads:
                reqs = getattr(payload, "_requests", None)
                if isinstance(reqs, list) and len(reqs) > _MAX_REACTION_REQUESTS:
                    del reqs[: len(reqs) - _MAX_REACTION_REQUESTS // 2]
        return request

    def _record(
        self,
        raw_request: aiohttp.web.BaseRequest,
        request: kmock.Request | None,
        response: aiohttp.web.StreamResponse,
        started: float,
    ) -> None:
        p = parse_k8s_path(raw_request.path)
        params = raw_request.query
        ct = (raw_request.headers.get("Content-Type") or "").lower()
        verb = _classify(raw_request.method, p, params, ct)
        self.metrics.record(
            RequestRecord(
                time=time.time(),
                method=raw_request.method,
                path=raw_request.path,
                query=raw_request.query_string,
                verb=verb,
                group=p.group,
                version=p.version,
                resource=p.plural,
                namespace=p.namespace,
                name=p.name,
                subresource=p.subresource,
                status=response.status,
                duration_ms=(time.perf_counter() - started) * 1000.0,
                field_manager=params.get("fieldManager"),
                dry_run=params.get("dryRun") == "All",
            )
        )

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        verb = _classify(
            str(request.method.value if hasattr(request.method, "value") else request.method),
            parse_k8s_path(request.url.path),
            request.params,
            (request.headers.get("Content-Type") or "").lower(),
        )
        with self._knob_lock:
            delay = self._delay if (self._delay_verbs is None or verb in self._delay_verbs) else 0.0
            fault = next((f for f in self._faults if f.remaining > 0 and f.matches(verb, request.url.path)), None)
            if fault is not None:
                fault.remaining -= 1
                self._faults = [f for f in self._faults if f.remaining > 0]
        if delay > 0:
            await asyncio.sleep(min(delay, _MAX_DELAY))
        if fault is not None:
            raise self._fault_error(fault, request, verb)
        if self._is_resource_request(request) and not self._has_user_reactions():
            return await self._serve_resource(request)  # fast path: nothing can override the built-ins
        return await super()._handle(request)  # kmock: user reactions first, then our fallbacks

    def _has_user_reactions(self) -> bool:
        return any(id(p) not in self._builtin_payloads for p in self._payloads)

    @staticmethod
    def _is_resource_request(request: kmock.Request) -> bool:
        res = request.resource
        return res is not None and res.version is not None and res.plural is not None

    # ---- fault injection -----------------------------------------------------------------

    def _fault_error(self, fault: _Fault, request: kmock.Request, verb: str) -> _ApiError:
        p = parse_k8s_path(request.url.path)
        plural, group, name, ns = p.plural or "", p.group or "", p.name, p.namespace
        qual = f"{plural}.{group}" if group else plural
        info = self._info(group, p.version or "", plural) if p.plural else None
        kind = (info.kind if info else None) or plural.capitalize()
        rbac_verb = {"apply": "patch", "discovery": "get"}.get(verb, verb)
        details: dict[str, Any] = (
            {"name": name, "group": group, "kind": plural} if name else {"group": group, "kind": plural}
        )
        code, headers = fault.status, {}
        if code == 401:
            reason, message, details = "Unauthorized", "Unauthorized", {}
        elif code == 403:
            reason = "Forbidden"
            where = f'in the namespace "{ns}"' if ns else "at the cluster scope"
            subject = f'{qual} "{name}"' if name else qual
            if verb == "discovery":
                message = f'forbidden: User "system:serviceaccount:appc:deployer" cannot get path "{request.url.path}"'
            else:
                message = (
                    f'{subject} is forbidden: User "system:serviceaccount:appc:deployer" cannot {rbac_verb} '
                    f'resource "{plural}" in API group "{group}" {where}'
                )
        elif code == 404:
            reason, message = (
                "NotFound",
                f'{qual} "{name}" not found' if name else "the server could not find the requested resource",
            )
        elif code == 409:
            reason = "Conflict"
            message = (
                f'Operation cannot be fulfilled on {qual} "{name}": the object has been modified; '
                f"please apply your changes to the latest version and try again"
            )
        elif code == 422:
            reason = "Invalid"
            field = "spec"
            cause_msg = 'Invalid value: "injected": injected validation failure'
            message = f'{kind}{"." + group if group else ""} "{name}" is invalid: {field}: {cause_msg}'
            details = dict(
                details, kind=kind, causes=[{"reason": "FieldValueInvalid", "message": cause_msg, "field": field}]
            )
        elif code == 429:
            retry = fault.retry_after if fault.retry_after is not None else 1
            reason, message = "TooManyRequests", "Too many requests, please try again later."
            details = {"retryAfterSeconds": retry}
            headers["Retry-After"] = str(retry)
        elif code == 500:
            reason, message = "InternalError", "Internal error occurred: injected failure (stand-in)"
            details = {"causes": [{"message": "injected failure (stand-in)"}]}
        elif code == 503:
            reason, message = "ServiceUnavailable", "The server is currently unable to handle the request"
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
        elif code == 504:
            reason, message = (
                "Timeout",
                "The server was unable to return a response in the time allotted, but may still be processing the request",
            )
        else:
            reason, message = "Unknown", f"injected failure with status {code}"
        return _ApiError(code, fault.reason or reason, fault.message or message, details, headers)

    def fail_next(
        self,
        count: int = 1,
        status: int = 500,
        *,
        verbs: Iterable[str] | None = None,
        path: str | re.Pattern[str] | None = None,
        message: str | None = None,
        reason: str | None = None,
        include_discovery: bool = False,
        retry_after: int | None = None,
    ) -> None:
        fault = _Fault(
            remaining=max(0, int(count)),
            status=int(status),
            reason=reason,
            message=message,
            verbs=frozenset(verbs) if verbs is not None else None,
            path=re.compile(path) if isinstance(path, str) else path,
            include_discovery=include_discovery,
            retry_after=retry_after,
        )
        with self._knob_lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._knob_lock:
            self._faults.clear()

    def pending_faults(self) -> int:
        with self._knob_lock:
            return sum(f.remaining for f in self._faults)

    def set_delay(self, seconds: float, *, verbs: Iterable[str] | None = None) -> None:
        with self._knob_lock:
            self._delay = max(0.0, min(float(seconds), _MAX_DELAY))
            self._delay_verbs = frozenset(verbs) if verbs is not None else None

    # ---- storage -------------------------------------------------------------------------

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _live(self, storage: Any, ns: str | None, name: str) -> dict[str, Any] | None:
        key = (storage, ns, name)
        if key not in self._objects:
            return None
        obj = self._objects[key]
        return None if obj.deleted else obj.last.raw

    def _store(self, storage: Any, ns: str | None, name: str, obj: dict[str, Any], event: str) -> None:
        key = (storage, ns, name)
        if key not in self._objects:
            self._objects[key] = obj
        else:
            history = self._objects[key].history
            history.append(obj)
            if len(history) > _MAX_HISTORY:
                del history[: len(history) - _MAX_HISTORY]
        self._emit(storage, ns, event, obj)

    def _remove(self, storage: Any, ns: str | None, name: str, last: dict[str, Any]) -> None:
        key = (storage, ns, name)
        if key in self._objects:
            self._objects[key].delete()
        gone = copy.deepcopy(last)
        gone.setdefault("metadata", {})["resourceVersion"] = self._next_rv()
        self._emit(storage, ns, "DELETED", gone)

    def _emit(self, storage: Any, ns: str | None, event: str, obj: dict[str, Any]) -> None:
        rv = int(obj.get("metadata", {}).get("resourceVersion") or self._rv)
        if len(self._events) == self._events.maxlen and self._events:
            self._events_floor = self._events[0][0]
        self._events.append((rv, storage, ns, event, obj))
        if self._event_signal is not None:
            self._event_signal.set()
            self._event_signal = None

    def _iter_objects(self, storage: Any, ns: str | None) -> list[dict[str, Any]]:
        out = []
        for (res, ons, _name), obj in self._objects.items():
            if res == storage and (ns is None or ons == ns) and not obj.deleted:
                out.append(obj.last.raw)
        out.sort(key=lambda o: (o.get("metadata", {}).get("namespace") or "", o["metadata"]["name"]))
        return out

    def _namespace_exists(self, ns: str) -> bool:
        return self._live(self._storage("", "namespaces"), None, ns) is not None

    def _create_builtin_namespaces(self) -> None:
        for ns in self.builtin_namespaces:
            if not self._namespace_exists(ns):
                obj = {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                }
                self._finish_new(obj, kind="Namespace", api_version="v1", manager=None, subresources={"status"})
                self._store(self._storage("", "namespaces"), None, ns, obj, "ADDED")

    def reset(self) -> None:
        """Wipe all objects, knobs, counters and non-explicit resources (call in the loop)."""
        for key in list(self._objects):
            del self._objects[key]
        self._events.clear()
        self._events_floor = self._rv
        self._load_catalogue()
        self.auto_ready = self._auto_ready_default
        self.clear_faults()
        self.set_delay(0)
        self.knobs = Knobs()
        self.pod_logs = {}
        self._pending_resources.clear()
        self.metrics.reset()
        self._create_builtin_namespaces()

    # ---- CRD establishment --------------------------------------------------------------

    def _crd_written(self, crd: dict[str, Any], *, first: bool) -> None:
        """Serve a CRD's versions: at once, or after ``knobs.crd_establish_seconds``
        (tests/support/kube_lifecycle.py); its status says which."""
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        registrations = []
        for v in spec.get("versions") or []:
            if isinstance(v, dict) and v.get("served", True) and spec.get("group") and names.get("plural"):
                subs = {"status"} if ((v.get("subresources") or {}).get("status") is not None) else set()
                if (v.get("subresources") or {}).get("scale") is not None:
                    subs.add("scale")
                registrations.append(
                    (
                        f"{spec['group']}/{v['name']}",
                        names["plural"],
                        dict(
                            kind=names.get("kind") or names["plural"].capitalize(),
                            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                            singular=names.get("singular"),
                            shortnames=names.get("shortNames") or (),
                            subresources=subs,
                            explicit=False,
                        ),
                    )
                )
        delay = self.knobs.crd_establish_seconds if first else 0.0

        def establish() -> None:
            for gv, plural, kw in registrations:
                self._pending_resources.discard(kmock.resource(gv.rpartition("/")[0], gv.rpartition("/")[2], plural))
                self.register_resource(gv, plural, **kw)

        if delay <= 0:
            establish()
            crd["status"] = lifecycle.crd_status(spec, established=True)
            return
        crd["status"] = lifecycle.crd_status(spec, established=False)
        for gv, plural, _kw in registrations:
            self._pending_resources.add(kmock.resource(gv.rpartition("/")[0], gv.rpartition("/")[2], plural))
        storage, name = self._storage("apiextensions.k8s.io", "customresourcedefinitions"), crd["metadata"]["name"]

        def later() -> None:
            establish()
            live = self._live(storage, None, name)
            if live is not None:
                new = copy.deepcopy(live)
                new["status"] = lifecycle.crd_status(new.get("spec") or {}, established=True)
                new["metadata"]["resourceVersion"] = self._next_rv()
                self._store(storage, None, name, new, "MODIFIED")

        lifecycle.later(delay, later)

    # ---- object helpers ------------------------------------------------------------------

    @staticmethod
    def _qual(group: str, plural: str) -> str:
        return f"{plural}.{group}" if group else plural

    def _not_found(self, group: str, plural: str, name: str) -> _ApiError:
        return _ApiError(
            404,
            "NotFound",
            f'{self._qual(group, plural)} "{name}" not found',
            {"name": name, "group": group, "kind": plural},
        )

    def _invalid(self, kind: str, group: str, name: str, causes: list[tuple[str, str, str]]) -> _ApiError:
        """causes: (reason, field, message)."""
        qual_kind = f"{kind}.{group}" if group else kind
        text = ", ".join(f"{field}: {msg}" for _r, field, msg in causes)
        if len(causes) > 1:
            text = "[" + text + "]"
        return _ApiError(
            422,
            "Invalid",
            f'{qual_kind} "{name}" is invalid: {text}',
            {
                "name": name,
                "group": group,
                "kind": kind,
                "causes": [{"reason": r, "message": m, "field": f} for r, f, m in causes],
            },
        )

    def _finish_new(
        self, obj: dict[str, Any], *, kind: str, api_version: str, manager: str | None, subresources: Iterable[str] = ()
    ) -> None:
        meta = obj.setdefault("metadata", {})
        meta["uid"] = meta.get("uid") or str(uuid.uuid4())  # a Job's defaulting picks it first
        meta["creationTimestamp"] = _now()
        meta["resourceVersion"] = self._next_rv()
        if kind not in _NO_GENERATION_KINDS:
            meta["generation"] = 1
        if manager is not None:
            paths = _fieldset(obj, "main", "status" in set(subresources))
            if paths:
                meta["managedFields"] = [self._mf_entry(manager, "Update", api_version, paths, None)]

    @staticmethod
    def _mf_entry(
        manager: str, operation: str, api_version: str, paths: set[Path], subresource: str | None
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "manager": manager,
            "operation": operation,
            "apiVersion": api_version,
            "time": _now(),
            "fieldsType": "FieldsV1",
            "fieldsV1": _fields_to_v1(paths),
        }
        if subresource:
            entry["subresource"] = subresource
        return entry

    @staticmethod
    def _mf_load(obj: Mapping[str, Any] | None) -> list[dict[str, Any]]:
        entries = []
        for e in (obj or {}).get("metadata", {}).get("managedFields") or []:
            if not isinstance(e, dict) or not e.get("manager"):
                continue
            entries.append(dict(e, _paths=_fields_from_v1(e.get("fieldsV1") or {})))
        return entries

    @staticmethod
    def _mf_dump(entries: list[dict[str, Any]], before: list[dict[str, Any]]) -> list[dict[str, Any]]:
        old = {(e["manager"], e.get("operation"), e.get("subresource")): e for e in before}
        out = []
        for e in entries:
            if not e["_paths"]:
                continue
            k = (e["manager"], e.get("operation"), e.get("subresource"))
            prev = old.get(k)
            clean = {key: val for key, val in e.items() if key != "_paths"}
            if prev is not None and prev["_paths"] == e["_paths"] and prev.get("apiVersion") == e.get("apiVersion"):
                clean["time"] = prev.get("time", clean.get("time"))
            else:
                clean["time"] = _now()
            clean["fieldsV1"] = _fields_to_v1(e["_paths"])
            out.append(clean)
        return out

    @staticmethod
    def _default_manager(request: kmock.Request) -> str:
        ua = request.headers.get("User-Agent") or "unknown"
        return ua.split("/")[0][:128] or "unknown"

    @staticmethod
    def _fold_secret(kind: str, obj: dict[str, Any]) -> None:
        if kind != "Secret":
            return
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict) and string_data:
            data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
            for k, v in string_data.items():
                data[k] = base64.b64encode(str(v).encode("utf-8")).decode("ascii")
            obj["data"] = data

    def _clean_incoming(self, body: dict[str, Any], *, has_status: bool, keep_status: bool = False) -> dict[str, Any]:
        obj = copy.deepcopy(body)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = obj["metadata"] = {}
        for k in (
            "uid",
            "creationTimestamp",
            "generation",
            "managedFields",
            "selfLink",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ):
            meta.pop(k, None)
        if has_status and not keep_status:
            obj.pop("status", None)
        return obj

    def _apply_defaults(self, kind: str, obj: dict[str, Any], old: Mapping[str, Any] | None) -> None:
        spec = obj.get("spec")
        if kind == "Secret":
            obj.setdefault("type", "Opaque")
        elif kind in ("Deployment", "StatefulSet", "ReplicaSet") and isinstance(spec, dict):
            spec.setdefault("replicas", 1)
        elif kind == "Namespace":
            labels = obj["metadata"].setdefault("labels", {})
            labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
            if not isinstance(spec, dict):
                obj["spec"] = {"finalizers": ["kubernetes"]}
            obj.setdefault("status", {"phase": "Active"})
        elif kind == "Service" and isinstance(spec, dict):
            spec.setdefault("type", "ClusterIP")
            old_ip = ((old or {}).get("spec") or {}).get("clusterIP")
            if spec.get("type") != "ExternalName" and not spec.get("clusterIP"):
                if old_ip:
                    spec["clusterIP"] = old_ip
                else:
                    self._cluster_ip += 1
                    n = self._cluster_ip
                    spec["clusterIP"] = f"10.96.{(n // 250) % 250}.{n % 250 + 1}"
                spec["clusterIPs"] = [spec["clusterIP"]]
        elif kind == "Pod" and "status" not in obj:
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        elif kind == "PersistentVolumeClaim" and "status" not in obj:
            obj["status"] = {"phase": "Pending"}
        elif kind == "Job" and old is None and isinstance(spec, dict) and not spec.get("manualSelector"):
            # pkg/registry/batch/job/strategy.go generateSelector: a selector on the Job's uid,
            # and the uid and name as labels of its pod template; completions/parallelism 1.
            uid = obj["metadata"].setdefault("uid", str(uuid.uuid4()))
            name = obj["metadata"].get("name", "")
            spec.setdefault("selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})
            labels = spec.setdefault("template", {}).setdefault("metadata", {}).setdefault("labels", {})
            labels.update(
                {
                    "batch.kubernetes.io/controller-uid": uid,
                    "batch.kubernetes.io/job-name": name,
                    "controller-uid": uid,
                    "job-name": name,
                }
            )
            if "completions" not in spec and "parallelism" not in spec:
                spec["completions"] = spec["parallelism"] = 1
            spec.setdefault("backoffLimit", 6)

    def _pod_security(self, kind: str, obj: Mapping[str, Any], mode: str = "enforce") -> tuple[str, list[str]] | None:
        """(level, reasons) when the namespace's Pod Security `mode` (enforce or warn) has a level
        the pod template breaks."""
        template, ns = psa.pod_template(kind, obj), (obj.get("metadata") or {}).get("namespace")
        if not isinstance(template, dict) or not ns:
            return None
        namespace = self._live(self._storage("", "namespaces"), None, ns)
        level = psa.enforced_level(namespace) if mode == "enforce" else psa.warned_level(namespace)
        reasons = psa.violations(template, level) if level else []
        return (level, reasons) if level and reasons else None

    def pod_security_warnings(self, kind: str, obj: Mapping[str, Any]) -> list[str]:
        """The Warning headers of a write: the warn mode's verdict on a workload's pod template,
        or on a Pod that enforce admitted."""
        warned = self._pod_security(kind, obj, "warn")
        return [psa.warning_header(*warned)] if warned else []

    def _pod_security_event(self, kind: str, obj: Mapping[str, Any]) -> None:
        """The FailedCreate Warning event of a StatefulSet, DaemonSet or Job whose pods enforce refuses."""
        refused = self._pod_security(kind, obj) if kind in ("StatefulSet", "DaemonSet", "Job") else None
        if not refused or not self.auto_ready:
            return
        meta = obj["metadata"]
        pod = f"{meta['name']}-0" if kind == "StatefulSet" else f"{meta['name']}-standin"
        event = psa.failed_create_event(kind, obj, psa.forbidden_message("pods", pod, *refused), _now())
        event["metadata"].update(uid=str(uuid.uuid4()), creationTimestamp=_now(), resourceVersion=self._next_rv())
        self._store(self._storage("", "events"), meta.get("namespace"), event["metadata"]["name"], event, "ADDED")

    def _validate(self, kind: str, group: str, obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> None:
        meta = obj.get("metadata") or {}
        name = meta.get("name") or ""
        refused = self._pod_security(kind, obj) if kind == "Pod" else None
        if refused:
            raise _ApiError(
                403, "Forbidden", psa.forbidden_message("pods", name, *refused), {"name": name, "kind": "pods"}
            )
        causes: list[tuple[str, str, str]] = []
        pattern, limit, what = (
            (_NAME_LABEL, 63, "a lowercase RFC 1123 label")
            if kind in _DNS_LABEL_KINDS
            else (_NAME_SUBDOMAIN, 253, "a lowercase RFC 1123 subdomain")
        )
        if not name:
            causes.append(("FieldValueRequired", "metadata.name", "Required value: name or generateName is required"))
        elif len(name) > limit or not pattern.fullmatch(name):
            causes.append(
                (
                    "FieldValueInvalid",
                    "metadata.name",
                    f'Invalid value: "{name}": {what} must consist of lower case alphanumeric characters'
                    f"{' or' if kind in _DNS_LABEL_KINDS else ','} '-'{'' if kind in _DNS_LABEL_KINDS else ' or .'}, "
                    f"and must start and end with an alphanumeric character",
                )
            )
        for lk, lv in (meta.get("labels") or {}).items():
            prefix, _, lname = lk.rpartition("/")
            if (
                not _LABEL_NAME.fullmatch(lname)
                or len(lname) > 63
                or (prefix and (len(prefix) > 253 or not _NAME_SUBDOMAIN.fullmatch(prefix)))
            ):
                causes.append(
                    (
                        "FieldValueInvalid",
                        "metadata.labels",
                        f'Invalid value: "{lk}": name part must consist of alphanumeric characters',
                    )
                )
            if not isinstance(lv, str) or len(lv) > 63 or not _LABEL_VALUE.fullmatch(lv):
                causes.append(
                    (
                        "FieldValueInvalid",
                        "metadata.labels",
                        f"Invalid value: \"{lv}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                    )
                )
        if kind in ("Secret", "ConfigMap"):
            total = 0
            for field in ("data", "binaryData"):
                for k, v in (obj.get(field) or {}).items():
                    if not _CONFIG_KEY.fullmatch(k) or len(k) > 253:
                        causes.append(
                            (
                                "FieldValueInvalid",
                                f"{field}[{k}]",
                                f"Invalid value: \"{k}\": a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                            )
                        )
                    if kind == "Secret" or field == "binaryData":
                        try:
                            total += len(base64.b64decode(str(v), validate=True))
                        except (binascii.Error, ValueError):
                            raise _ApiError(
                                400,
                                "BadRequest",
                                f'{kind} in version "v1" cannot be handled as a {kind}: illegal base64 data at input byte 0',
                            ) from None
                    else:
                        total += len(str(v).encode("utf-8"))
            if total > 1024 * 1024:
                causes.append(("FieldValueTooLong", "data", "Too long: must have at most 1048576 bytes"))
        if kind in _SELECTOR_KINDS:
            spec = obj.get("spec") or {}
            selector = spec.get("selector")
            tlabels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
            if not selector:
                causes.append(("FieldValueRequired", "spec.selector", "Required value"))
            else:
                ml = selector.get("matchLabels") or {}
                if not ml and not selector.get("matchExpressions"):
                    causes.append(
                        (
                            "FieldValueInvalid",
                            "spec.selector",
                            'Invalid value: "{}": empty selector is invalid for deployment',
                        )
                    )
                elif any(tlabels.get(k) != v for k, v in ml.items()):
                    causes.append(
                        (
                            "FieldValueInvalid",
                            "spec.template.metadata.labels",
                            f"Invalid value: {_dumps(tlabels)}: `selector` does not match template `labels`",
                        )
                    )
            if old is not None and ((old.get("spec") or {}).get("selector") != selector):
                causes.append(
                    ("FieldValueInvalid", "spec.selector", f"Invalid value: {_dumps(selector)}: field is immutable")
                )
        if old is not None:
            causes += immutable_causes(kind, old, obj)
        if causes:
            raise self._invalid(kind, group, name, causes)

    def _auto_status(self, kind: str, obj: dict[str, Any], old: Mapping[str, Any] | None) -> None:
        if not self.auto_ready:
            return
        refused = self._pod_security(kind, obj) if kind != "Pod" else None
        if refused and kind in ("Deployment", "ReplicaSet"):  # admitted; the pod creations are refused
            obj["status"] = psa.replica_failure(
                kind, obj, psa.forbidden_message("pods", f"{obj['metadata']['name']}-standin-0", *refused), _now()
            )
            return
        if refused and kind in ("StatefulSet", "DaemonSet", "Job"):  # no pods; a FailedCreate event
            obj["status"] = psa.refused_status(kind, obj)
            return
        if kind in lifecycle.ROLLOUT_KINDS and (
            self.knobs.rollout_seconds > 0 or self.knobs.rollout_outcome != "ready"
        ):
            self._rollout_later(kind, obj, old)
            return
        status = self._ready_status(kind, obj, old)
        if status is not None:
            obj["status"] = status

    def _rollout_later(self, kind: str, obj: dict[str, Any], old: Mapping[str, Any] | None) -> None:
        """The controller observes the new generation later; the status stays what it was."""
        if old is not None and "status" in old:
            obj["status"] = copy.deepcopy(old["status"])
        meta = obj["metadata"]
        generation, ns, name = meta.get("generation"), meta.get("namespace"), meta["name"]
        group = obj["apiVersion"].rpartition("/")[0]
        storage = self._storage(
            group,
            {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets", "Job": "jobs"}[
                kind
            ],
        )

        def observe() -> None:
            live = self._live(storage, ns, name)
            if live is None or live["metadata"].get("generation") != generation:
                return  # gone, or a newer write has its own timer
            old_status = dict(live.get("status") or {})
            status = (
                lifecycle.failed_status(kind, live, old_status) if self.knobs.rollout_outcome == "fail" else None
            ) or self._ready_status(kind, live, live)
            new = copy.deepcopy(live)
            new["status"] = status
            new["metadata"]["resourceVersion"] = self._next_rv()
            self._store(storage, ns, name, new, "MODIFIED")

        lifecycle.later(self.knobs.rollout_seconds, observe)

    @staticmethod
    def _ready_status(kind: str, obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The status a healthy controller would eventually write (None: no notion of readiness)."""
        spec = obj.get("spec") or {}
        meta = obj.get("metadata") or {}
        gen = meta.get("generation", 1)
        old_status = dict((old or {}).get("status") or obj.get("status") or {})
        now = _now()

        def conds(*items: tuple[str, str, str]) -> list[dict[str, Any]]:
            previous = {c.get("type"): c for c in old_status.get("conditions") or [] if isinstance(c, dict)}
            out = []
            for ctype, reason, message in items:
                prev = previous.get(ctype) or {}
                same = prev.get("status") == "True" and prev.get("reason") == reason
                out.append(
                    {
                        "type": ctype,
                        "status": "True",
                        "reason": reason,
                        "message": message,
                        "lastUpdateTime": prev.get("lastUpdateTime", now) if same else now,
                        "lastTransitionTime": prev.get("lastTransitionTime", now) if same else now,
                    }
                )
            return out

        name = meta.get("name", "")
        if kind in ("Deployment", "ReplicaSet"):
            r = spec.get("replicas", 1)
            status: dict[str, Any] = {
                "observedGeneration": gen,
                "replicas": r,
                "updatedReplicas": r,
                "readyReplicas": r,
                "availableReplicas": r,
            }
            if kind == "Deployment":
                status["conditions"] = conds(
                    ("Available", "MinimumReplicasAvailable", "Deployment has minimum availability."),
                    (
                        "Progressing",
                        "NewReplicaSetAvailable",
                        f'ReplicaSet "{name}-standin" has successfully progressed.',
                    ),
                )
            return status
        if kind == "StatefulSet":
            r = spec.get("replicas", 1)
            return {
                "observedGeneration": gen,
                "replicas": r,
                "readyReplicas": r,
                "currentReplicas": r,
                "updatedReplicas": r,
                "availableReplicas": r,
                "currentRevision": f"{name}-standin",
                "updateRevision": f"{name}-standin",
                "collisionCount": 0,
            }
        if kind == "DaemonSet":
            return {
                "observedGeneration": gen,
                "desiredNumberScheduled": 1,
                "currentNumberScheduled": 1,
                "numberReady": 1,
                "numberAvailable": 1,
                "updatedNumberScheduled": 1,
                "numberMisscheduled": 0,
            }
        if kind == "Job":
            n = spec.get("completions", 1) or 1
            return {
                "succeeded": n,
                "ready": 0,
                "active": 0,
                "startTime": old_status.get("startTime", now),
                "completionTime": old_status.get("completionTime", now),
                "conditions": conds(
                    ("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods"),
                    ("Complete", "CompletionsReached", "Reached expected number of succeeded pods"),
                ),
            }
        if kind == "Pod":
            return {
                "phase": "Running",
                "podIP": "10.244.0.10",
                "startTime": old_status.get("startTime", now),
                "conditions": conds(
                    ("Initialized", "", ""), ("Ready", "", ""), ("ContainersReady", "", ""), ("PodScheduled", "", "")
                ),
            }
        if kind == "PersistentVolumeClaim":
            res = (spec.get("resources") or {}).get("requests") or {}
            return {
                "phase": "Bound",
                "accessModes": spec.get("accessModes", ["ReadWriteOnce"]),
                "capacity": {"storage": res.get("storage", "1Gi")},
            }
        return None

    # ---- the resource endpoint ----------------------------------------------------------

    async def _serve_resource(self, request: kmock.Request) -> Any:
        assert request.resource is not None
        method = str(request.method.value if hasattr(request.method, "value") else request.method).upper()
        p = parse_k8s_path(request.url.path)
        ctx = _Ctx(self, request, method, p)
        if ctx.verb == "watch":
            raise _Reply(await self._watch(ctx))
        raise _Reply(ctx.run())

    async def _watch(self, ctx: _Ctx) -> aiohttp.web.StreamResponse:
        ctx.resolve(for_write=False)
        params = ctx.params
        try:
            timeout = float(params.get("timeoutSeconds") or _DEFAULT_WATCH_TIMEOUT)
        except ValueError:
            timeout = _DEFAULT_WATCH_TIMEOUT
        timeout = max(0.0, min(timeout, _MAX_WATCH_TIMEOUT))
        label_reqs, field_reqs = ctx.selectors()
        rv_param = params.get("resourceVersion") or ""
        storage, ns = ctx.storage, (ctx.p.namespace if ctx.namespaced else None)
        name_filter = ctx.p.name

        def wanted(obj: Mapping[str, Any]) -> bool:
            meta = obj.get("metadata") or {}
            if name_filter and meta.get("name") != name_filter:
                return False
            return _labels_match(meta.get("labels") or {}, label_reqs) and _fields_match(obj, field_reqs)

        response = aiohttp.web.StreamResponse(status=200)
        response.content_type = "application/json"
        response.enable_chunked_encoding()
        raw = ctx.request._raw_request
        assert raw is not None
        await response.prepare(raw)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        initial: list[dict[str, Any]] = []
        if rv_param in ("", "0"):
            last = self._rv
            initial = [
                {"type": "ADDED", "object": ctx.present(o)} for o in self._iter_objects(storage, ns) if wanted(o)
            ]
        else:
            try:
                last = int(rv_param)
            except ValueError:
                last = -1
            if last < self._events_floor or last < 0:
                gone = _ApiError(410, "Expired", f"too old resource version: {rv_param} ({self._rv})")
                await response.write((_dumps({"type": "ERROR", "object": gone.body()}) + "\n").encode())
                await response.write_eof()
                return response
        try:
            for event in initial:
                await response.write((_dumps(event) + "\n").encode())
            if self._closing is None:
                self._closing = asyncio.Event()
            while True:
                batch = []
                for rv, st, ens, etype, obj in list(self._events):
                    if rv > last and st == storage and (ns is None or ens == ns) and wanted(obj):
                        batch.append({"type": etype, "object": ctx.present(obj)})
                    if rv > last:
                        last = rv
                for event in batch:
                    await response.write((_dumps(event) + "\n").encode())
                remaining = deadline - loop.time()
                if remaining <= 0 or self._closing.is_set():
                    break
                if self._event_signal is None:
                    self._event_signal = asyncio.Event()
                signal_ev = self._event_signal
                waiters = [asyncio.ensure_future(signal_ev.wait()), asyncio.ensure_future(self._closing.wait())]
                try:
                    await asyncio.wait(waiters, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for w in waiters:
                        w.cancel()
            await response.write_eof()
        except ConnectionError:
            pass  # the client went away
        return response

    def close(self) -> None:
        if self._closing is None:
            self._closing = asyncio.Event()
        self._closing.set()

    # ---- control endpoints (for the process mode) ----------------------------------------

    async def _serve_control(self, raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        path = raw.path[len("/standin/") :].strip("/")
        try:
            body = json.loads((await raw.read()) or b"{}")
        except ValueError:
            body = {}
        if raw.method == "GET" and path == "stats":
            return _json_response(self.metrics.snapshot())
        if raw.method == "GET" and path == "requests":
            return _json_response([r._asdict() for r in self.metrics.records()])
        if raw.method == "GET" and path == "objects":
            out = []
            for (res, ns, name), obj in self._objects.items():
                if not obj.deleted:
                    out.append(
                        {
                            "resource": f"{res.group}/{res.version}/{res.plural}",
                            "namespace": ns,
                            "name": name,
                            "object": obj.last.raw,
                        }
                    )
            return _json_response(out)
        if raw.method == "POST":
            try:
                if path == "reset":
                    self.reset()
                elif path == "reset-counters":
                    self.metrics.reset()
                elif path == "faults":
                    self.fail_next(
                        body.get("count", 1),
                        body.get("status", 500),
                        verbs=body.get("verbs"),
                        path=body.get("path"),
                        message=body.get("message"),
                        reason=body.get("reason"),
                        include_discovery=bool(body.get("include_discovery")),
                        retry_after=body.get("retry_after"),
                    )
                elif path == "clear-faults":
                    self.clear_faults()
                elif path == "delay":
                    self.set_delay(body.get("seconds", 0), verbs=body.get("verbs"))
                elif path == "knobs":
                    self.knobs.update(body)
                elif path == "pod-log":  # the kubelet stand-in's container output (tests/support/kube_jobs.py)
                    key = (body["namespace"], body["name"])
                    self.pod_logs[key] = self.pod_logs.get(key, "") + str(body["text"])
                elif path == "auto-ready":
                    self.auto_ready = bool(body.get("enabled", True))
                elif path == "ready":
                    self.mark_ready(body["resource"], body.get("namespace"), body["name"])
                elif path == "status":
                    self.set_status(body["resource"], body.get("namespace"), body["name"], body.get("status") or {})
                else:
                    return _json_response({"error": f"unknown control path {path!r}"}, status=404)
            except (KeyError, ValueError, _ApiError) as e:
                return _json_response({"error": str(e)}, status=400)
            return _json_response({"ok": True})
        return _json_response({"error": f"unknown control path {path!r}"}, status=404)

    # ---- helpers for tests (call in the loop; StandIn wraps them thread-safely) -------------

    def get_object(self, ref: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        group, _version, plural, info = self.find_resource(ref)
        live = self._live(self._storage(group, plural), namespace if info.namespaced else None, name)
        return copy.deepcopy(live) if live is not None else None

    def list_objects(self, ref: str, namespace: str | None = None) -> list[dict[str, Any]]:
        group, _version, plural, info = self.find_resource(ref)
        return copy.deepcopy(self._iter_objects(self._storage(group, plural), namespace if info.namespaced else None))

    def set_status(
        self, ref: str, namespace: str | None, name: str, status: Mapping[str, Any], *, merge: bool = True
    ) -> dict[str, Any]:
        group, version, plural, info = self.find_resource(ref)
        ns = namespace if info.namespaced else None
        storage = self._storage(group, plural)
        live = self._live(storage, ns, name)
        if live is None:
            raise self._not_found(group, plural, name)
        new = copy.deepcopy(live)
        new["status"] = _merge_patch(live.get("status") or {}, dict(status)) if merge else copy.deepcopy(dict(status))
        if new != live:
            new["metadata"]["resourceVersion"] = self._next_rv()
            self._store(storage, ns, name, new, "MODIFIED")
        return copy.deepcopy(new)

    def mark_ready(self, ref: str, namespace: str | None, name: str) -> dict[str, Any]:
        group, version, plural, info = self.find_resource(ref)
        live = self.get_object(ref, namespace, name)
        if live is None:
            raise self._not_found(group, plural, name)
        status = self._ready_status(info.kind or "", live, live)
        if status is None:
            raise ValueError(f"{info.kind} has no notion of readiness in the stand-in")
        return self.set_status(ref, namespace, name, status, merge=False)

    @property
    def objects(self) -> kmock.ObjectsArray:
        return self._objects


class _Ctx:
    """One resource request: resolution, validation and the verb implementations."""

    def __init__(self, h: StandInHandler, request: kmock.Request, method: str, p: K8sPath) -> None:
        self.h = h
        self.request = request
        self.method = method
        self.p = p
        self.params: Mapping[str, str] = request.params
        self.content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        self.verb = _classify(method, p, self.params, self.content_type)
        self.group = p.group or ""
        self.version = p.version or ""
        self.plural = p.plural or ""
        self.api_version = f"{self.group}/{self.version}" if self.group else self.version
        self.dry_run = self.params.get("dryRun") == "All"
        self.info: kmock.ResourceInfo | None = None
        self.kind = ""
        self.namespaced = True
        self.storage: Any = None
        self.has_status = True

    # -- resolution

    def resolve(self, *, for_write: bool) -> None:
        h, p = self.h, self.p
        if kmock.resource(self.group, self.version, self.plural) in h._pending_resources:
            raise _ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )  # CRD not Established yet
        info = h._info(self.group, self.version, self.plural)
        if info is None:
            body_kind = self.request.data.get("kind") if isinstance(self.request.data, dict) else None
            # Only custom-resource-like groups are tolerated (CRD groups must contain a dot).
            tolerated = not h.strict_resources and "." in self.group and not self.group.endswith(".k8s.io")
            if not tolerated or not (for_write and body_kind):
                if not for_write and tolerated and self.verb in ("list", "watch"):
                    # Tolerated unknown resource: an empty list.
                    self.kind = self.plural[:1].upper() + self.plural[1:].rstrip("s")
                    self.namespaced = p.namespace is not None
                    self.storage = kmock.resource(self.group, self.version, self.plural)
                    return
                raise _ApiError(404, "NotFound", "the server could not find the requested resource")
            h.register_resource(
                self.api_version if self.group else f"/{self.version}",
                self.plural,
                kind=body_kind,
                namespaced=p.namespace is not None,
                explicit=False,
            )
            info = h._info(self.group, self.version, self.plural)
            assert info is not None
        self.info = info
        self.kind = info.kind or self.plural.capitalize()
        self.namespaced = bool(info.namespaced)
        self.has_status = "status" in info.subresources
        self.storage = h._storage(self.group, self.plural)
        if self.namespaced and p.name is not None and p.namespace is None:
            raise _ApiError(404, "NotFound", "the server could not find the requested resource")
        if self.namespaced and p.name is None and p.namespace is None and self.method not in ("GET",):
            raise _ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if not self.namespaced and p.namespace is not None:
            raise _ApiError(404, "NotFound", "the server could not find the requested resource")

    @property
    def ns(self) -> str | None:
        return self.p.namespace if self.namespaced else None

    def present(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """The object as served at the requested version."""
        out = dict(obj)
        out["apiVersion"] = self.api_version
        out["kind"] = self.kind
        return out

    def selectors(self) -> tuple[list[tuple[str, str, Any]], list[tuple[str, str, str]]]:
        try:
            labels = _parse_label_selector(self.params.get("labelSelector") or "")
            fields = _parse_field_selector(self.params.get("fieldSelector") or "")
        except ValueError as e:
            raise _ApiError(400, "BadRequest", str(e)) from e
        return labels, fields

    def ensure_namespace(self, name: str = "") -> None:
        ns = self.ns
        if ns is None:
            return
        live = self.h._live(self.h._storage("", "namespaces"), None, ns)
        if live is None:
            raise _ApiError(404, "NotFound", f'namespaces "{ns}" not found', {"name": ns, "kind": "namespaces"})
        if live["metadata"].get("deletionTimestamp"):
            message, details = lifecycle.terminating_forbidden(
                self.h._qual(self.group, self.plural), name or self.p.name or "", ns
            )
            raise _ApiError(403, "Forbidden", message, details)

    def body_dict(self) -> dict[str, Any]:
        data = self.request.data
        if not isinstance(data, dict):
            if self.content_type and "json" not in self.content_type and "yaml" not in self.content_type:
                raise _ApiError(
                    415,
                    "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml",
                )
            raise _ApiError(400, "BadRequest", "the request body is not a JSON/YAML object")
        return data

    def check_type(self, body: Mapping[str, Any], *, required: bool) -> None:
        av, kind = body.get("apiVersion"), body.get("kind")
        if required and (not av or not kind):
            missing = "apiVersion" if not av else "kind"
            raise _ApiError(400, "BadRequest", f"Object '{missing}' is missing in '{_dumps(body)[:200]}'")
        if av and av != self.api_version:
            raise _ApiError(
                400,
                "BadRequest",
                f"the API version in the data ({av}) does not match the expected API version ({self.api_version})",
            )
        if kind and kind != self.kind:
            raise _ApiError(
                400, "BadRequest", f"the kind in the data ({kind}) does not match the expected kind ({self.kind})"
            )

    def check_names(self, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        if self.p.name is not None and meta.get("name") and meta["name"] != self.p.name:
            raise _ApiError(
                400,
                "BadRequest",
                f"the name of the object ({meta['name']}) does not match the name on the URL ({self.p.name})",
            )
        if self.namespaced and meta.get("namespace") and self.p.namespace and meta["namespace"] != self.p.namespace:
            raise _ApiError(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on the request",
            )

    def ok(self, obj: Mapping[str, Any], status: int = 200) -> aiohttp.web.Response:
        response = _json_response(self.present(obj), status=status)
        # Pod Security's warn mode answers every write of a pod or pod template (dry runs and
        # no-op applies included): one Warning header each, as the API server sends them.
        if self.verb in ("create", "update", "apply", "patch") and self.p.subresource is None:
            for warning in self.h.pod_security_warnings(self.kind, obj):
                response.headers.add("Warning", warning)
        return response

    # -- dispatch

    def run(self) -> aiohttp.web.StreamResponse:
        sub = self.p.subresource
        if self.verb in ("get", "list"):
            self.resolve(for_write=False)
            if self.verb == "list":
                return self.list()
            return self.get()
        self.resolve(for_write=self.verb in ("create", "update", "apply"))
        if sub == "token" and self.kind == "ServiceAccount" and self.verb == "create":  # TokenRequest
            exists = self.p.name is not None and self.h._live(self.storage, self.ns, self.p.name) is not None
            code, answer = token_request(self.p.namespace or "", self.p.name or "", self.body_dict(), exists)
            return _json_response(answer, status=code)
        if sub not in (None, "status", "scale"):
            raise _ApiError(404, "NotFound", "the server could not find the requested resource")
        if sub == "scale" and self.kind not in ("Deployment", "StatefulSet", "ReplicaSet"):
            raise _ApiError(404, "NotFound", "the server could not find the requested resource")
        if _truthy(self.params.get("force")) and self.verb != "apply":
            raise _ApiError(400, "BadRequest", "force must be unset for non-apply patch requests")
        if self.verb == "create":
            return self.create()
        if self.verb in ("update", "patch", "apply"):
            return self.write()
        if self.verb == "delete":
            return self.delete()
        if self.verb == "deletecollection":
            return self.delete_collection()
        raise _ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    # -- reads

    def wants_table(self) -> bool:
        accept = self.request.headers.get("Accept") or ""
        return "as=Table" in accept

    def table(self, items: list[Mapping[str, Any]], rv: str) -> aiohttp.web.Response:
        include = self.params.get("includeObject") or "Metadata"
        rows = []
        for obj in items:
            meta = obj.get("metadata") or {}
            row: dict[str, Any] = {"cells": [meta.get("name"), _age(meta.get("creationTimestamp"))]}
            if include == "Object":
                row["object"] = self.present(obj)
            elif include == "Metadata":
                row["object"] = {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": {k: v for k, v in meta.items() if k != "managedFields"},
                }
            rows.append(row)
        return _json_response(
            {
                "kind": "Table",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": {"resourceVersion": rv},
                "columnDefinitions": [
                    {
                        "name": "Name",
                        "type": "string",
                        "format": "name",
                        "description": "Name must be unique within a namespace.",
                        "priority": 0,
                    },
                    {
                        "name": "Age",
                        "type": "string",
                        "format": "",
                        "description": "CreationTimestamp is a timestamp representing the server time when this object was created.",
                        "priority": 0,
                    },
                ],
                "rows": rows,
            }
        )

    def get(self) -> aiohttp.web.Response:
        assert self.p.name is not None
        live = self.h._live(self.storage, self.ns, self.p.name)
        if live is None:
            raise self.h._not_found(self.group, self.plural, self.p.name)
        if self.p.subresource == "scale":
            return _json_response(self.scale_of(live))
        if self.p.subresource == "log" and self.plural == "pods" and not self.group:
            return self.pod_log()
        if self.p.subresource not in (None, "status"):
            raise _ApiError(404, "NotFound", "the server could not find the requested resource")
        if self.wants_table():
            return self.table([live], live["metadata"].get("resourceVersion", ""))
        return self.ok(live)

    def pod_log(self) -> aiohttp.web.Response:
        """GET pods/NAME/log: what the kubelet stand-in posted (/standin/pod-log), with
        `tailLines` and `limitBytes` applied as the API server does (the tail, then its first bytes)."""
        text = self.h.pod_logs.get((self.ns or "", self.p.name or ""), "")
        tail = self.params.get("tailLines")
        if tail is not None:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-int(tail) :] if int(tail) > 0 else [])
        data = text.encode()
        limit = self.params.get("limitBytes")
        if limit is not None:
            data = data[: int(limit)]
        return aiohttp.web.Response(body=data, content_type="text/plain", charset="utf-8")

    def list(self) -> aiohttp.web.Response:
        label_reqs, field_reqs = self.selectors()
        items = []
        for obj in self.h._iter_objects(self.storage, self.p.namespace if self.namespaced else None):
            meta = obj.get("metadata") or {}
            if _labels_match(meta.get("labels") or {}, label_reqs) and _fields_match(obj, field_reqs):
                items.append(obj)
        rv = str(self.h._rv)
        items, list_meta = self.page(items, rv, filtered=bool(label_reqs or field_reqs))
        if self.wants_table():
            return self.table(items, list_meta["resourceVersion"])
        return _json_response(
            {
                "kind": f"{self.kind}List",
                "apiVersion": self.api_version,
                "metadata": list_meta,
                "items": [self.present(o) for o in items],
            }
        )

    def page(
        self, items: list[dict[str, Any]], rv: str, *, filtered: bool
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """``limit``/``continue`` (docs: API concepts, "Retrieving large results sets in chunks"):
        at most ``limit`` items, and an opaque token for the rest, naming the list's
        resourceVersion and the last key served; ``remainingItemCount`` when no selector is used."""
        meta: dict[str, Any] = {"resourceVersion": rv}
        token = self.params.get("continue")
        if token:
            try:
                state = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
                start, meta["resourceVersion"] = tuple(state["start"]), str(state["rv"])
            except (ValueError, KeyError, TypeError, binascii.Error):
                raise _ApiError(
                    400,
                    "BadRequest",
                    "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
                ) from None
            items = [o for o in items if (o["metadata"].get("namespace") or "", o["metadata"]["name"]) > start]
        try:
            limit = int(self.params.get("limit") or 0)
        except ValueError:
            limit = 0
        if limit > 0 and len(items) > limit:
            last = items[limit - 1]["metadata"]
            state = {"rv": meta["resourceVersion"], "start": [last.get("namespace") or "", last["name"]]}
            meta["continue"] = base64.urlsafe_b64encode(_dumps(state).encode()).decode()
            if not filtered:
                meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        return items, meta

    def scale_of(self, live: Mapping[str, Any]) -> dict[str, Any]:
        meta = live["metadata"]
        spec, status = live.get("spec") or {}, live.get("status") or {}
        ml = (spec.get("selector") or {}).get("matchLabels") or {}
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": meta["name"],
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
                "creationTimestamp": meta.get("creationTimestamp"),
            },
            "spec": {"replicas": spec.get("replicas", 1)},
            "status": {"replicas": status.get("replicas", 0), "selector": ",".join(f"{k}={v}" for k, v in ml.items())},
        }

    # -- writes

    def manager(self) -> str:
        return self.params.get("fieldManager") or self.h._default_manager(self.request)

    def create(self) -> aiohttp.web.Response:
        if self.p.subresource is not None:
            raise _ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        body = self.body_dict()
        self.check_type(body, required=False)
        self.check_names(body)
        obj = self.h._clean_incoming(body, has_status=self.has_status)
        meta = obj["metadata"]
        meta.pop("resourceVersion", None)
        if not meta.get("name") and meta.get("generateName"):
            suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
            meta["name"] = f"{meta['generateName']}{suffix}"
        obj["apiVersion"], obj["kind"] = self.api_version, self.kind
        if self.namespaced:
            meta["namespace"] = self.p.namespace
        else:
            meta.pop("namespace", None)
        name = meta.get("name") or ""
        if name and self.h._live(self.storage, self.ns, name) is not None:
            raise _ApiError(
                409,
                "AlreadyExists",
                f'{self.h._qual(self.group, self.plural)} "{name}" already exists',
                {"name": name, "group": self.group, "kind": self.plural},
            )
        self.ensure_namespace(name)
        self.h._fold_secret(self.kind, obj)
        self.h._apply_defaults(self.kind, obj, None)
        self.h._validate(self.kind, self.group, obj, None)
        self.h._finish_new(
            obj,
            kind=self.kind,
            api_version=self.api_version,
            manager=self.manager(),
            subresources=self.info.subresources if self.info else (),
        )
        self.h._auto_status(self.kind, obj, None)
        if self.dry_run:
            obj["metadata"].pop("resourceVersion", None)
            return self.ok(obj, 201)
        self.after_write(None, obj)
        self.h._store(self.storage, self.ns, name, obj, "ADDED")
        return self.ok(obj, 201)

    def write(self) -> aiohttp.web.Response:
        """PUT, PATCH (merge/strategic/json) and server-side apply, on the object or a subresource."""
        assert self.p.name is not None
        name, sub = self.p.name, self.p.subresource
        live = self.h._live(self.storage, self.ns, name)
        if self.verb == "apply":
            return self.apply(live)
        if live is None:
            raise self.h._not_found(self.group, self.plural, name)
        scope = "status" if sub == "status" else "main"
        # Compute the requested new state.
        if sub == "scale":
            current = self.scale_of(live)
        else:
            current = self.present(live)
        if self.verb == "update":
            requested = self.body_dict()
            if sub != "scale":
                self.check_type(requested, required=False)
            self.check_names(requested)
            rv = (requested.get("metadata") or {}).get("resourceVersion")
        else:
            rv = None
            try:
                if self.content_type == "application/json-patch+json":
                    if not isinstance(self.request.data, list):
                        raise _ApiError(400, "BadRequest", "the JSON patch is not a list of operations")
                    requested = _json_patch(current, self.request.data)
                elif self.content_type == "application/merge-patch+json":
                    requested = _merge_patch(current, self.body_dict())
                elif self.content_type in ("application/strategic-merge-patch+json", "application/json", ""):
                    if not self.h._is_builtin(self.group, self.version, self.plural):
                        # Like the real API server: custom resources have no strategic merge patch.
                        raise _ApiError(
                            415,
                            "UnsupportedMediaType",
                            "the body of the request was in an unknown format - accepted media types include: "
                            "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                        )
                    requested = _strategic_merge(current, self.body_dict())
                else:
                    raise _ApiError(
                        415,
                        "UnsupportedMediaType",
                        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json",
                    )
            except (ValueError, KeyError, IndexError, TypeError) as e:
                raise _ApiError(
                    422, "Invalid", f"the server rejected our request due to an error in our request: {e}"
                ) from e
            if not isinstance(requested, dict):
                raise _ApiError(422, "Invalid", "the patch produced a non-object")
            # The current resourceVersion is in `current`, so only a patched one acts as a precondition.
            rv = (requested.get("metadata") or {}).get("resourceVersion")
        if rv and rv != live["metadata"].get("resourceVersion"):
            raise _ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {self.h._qual(self.group, self.plural)} "{name}": '
                f"the object has been modified; please apply your changes to the latest version and try again",
                {"name": name, "group": self.group, "kind": self.plural},
            )
        # Build the new object from the requested state, within the scope of the endpoint.
        if sub == "scale":
            replicas = (requested.get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise self.h._invalid(
                    "Scale",
                    "autoscaling",
                    name,
                    [
                        (
                            "FieldValueInvalid",
                            "spec.replicas",
                            f"Invalid value: {replicas}: must be greater than or equal to 0",
                        )
                    ],
                )
            new = copy.deepcopy(live)
            new.setdefault("spec", {})["replicas"] = replicas
            scope = "main"
        elif sub == "status":
            new = copy.deepcopy(live)
            if "status" in requested:
                new["status"] = copy.deepcopy(requested["status"])
            else:
                new.pop("status", None)
        else:
            new = self.h._clean_incoming(requested, has_status=self.has_status)
            meta = new["metadata"]
            for k in (
                "uid",
                "creationTimestamp",
                "generation",
                "managedFields",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            ):
                if k in live["metadata"]:
                    meta[k] = copy.deepcopy(live["metadata"][k])
            meta["name"] = name
            if self.namespaced:
                meta["namespace"] = self.p.namespace
            else:
                meta.pop("namespace", None)
            meta["resourceVersion"] = live["metadata"].get("resourceVersion")
            if self.has_status:
                if "status" in live:
                    new["status"] = copy.deepcopy(live["status"])
            self.h._fold_secret(self.kind, new)
            self.h._apply_defaults(self.kind, new, live)
            self.h._validate(self.kind, self.group, new, live)
        new["apiVersion"], new["kind"] = self.api_version, self.kind
        self.update_ownership(live, new, scope, sub)
        response = self.commit(live, new, 200)
        if sub == "scale":  # the scale subresource answers with a Scale, not the parent object
            stored = self.h._live(self.storage, self.ns, name)
            return _json_response(self.scale_of(stored if stored is not None and not self.dry_run else new))
        return response

    def update_ownership(self, old: Mapping[str, Any], new: dict[str, Any], scope: str, sub: str | None) -> None:
        """Update-operation semantics: the updater owns what it changed, taking it from others."""
        before = self.h._mf_load(old)
        entries = [dict(e, _paths=set(e["_paths"])) for e in before]
        has_status = self.has_status
        new_paths = _fieldset(new, scope, has_status)
        changed = {p for p in new_paths if _value_at(old, p) != _value_at(new, p)}
        manager = self.manager()
        for e in entries:
            e["_paths"] = {p for p in e["_paths"] if _value_at(new, p) is not _MISSING}
            if not (e["manager"] == manager and e.get("operation") == "Update"):
                e["_paths"] -= changed
        if changed:
            mine = next(
                (
                    e
                    for e in entries
                    if e["manager"] == manager and e.get("operation") == "Update" and e.get("subresource") == sub
                ),
                None,
            )
            if mine is None:
                mine = dict(self.h._mf_entry(manager, "Update", self.api_version, set(), sub), _paths=set())
                entries.append(mine)
            mine["_paths"] |= changed
            mine["apiVersion"] = self.api_version
        new.setdefault("metadata", {})["managedFields"] = self.h._mf_dump(entries, before)
        if not new["metadata"]["managedFields"]:
            new["metadata"].pop("managedFields")

    def apply(self, live: dict[str, Any] | None) -> aiohttp.web.Response:
        """Server-side apply (application/apply-patch+yaml)."""
        name, sub = self.p.name or "", self.p.subresource
        manager = self.params.get("fieldManager")
        if not manager:
            raise _ApiError(
                400,
                "BadRequest",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
            )
        force = _truthy(self.params.get("force"))
        body = self.body_dict()
        self.check_type(body, required=True)
        self.check_names(body)
        if sub == "scale":
            raise _ApiError(
                415, "UnsupportedMediaType", "apply is not supported on the scale subresource by the stand-in"
            )
        scope = "status" if sub == "status" else "main"
        applied = self.h._clean_incoming(body, has_status=self.has_status, keep_status=(scope == "status"))
        applied["apiVersion"], applied["kind"] = self.api_version, self.kind
        ameta = applied["metadata"]
        precondition_rv = ameta.pop("resourceVersion", None)
        ameta["name"] = name
        if self.namespaced:
            ameta["namespace"] = self.p.namespace
        else:
            ameta.pop("namespace", None)
        self.h._fold_secret(self.kind, applied)
        if scope == "status":
            applied = {
                "apiVersion": self.api_version,
                "kind": self.kind,
                "metadata": {"name": name},
                "status": applied.get("status") or {},
            }
        a_paths = _fieldset(applied, scope, self.has_status)
        if self.h.knobs.strict_schema and scope == "main":
            errors = typed_errors(self.api_version, self.kind, body, _assoc_keys)
            if errors:
                raise _ApiError(500, "", typed_patch_message(self.api_version, self.kind, self.ns, name, errors))

        if live is None:
            if scope == "status":
                raise self.h._not_found(self.group, self.plural, name)
            if precondition_rv:
                raise self.h._not_found(self.group, self.plural, name)
            self.ensure_namespace(name)
            new = copy.deepcopy(applied)
            self.h._apply_defaults(self.kind, new, None)
            self.h._validate(self.kind, self.group, new, None)
            self.h._finish_new(new, kind=self.kind, api_version=self.api_version, manager=None)
            if a_paths:
                new["metadata"]["managedFields"] = [self.h._mf_entry(manager, "Apply", self.api_version, a_paths, None)]
            self.h._auto_status(self.kind, new, None)
            if self.dry_run:
                new["metadata"].pop("resourceVersion", None)
                return self.ok(new, 201)
            self.after_write(None, new)
            self.h._store(self.storage, self.ns, name, new, "ADDED")
            return self.ok(new, 201)

        if precondition_rv and precondition_rv != live["metadata"].get("resourceVersion"):
            raise _ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {self.h._qual(self.group, self.plural)} "{name}": '
                f"the object has been modified; please apply your changes to the latest version and try again",
                {"name": name, "group": self.group, "kind": self.plural},
            )
        before = self.h._mf_load(live)
        entries = [dict(e, _paths=set(e["_paths"])) for e in before]
        mine = next(
            (
                e
                for e in entries
                if e["manager"] == manager and e.get("operation") == "Apply" and e.get("subresource") == sub
            ),
            None,
        )
        others = [e for e in entries if e is not mine]

        # Conflicts: another manager owns a related field and the applied value differs.
        conflicts: list[tuple[dict[str, Any], Path]] = []
        for e in others:
            owned = e["_paths"]
            owned_prefixes = _prefixes(owned)
            for p in sorted(a_paths):
                if p[-1].startswith(("k:", "v:")):
                    continue
                related = p in owned or p in owned_prefixes or any(p[:i] in owned for i in range(1, len(p)))
                if not related:
                    continue
                live_value = _value_at(live, p)
                if live_value is _MISSING:
                    continue
                if _value_at(applied, p) != live_value:
                    conflicts.append((e, p))
        if conflicts and not force:
            raise self.conflict_error(conflicts)
        for e, p in conflicts:  # force: take the fields over
            e["_paths"] = {q for q in e["_paths"] if not (q[: len(p)] == p or p[: len(q)] == q)}

        # Merge, then drop the fields this manager no longer applies (unless others own them).
        merged = _apply_merge(live, applied)
        merged["apiVersion"], merged["kind"] = self.api_version, self.kind
        previous = mine["_paths"] if mine is not None else set()
        others_prefixes = _prefixes(p for e in others for p in e["_paths"])
        all_owned = set(a_paths) | {p for e in others for p in e["_paths"]}
        for p in _removable(previous - a_paths, others_prefixes | {q for e in others for q in e["_paths"]}):
            if _delete_at(merged, p):
                parent = p[:-1]
                while len(parent) >= 2:
                    value = _value_at(merged, parent)
                    if value in ({}, []) and parent not in all_owned and parent not in _prefixes(a_paths):
                        _delete_at(merged, parent)
                        parent = parent[:-1]
                    else:
                        break
        if mine is None:
            mine = dict(self.h._mf_entry(manager, "Apply", self.api_version, set(), sub), _paths=set())
            entries.append(mine)
        mine["_paths"] = set(a_paths)
        mine["apiVersion"] = self.api_version
        for e in entries:
            e["_paths"] = {p for p in e["_paths"] if _value_at(merged, p) is not _MISSING}
        merged.setdefault("metadata", {})["managedFields"] = self.h._mf_dump(entries, before)
        if not merged["metadata"]["managedFields"]:
            merged["metadata"].pop("managedFields")
        if scope == "main":
            if self.has_status:
                if "status" in live:
                    merged["status"] = copy.deepcopy(live["status"])
                else:
                    merged.pop("status", None)
            self.h._apply_defaults(self.kind, merged, live)
            self.h._validate(self.kind, self.group, merged, live)
        return self.commit(live, merged, 200)

    def conflict_error(self, conflicts: list[tuple[dict[str, Any], Path]]) -> _ApiError:
        causes = []
        by_manager: dict[str, list[str]] = collections.defaultdict(list)
        for e, p in conflicts:
            field = _path_str(p)
            # apiserver fieldmanager/internal/conflict.go printManager: an Update manager is
            # named with its apiVersion and time, an Apply manager by name only.
            who = f'"{e["manager"]}"' + (f' with subresource "{e["subresource"]}"' if e.get("subresource") else "")
            if e.get("operation") == "Update":
                who += f" using {e.get('apiVersion', self.api_version)}" + (f" at {e['time']}" if e.get("time") else "")
            causes.append({"type": "FieldManagerConflict", "message": f"conflict with {who}", "field": field})
            by_manager[who].append(field)
        n = len(conflicts)
        if n == 1:
            ((who, fields),) = by_manager.items()
            text = f"Apply failed with 1 conflict: conflict with {who}: {fields[0]}"
        else:
            chunks = [
                f"conflicts with {who}:\n" + "\n".join(f"- {f}" for f in fields)
                for who, fields in sorted(by_manager.items())
            ]
            text = f"Apply failed with {n} conflicts: " + "\n".join(chunks)
        return _ApiError(409, "Conflict", text, {"causes": causes})

    def after_write(self, old: Mapping[str, Any] | None, new: dict[str, Any]) -> None:
        """Side effects of storing a new/updated object (run only when not dry-run)."""
        self.h._pod_security_event(self.kind, new)
        if self.kind == "CustomResourceDefinition" and self.group == "apiextensions.k8s.io":
            self.h._crd_written(new, first=old is None)

    def commit(self, live: dict[str, Any], new: dict[str, Any], status: int) -> aiohttp.web.Response:
        """Finish an update: generation, readiness, no-op detection, storing, deletion release."""
        meta = new["metadata"]
        meta["resourceVersion"] = live["metadata"].get("resourceVersion")

        def strip(o: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in o.items() if k not in ("metadata", "status", "apiVersion", "kind")}

        if self.kind not in _NO_GENERATION_KINDS:
            gen = live["metadata"].get("generation", 1)
            meta["generation"] = gen + 1 if strip(new) != strip(live) else gen
        self.h._auto_status(self.kind, new, live)
        if new == self.present(live) or new == live:
            return self.ok(live, status)  # a no-op: nothing changes, not even the resourceVersion
        if self.dry_run:
            return self.ok(new, status)
        meta["resourceVersion"] = self.h._next_rv()
        name = meta["name"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self.h._remove(self.storage, self.ns, name, new)
            return self.ok(new, status)
        self.after_write(live, new)
        self.h._store(self.storage, self.ns, name, new, "MODIFIED")
        return self.ok(new, status)

    def delete(self) -> aiohttp.web.Response:
        assert self.p.name is not None
        if self.p.subresource is not None:
            raise _ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        name = self.p.name
        live = self.h._live(self.storage, self.ns, name)
        if live is None:
            raise self.h._not_found(self.group, self.plural, name)
        opts = self.request.data if isinstance(self.request.data, dict) else {}
        pre = opts.get("preconditions") or {}
        if (pre.get("uid") and pre["uid"] != live["metadata"].get("uid")) or (
            pre.get("resourceVersion") and pre["resourceVersion"] != live["metadata"].get("resourceVersion")
        ):
            raise _ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {self.h._qual(self.group, self.plural)} "{name}": precondition failed',
                {"name": name, "group": self.group, "kind": self.plural},
            )
        success = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": name, "group": self.group, "kind": self.plural, "uid": live["metadata"].get("uid")},
        }
        if self.dry_run:
            return _json_response(success)
        if live["metadata"].get("finalizers") and self.kind != "Namespace":
            if live["metadata"].get("deletionTimestamp"):
                return self.ok(live)
            new = copy.deepcopy(live)
            new["metadata"]["deletionTimestamp"] = _now()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            new["metadata"]["resourceVersion"] = self.h._next_rv()
            self.h._store(self.storage, self.ns, name, new, "MODIFIED")
            return self.ok(new)
        if self.kind == "Namespace" and not self.group:
            if name in ("default", "kube-system", "kube-public"):
                raise _ApiError(
                    403,
                    "Forbidden",
                    f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                    {"name": name, "kind": "namespaces"},
                )
            for (res, ons, oname), obj in list(self.h._objects.items()):
                if ons == name and not obj.deleted:
                    self.h._remove(res, ons, oname, obj.last.raw)
            if self.h.knobs.namespace_terminating_seconds > 0:
                return self.terminate_namespace(live)
        self.h._remove(self.storage, self.ns, name, live)
        return _json_response(success)

    def terminate_namespace(self, live: dict[str, Any]) -> aiohttp.web.Response:
        """Terminating for ``knobs.namespace_terminating_seconds``, then gone."""
        if live["metadata"].get("deletionTimestamp"):
            return self.ok(live)
        new = copy.deepcopy(live)
        new["metadata"]["deletionTimestamp"] = _now()
        new["status"] = {"phase": "Terminating"}
        new["metadata"]["resourceVersion"] = self.h._next_rv()
        storage, name = self.storage, live["metadata"]["name"]
        self.h._store(storage, None, name, new, "MODIFIED")

        def gone() -> None:
            last = self.h._live(storage, None, name)
            if last is not None and last["metadata"].get("deletionTimestamp"):
                self.h._remove(storage, None, name, last)

        lifecycle.later(self.h.knobs.namespace_terminating_seconds, gone)
        return self.ok(new)

    def delete_collection(self) -> aiohttp.web.Response:
        label_reqs, field_reqs = self.selectors()
        deleted = []
        for obj in self.h._iter_objects(self.storage, self.ns):
            meta = obj.get("metadata") or {}
            if _labels_match(meta.get("labels") or {}, label_reqs) and _fields_match(obj, field_reqs):
                deleted.append(obj)
                if not self.dry_run:
                    self.h._remove(self.storage, meta.get("namespace") if self.namespaced else None, meta["name"], obj)
        return _json_response(
            {
                "kind": f"{self.kind}List",
                "apiVersion": self.api_version,
                "metadata": {"resourceVersion": str(self.h._rv)},
                "items": [self.present(o) for o in deleted],
            }
        )


# --------------------------------------------------------------------------------------------
# Kubeconfig, HTTP serving, the thread wrapper and the process entry point
# --------------------------------------------------------------------------------------------


def write_kubeconfig(
    path: str | os.PathLike[str],
    url: str,
    *,
    contexts: Iterable[str] = (CONTEXT, CONTEXT_B),
    namespace: str = "default",
) -> str:
    """Write a kubeconfig whose contexts all point at ``url`` (the first one is current)."""
    contexts = list(contexts)
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": c, "cluster": {"server": url}} for c in contexts],
        "users": [{"name": "standin", "user": {"token": "standin-token"}}],
        "contexts": [
            {"name": c, "context": {"cluster": c, "user": "standin", "namespace": namespace}} for c in contexts
        ],
        "current-context": contexts[0],
    }
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        yaml.safe_dump(config, f, sort_keys=False)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


async def _start_http(handler: StandInHandler, host: str, port: int) -> tuple[aiohttp.web.ServerRunner, int]:
    server = aiohttp.web.Server(handler, access_log=None)
    runner = aiohttp.web.ServerRunner(server, shutdown_timeout=1.0)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    actual = runner.addresses[0][1]
    handler.server_address = f"{host}:{actual}"
    return runner, actual


class StandIn:
    """A running stand-in (background thread).  Use :func:`start_standin` to create one."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        kubeconfig_path: str | None = None,
        auto_ready: bool = False,
        strict_resources: bool = False,
        builtin_namespaces: Iterable[str] = BUILTIN_NAMESPACES,
    ) -> None:
        self.host = host
        self.port = port
        self._own_tmpdir: str | None = None
        if kubeconfig_path is None:
            self._own_tmpdir = tempfile.mkdtemp(prefix="kube-standin-")
            kubeconfig_path = os.path.join(self._own_tmpdir, "kubeconfig")
        self.kubeconfig_path = os.fspath(kubeconfig_path)
        self.context = CONTEXT
        self.context_b = CONTEXT_B
        self._options = dict(
            auto_ready=auto_ready, strict_resources=strict_resources, builtin_namespaces=tuple(builtin_namespaces)
        )
        self.handler: StandInHandler | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- lifecycle

    def start(self, timeout: float = 10.0) -> StandIn:
        if self._thread is not None:
            raise RuntimeError("the stand-in is already started")
        self._thread = threading.Thread(target=self._thread_main, name="kube-standin", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the Kubernetes stand-in did not start in time")
        if self._error is not None:
            self._thread.join(timeout)
            raise RuntimeError(f"the Kubernetes stand-in failed to start: {self._error!r}") from self._error
        write_kubeconfig(self.kubeconfig_path, self.url)
        return self

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._amain())
        except BaseException as e:  # noqa: BLE001 - reported to the starter
            if not self._ready.is_set():
                self._error = e
                self._ready.set()
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _amain(self) -> None:
        self._stop_event = asyncio.Event()
        handler = StandInHandler(**self._options)
        async with handler:
            runner, self.port = await _start_http(handler, self.host, self.port)
            self.handler = handler
            self._ready.set()
            try:
                await self._stop_event.wait()
            finally:
                handler.close()
                await runner.cleanup()

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is None:
            return
        loop, stop_event = self._loop, self._stop_event
        if loop is not None and stop_event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop_event.set)
        self._thread.join(timeout)
        self._thread = None
        if self._own_tmpdir is not None:
            with contextlib.suppress(OSError):
                os.remove(self.kubeconfig_path)
                os.rmdir(self._own_tmpdir)

    def __enter__(self) -> StandIn:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- thread-safe access to the handler

    def call(self, fn: Callable[[StandInHandler], Any], timeout: float = 30.0) -> Any:
        """Run ``fn(handler)`` in the stand-in's event loop and return its result."""
        if self._loop is None or self.handler is None or not self.running:
            raise RuntimeError("the stand-in is not running")
        handler = self.handler

        async def _run() -> Any:
            return fn(handler)

        return asyncio.run_coroutine_threadsafe(_run(), self._loop).result(timeout)

    def reset(self) -> None:
        """Wipe all objects (re-creating the built-in namespaces), faults, delays and counters."""
        self.call(lambda h: h.reset())

    def reset_counters(self) -> None:
        self._h().metrics.reset()

    def stats(self) -> dict[str, Any]:
        return self._h().metrics.snapshot()

    @property
    def requests(self) -> list[RequestRecord]:
        return self._h().metrics.records()

    def count(self, verb: str | None = None, *, resource: str | None = None, mutating: bool | None = None) -> int:
        """Count logged requests (bounded log) by verb, resource plural and/or mutating-ness."""
        n = 0
        for r in self.requests:
            if verb is not None and r.verb != verb:
                continue
            if resource is not None and r.resource != resource:
                continue
            if mutating is not None and ((r.verb in MUTATING_VERBS and not r.dry_run) != mutating):
                continue
            n += 1
        return n

    def fail_next(self, count: int = 1, status: int = 500, **kwargs: Any) -> None:
        """Make the next ``count`` matching requests fail (see ``StandInHandler.fail_next``)."""
        self._h().fail_next(count, status, **kwargs)

    def clear_faults(self) -> None:
        self._h().clear_faults()

    def set_delay(self, seconds: float, *, verbs: Iterable[str] | None = None) -> None:
        self._h().set_delay(seconds, verbs=verbs)

    @property
    def auto_ready(self) -> bool:
        return self._h().auto_ready

    @auto_ready.setter
    def auto_ready(self, value: bool) -> None:
        self.call(lambda h: setattr(h, "auto_ready", bool(value)))

    def set_knobs(self, **values: Any) -> None:
        """Fidelity knobs (tests/support/kube_lifecycle.py ``Knobs``); reset() turns them off."""
        self.call(lambda h: h.knobs.update(values))

    def mark_ready(self, resource: str, namespace: str | None, name: str) -> dict[str, Any]:
        return self.call(lambda h: h.mark_ready(resource, namespace, name))

    def set_status(self, resource: str, namespace: str | None, name: str, status: Mapping[str, Any]) -> dict[str, Any]:
        return self.call(lambda h: h.set_status(resource, namespace, name, status))

    def get_object(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.call(lambda h: h.get_object(resource, namespace, name))

    def list_objects(self, resource: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.call(lambda h: h.list_objects(resource, namespace))

    def register_resource(
        self, group_version: str, plural: str, *, kind: str, namespaced: bool = True, **kw: Any
    ) -> None:
        self.call(lambda h: h.register_resource(group_version, plural, kind=kind, namespaced=namespaced, **kw))

    def api_client(self, context: str = CONTEXT) -> Any:
        """A ``kubernetes.client.ApiClient`` for a context of the stand-in's kubeconfig."""
        from kubernetes import client, config

        cfg = client.Configuration()
        config.load_kube_config(config_file=self.kubeconfig_path, context=context, client_configuration=cfg)
        return client.ApiClient(configuration=cfg)

    def _h(self) -> StandInHandler:
        if self.handler is None:
            raise RuntimeError("the stand-in is not running")
        return self.handler


def start_standin(
    port: int = 0,
    *,
    host: str = "127.0.0.1",
    kubeconfig_path: str | None = None,
    auto_ready: bool = False,
    strict_resources: bool = False,
    builtin_namespaces: Iterable[str] = BUILTIN_NAMESPACES,
) -> StandIn:
    """Start a stand-in in a background thread; it writes a kubeconfig with contexts
    ``standin`` (current) and ``standin-b`` (same server)."""
    return StandIn(
        host=host,
        port=port,
        kubeconfig_path=kubeconfig_path,
        auto_ready=auto_ready,
        strict_resources=strict_resources,
        builtin_namespaces=builtin_namespaces,
    ).start()


class StandInRemote:
    """Control a stand-in running as a process (``python -m tests.support.kube_standin``)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.url}/standin/{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - loopback only
            return json.loads(resp.read() or b"null")

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "stats")

    def requests(self) -> list[dict[str, Any]]:
        return self._call("GET", "requests")

    def objects(self) -> list[dict[str, Any]]:
        return self._call("GET", "objects")

    def reset(self) -> None:
        self._call("POST", "reset", {})

    def reset_counters(self) -> None:
        self._call("POST", "reset-counters", {})

    def fail_next(self, count: int = 1, status: int = 500, **kwargs: Any) -> None:
        self._call("POST", "faults", dict(kwargs, count=count, status=status))

    def clear_faults(self) -> None:
        self._call("POST", "clear-faults", {})

    def set_delay(self, seconds: float, verbs: list[str] | None = None) -> None:
        self._call("POST", "delay", {"seconds": seconds, "verbs": verbs})

    def set_knobs(self, **values: Any) -> None:
        self._call("POST", "knobs", values)

    def set_auto_ready(self, enabled: bool) -> None:
        self._call("POST", "auto-ready", {"enabled": enabled})

    def mark_ready(self, resource: str, namespace: str | None, name: str) -> None:
        self._call("POST", "ready", {"resource": resource, "namespace": namespace, "name": name})


async def _serve_process(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    handler = StandInHandler(auto_ready=args.auto_ready, strict_resources=args.strict_resources)
    async with handler:
        runner, port = await _start_http(handler, args.host, args.port)
        url = f"http://{args.host}:{port}"
        if args.kubeconfig:
            write_kubeconfig(args.kubeconfig, url)
        if args.port_file:
            tmp = f"{args.port_file}.tmp{os.getpid()}"
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(f"{port}\n")
            os.replace(tmp, args.port_file)
        print(f"kube-standin serving {url} (kubeconfig: {args.kubeconfig or '-'})", flush=True)
        try:
            await stop.wait()
        finally:
            handler.close()
            await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.kube_standin",
        description="Serve a stateful Kubernetes API stand-in until SIGTERM.",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--kubeconfig", help="write a kubeconfig here (contexts: standin, standin-b)")
    parser.add_argument("--port-file", help="write the actual port here once listening")
    parser.add_argument("--auto-ready", action="store_true", help="workloads become ready on every write")
    parser.add_argument("--strict-resources", action="store_true", help="404 for resources not in discovery")
    args = parser.parse_args(argv)
    asyncio.run(_serve_process(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
