"""Rollout waits and pod diagnosis: after an apply, until every Deployment, StatefulSet,
DaemonSet, Job and CronJob is ready (rollout.py says what ready means), one fails, or
--timeout passes; a failure or timeout names the last pod condition or Warning event, what a
person would look up next. `appc status` reads the same warnings."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.runners.kube.base import ClusterBase, Planned
from composer.runners.kube.client import ApiError, Unreachable
from composer.runners.kube.resources import Resource
from composer.runners.kube.rollout import pod_problem, rollout_state

WAITABLE = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")


class RolloutOps(ClusterBase):
    def _wait(self, component: str, waitable: list[Planned], live: Mapping[tuple, dict]) -> None:
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
                    self._refuse_pod_security(component, p)
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

    def _refuse_pod_security(self, component: str, p: Planned) -> None:
        """Fail at once when the API server warned that the object's pods violate the namespace's
        Pod Security level and its controller's pod creation was then refused (a FailedCreate
        event: StatefulSets, DaemonSets and Jobs have no condition that says so). No retry
        passes enforce; waiting would only run into --timeout."""
        warned = self._pod_security_warned.get(p.key)
        refused = self._warning(p.name, p.namespace) if warned else None
        if refused and "violates PodSecurity" in refused:
            raise DiagnosticError(
                [
                    Diagnostic(
                        f"the pods of {p.label} are refused by the Pod Security admission of namespace {p.namespace}",
                        f"the API server warned: {warned}; then {refused}. Relax the named fields with the security trait, or apply to a namespace whose pod-security.kubernetes.io/enforce level allows them.",
                        address=component,
                    )
                ]
            )

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

    def _evidence(self, component: str, p: Planned, obj: Mapping[str, Any] | None) -> str:
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
