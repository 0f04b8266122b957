"""Kubernetes delivery: workloads and connection Secrets onto clusters, in-process.

This module owns everything the engine's `WorkloadSink` port needs from a live cluster,
through the official `kubernetes` client (never a kubectl subprocess):

- **targets**: one `ClusterSink` per kubeconfig context + namespace of the environment
  (`kubernetes: {context, namespace}` or `{targets: [...]}`); `KUBECONFIG` is honoured. An
  unknown context is refused by `for_environment`, before any Terraform runs.
- **server-side apply** with field manager `appc`; a conflict names the other manager, and
  `--force-conflicts` takes ownership. An object whose content digest matches the inventory
  (and that still exists) is not written.
- **discovery** and **client behaviour** (rate limit, bounded retries) are the API client's
  (composer/runners/kube_client.py); applies go in parallel threads (COMPOSER_KUBE_WORKERS)
  within an ordering phase.
- **what a real cluster refuses or needs in order** (composer/runners/kube_guards.py): a claim
  that would shrink or change class is refused before anything is written; a Job whose
  immutable fields changed is deleted and created again; the hpa trait's workload hands
  `replicas` to a separate field manager first; custom resources wait for their CRD to be
  Established; a namespace being deleted (Terminating) is waited out and created again.
- **waits**: rollouts of Deployments, StatefulSets, DaemonSets; Job completion; CronJob
  existence, bounded by the run's `--timeout`, unless `--no-wait`.
- **prune**: objects of `previous` that are no longer rendered are deleted, in reverse order.
- **errors** become Diagnostics here, at the edge: the server URL when it is unreachable,
  verb and resource on 403, component and field on 422 and on a typed-patch error (the 500
  of an unknown field, sent once), the other field manager on 409.
  A Secret's values never appear in a message.

Inventory items carry the namespace as rendered (None when the environment has targets in
several namespaces and the renderer left it to the target); the sink fills its own namespace
in for namespaced kinds, so the engine's digest and key comparisons see the rendered object.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.engine.ports import PartialApply
from composer.render.kubernetes import standard_labels
from composer.runners.kube_client import (  # noqa: F401 - re-exported: the sink's public names stay here
    _BUCKETS,
    _DISCOVERY,
    APPLY_CONTENT_TYPE,
    BUILTIN_KINDS,
    DEFAULT_WORKERS,
    ApiError,
    KubeClient,
    Resource,
    TokenBucket,
    Unreachable,
    _contexts,
    _env_number,
    _kubeconfig_exists,
    kubeconfig_path,
)
from composer.runners.kube_guards import (
    HANDOVER_MANAGER,
    handover_body,
    hpa_targets,
    owns_replicas,
    pvc_refusals,
    typed_patch_diagnostic,
)
from composer.runners.kube_rollout import pod_problem, replica_counts, rollout_state  # noqa: F401
from composer.state.model import InventoryItem, object_digest

FIELD_MANAGER = "appc"

# Apply order: what others depend on first. Objects of one phase go out in parallel.
_PHASE_FIRST = {"Namespace", "CustomResourceDefinition"}
_PHASE_SECOND = {
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "PersistentVolumeClaim",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "PriorityClass",
    "StorageClass",
    "LimitRange",
    "ResourceQuota",
}
WAITABLE = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
REPLACED_WHEN_IMMUTABLE = ("Job",)  # a Job's template is immutable; deleting and creating it again is safe


def _phase(kind: str) -> int:
    return 0 if kind in _PHASE_FIRST else 1 if kind in _PHASE_SECOND else 2


# -- the sink ----------------------------------------------------------------------------------


@dataclass
class _Planned:
    source: dict  # as rendered: its digest is the inventory hash
    body: dict  # as sent: namespace filled in
    resource: Resource
    digest: str

    @property
    def key(self) -> tuple[str, str | None, str]:
        return (self.source["kind"], self.source["metadata"].get("namespace"), self.source["metadata"]["name"])

    @property
    def namespace(self) -> str | None:
        return self.body["metadata"].get("namespace")

    @property
    def name(self) -> str:
        return self.body["metadata"]["name"]

    @property
    def label(self) -> str:
        return f"{self.resource.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"


@dataclass
class ClusterSink:
    """Workloads and connection Secrets for one context + namespace. Thread-safe: the engine
    applies independent units in parallel."""

    needs_secret_store = False  # connections are Secrets written here (engine/ports.py WorkloadSink)
    client: KubeClient
    app: str
    environment: str
    context: str
    namespace: str
    timeout: float = 3600.0
    no_wait: bool = False
    force_conflicts: bool = False
    workers: int = DEFAULT_WORKERS
    poll_interval: float = 0.25
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _namespace_ready: bool = field(default=False, repr=False)
    _secrets: dict[str, str] = field(default_factory=dict, repr=False)  # secret name -> digest known to be live

    def __post_init__(self) -> None:
        self.client.timeout = self.timeout  # --timeout bounds every wait, a slow API request too

    @property
    def target(self) -> str:
        return f"kube:{self.context}/{self.namespace}"

    @classmethod
    def for_environment(cls, resolved: Any, options: Any) -> list["ClusterSink"]:
        """One sink per target of the environment. Refuses unknown contexts (exit 1) before
        anything runs; connects to no server."""
        env = resolved.environment
        targets = env.spec.kubernetes.resolved_targets()
        if not targets:
            return []
        workers = int(_env_number("COMPOSER_KUBE_WORKERS", DEFAULT_WORKERS))
        path = kubeconfig_path()
        common = dict(
            app=resolved.name,
            environment=env.name,
            timeout=float(getattr(options, "timeout", 3600.0)),
            no_wait=bool(getattr(options, "no_wait", False)),
            force_conflicts=bool(getattr(options, "force_conflicts", False)),
            workers=workers,
        )
        if not _kubeconfig_exists(path):
            if os.environ.get("KUBERNETES_SERVICE_HOST") and all(t.context is None for t in targets):
                ns = _incluster_namespace()
                return [
                    cls(
                        KubeClient.for_context(None, None, workers),
                        context="in-cluster",
                        namespace=t.namespace or ns,
                        **common,
                    )
                    for t in targets
                ]
            raise DiagnosticError(
                [
                    Diagnostic(
                        f"no kubeconfig found at {path}",
                        f"environment {env.name} delivers to a cluster ({', '.join(t.context or 'current context' for t in targets)}); set KUBECONFIG to your kubeconfig file, "
                        "or use kubernetes.directory for GitOps output",
                    )
                ]
            )
        contexts, current = _contexts(path)
        sinks: list[ClusterSink] = []
        for t in targets:
            name = t.context or current
            if name is None or name not in contexts:
                known = ", ".join(sorted(contexts)) or "none"
                summary = (
                    f"kubeconfig context {name!r} does not exist"
                    if name
                    else "no kubeconfig context given and the kubeconfig has no current-context"
                )
                raise DiagnosticError(
                    [
                        Diagnostic(
                            summary,
                            f"environment {env.name} asks for it; the contexts in {path} are: {known}. Fix kubernetes.context in environments/{env.name}.yaml or your KUBECONFIG.",
                            address=None,
                        )
                    ]
                )
            ns = t.namespace or (contexts[name].get("context") or {}).get("namespace") or "default"
            sink = cls(KubeClient.for_context(path, name, workers), context=name, namespace=ns, **common)
            if any(s.target == sink.target for s in sinks):
                raise DiagnosticError([Diagnostic(f"environment {env.name} lists target {name}/{ns} twice")])
            sinks.append(sink)
        return sinks

    # -- errors -----------------------------------------------------------------------------
    def _diagnostic(
        self,
        exc: Exception,
        component: str | None,
        verb: str,
        what: str,
        resource: Resource | None = None,
        secret: bool = False,
    ) -> Diagnostic:
        """Translate a client failure at the edge. `what` names the object ("Deployment shop/api");
        for Secrets the server's message is left out, as it may quote a value."""
        where = f"context {self.context}"
        if isinstance(exc, Unreachable):
            return Diagnostic(
                f"cannot reach the Kubernetes API server at {exc.server} ({exc.cause})",
                f"{where}: while trying to {verb} {what}. Check that the cluster is running and that the kubeconfig's server address is right; nothing further was applied.",
                address=component,
            )
        assert isinstance(exc, ApiError)
        res = resource.qualified if resource else what
        server_said = "" if secret else f" The API server said: {exc.message}"
        if exc.typed_patch:
            problems = (
                exc.typed_patch if not secret else [p.split(": ", 1)[0] + ": not accepted" for p in exc.typed_patch]
            )
            return typed_patch_diagnostic(component, what, problems)
        if exc.namespace_terminating:
            return Diagnostic(
                f"namespace {self.namespace} is being terminated in {where}",
                f"it was deleted and the cluster is still emptying it; appc waited up to {self.timeout:g}s for it to go. Wait until it is gone (or raise --timeout) and apply again.",
                address=component,
            )
        if exc.status == 401:
            return Diagnostic(
                f"the API server at {self.client.server} rejected the credentials of {where}",
                "log in again or refresh the kubeconfig credentials",
                address=component,
            )
        if exc.status == 403 and "violates PodSecurity" in exc.message:
            return Diagnostic(
                f"{what} is refused by the Pod Security admission of namespace {self.namespace}",
                f"{where}: {exc.message}. Relax the named fields with the security trait, or apply to a namespace whose pod-security.kubernetes.io/enforce level allows them.",
                address=component,
            )
        if exc.status == 403:
            scope = (
                f'in namespace "{self.namespace}"' if resource is None or resource.namespaced else "at cluster scope"
            )
            return Diagnostic(
                f"forbidden: cannot {verb} {res} {scope} ({what})",
                f"{where}: the credentials lack RBAC permission to {verb} {res}; grant it with a Role/ClusterRole.{server_said}",
                address=component,
            )
        if exc.status == 409 and any(c.get("type") == "FieldManagerConflict" for c in exc.causes):
            managers = sorted(
                {
                    m.group(1)
                    for c in exc.causes
                    for m in [re.search(r'conflict with "([^"]+)"', c.get("message", ""))]
                    if m
                }
            )
            fields = sorted({c.get("field", "") for c in exc.causes if c.get("field")})
            return Diagnostic(
                f"{what} has fields owned by another field manager: {', '.join(managers) or 'unknown'}",
                f"conflicting field{'s' if len(fields) != 1 else ''}: {', '.join(fields)}. Another tool ({', '.join(managers)}) set {'them' if len(fields) != 1 else 'it'} to a different value. "
                "Remove the field from that tool, or run `appc apply --force-conflicts` to take ownership (field manager appc).",
                address=component,
            )
        if exc.status == 422:
            causes = exc.causes
            if causes:
                parts = [
                    f"{c.get('field') or '?'}: {c.get('reason', 'invalid') if secret else c.get('message', c.get('reason', 'invalid'))}"
                    for c in causes
                ]
                fields = sorted({c.get("field") for c in causes if c.get("field")})
            else:
                parts, fields = ([] if secret else [exc.message]), []
            return Diagnostic(
                f"component {component}: {what} is invalid" + (f" (field {', '.join(fields)})" if fields else ""),
                "; ".join(parts) + ". Fix the component's properties or traits.",
                address=component,
            )
        if exc.status == 404 and "namespaces" in exc.message and "not found" in exc.message:
            return Diagnostic(
                f"namespace {self.namespace} does not exist in {where}",
                f"it could not be created or read; create it or grant permission to.{server_said}",
                address=component,
            )
        return Diagnostic(
            f"cannot {verb} {what}: {exc.status} {exc.reason}", f"{where}.{server_said}", address=component
        )

    def _fail(
        self,
        exc: Exception,
        component: str | None,
        verb: str,
        what: str,
        resource: Resource | None = None,
        secret: bool = False,
    ) -> DiagnosticError:
        return DiagnosticError([self._diagnostic(exc, component, verb, what, resource, secret)])

    # -- namespace --------------------------------------------------------------------------
    def _ensure_namespace(self, component: str) -> int:
        """Create the namespace when it is missing; when it is being deleted (Terminating),
        wait for it to go first, within --timeout."""
        with self._lock:
            if self._namespace_ready:
                return 0
        ns_res = Resource("v1", "Namespace", "namespaces", False)
        writes = 0
        deadline = time.monotonic() + self.timeout
        interval = self.poll_interval
        while True:
            try:
                live = self._namespace_state(component, ns_res)
                if live == "absent":
                    writes = self._create_namespace(component, ns_res)
                    if writes or not self._terminating_now(component, ns_res):
                        break
                elif live != "terminating":
                    break
            except Unreachable as exc:
                raise self._fail(exc, component, "read", f"namespace {self.namespace}") from None
            if time.monotonic() + interval > deadline:
                raise DiagnosticError(
                    [
                        self._diagnostic(
                            ApiError(403, "Forbidden", "because it is being terminated", None, None),
                            component,
                            "create",
                            f"namespace {self.namespace}",
                        )
                    ]
                )
            time.sleep(interval)
            interval = min(interval * 1.5, 2.0)
        with self._lock:
            self._namespace_ready = True
        return writes

    def _namespace_state(self, component: str, ns_res: Resource) -> str:
        """ "present", "absent", "terminating", or "unknown" (credentials may not read Namespaces)."""
        try:
            live = self.client.request("GET", ns_res.path(None, self.namespace)) or {}
        except ApiError as err:
            if err.status == 403:
                return "unknown"  # namespace-scoped credentials: assume it exists
            if err.status != 404:
                raise self._fail(err, component, "get", f"namespace {self.namespace}", ns_res) from None
            return "absent"
        if (live.get("metadata") or {}).get("deletionTimestamp") or (live.get("status") or {}).get(
            "phase"
        ) == "Terminating":
            return "terminating"
        return "present"

    def _terminating_now(self, component: str, ns_res: Resource) -> bool:
        return self._namespace_state(component, ns_res) == "terminating"

    def _create_namespace(self, component: str, ns_res: Resource) -> int:
        body = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": self.namespace, "labels": {"app.kubernetes.io/managed-by": "appc"}},
        }
        try:
            self.client.request("POST", ns_res.path(None), query={"fieldManager": FIELD_MANAGER}, body=body)
            return 1
        except ApiError as err:
            if err.status != 409:  # AlreadyExists: someone was quicker, or it is still being deleted
                raise self._fail(err, component, "create", f"namespace {self.namespace}", ns_res) from None
            return 0

    # -- connection Secrets -----------------------------------------------------------------
    def write_connection(
        self, component: str, secret_name: str, data: Mapping[str, str], secret_ref: str | None
    ) -> int:
        encoded = {k: base64.b64encode(str(v).encode()).decode() for k, v in sorted(data.items())}
        labels = standard_labels(self.app, self.environment, component)
        digest = hashlib.sha256(json.dumps([encoded, labels], sort_keys=True).encode()).hexdigest()
        with self._lock:
            if self._secrets.get(secret_name) == digest:
                return 0
        writes = self._ensure_namespace(component)
        res = Resource("v1", "Secret", "secrets", True)
        what = f"Secret {self.namespace}/{secret_name}"
        try:
            live = self.client.request("GET", res.path(self.namespace, secret_name))
        except ApiError as err:
            if err.status != 404:
                raise self._fail(err, component, "get", what, res, secret=True) from None
            live = None
        except Unreachable as exc:
            raise self._fail(exc, component, "get", what, res, secret=True) from None
        meta = (live or {}).get("metadata") or {}
        same = (
            live is not None
            and (live.get("data") or {}) == encoded
            and live.get("type", "Opaque") == "Opaque"
            and all((meta.get("labels") or {}).get(k) == v for k, v in labels.items())
        )
        if not same:
            body = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": secret_name, "namespace": self.namespace, "labels": labels},
                "type": "Opaque",
                "data": encoded,
            }
            try:
                self.client.request(
                    "PATCH",
                    res.path(self.namespace, secret_name),
                    query={"fieldManager": FIELD_MANAGER, "force": self.force_conflicts},
                    body=body,
                    content_type=APPLY_CONTENT_TYPE,
                )
            except (ApiError, Unreachable) as exc:
                raise self._fail(exc, component, "patch", what, res, secret=True) from None
            writes += 1
        with self._lock:
            self._secrets[secret_name] = digest
        return writes

    def read_connection(self, component: str, secret_name: str) -> Mapping[str, str] | None:
        """The connection Secret's values as they are in the cluster (None if absent)."""
        res = Resource("v1", "Secret", "secrets", True)
        try:
            live = self.client.request("GET", res.path(self.namespace, secret_name))
        except ApiError as err:
            if err.status == 404:
                return None
            raise self._fail(
                err, component, "get", f"Secret {self.namespace}/{secret_name}", res, secret=True
            ) from None
        except Unreachable as exc:
            raise self._fail(
                exc, component, "get", f"Secret {self.namespace}/{secret_name}", res, secret=True
            ) from None
        return {k: base64.b64decode(v).decode() for k, v in ((live or {}).get("data") or {}).items()}

    def delete_connection(self, component: str, secret_name: str) -> int:
        res = Resource("v1", "Secret", "secrets", True)
        with self._lock:
            self._secrets.pop(secret_name, None)
        return self._delete_one(component, res, self.namespace, secret_name, secret=True)

    # -- workloads --------------------------------------------------------------------------
    def _learned(self, objects: Iterable[dict]) -> dict[tuple[str, str], Resource]:
        """Kinds defined by CRDs in this batch: no discovery race right after their apply."""
        out = {}
        for o in objects:
            if o.get("kind") == "CustomResourceDefinition" and str(o.get("apiVersion", "")).startswith(
                "apiextensions.k8s.io/"
            ):
                spec = o.get("spec") or {}
                names = spec.get("names") or {}
                for v in spec.get("versions") or []:
                    if names.get("kind") and names.get("plural") and v.get("name") and spec.get("group"):
                        out[(f"{spec['group']}/{v['name']}", names["kind"])] = Resource(
                            f"{spec['group']}/{v['name']}",
                            names["kind"],
                            names["plural"],
                            spec.get("scope", "Namespaced") == "Namespaced",
                        )
        return out

    def _resolve(self, component: str, obj: Mapping[str, Any], learned: Mapping[tuple[str, str], Resource]) -> Resource:
        api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
        try:
            res = self.client.resource(api_version, kind, learned)
        except (ApiError, Unreachable) as exc:
            raise self._fail(exc, component, "discover", f"the API of {kind} ({api_version})") from None
        if res is None:
            raise DiagnosticError(
                [
                    Diagnostic(
                        f"component {component}: the cluster does not serve {kind} in {api_version}",
                        f"context {self.context} has no such kind; install its CustomResourceDefinition first (or in this component), or fix apiVersion/kind",
                        address=component,
                    )
                ]
            )
        return res

    def _plan(self, component: str, objects: list[dict]) -> list[_Planned]:
        learned = self._learned(objects)
        out = []
        for o in objects:
            res = self._resolve(component, o, learned)
            meta = dict(
                o.get("metadata") or {}
            )  # the body shares everything else with the rendered object; neither is mutated
            if res.namespaced and not meta.get("namespace"):
                meta["namespace"] = self.namespace
            if not res.namespaced:
                meta.pop("namespace", None)
            out.append(_Planned(o, {**o, "metadata": meta}, res, object_digest(o)))
        return out

    def _item_resource(self, component: str, item: InventoryItem) -> Resource | None:
        try:
            return self.client.resource(item.api_version, item.kind)
        except (ApiError, Unreachable) as exc:
            raise self._fail(exc, component, "discover", f"the API of {item.kind} ({item.api_version})") from None

    def _live_names(self, component: str, planned: list[_Planned]) -> set[tuple[str, str | None, str]]:
        """Which of these objects exist: one LIST per kind and namespace (by component label)."""
        groups: dict[tuple[Resource, str | None], list[_Planned]] = {}
        for p in planned:
            groups.setdefault((p.resource, p.namespace), []).append(p)
        found = set()
        selector = f"composer.dev/app={self.app},composer.dev/component={component}"
        for (res, ns), ps in groups.items():
            try:
                doc = self.client.request("GET", res.path(ns), query={"labelSelector": selector}) or {}
            except (ApiError, Unreachable) as exc:
                raise self._fail(exc, component, "list", res.qualified, res) from None
            names = {(i.get("metadata") or {}).get("name") for i in doc.get("items") or []}
            found |= {p.key for p in ps if p.name in names}
        return found

    def _apply_one(self, component: str, p: _Planned) -> dict:
        """One server-side apply. A namespace being deleted is waited out (and re-created); a
        Job whose immutable fields changed is deleted and created again."""
        for attempt in range(3):
            try:
                return (
                    self.client.request(
                        "PATCH",
                        p.resource.path(p.namespace, p.name),
                        query={"fieldManager": FIELD_MANAGER, "force": self.force_conflicts},
                        body=p.body,
                        content_type=APPLY_CONTENT_TYPE,
                    )
                    or {}
                )
            except ApiError as err:
                if attempt < 2 and err.namespace_terminating:
                    with self._lock:
                        self._namespace_ready = False
                    self._ensure_namespace(component)
                    continue
                if (
                    attempt < 2
                    and p.resource.kind in REPLACED_WHEN_IMMUTABLE
                    and err.status == 422
                    and any("field is immutable" in c.get("message", "") for c in err.causes)
                ):
                    self._replace(component, p)
                    continue
                raise self._fail(
                    err, component, "patch", p.label, p.resource, secret=p.resource.kind == "Secret"
                ) from None
            except Unreachable as exc:
                raise self._fail(
                    exc, component, "patch", p.label, p.resource, secret=p.resource.kind == "Secret"
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _replace(self, component: str, p: _Planned) -> None:
        """Delete an object the server will not update in place, and wait until it is gone."""
        self._delete_one(component, p.resource, p.namespace, p.name)
        self._poll(
            component,
            f"{p.label} to be deleted before it is created again",
            lambda: self._get(component, p.resource, p.namespace, p.name) is None,
        )

    def _poll(self, component: str, what: str, done: Any) -> None:
        """Until done() is true, polling with backoff, within --timeout."""
        deadline = time.monotonic() + self.timeout
        interval = self.poll_interval
        while not done():
            if time.monotonic() + interval > deadline:
                raise DiagnosticError(
                    [
                        Diagnostic(
                            f"component {component}: waited {self.timeout:g}s for {what}",
                            "Raise --timeout, or look at the object with kubectl.",
                            address=component,
                        )
                    ]
                )
            time.sleep(interval)
            interval = min(interval * 1.5, 2.0)

    def _await_established(self, component: str, crds: list[tuple[_Planned, dict]]) -> None:
        """Custom resources are served once their CRD's condition Established is True."""
        for p, obj in crds:
            if not _established(obj):
                self._poll(
                    component,
                    f"CustomResourceDefinition {p.name} to be Established",
                    lambda p=p: _established(self._get(component, p.resource, None, p.name)),
                )

    def _apply_all(self, component: str, planned: list[_Planned]) -> dict[tuple, dict]:
        """Server-side apply in phases (namespaces and CRDs, then config, then the rest),
        in parallel within a phase. All failures of a phase are reported together."""
        live: dict[tuple, dict] = {}
        for phase in (0, 1, 2):
            batch = [p for p in planned if _phase(p.resource.kind) == phase]
            if not batch:
                continue
            if len(batch) <= 2 or self.workers <= 1:
                results = []
                for p in batch:
                    try:
                        results.append((p, self._apply_one(component, p), None))
                    except DiagnosticError as exc:
                        results.append((p, None, exc))
            else:
                with ThreadPoolExecutor(
                    max_workers=min(self.workers, len(batch)), thread_name_prefix="appc-kube"
                ) as pool:
                    futures = [(p, pool.submit(self._apply_one, component, p)) for p in batch]
                    results = []
                    for p, f in futures:
                        try:
                            results.append((p, f.result(), None))
                        except DiagnosticError as exc:
                            results.append((p, None, exc))
            errors = [e for _, _, e in results if e is not None]
            if errors:
                diags: list[Diagnostic] = []
                for e in errors:
                    for d in e.diagnostics:
                        if d not in diags:
                            diags.append(d)
                raise DiagnosticError(diags)
            live.update({p.key: obj for p, obj, _ in results})
            if phase == 0:
                self._await_established(
                    component, [(p, obj) for p, obj, _ in results if p.resource.kind == "CustomResourceDefinition"]
                )
        return live

    def _delete_one(
        self, component: str | None, res: Resource, namespace: str | None, name: str, secret: bool = False
    ) -> int:
        what = f"{res.kind} {namespace + '/' if res.namespaced and namespace else ''}{name}"
        try:
            self.client.request(
                "DELETE",
                res.path(namespace, name),
                body={"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"},
            )
            return 1
        except ApiError as err:
            if err.status == 404:
                return 0
            raise self._fail(err, component, "delete", what, res, secret=secret) from None
        except Unreachable as exc:
            raise self._fail(exc, component, "delete", what, res) from None

    def _delete_items(self, items: Iterable[InventoryItem]) -> int:
        writes = 0
        for item in items:
            res = self._item_resource(item.component, item)
            if res is None:
                continue  # the kind is gone from the cluster (its CRD was removed): so is the object
            ns = (item.namespace or self.namespace) if res.namespaced else None
            writes += self._delete_one(item.component, res, ns, item.name, secret=item.kind == "Secret")
        return writes

    def apply(
        self, component: str, objects: list[dict], previous: tuple[InventoryItem, ...]
    ) -> tuple[tuple[InventoryItem, ...], int]:
        if not objects and not previous:
            return (), 0
        writes = self._ensure_namespace(component) if objects else 0
        planned = self._plan(component, objects)
        before = {(i.kind, i.namespace, i.name): i for i in previous}
        unchanged = [p for p in planned if p.key in before and before[p.key].hash == p.digest]
        # Trust the inventory's digest, but re-create what was deleted behind our back.
        present = self._live_names(component, unchanged) if unchanged else set()
        skip = {p.key for p in unchanged if p.key in present}
        changed = [p for p in planned if p.key not in skip]
        # Built from values checked above: model_construct skips validation (~75 us an item).
        items = tuple(
            InventoryItem.model_construct(
                api_version=p.source["apiVersion"],
                kind=p.source["kind"],
                name=p.name,
                namespace=p.source["metadata"].get("namespace"),
                component=component,
                hash=p.digest,
            )
            for p in planned
        )
        rendered = {p.key for p in planned}
        gone = [i for i in previous if (i.kind, i.namespace, i.name) not in rendered]
        refusals = self._refusals(component, changed)
        if refusals:
            raise DiagnosticError(refusals)  # nothing of the unit written yet
        writes += self._hand_over_replicas(component, changed, planned)
        try:
            live = self._apply_all(component, changed) if changed else {}
            writes += len(changed)
            if not self.no_wait:
                self._wait(component, [p for p in changed if p.resource.kind in WAITABLE], live)
        except DiagnosticError as exc:
            # Some objects may exist now: hand them back so state keeps track of them. Those this
            # run tried to write carry no digest, so the next apply writes them again.
            attempted = {p.key for p in changed}
            tracked = tuple(
                i.model_copy(update={"hash": ""}) if (i.kind, i.namespace, i.name) in attempted else i for i in items
            )
            raise PartialApply(exc.diagnostics, tracked + tuple(gone)) from None
        writes += self._delete_items(reversed(gone))
        return items, writes

    def delete(self, items: tuple[InventoryItem, ...]) -> int:
        return self._delete_items(reversed(items))

    def check(self, component: str, objects: list[dict], previous: tuple[InventoryItem, ...]) -> list[Diagnostic]:
        """For `appc plan`: what the cluster would refuse (a claim shrunk or moved to another
        storage class), read from the live objects. A cluster that cannot be reached is no
        refusal: apply checks again before it writes."""
        before = {(i.kind, i.namespace, i.name): i.hash for i in previous}
        try:
            planned = self._plan(component, [o for o in objects if o.get("kind") == "PersistentVolumeClaim"])
            return self._refusals(component, [p for p in planned if before.get(p.key) not in (None, p.digest)])
        except DiagnosticError:
            return []

    def _refusals(self, component: str, changed: list[_Planned]) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        for p in changed:
            if p.resource.kind == "PersistentVolumeClaim":
                live = self._get(component, p.resource, p.namespace, p.name)
                if live is not None:
                    out += pvc_refusals(component, p.label, p.body, live)
        return out

    def _hand_over_replicas(self, component: str, changed: list[_Planned], planned: list[_Planned]) -> int:
        """Before appc stops applying `replicas` of a workload an autoscaler now scales, a
        separate field manager takes the field at its live value (Server-Side Apply docs,
        "Transferring ownership"), so dropping it does not reset the workload to 1 replica."""
        targets = hpa_targets([p.body for p in planned])
        writes = 0
        for p in changed:
            if (p.resource.kind, p.name) not in targets or "replicas" in (p.body.get("spec") or {}):
                continue
            live = self._get(component, p.resource, p.namespace, p.name)
            if live is None or not owns_replicas(live, FIELD_MANAGER):
                continue
            try:
                self.client.request(
                    "PATCH",
                    p.resource.path(p.namespace, p.name),
                    query={"fieldManager": HANDOVER_MANAGER},
                    body=handover_body(live),
                    content_type=APPLY_CONTENT_TYPE,
                )
                writes += 1
            except ApiError as err:
                if err.status != 409:  # a conflict: the autoscaler holds the field already
                    raise self._fail(err, component, "patch", p.label, p.resource) from None
            except Unreachable as exc:
                raise self._fail(exc, component, "patch", p.label, p.resource) from None
        return writes

    def missing(self, component: str, objects: list[dict]) -> int:
        """How many of these objects the cluster does not have (for `appc plan --refresh`):
        the same LIST per kind and namespace that apply uses to re-create deleted objects."""
        if not objects:
            return 0
        planned = self._plan(component, objects)
        return len(planned) - len(self._live_names(component, planned))

    def preview(self, component: str, objects: list[dict]) -> list[tuple[dict | None, dict]]:
        """Each object as the cluster holds it now and as a server-side-apply dry run says it
        would be (the server's defaults and other managers' fields included, nothing written)."""
        out = []
        for p in self._plan(component, objects):
            live = self._get(component, p.resource, p.namespace, p.name)
            try:
                after = (
                    self.client.request(
                        "PATCH",
                        p.resource.path(p.namespace, p.name),
                        query={"fieldManager": FIELD_MANAGER, "force": self.force_conflicts, "dryRun": "All"},
                        body=p.body,
                        content_type=APPLY_CONTENT_TYPE,
                    )
                    or p.body
                )
            except ApiError as exc:
                if live is not None or exc.status != 404:  # absent with its namespace or kind: a create
                    raise self._fail(
                        exc, component, "dry-run apply", p.label, p.resource, secret=p.resource.kind == "Secret"
                    ) from None
                after = p.body
            except Unreachable as exc:
                raise self._fail(
                    exc, component, "dry-run apply", p.label, p.resource, secret=p.resource.kind == "Secret"
                ) from None
            out.append((live, after))
        return out

    # -- rollout ----------------------------------------------------------------------------
    def _get(self, component: str, res: Resource, namespace: str | None, name: str) -> dict | None:
        try:
            return self.client.request("GET", res.path(namespace, name))
        except ApiError as err:
            if err.status == 404:
                return None
            raise self._fail(err, component, "get", f"{res.kind} {name}", res) from None
        except Unreachable as exc:
            raise self._fail(exc, component, "get", f"{res.kind} {name}", res) from None

    def _wait(self, component: str, waitable: list[_Planned], live: Mapping[tuple, dict]) -> None:
        """Until every object is ready, one fails, or the timeout passes."""
        if not waitable:
            return
        deadline = time.monotonic() + self.timeout
        pending = {p.key: (p, live.get(p.key)) for p in waitable}
        interval = self.poll_interval
        while True:
            for key, (p, obj) in list(pending.items()):
                if obj is None:
                    obj = self._get(component, p.resource, p.namespace, p.name)
                state, why = rollout_state(p.resource.kind, obj)
                if state == "complete":
                    del pending[key]
                elif state == "failed":
                    raise DiagnosticError(
                        [Diagnostic(f"{p.label} failed: {why}", self._evidence(component, p, obj), address=component)]
                    )
                else:
                    pending[key] = (p, None)  # poll it next round
            if not pending:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                diags = []
                for p, _ in pending.values():
                    obj = self._get(component, p.resource, p.namespace, p.name)
                    _, why = rollout_state(p.resource.kind, obj)
                    diags.append(
                        Diagnostic(
                            f"{p.label} was not ready within {self.timeout:g}s: {why}",
                            self._evidence(component, p, obj)
                            + " Raise --timeout, or pass --no-wait to return without waiting for rollouts.",
                            address=component,
                        )
                    )
                raise DiagnosticError(diags)
            time.sleep(min(interval, remaining))
            interval = min(interval * 1.5, 2.0)

    def _pods(self, obj: Mapping[str, Any] | None, kind: str, name: str, namespace: str | None) -> list[dict]:
        if kind == "Job":
            selector = f"job-name={name}"
        else:
            ml = (((obj or {}).get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            if not ml:
                return []
            selector = ",".join(f"{k}={v}" for k, v in sorted(ml.items()))
        try:
            doc = (
                self.client.request(
                    "GET",
                    Resource("v1", "Pod", "pods", True).path(namespace),
                    query={"labelSelector": selector, "limit": 50},
                    attempts=2,
                )
                or {}
            )
        except (ApiError, Unreachable):
            return []
        return doc.get("items") or []

    def _warning(self, name: str, namespace: str | None) -> str | None:
        """The latest Warning event about the object or its pods (name or name-*)."""
        try:
            doc = (
                self.client.request(
                    "GET", Resource("v1", "Event", "events", True).path(namespace), query={"limit": 500}, attempts=2
                )
                or {}
            )
        except (ApiError, Unreachable):
            return None
        best, best_at = None, ""
        for e in doc.get("items") or []:
            if e.get("type") != "Warning":
                continue
            involved = (e.get("involvedObject") or {}).get("name") or ""
            if involved != name and not involved.startswith(name + "-"):
                continue
            at = (
                e.get("lastTimestamp") or e.get("eventTime") or (e.get("metadata") or {}).get("creationTimestamp") or ""
            )
            if at >= best_at:
                best, best_at = (
                    f"{e.get('reason', 'Warning')} on {(e.get('involvedObject') or {}).get('kind', '')} {involved}: {e.get('message', '')}".strip(),
                    at,
                )
        return best

    def _evidence(self, component: str, p: _Planned, obj: Mapping[str, Any] | None) -> str:
        """The last pod condition or warning event: what a person would look up next."""
        parts = []
        for pod in self._pods(obj, p.resource.kind, p.name, p.namespace):
            reason = pod_problem(pod)
            if reason:
                parts.append(f"last pod condition: {reason}.")
                break
        warning = self._warning(p.name, p.namespace)
        if warning:
            parts.append(f"last warning event: {warning}.")
        if not parts:
            parts.append(
                "no pod condition or warning event explains it (is a controller running, and are there nodes to schedule on?)."
            )
        return " ".join(parts)

    # -- health (appc status) ---------------------------------------------------------------
    def status(self, component: str, items: Iterable[InventoryItem]) -> dict:
        """Health of a component's objects on this target: rollout state, ready/desired
        replicas and the last warning event. Never raises for cluster trouble."""
        out: dict[str, Any] = {
            "target": self.target,
            "rollout": "n/a",
            "ready": 0,
            "desired": 0,
            "missing": 0,
            "warning": None,
            "objects": [],
        }
        states = []
        try:
            for item in items:
                res = self.client.resource(item.api_version, item.kind)
                if res is None:
                    out["missing"] += 1
                    continue
                ns = (item.namespace or self.namespace) if res.namespaced else None
                try:
                    obj = self.client.request("GET", res.path(ns, item.name), attempts=2)
                except ApiError as err:
                    if err.status != 404:
                        raise
                    obj = None
                if obj is None:
                    out["missing"] += 1
                    if item.kind in WAITABLE:
                        states.append("missing")
                    out["objects"].append({"kind": item.kind, "name": item.name, "rollout": "missing"})
                    continue
                if item.kind not in WAITABLE:
                    continue
                state, why = rollout_state(item.kind, obj)
                ready, desired = replica_counts(item.kind, obj)
                out["ready"] += ready
                out["desired"] += desired
                states.append(state)
                out["objects"].append(
                    {
                        "kind": item.kind,
                        "name": item.name,
                        "rollout": state,
                        "ready": ready,
                        "desired": desired,
                        "detail": why,
                    }
                )
                warning = self._warning(item.name, ns)
                if warning:
                    out["warning"] = warning
        except Unreachable as exc:
            return {
                **out,
                "rollout": "unreachable",
                "error": f"cannot reach the Kubernetes API server at {exc.server} ({exc.cause})",
            }
        except ApiError as err:
            return {**out, "rollout": "unknown", "error": self._diagnostic(err, component, "get", component).summary}
        for s in ("failed", "missing", "progressing", "complete"):
            if s in states:
                out["rollout"] = s
                break
        if out["missing"] and out["rollout"] in ("n/a", "complete"):
            out["rollout"] = "missing"
        return out


def _established(crd: Mapping[str, Any] | None) -> bool:
    return any(
        c.get("type") == "Established" and c.get("status") == "True"
        for c in ((crd or {}).get("status") or {}).get("conditions") or []
        if isinstance(c, dict)
    )


def _incluster_namespace() -> str:
    try:
        with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace", encoding="utf-8") as f:
            return f.read().strip() or "default"
    except OSError:
        return "default"
