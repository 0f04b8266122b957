"""Server-side apply of one unit's objects: each object resolved to how the cluster serves it
(a CRD of the same batch included), sent in phases (namespaces and CRDs, then config, then
the rest) and in parallel threads within a phase (--kube-workers); a Job whose immutable
fields changed is deleted and created again; custom resources wait for their CRD to be
Established. Before writing: the refusals a cluster would answer (guards.py) and the hand-over
of `replicas` to an autoscaler. Prune deletes what is no longer rendered."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.runners.kube.base import FIELD_MANAGER, Planned
from composer.runners.kube.client import APPLY_CONTENT_TYPE, ApiError, Unreachable
from composer.runners.kube.guards import HANDOVER_MANAGER, handover_body, hpa_targets, owns_replicas, pvc_refusals
from composer.runners.kube.namespace import NamespaceOps
from composer.runners.kube.resources import Resource
from composer.runners.kube.waits import RolloutOps
from composer.runners.kube_probe import reclaimed_body
from composer.state.model import InventoryItem, object_digest

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
CRD = "CustomResourceDefinition"
REPLACED_WHEN_IMMUTABLE = ("Job",)  # a Job's template is immutable; deleting and creating it again is safe


def _phase(kind: str) -> int:
    return 0 if kind in _PHASE_FIRST else 1 if kind in _PHASE_SECOND else 2


class ApplyOps(NamespaceOps, RolloutOps):
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

    def _plan(self, component: str, objects: list[dict]) -> list[Planned]:
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
            out.append(Planned(o, {**o, "metadata": meta}, res, object_digest(o)))
        return out

    def _live_names(self, component: str, planned: list[Planned]) -> set[tuple[str, str | None, str]]:
        """Which of these objects exist: one LIST per kind and namespace (by component label)."""
        groups: dict[tuple[Resource, str | None], list[Planned]] = {}
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

    def _forced(self, component: str, p: Planned) -> bool:
        """--force-conflicts, an object taken back from drift, or one the app takes over."""
        return self.force_conflicts or p.key in self.reclaim or self.takes_over(component, p.source["kind"])

    def _apply_one(self, component: str, p: Planned) -> dict:
        """One server-side apply. A namespace being deleted is waited out (and re-created); a
        Job whose immutable fields changed is deleted and created again."""
        for attempt in range(3):
            warnings: list[str] = []
            try:
                live = (
                    self.client.request(
                        "PATCH",
                        p.resource.path(p.namespace, p.name),
                        query={"fieldManager": FIELD_MANAGER, "force": self._forced(component, p)},
                        body=reclaimed_body(p.body, self.reclaim.get(p.key)),
                        content_type=APPLY_CONTENT_TYPE,
                        warnings=warnings,
                    )
                    or {}
                )
                warned = next((w for w in warnings if "would violate PodSecurity" in w), None)
                with self._lock:  # only this apply's answer counts: a fixed template is no longer watched
                    if warned:
                        self._pod_security_warned[p.key] = warned
                    else:
                        self._pod_security_warned.pop(p.key, None)
                return live
            except ApiError as err:
                if attempt < 2 and err.namespace_terminating:
                    with self._lock:
                        self._namespace_ready = False
                    self._ensure_namespace(component)
                    continue
                if (
                    attempt < 2
                    and (p.resource.kind in REPLACED_WHEN_IMMUTABLE or self.recreates(component, p.resource.kind))
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

    def _replace(self, component: str, p: Planned) -> None:
        """Delete an object the server will not update in place, and wait until it is gone."""
        self._delete_one(component, p.resource, p.namespace, p.name)
        self._poll(
            component,
            f"{p.label} to be deleted before it is created again",
            lambda: self._get(component, p.resource, p.namespace, p.name) is None,
        )

    def _await_established(self, component: str, crds: list[tuple[Planned, dict]]) -> None:
        """Custom resources are served once their CRD's condition Established is True."""
        for p, obj in crds:
            if not _established(obj):
                self._poll(
                    component,
                    f"CustomResourceDefinition {p.name} to be Established",
                    partial(self._crd_established, component, p),
                )

    def _crd_established(self, component: str, p: Planned) -> bool:
        return _established(self._get(component, p.resource, None, p.name))

    def _apply_all(self, component: str, planned: list[Planned]) -> dict[tuple, dict]:
        """Server-side apply in phases (namespaces and CRDs, then config, then the rest),
        in parallel within a phase. All failures of a phase are reported together."""
        live: dict[tuple, dict] = {}
        for phase in (0, 1, 2):
            batch = [p for p in planned if _phase(p.resource.kind) == phase]
            if not batch:
                continue
            results = self._apply_batch(component, batch)
            diags: list[Diagnostic] = []
            for _, outcome in results:
                if isinstance(outcome, DiagnosticError):
                    diags += [d for d in outcome.diagnostics if d not in diags]
            if diags:
                raise DiagnosticError(diags)
            applied = [(p, obj) for p, obj in results if isinstance(obj, dict)]
            live.update({p.key: obj for p, obj in applied})
            if phase == 0:
                self._await_established(component, [(p, o) for p, o in applied if p.resource.kind == CRD])
        return live

    def _apply_batch(self, component: str, batch: list[Planned]) -> list[tuple[Planned, dict | DiagnosticError]]:
        """One phase's objects, each applied or failed, in order; in threads (--kube-workers)
        when worth it."""
        results: list[tuple[Planned, dict | DiagnosticError] | None] = [None] * len(batch)

        def one(i: int) -> None:
            try:
                results[i] = (batch[i], self._apply_one(component, batch[i]))
            except DiagnosticError as exc:
                results[i] = (batch[i], exc)

        if len(batch) <= 2 or self.workers <= 1:
            for i in range(len(batch)):
                one(i)
        else:
            self._in_parallel(one, len(batch))  # (every call has ended: each result is in)
        return [r for r in results if r is not None]

    def _delete_items(self, items: Iterable[InventoryItem]) -> int:
        writes = 0
        for item in items:
            res = self._item_resource(item.component, item)
            if res is None:
                continue  # the kind is gone from the cluster (its CRD was removed): so is the object
            ns = (item.namespace or self.namespace) if res.namespaced else None
            writes += self._delete_one(item.component, res, ns, item.name, secret=item.kind == "Secret")
        return writes

    def _refusals(self, component: str, changed: list[Planned]) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        for p in changed:
            if p.resource.kind == "PersistentVolumeClaim":
                live = self._get(component, p.resource, p.namespace, p.name)
                if live is not None:
                    out += pvc_refusals(component, p.label, p.body, live)
        return out

    def _hand_over_replicas(self, component: str, changed: list[Planned], planned: list[Planned]) -> int:
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


def _established(crd: Mapping[str, Any] | None) -> bool:
    return any(
        c.get("type") == "Established" and c.get("status") == "True"
        for c in ((crd or {}).get("status") or {}).get("conditions") or []
        if isinstance(c, dict)
    )
