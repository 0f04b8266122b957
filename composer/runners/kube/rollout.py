"""Readiness of live Kubernetes objects, as pure functions (what `kubectl rollout status`
checks): used by the cluster sink's rollout waits and by `appc status`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _condition(obj: Mapping[str, Any], ctype: str) -> dict | None:
    for c in ((obj.get("status") or {}).get("conditions")) or []:
        if isinstance(c, dict) and c.get("type") == ctype:
            return c
    return None


def replica_counts(kind: str, obj: Mapping[str, Any]) -> tuple[int, int]:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    if kind in ("Deployment", "StatefulSet"):
        return int(st.get("readyReplicas") or 0), int(
            spec.get("replicas", 1) if spec.get("replicas") is not None else 1
        )
    if kind == "DaemonSet":
        return int(st.get("numberReady") or 0), int(st.get("desiredNumberScheduled") or 0)
    if kind == "Job":
        return int(st.get("succeeded") or 0), int(spec.get("completions") or 1)
    return 0, 0


def rollout_state(kind: str, obj: Mapping[str, Any] | None) -> tuple[str, str]:
    """(complete | progressing | failed | missing, why) — kubectl rollout status semantics."""
    if obj is None:
        return "missing", "the object does not exist"
    meta, st = obj.get("metadata") or {}, obj.get("status") or {}
    gen, observed = int(meta.get("generation") or 0), int(st.get("observedGeneration") or 0)
    if kind == "CronJob":
        return "complete", "exists"
    if kind == "Job":
        return _job_state(obj)
    if kind in ("Deployment", "StatefulSet", "DaemonSet") and observed < gen:
        return "progressing", f"the controller has not observed generation {gen} yet (observed {observed or 'none'})"
    if kind == "Deployment":
        return _deployment_state(obj)
    if kind == "StatefulSet":
        return _statefulset_state(obj)
    if kind == "DaemonSet":
        return _daemonset_state(obj)
    return "complete", "exists"


def _job_state(obj: Mapping[str, Any]) -> tuple[str, str]:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    if (_condition(obj, "Complete") or {}).get("status") == "True":
        return "complete", "completed"
    failed = _condition(obj, "Failed")
    if failed is not None and failed.get("status") == "True":
        return "failed", f"{failed.get('reason', 'Failed')}: {failed.get('message', '')}".rstrip(": ")
    return (
        "progressing",
        f"{int(st.get('succeeded') or 0)} of {int(spec.get('completions') or 1)} completions, {int(st.get('active') or 0)} active",
    )


def _deployment_state(obj: Mapping[str, Any]) -> tuple[str, str]:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    refused = _condition(obj, "ReplicaFailure")
    if refused and refused.get("status") == "True" and "violates PodSecurity" in str(refused.get("message")):
        return (
            "failed",
            f"the namespace's Pod Security admission refuses its pods: {refused.get('message')}",
        )  # no retry passes it
    progressing = _condition(obj, "Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        return "failed", f"progress deadline exceeded: {progressing.get('message', '')}"
    want = spec.get("replicas", 1) if spec.get("replicas") is not None else 1
    updated, total, available = (
        int(st.get("updatedReplicas") or 0),
        int(st.get("replicas") or 0),
        int(st.get("availableReplicas") or 0),
    )
    if updated < want:
        return "progressing", f"{updated} of {want} replicas updated, {available} available"
    if total > updated:
        return "progressing", f"{total - updated} old replicas pending termination"
    if available < want:
        return "progressing", f"{available} of {want} replicas available"
    return "complete", f"{available} of {want} replicas available"


def _statefulset_state(obj: Mapping[str, Any]) -> tuple[str, str]:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    want = spec.get("replicas", 1) if spec.get("replicas") is not None else 1
    ready = int(st.get("readyReplicas") or 0)
    if ready < want:
        return "progressing", f"{ready} of {want} replicas ready"
    if (
        st.get("updateRevision")
        and st.get("currentRevision")
        and st["updateRevision"] != st["currentRevision"]
        and int(st.get("updatedReplicas") or 0) < want
    ):
        return "progressing", f"{int(st.get('updatedReplicas') or 0)} of {want} replicas updated"
    return "complete", f"{ready} of {want} replicas ready"


def _daemonset_state(obj: Mapping[str, Any]) -> tuple[str, str]:
    st = obj.get("status") or {}
    want = int(st.get("desiredNumberScheduled") or 0)
    updated, available = int(st.get("updatedNumberScheduled") or 0), int(st.get("numberAvailable") or 0)
    if updated < want:
        return "progressing", f"{updated} of {want} pods updated"
    if available < want:
        return "progressing", f"{available} of {want} pods available"
    return "complete", f"{available} of {want} pods available"


def pod_problem(pod: Mapping[str, Any]) -> str | None:
    """The most telling reason a pod is not ready, or None."""
    name = (pod.get("metadata") or {}).get("name", "")
    st = pod.get("status") or {}
    for cs in (st.get("initContainerStatuses") or []) + (st.get("containerStatuses") or []):
        waiting = ((cs.get("state") or {}).get("waiting")) or {}
        if waiting.get("reason"):
            return f"pod {name} container {cs.get('name')} waiting: {waiting['reason']}" + (
                f" ({waiting['message']})" if waiting.get("message") else ""
            )
        term = ((cs.get("lastState") or {}).get("terminated")) or {}
        if term.get("reason") and not cs.get("ready"):
            return (
                f"pod {name} container {cs.get('name')} last terminated: {term['reason']} (exit {term.get('exitCode')})"
            )
    for c in st.get("conditions") or []:
        if c.get("status") == "False" and (c.get("reason") or c.get("message")):
            return f"pod {name} {c.get('type')}=False {c.get('reason', '')}: {c.get('message', '')}".rstrip(": ")
    if st.get("phase") and st["phase"] not in ("Running", "Succeeded"):
        return f"pod {name} is {st['phase']}"
    return None
