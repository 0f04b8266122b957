"""Pod Security Admission in the stand-in: namespaces labelled `pod-security.kubernetes.io/enforce`.

Written from the Kubernetes "Pod Security Standards" page (the policy levels and their
controls) and "Pod Security Admission" (the labels and what enforce does), independently of
Composer's own level computation (composer/render/security.py), so one checks the other.

What a real cluster does (the admission plugin, k8s.io/pod-security-admission):

* ``enforce`` applies to Pods only: a violating Pod is refused with 403 Forbidden,
  ``pods "NAME" is forbidden: violates PodSecurity "LEVEL:latest": CHECK (DETAIL), ...``.
* Workload resources with a pod template (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job,
  CronJob, ReplicationController, PodTemplate) are never refused: the ``warn`` and ``audit`` modes
  evaluate their template. ``warn`` answers with an HTTP warning,
  ``Warning: 299 - "would violate PodSecurity \"LEVEL:latest\": ..."``, and a namespace that sets
  ``enforce`` but no ``warn`` label warns at the enforce level (the plugin defaults warn to a more
  restrictive enforce level). Pods also get the warning when they pass enforce but not warn.
  ``audit`` writes audit annotations: the stand-in has no audit log, so it is not modelled.
* The controllers' pod creations are then refused by enforce. A Deployment or ReplicaSet reports
  ``ReplicaFailure=True, reason FailedCreate`` with the Forbidden message; a StatefulSet,
  DaemonSet or Job has no such condition: its controller records a ``FailedCreate`` Warning event
  on the object (``create Pod NAME-0 in StatefulSet NAME failed error: ...`` for a StatefulSet,
  ``Error creating: ...`` for the others) and its status shows no pods.

Controls checked, by level (the page's tables):

* baseline: host namespaces (hostNetwork/hostPID/hostIPC), privileged containers, capabilities
  beyond the baseline list, hostPath volumes, host ports, seccomp ``Unconfined``.
* restricted, in addition: volume types (configMap, csi, downwardAPI, emptyDir, ephemeral,
  persistentVolumeClaim, projected, secret), ``allowPrivilegeEscalation: false``,
  ``runAsNonRoot: true``, no ``runAsUser: 0``, seccomp ``RuntimeDefault`` or ``Localhost``,
  capabilities drop ``ALL`` and add at most ``NET_BIND_SERVICE``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
WARN_LABEL = "pod-security.kubernetes.io/warn"
LEVELS = ("privileged", "baseline", "restricted")
BASELINE_ADD = {
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
}
RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def _containers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [c for key in ("initContainers", "containers", "ephemeralContainers") for c in spec.get(key) or []]


def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _baseline(spec: Mapping[str, Any]) -> list[str]:
    out = []
    hosts = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]
    if hosts:
        out.append(f"host namespaces ({', '.join(hosts)})")
    cs = _containers(spec)
    priv = [c["name"] for c in cs if (c.get("securityContext") or {}).get("privileged")]
    if priv:
        out.append(f"privileged (container {_quoted(priv)} must not set securityContext.privileged=true)")
    for c in cs:
        extra = sorted(
            set(((c.get("securityContext") or {}).get("capabilities") or {}).get("add") or []) - BASELINE_ADD
        )
        if extra:
            out.append(
                f'non-default capabilities (container "{c["name"]}" must not include {_quoted(extra)} in securityContext.capabilities.add)'
            )
    host_path = [v["name"] for v in spec.get("volumes") or [] if "hostPath" in v]
    if host_path:
        out.append(f"hostPath volumes (volume {_quoted(host_path)})")
    for c in cs:
        ports = [str(p["hostPort"]) for p in c.get("ports") or [] if p.get("hostPort")]
        if ports:
            out.append(f'hostPort (container "{c["name"]}" uses hostPort {", ".join(ports)})')
    if ((spec.get("securityContext") or {}).get("seccompProfile") or {}).get("type") == "Unconfined":
        out.append('seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")')
    return out


def _restricted(spec: Mapping[str, Any]) -> list[str]:
    out = []
    pod = spec.get("securityContext") or {}
    cs = _containers(spec)
    bad_volumes = [v["name"] for v in spec.get("volumes") or [] if not (set(v) - {"name"}) <= RESTRICTED_VOLUMES]
    if bad_volumes:
        out.append(f"restricted volume types (volume {_quoted(bad_volumes)})")
    escalate = [c["name"] for c in cs if (c.get("securityContext") or {}).get("allowPrivilegeEscalation") is not False]
    if escalate:
        out.append(
            f"allowPrivilegeEscalation != false (container {_quoted(escalate)} must set securityContext.allowPrivilegeEscalation=false)"
        )
    drop = [
        c["name"]
        for c in cs
        if "ALL" not in (((c.get("securityContext") or {}).get("capabilities") or {}).get("drop") or [])
    ]
    add = [
        c["name"]
        for c in cs
        if set(((c.get("securityContext") or {}).get("capabilities") or {}).get("add") or []) - {"NET_BIND_SERVICE"}
    ]
    if drop or add:
        out.append(
            f'unrestricted capabilities (container {_quoted(sorted(set(drop + add)))} must set securityContext.capabilities.drop=["ALL"]'
            + (' and must not add capabilities other than "NET_BIND_SERVICE")' if add else ")")
        )
    nonroot = [
        c["name"]
        for c in cs
        if (c.get("securityContext") or {}).get("runAsNonRoot", pod.get("runAsNonRoot")) is not True
    ]
    if nonroot:
        out.append(
            f"runAsNonRoot != true (pod or container {_quoted(nonroot)} must set securityContext.runAsNonRoot=true)"
        )
    if pod.get("runAsUser") == 0 or any((c.get("securityContext") or {}).get("runAsUser") == 0 for c in cs):
        out.append("runAsUser=0 (pod and containers must not set runAsUser=0)")
    pod_seccomp = (pod.get("seccompProfile") or {}).get("type")
    seccomp = [
        c["name"]
        for c in cs
        if (((c.get("securityContext") or {}).get("seccompProfile") or {}).get("type") or pod_seccomp)
        not in ("RuntimeDefault", "Localhost")
    ]
    if seccomp:
        out.append(
            f'seccompProfile (pod or container {_quoted(seccomp)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'
        )
    return out


def violations(pod_spec: Mapping[str, Any], level: str) -> list[str]:
    """The forbidden reasons a pod has at `level`, in the admission controller's wording."""
    if level == "privileged":
        return []
    found = _baseline(pod_spec)
    return found + _restricted(pod_spec) if level == "restricted" else found


