"""KubeVela traits that become Composer's `pod` trait: affinity, topology spread, host aliases,
update strategy, security contexts, lifecycle and init containers. See oam_traits.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from composer.diagnostics import FieldPath

if TYPE_CHECKING:
    from composer.model.oam_traits import TraitRewriter

POD_KINDS = {"webservice": "Deployment", "worker": "Deployment", "daemon": "DaemonSet", "statefulset": "StatefulSet"}
MAIN = ("",)  # containerName "" means the main container in KubeVela's definitions


# Traits whose properties reach the pod trait unchanged (the whole of them, or one field of them):
# errors inside name the field the user wrote, not the pod trait's.
SAME_SHAPE = {
    "podsecuritycontext": (),
    "lifecycle": (),
    "hostalias": ("hostAliases",),
    "topologyspreadconstraints": ("constraints",),
}


def pod_trait(key: str, translate: Callable[[TraitRewriter, dict, FieldPath], Any], known: set[str], what: str):
    def handler(r: TraitRewriter, p: dict, ppath: FieldPath) -> dict:
        r.unknown(p, ppath, known, what)
        value = translate(r, p, ppath)
        if key and what in SAME_SHAPE:
            r.c.relocate(ppath + SAME_SHAPE[what], ppath + (key,))
        return {"type": "pod", "properties": value if key == "" else {key: value}}

    return handler


def _affinity(r: TraitRewriter, p: dict, ppath: FieldPath) -> dict:
    out: dict[str, Any] = {}
    aff: dict[str, Any] = {}
    for kind in ("podAffinity", "podAntiAffinity", "nodeAffinity"):
        if kind in p and not isinstance(p[kind], dict):
            r.c.error(ppath + (kind,), f"expected {kind} as a mapping with required and / or preferred")
        elif kind in p:
            for key in sorted(set(p[kind]) - {"required", "preferred"}):
                r.c.error(
                    ppath + (kind, key), f"unknown field {key!r} of {kind}", "expected required and preferred", key=True
                )
    for kind in ("podAffinity", "podAntiAffinity"):
        if isinstance(p.get(kind), dict):
            part = {}
            if "required" in p[kind]:
                part["requiredDuringSchedulingIgnoredDuringExecution"] = p[kind]["required"]
            if "preferred" in p[kind]:
                part["preferredDuringSchedulingIgnoredDuringExecution"] = p[kind]["preferred"]
            aff[kind] = part
    node = p.get("nodeAffinity")
    if isinstance(node, dict):
        part = {}
        if "required" in node:
            part["requiredDuringSchedulingIgnoredDuringExecution"] = node["required"]
        if "preferred" in node:
            part["preferredDuringSchedulingIgnoredDuringExecution"] = node["preferred"]
        aff["nodeAffinity"] = part
    if aff:
        out["affinity"] = aff
    if "tolerations" in p:  # a value that is not a list goes through: the pod trait's schema reports it
        out["tolerations"] = (
            [{"operator": "Equal", **t} if isinstance(t, dict) else t for t in p["tolerations"]]
            if isinstance(p["tolerations"], list)
            else p["tolerations"]
        )
    return out


def _strategy(r: TraitRewriter, p: dict, ppath: FieldPath) -> dict:
    kind = POD_KINDS.get(r.comp["type"]) if isinstance(r.comp.get("type"), str) else None
    if p.get("targetKind", "Deployment") != kind or p.get("targetAPIVersion", "apps/v1") != "apps/v1":
        r.c.error(
            ppath + ("targetKind",),
            f"targetKind {p.get('targetKind', 'Deployment')!r} does not match the component's {kind or 'kind (no pod controller)'}",
            "k8s-update-strategy changes the component's own workload",
        )
    s = p.get("strategy", {})
    if not isinstance(s, dict):
        r.c.error(
            ppath + ("strategy",), "expected strategy: {type, rollingStrategy}", "as k8s-update-strategy.cue has it"
        )
        s = {}
    r.unknown(s, ppath + ("strategy",), {"type", "rollingStrategy"}, "k8s-update-strategy")
    out: dict[str, Any] = {"type": s.get("type", "RollingUpdate")}
    roll = s.get("rollingStrategy")
    rpath = ppath + ("strategy", "rollingStrategy")
    if roll is not None and (not isinstance(roll, dict) or out["type"] != "RollingUpdate"):
        r.c.error(rpath, "rollingStrategy is used with type RollingUpdate only, as a mapping", "remove it, or set type")
    if isinstance(roll, dict):
        r.unknown(roll, rpath, {"maxSurge", "maxUnavailable", "partition"}, "k8s-update-strategy")
    if isinstance(roll, dict) and out["type"] == "RollingUpdate":
        if kind == "StatefulSet":  # KubeVela's template: a StatefulSet rolls by partition only
            out["rollingUpdate"] = {"partition": roll.get("partition", 0)}
        else:
            if roll.get("partition", 0) != 0:
                r.c.error(
                    ppath + ("strategy", "rollingStrategy", "partition"),
                    "partition is for StatefulSets",
                    f"the component is a {kind}",
                )
            out["rollingUpdate"] = {k: roll.get(k, "25%") for k in ("maxSurge", "maxUnavailable")}
    return out


SECURITY_KEYS = {
    "containerName",
    "addCapabilities",
    "dropCapabilities",
    "allowPrivilegeEscalation",
    "privileged",
    "readOnlyRootFilesystem",
    "runAsNonRoot",
    "runAsUser",
    "runAsGroup",
}


def _security(r: TraitRewriter, p: dict[str, Any], ppath: FieldPath) -> dict[str, Any]:
    """The main container's securityContext: the parameters, or its entry of `containers: [...]`."""
    out: dict[str, Any] = {}
    for q, qpath in r.each_container(p, ppath):
        if "containers" in p:
            r.unknown(q, qpath, SECURITY_KEYS, "securitycontext")
        if r.main_only(q, qpath, "securitycontext"):
            out = _security_of(q)
    return out


def _security_of(p: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "allowPrivilegeEscalation": p.get("allowPrivilegeEscalation", False),
        "privileged": p.get("privileged", False),
        "readOnlyRootFilesystem": p.get("readOnlyRootFilesystem", False),
        "runAsNonRoot": p.get("runAsNonRoot", True),
    }
    for key in ("runAsUser", "runAsGroup"):
        if key in p:
            out[key] = p[key]
    caps = {k: p[f"{k}Capabilities"] for k in ("add", "drop") if f"{k}Capabilities" in p}
    if caps:
        out["capabilities"] = caps
    return out


def _init_container(r: TraitRewriter, p: dict, ppath: FieldPath) -> list:
    mount = p.get("mountName", "workdir")
    c: dict[str, Any] = {
        "name": p.get("name"),
        "image": p.get("image"),
        "imagePullPolicy": p.get("imagePullPolicy", "IfNotPresent"),
    }
    if p.get("cmd"):
        c["command"] = p["cmd"]
    if p.get("args"):
        c["args"] = p["args"]
    if p.get("env"):
        c["env"] = p["env"]
    c["volumeMounts"] = [{"name": mount, "mountPath": p.get("initMountPath")}] + list(p.get("extraVolumeMounts") or [])
    for key in ("appMountPath", "initMountPath"):
        if not isinstance(p.get(key), str):
            r.c.error(ppath, f"init-container needs {key}")
    r.add({"type": "volume", "properties": {"emptyDir": [{"name": mount, "mountPath": p.get("appMountPath")}]}}, ppath)
    return [c]
