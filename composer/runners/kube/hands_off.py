"""Objects the app reads but does not own: the app's `readOnly` and `shared` entries (KubeVela's
read-only and shared-resource policies, docs/oam.md "Policies").

A read-only object is read, never written or deleted: apply refuses, before it writes anything
of the unit, when one does not exist, and plan reports the same. A shared object is written
only while it is absent or this app's (its `composer.dev/app` label); one another app (or a
person) made is only read, as KubeVela lets only the first app sharing it write it. Prune and
destroy never delete a shared object. Objects only read are left out of the unit's inventory,
its dry run and its drift check: they are not the app's.
"""

from __future__ import annotations

from collections.abc import Iterable

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.runners.kube.base import ClusterBase, Planned, selected
from composer.state.model import InventoryItem

APP_LABEL = "composer.dev/app"


class HandsOffOps(ClusterBase):
    def reads_only(self, component: str, kind: str) -> bool:
        return selected(self.read_only, component, kind)

    def shares(self, component: str, kind: str) -> bool:
        return selected(self.shared, component, kind)

    def _owned(self, component: str, planned: list[Planned]) -> list[Planned]:
        """The objects this app writes; the others are read. A read-only object that does not
        exist is an error, raised before anything is written."""
        if not (self.read_only or self.shared):
            return planned  # the common case: the app owns every object it renders
        absent = self._absent(component, planned)
        if absent:
            raise DiagnosticError(absent)
        out = []
        for p in planned:
            kind = p.source["kind"]
            if self.reads_only(component, kind):
                continue
            if self.shares(component, kind):
                live = self._get(component, p.resource, p.namespace, p.name)
                labels = ((live or {}).get("metadata") or {}).get("labels") or {}
                if live is None or labels.get(APP_LABEL) == self.app:
                    out.append(p)
            else:
                out.append(p)
        return out

    def _absent(self, component: str, planned: list[Planned]) -> list[Diagnostic]:
        """The read-only objects the cluster does not have, each as an error (a client failure raises)."""
        return [
            Diagnostic(
                f"component {component}: read-only {p.label} does not exist in {self.context}",
                "the app's readOnly (a KubeVela read-only policy) reads this object and never creates it: create it "
                "first, or take the rule off so that Composer creates and owns it",
                address=component,
            )
            for p in planned
            if self.reads_only(component, p.source["kind"])
            and self._get(component, p.resource, p.namespace, p.name) is None
        ]

    def _deletable(self, items: Iterable[InventoryItem]) -> list[InventoryItem]:
        """What prune and destroy may delete: not shared objects (another app may use them)."""
        return [i for i in items if not self.shares(i.component, i.kind) and not self.reads_only(i.component, i.kind)]