def _labels(namespace: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return ((namespace or {}).get("metadata") or {}).get("labels") or {}


def enforced_level(namespace: Mapping[str, Any] | None) -> str | None:
    level = _labels(namespace).get(ENFORCE_LABEL)
    return level if level in LEVELS and level != "privileged" else None


def warned_level(namespace: Mapping[str, Any] | None) -> str | None:
    """The warn mode's level: its own label, else the enforce level (the plugin's default when
    enforce is more restrictive than the default warn level, privileged). An invalid warn label
    fails open (privileged), as the plugin does."""
    labels = _labels(namespace)
    if WARN_LABEL in labels:
        level = labels[WARN_LABEL]
        return level if level in LEVELS and level != "privileged" else None
    return enforced_level(namespace)


def warning_header(level: str, reasons: list[str]) -> str:
    """The HTTP Warning header value (RFC 7234 warn-code 299, the text quoted and escaped)."""
    text = f'would violate PodSecurity "{level}:latest": {", ".join(reasons)}'
    return "299 - " + '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def failed_create_event(kind: str, obj: Mapping[str, Any], message: str, now: str) -> dict[str, Any]:
    """The Warning event a StatefulSet, DaemonSet or Job controller records when enforce refuses
    the pod it tried to create."""
    meta = obj.get("metadata") or {}
    name, ns = meta.get("name", ""), meta.get("namespace")
    text = (
        f"create Pod {name}-0 in StatefulSet {name} failed error: {message}"
        if kind == "StatefulSet"
        else f"Error creating: {message}"
    )
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{name}.failedcreate", "namespace": ns},
        "involvedObject": {
            "apiVersion": obj.get("apiVersion", ""),
            "kind": kind,
            "name": name,
            "namespace": ns,
            "uid": meta.get("uid", ""),
        },
        "reason": "FailedCreate",
        "message": text,
        "type": "Warning",
        "source": {"component": f"{kind.lower()}-controller"},
        "count": 1,
        "firstTimestamp": now,
        "lastTimestamp": now,
    }


def refused_status(kind: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    """The status of a StatefulSet, DaemonSet or Job whose controller cannot create any pod."""
    gen = (obj.get("metadata") or {}).get("generation", 1)
    if kind == "StatefulSet":
        return {
            "observedGeneration": gen,
            "replicas": 0,
            "readyReplicas": 0,
            "currentReplicas": 0,
            "availableReplicas": 0,
        }
    if kind == "DaemonSet":
        return {
            "observedGeneration": gen,
            "desiredNumberScheduled": 1,
            "currentNumberScheduled": 0,
            "numberReady": 0,
            "numberAvailable": 0,
            "numberUnavailable": 1,
            "updatedNumberScheduled": 0,
            "numberMisscheduled": 0,
        }
    return {"active": 0, "ready": 0}  # a Job: no pod, no condition


def forbidden_message(kind_plural: str, name: str, level: str, reasons: list[str]) -> str:
    return f'{kind_plural} "{name}" is forbidden: violates PodSecurity "{level}:latest": {", ".join(reasons)}'


def pod_template(kind: str, obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        return (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec")
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return (spec.get("template") or {}).get("spec")
    return None


def replica_failure(kind: str, obj: Mapping[str, Any], message: str, now: str) -> dict[str, Any]:
    """A Deployment (or ReplicaSet) whose ReplicaSet cannot create pods: none ready, ReplicaFailure=True."""
    gen = (obj.get("metadata") or {}).get("generation", 1)
    want = (obj.get("spec") or {}).get("replicas", 1)
    if kind == "ReplicaSet":
        failure = {
            "type": "ReplicaFailure",
            "status": "True",
            "reason": "FailedCreate",
            "message": message,
            "lastTransitionTime": now,
        }
        return {"observedGeneration": gen, "replicas": 0, "conditions": [failure]}
    return {
        "observedGeneration": gen,
        "replicas": 0,
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
                "type": "ReplicaFailure",
                "status": "True",
                "reason": "FailedCreate",
                "message": message,
                "lastUpdateTime": now,
                "lastTransitionTime": now,
            },
            {
                "type": "Progressing",
                "status": "True",
                "reason": "ReplicaSetUpdated",
                "message": f'ReplicaSet "{obj["metadata"]["name"]}-standin" is progressing.',
                "lastUpdateTime": now,
                "lastTransitionTime": now,
            },
        ],
    }
