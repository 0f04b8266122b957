"""Secure pod defaults: every rendered pod meets Pod Security Standards `restricted` unless relaxed.

Owns the defaults (runAsNonRoot, no privilege escalation, all capabilities dropped, the
RuntimeDefault seccomp profile, a read-only root filesystem with an emptyDir at /tmp, no
service-account token), their precedence and the level annotation. Precedence per field: the
`security` trait's explicit setting, else what the file (a platform template, a KubeVela or
Score input, another trait) already set, else the default. The level a pod meets is written to
the pod template's `composer.dev/pod-security` annotation (docs/security.md "Defaults").
"""

from __future__ import annotations

LEVEL_ANNOTATION = "composer.dev/pod-security"
TMP_VOLUME = "composer-tmp"

# Pod Security Standards: what `baseline` lets a container add; `restricted` only NET_BIND_SERVICE.
BASELINE_CAPABILITIES = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}  # fmt: skip
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


def _containers(pod_spec: dict) -> list[dict]:
    return [c for key in ("initContainers", "containers") for c in pod_spec.get(key) or [] if isinstance(c, dict)]


def _pod_context(pod_spec: dict, settings: dict) -> None:
    ctx = pod_spec.setdefault("securityContext", {})
    for key in ("runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup"):
        if key in settings:
            ctx[key] = settings[key]
    ctx.setdefault("runAsNonRoot", True)
    if "seccompProfile" in settings:
        ctx["seccompProfile"] = {"type": settings["seccompProfile"]}
    ctx.setdefault("seccompProfile", {"type": "RuntimeDefault"})


def _container_context(pod_spec: dict, container: dict, settings: dict) -> None:
    ctx = container.setdefault("securityContext", {})
    if "privileged" in settings:
        ctx["privileged"] = settings["privileged"]
    if "allowPrivilegeEscalation" in settings:
        ctx["allowPrivilegeEscalation"] = settings["allowPrivilegeEscalation"]
    elif not ctx.get("privileged"):
        ctx.setdefault("allowPrivilegeEscalation", False)
    caps = ctx.setdefault("capabilities", {})
    if settings.get("dropAllCapabilities", True):
        caps.setdefault("drop", ["ALL"])
    elif "dropAllCapabilities" in settings:
        caps.pop("drop", None)
    if settings.get("addCapabilities"):
        caps["add"] = list(settings["addCapabilities"])
    if not caps:
        del ctx["capabilities"]
    if "readOnlyRootFilesystem" in settings:
        ctx["readOnlyRootFilesystem"] = settings["readOnlyRootFilesystem"]
    elif "readOnlyRootFilesystem" not in ctx:
        ctx["readOnlyRootFilesystem"] = True
        _mount_tmp(pod_spec, container)


def _mount_tmp(pod_spec: dict, container: dict) -> None:
    """A writable /tmp for a container whose root filesystem the defaults made read-only."""
    mounts = container.setdefault("volumeMounts", [])
    if any(m.get("mountPath") in ("/tmp", "/tmp/") for m in mounts if isinstance(m, dict)):
        return
    volumes = pod_spec.setdefault("volumes", [])
    if not any(v.get("name") == TMP_VOLUME for v in volumes if isinstance(v, dict)):
        volumes.append({"name": TMP_VOLUME, "emptyDir": {}})
    mounts.append({"name": TMP_VOLUME, "mountPath": "/tmp"})


def harden(pod_spec: dict, pod_meta: dict, settings: dict) -> None:
    """Apply the defaults to a pod template, then record the level it meets."""
    _pod_context(pod_spec, settings)
    for container in _containers(pod_spec):
        _container_context(pod_spec, container, settings)
    if "automountServiceAccountToken" in settings:
        pod_spec["automountServiceAccountToken"] = settings["automountServiceAccountToken"]
    pod_spec.setdefault("automountServiceAccountToken", False)
    pod_meta.setdefault("annotations", {})[LEVEL_ANNOTATION] = pod_level(pod_spec)


def _baseline_violations(pod_spec: dict) -> list[str]:
    found = [f"spec.{k}" for k in ("hostNetwork", "hostPID", "hostIPC") if pod_spec.get(k)]
    found += [f"spec.volumes[{v.get('name')}].hostPath" for v in pod_spec.get("volumes") or [] if "hostPath" in v]
    pod_seccomp = ((pod_spec.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
    if pod_seccomp == "Unconfined":
        found.append("spec.securityContext.seccompProfile.type")
    for c in _containers(pod_spec):
        ctx = c.get("securityContext") or {}
        where = f"container {c.get('name')!r}"
        if ctx.get("privileged"):
            found.append(f"{where} securityContext.privileged")
        if set((ctx.get("capabilities") or {}).get("add") or []) - BASELINE_CAPABILITIES:
            found.append(f"{where} securityContext.capabilities.add")
        if (ctx.get("seccompProfile") or {}).get("type") == "Unconfined":
            found.append(f"{where} securityContext.seccompProfile.type")
        if any(p.get("hostPort") for p in c.get("ports") or []):
            found.append(f"{where} ports.hostPort")
    return found


def _restricted_violations(pod_spec: dict) -> list[str]:
    pod_ctx = pod_spec.get("securityContext") or {}
    found = [
        f"spec.volumes[{v.get('name')}]"
        for v in pod_spec.get("volumes") or []
        if not set(v) - {"name"} <= RESTRICTED_VOLUMES
    ]
    if pod_ctx.get("runAsUser") == 0:
        found.append("spec.securityContext.runAsUser")
    for c in _containers(pod_spec):
        ctx = c.get("securityContext") or {}
        where = f"container {c.get('name')!r}"
        if ctx.get("allowPrivilegeEscalation") is not False:
            found.append(f"{where} securityContext.allowPrivilegeEscalation")
        if ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")) is not True:
            found.append(f"{where} securityContext.runAsNonRoot")
        if ctx.get("runAsUser") == 0:
            found.append(f"{where} securityContext.runAsUser")
        caps = ctx.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []) or set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            found.append(f"{where} securityContext.capabilities")
        seccomp = ((ctx.get("seccompProfile") or pod_ctx.get("seccompProfile")) or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            found.append(f"{where} securityContext.seccompProfile")
    return found


def pod_level(pod_spec: dict) -> str:
    """The most restrictive Pod Security Standards level the pod meets."""
    if _baseline_violations(pod_spec):
        return "privileged"
    return "baseline" if _restricted_violations(pod_spec) else "restricted"
