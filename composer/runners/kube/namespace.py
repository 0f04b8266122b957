"""The sink's namespace: created when missing (labelled as appc's), and when it is being
deleted (Terminating), waited out within --timeout and created again."""

from __future__ import annotations

import time
from collections.abc import Iterable

from composer.runners.kube.base import FIELD_MANAGER, ClusterBase, Planned
from composer.runners.kube.client import ApiError, Unreachable
from composer.runners.kube.resources import Resource

NAMESPACE = Resource("v1", "Namespace", "namespaces", False)


class NamespaceOps(ClusterBase):
    def _ensure_namespace(self, component: str) -> int:
        """Create the namespace when it is missing; when it is being deleted (Terminating),
        wait for it to go first, within --timeout. Units applied in parallel wait for the first
        one's check (one GET, at most one create, not one each)."""
        with self._namespace_lock:
            return self._ensure_namespace_once(component)

    def _ensure_namespace_once(self, component: str) -> int:
        with self._lock:
            if self._namespace_ready:
                return 0
        ns_res = NAMESPACE
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
                terminating = ApiError(403, "Forbidden", "because it is being terminated", None, None)
                raise self._fail(terminating, component, "create", f"namespace {self.namespace}")
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

    def _create_namespace(self, component: str, ns_res: Resource, name: str | None = None) -> int:
        name = name or self.namespace
        body = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "appc"}},
        }
        try:
            self.client.request("POST", ns_res.path(None), query={"fieldManager": FIELD_MANAGER}, body=body)
            return 1
        except ApiError as err:
            if err.status != 409:  # AlreadyExists: someone was quicker, or it is still being deleted
                raise self._fail(err, component, "create", f"namespace {name}", ns_res) from None
            return 0

    def _ensure_namespaces_of(self, component: str, planned: Iterable[Planned]) -> int:
        """A promoted copy's namespace (composer/render/promotion.py), when its objects are about
        to be written: created when missing, as the sink's own is; never deleted, since other
        things may live there. Any other namespace an object names is left alone: a missing one
        fails that object's apply with the server's answer, as `kubectl apply` would."""
        name = self.promotions.get(component)
        if name is None or name == self.namespace:
            return 0
        if not any(p.resource.namespaced and p.namespace == name for p in planned):
            return 0
        try:
            self.client.request("GET", NAMESPACE.path(None, name))
        except ApiError as err:
            if err.status == 403:
                return 0  # namespace-scoped credentials: assume it exists
            if err.status != 404:
                raise self._fail(err, component, "get", f"namespace {name}", NAMESPACE) from None
            return self._create_namespace(component, NAMESPACE, name)
        except Unreachable as exc:
            raise self._fail(exc, component, "read", f"namespace {name}") from None
        return 0
