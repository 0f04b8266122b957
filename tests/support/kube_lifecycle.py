"""Time in the stand-in: the knobs that make it behave like a cluster whose controllers take a
while (tests/support/kube_standin.py holds a ``Knobs`` and calls the hooks below).

What a real cluster does, and where it comes from:

* **CRD establishment.** A new CustomResourceDefinition is served only once its condition
  ``Established`` is True; until then requests for its resources answer 404 ``the server could
  not find the requested resource`` (apiextensions-apiserver ``pkg/controller/establish``;
  docs: "Create a CustomResourceDefinition", the CRD "may take a few seconds" to be served).
* **Namespace termination.** Deleting a namespace sets ``deletionTimestamp`` and
  ``status.phase: Terminating`` while the namespace controller empties it; creating anything in
  it answers 403 ``unable to create new content in namespace X because it is being terminated``
  with a ``NamespaceTerminating`` cause (``plugin/pkg/admission/namespace/lifecycle/admission.go``).
* **Rollouts.** A write bumps ``metadata.generation``; the controller reports
  ``status.observedGeneration`` later (docs: Deployment status, "observedGeneration"); a
  Deployment that cannot progress gets ``Progressing=False, reason ProgressDeadlineExceeded``
  after ``progressDeadlineSeconds``; a Job whose pods keep failing gets ``Failed=True,
  reason BackoffLimitExceeded`` (docs: Deployments "Failed Deployment"; Jobs "Pod backoff failure policy").
"""

from __future__ import annotations

import asyncio
import copy
import datetime
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

ROLLOUT_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


@dataclass
class Knobs:
    """Fidelity knobs (reset() restores these defaults). The schema is checked by default, like
    a real server; the timing knobs are off (everything happens at once)."""

    strict_schema: bool = True  # typed-patch 500s for unknown fields, wrong types, duplicate keys, bad quantities
    crd_establish_seconds: float = 0.0  # a new CRD's resources are 404 for this long
    namespace_terminating_seconds: float = 0.0  # a deleted namespace stays Terminating this long
    rollout_seconds: float = 0.0  # with auto_ready: status (observedGeneration) lags writes by this much
    rollout_outcome: str = "ready"  # "ready", or "fail": Deployments exceed their progress deadline, Jobs fail

    def update(self, values: dict[str, Any]) -> None:
        known = {f.name: f.type for f in fields(self)}
        for name, value in values.items():
            if name not in known:
                raise ValueError(f"unknown stand-in knob {name!r}; known: {', '.join(sorted(known))}")
            current = getattr(self, name)
            setattr(self, name, type(current)(value))
        if self.rollout_outcome not in ("ready", "fail"):
            raise ValueError("rollout_outcome is 'ready' or 'fail'")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def later(seconds: float, fn: Callable[[], None]) -> None:
    """Run fn in the stand-in's loop after `seconds` (hooks run inside the loop)."""
    asyncio.get_running_loop().call_later(max(seconds, 0.0), fn)


def crd_status(spec: dict, established: bool) -> dict:
    names = spec.get("names") or {}
    now = _now()
    return {
        "acceptedNames": copy.deepcopy(names),
        "storedVersions": [
            v.get("name") for v in spec.get("versions") or [] if isinstance(v, dict) and v.get("storage")
        ],
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": now,
            },
            {
                "type": "Established",
                "status": "True" if established else "False",
                "reason": "InitialNamesAccepted" if established else "Installing",
                "message": "the initial names have been accepted" if established else "the resource is being installed",
                "lastTransitionTime": now,
            },
        ],
    }


def failed_status(kind: str, obj: dict, old_status: dict) -> dict | None:
    """What the controller reports when the rollout cannot succeed."""
    gen = (obj.get("metadata") or {}).get("generation", 1)
    now = _now()
    if kind == "Deployment":
        want = (obj.get("spec") or {}).get("replicas", 1)
        return {
            "observedGeneration": gen,
            "replicas": want,
            "updatedReplicas": want,
            "unavailableReplicas": want,
            "conditions": [
                {
                    "type": "Available",
                    "status": "False",
                    "reason": "MinimumReplicasUnavailable",
                    "message": "Deployment does not have minimum availability.",
                    "lastUpdateTime": now,
                    "lastTransitionTime": now,
                },
                {
                    "type": "Progressing",
                    "status": "False",
                    "reason": "ProgressDeadlineExceeded",
                    "message": f'ReplicaSet "{obj["metadata"]["name"]}-standin" has timed out progressing.',
                    "lastUpdateTime": now,
                    "lastTransitionTime": now,
                },
            ],
        }
    if kind == "Job":
        return {
            "failed": int((obj.get("spec") or {}).get("backoffLimit", 6)) + 1,
            "active": 0,
            "startTime": old_status.get("startTime", now),
            "conditions": [
                {
                    "type": "FailureTarget",
                    "status": "True",
                    "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                    "lastProbeTime": now,
                    "lastTransitionTime": now,
                },
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                    "lastProbeTime": now,
                    "lastTransitionTime": now,
                },
            ],
        }
    return None


def terminating_forbidden(qualified: str, name: str, namespace: str) -> tuple[str, dict]:
    message = f'{qualified} "{name}" is forbidden: unable to create new content in namespace {namespace} because it is being terminated'
    details = {
        "name": name,
        "kind": qualified.split(".")[0],
        "causes": [
            {
                "reason": "NamespaceTerminating",
                "message": f"namespace {namespace} is being terminated",
                "field": "metadata.namespace",
            }
        ],
    }
    return message, details
