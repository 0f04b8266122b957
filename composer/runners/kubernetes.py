"""The cluster sink: what the engine's `WorkloadSink` port needs from live clusters, through
the official `kubernetes` client (never a kubectl subprocess). `ClusterSink` is one target
(kubeconfig context + namespace); its parts live in composer/runners/kube/, by responsibility:

- `targets.py`, `kubeconfig.py`: which clusters an environment names (refused before anything
  runs when the kubeconfig lacks them) and reading the kubeconfig;
- `client.py`, `resources.py`: the API client (auth, the token bucket per server, bounded
  retries, discovery) and how each kind is served;
- `apply.py`, `namespace.py`, `guards.py`: server-side apply with field manager `appc` in
  phases and parallel threads (--kube-workers), the namespace, and what a cluster refuses or
  needs in order (claim shrinks, the hpa handover, immutable Jobs, CRDs Established first);
- `waits.py`, `rollout.py`: rollout waits within --timeout (unless --no-wait) and pod
  diagnosis; `health.py`: `appc status`;
- `errors.py`: client failures as diagnostics (a Secret's values never appear in a message).

This module keeps the port's methods: connection Secrets (write, read, delete), apply with
the inventory (an object whose digest matches the inventory and that still exists is not
written; objects no longer rendered are pruned in reverse order), delete, and the plan's
check, missing count and preview. Inventory items carry the namespace as rendered (None when
the environment has targets in several namespaces and the renderer left it to the target);
the sink fills its own namespace in for namespaced kinds, so the engine's digest and key
comparisons see the rendered object.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.engine.ports import PartialApply
from composer.render.connection import Connection
from composer.runners.kube.apply import ApplyOps
from composer.runners.kube.base import FIELD_MANAGER
from composer.runners.kube.client import APPLY_CONTENT_TYPE, ApiError, KubeClient, RateLimit, Unreachable
from composer.runners.kube.hands_off import HandsOffOps
from composer.runners.kube.health import HealthOps
from composer.runners.kube.resources import Resource
from composer.runners.kube.targets import DeliveryOptions, cluster_targets
from composer.runners.kube.waits import WAITABLE
from composer.runners.kube_probe import reclaimed_body, with_identity
from composer.state.model import InventoryItem

if TYPE_CHECKING:
    from composer.resolve import Resolved
    from composer.runners.sinks import SinkRequest

__all__ = ["ClusterSink", "KubeClient"]


class ClusterSink(ApplyOps, HealthOps, HandsOffOps):
    """Workloads and connection Secrets for one context + namespace. Thread-safe: the engine
    applies independent units in parallel."""

    needs_secret_store = False  # connections are Secrets written here (engine/ports.py WorkloadSink)

    @classmethod
    def for_environment(cls, resolved: Resolved, options: DeliveryOptions) -> list[ClusterSink]:
        """One sink per target of the environment. Refuses unknown contexts (exit 1) before
        anything runs; connects to no server."""
        workers, rate = options.kube_workers, RateLimit(options.kube_qps, options.kube_burst)
        return [
            cls(
                KubeClient.for_context(t.kubeconfig, t.context, workers, rate),
                app=resolved.name,
                environment=resolved.environment.name,
                context=t.name,
                namespace=t.namespace,
                timeout=float(options.timeout),
                no_wait=bool(options.no_wait),
                force_conflicts=bool(options.force_conflicts),
                take_over=resolved.app.spec.take_over,
                recreate=resolved.app.spec.recreate,
                read_only=resolved.app.spec.read_only,
                shared=resolved.app.spec.shared,
                workers=workers,
                promotions={c.name: c.promotion.namespace for c in resolved.app.spec.components if c.promotion},
            )
            for t in cluster_targets(resolved.environment)
        ]

    # -- connection Secrets -----------------------------------------------------------------
    def write_connection(self, connection: Connection) -> int:
        body = connection.secret()  # rendered by composer/render/connection.py; delivered here as handed
        body["metadata"]["namespace"] = self.namespace
        component, secret_name = connection.component, connection.name
        encoded, labels = body["data"], body["metadata"]["labels"]
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
    def apply(
        self, component: str, objects: list[dict], previous: tuple[InventoryItem, ...]
    ) -> tuple[tuple[InventoryItem, ...], int]:
        if not objects and not previous:
            return (), 0
        planned = self._owned(component, self._plan(component, objects))  # read-only ones checked, left out
        writes = self._ensure_namespace(component) if planned else 0
        before = {(i.kind, i.namespace, i.name): i for i in previous}
        unchanged = [
            p for p in planned if p.key in before and before[p.key].hash == p.digest and p.key not in self.reclaim
        ]
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
        writes += self._ensure_namespaces_of(component, changed)  # a promoted copy's namespace
        writes += self._hand_over_replicas(component, changed, planned)
        try:
            live = self._apply_all(component, changed) if changed else {}
            items = with_identity(items, live, before)
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
        writes += self._delete_items(reversed(self._deletable(gone)))
        return items, writes

    def delete(self, items: tuple[InventoryItem, ...]) -> int:
        return self._delete_items(reversed(self._deletable(items)))

    def check(self, component: str, objects: list[dict], previous: tuple[InventoryItem, ...]) -> list[Diagnostic]:
        """For `appc plan`: what the cluster would refuse (a claim shrunk or moved to another
        storage class), read from the live objects. A cluster that cannot be reached is no
        refusal: apply checks again before it writes."""
        before = {(i.kind, i.namespace, i.name): i.hash for i in previous}
        read_only = [o for o in objects if self.reads_only(component, str(o.get("kind", "")))]
        try:
            absent = self._absent(component, self._plan(component, read_only)) if read_only else []
        except DiagnosticError:
            absent = []
        if absent:
            return absent
        try:
            planned = self._plan(component, [o for o in objects if o.get("kind") == "PersistentVolumeClaim"])
            return self._refusals(component, [p for p in planned if before.get(p.key) not in (None, p.digest)])
        except DiagnosticError:
            return []

    def missing(self, component: str, objects: list[dict]) -> int:
        """How many of these objects the cluster does not have (for `appc plan --refresh`):
        the same LIST per kind and namespace that apply uses to re-create deleted objects."""
        if not objects:
            return 0
        planned = self._owned(component, self._plan(component, objects))
        return len(planned) - len(self._live_names(component, planned))

    def preview(self, component: str, objects: list[dict]) -> list[tuple[dict | None, dict]]:
        """Each object as the cluster holds it now and as a server-side-apply dry run says it
        would be (the server's defaults and other managers' fields included, nothing written).
        The dry run's Pod Security warnings are kept for admission_warnings."""
        out = []
        warnings: list[str] = []
        for p in self._owned(component, self._plan(component, objects)):
            live = self._get(component, p.resource, p.namespace, p.name)
            try:
                after = (
                    self.client.request(
                        "PATCH",
                        p.resource.path(p.namespace, p.name),
                        # As apply will write it: objects another manager changed are taken back
                        # (force, minus the paths policies.ignoreDrift leaves to it), and those the app takes over.
                        query={
                            "fieldManager": FIELD_MANAGER,
                            "force": self._forced(component, p),
                            "dryRun": "All",
                        },
                        body=reclaimed_body(p.body, self.reclaim.get(p.key)),
                        content_type=APPLY_CONTENT_TYPE,
                        warnings=warnings,
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
        with self._lock:
            self._preview_warnings[component] = [w for w in warnings if "would violate PodSecurity" in w]
        return out

    def admission_warnings(self, component: str) -> list[str]:
        with self._lock:
            return list(self._preview_warnings.get(component, ()))


def sinks_for(request: SinkRequest) -> tuple[ClusterSink, ...]:
    """The sink registry's entry (composer/runners/sinks.py): one sink per cluster target."""
    return tuple(ClusterSink.for_environment(request.resolved, request.options))
