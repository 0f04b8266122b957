"""Health of a component's objects on one target, for `appc status`: rollout state,
ready/desired replicas, objects missing, and the last warning event. Cluster trouble becomes
a field of the row, never an error: status must work when the cluster does not."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from composer.runners.kube.client import ApiError, Unreachable
from composer.runners.kube.rollout import replica_counts, rollout_state
from composer.runners.kube.waits import WAITABLE, RolloutOps
from composer.state.model import InventoryItem

_WORST_FIRST = ("failed", "missing", "progressing", "complete")


class HealthOps(RolloutOps):
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
        states: list[str] = []
        try:
            for item in items:
                self._item_health(item, out, states)
        except Unreachable as exc:
            return {
                **out,
                "rollout": "unreachable",
                "error": f"cannot reach the Kubernetes API server at {exc.server} ({exc.cause})",
            }
        except ApiError as err:
            return {
                **out,
                "rollout": "unknown",
                "error": self._fail(err, component, "get", component).diagnostics[0].summary,
            }
        for s in _WORST_FIRST:
            if s in states:
                out["rollout"] = s
                break
        if out["missing"] and out["rollout"] in ("n/a", "complete"):
            out["rollout"] = "missing"
        return out

    def _item_health(self, item: InventoryItem, out: dict[str, Any], states: list[str]) -> None:
        """Adds one inventory item's state to the component's row."""
        res = self.client.resource(item.api_version, item.kind)
        if res is None:
            out["missing"] += 1
            return
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
            return
        if item.kind not in WAITABLE:
            return
        state, why = rollout_state(item.kind, obj)
        ready, desired = replica_counts(item.kind, obj)
        out["ready"] += ready
        out["desired"] += desired
        states.append(state)
        out["objects"].append(
            {"kind": item.kind, "name": item.name, "rollout": state, "ready": ready, "desired": desired, "detail": why}
        )
        warning = self._warning(item.name, ns)
        if warning:
            out["warning"] = warning
