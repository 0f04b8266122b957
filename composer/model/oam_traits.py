"""KubeVela traits that Composer reads as component properties or as other Composer traits.

Each follows its KubeVela definition (vela-templates/definitions/internal/trait/<name>.cue),
defaults included: `command` and `container-image` set the container's command and image;
`affinity`, `topologyspreadconstraints`, `hostalias`, `init-container`, `k8s-update-strategy`,
`securitycontext`, `podsecuritycontext` and `lifecycle` become Composer's `pod` trait;
`startup-probe` the `probes` trait; `service-binding` and the env trait's `containers`,
`unset` and `replace` become env settings; `expose` and `container-ports` mark ports.
A trait read into the properties leaves an inert `annotations: {}` trait at its index, so
the positions of the traits after it do not move. What has no counterpart is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from composer.diagnostics import FieldPath

INERT = {"type": "annotations", "properties": {}}
MAIN = ("",)  # containerName "" means the main container in KubeVela's definitions
POD_KINDS = {"webservice": "Deployment", "worker": "Deployment", "daemon": "DaemonSet", "statefulset": "StatefulSet"}


class TraitRewriter:
    """Rewrites one component's KubeVela traits; `c` is the converter (error, warn, relocate, pin)."""

    def __init__(self, c: Any, comp: dict, cpath: FieldPath):
        self.c = c
        self.comp = comp
        self.cpath = cpath
        self.props: dict = dict(comp["properties"]) if isinstance(comp.get("properties"), dict) else {}
        self.extra: list[tuple[dict, FieldPath]] = []
        self.sidecar_patches: dict[str, dict] = {}

    def run(self) -> dict:
        if "properties" in self.comp and not isinstance(self.comp["properties"], dict):
            return self.comp  # the schema reports the shape
        self.limit()
        traits = self.comp.get("traits", [])
        if not isinstance(traits, list):
            return self.comp  # the schema reports the shape
        out = []
        for j, t in enumerate(traits):
            handler = REWRITES.get(t["type"]) if isinstance(t, dict) and isinstance(t.get("type"), str) else None
            props = t.get("properties") if isinstance(t, dict) else None
            if handler is None or not isinstance(props, dict):
                out.append(t)
                continue
            tpath = self.cpath + ("traits", j)
            out.append(handler(self, dict(props), tpath + ("properties",)) or INERT)
        out = [self.patched_sidecar(t) for t in out]
        for k, (_, origin) in enumerate(self.extra):
            self.c.pin(self.cpath + ("traits", len(out) + k), origin)
        self.scaler_under_autoscaler(traits)
        comp = {**self.comp, "traits": out + [t for t, _ in self.extra]} if out or self.extra else dict(self.comp)
        if "properties" in self.comp or self.props:
            comp["properties"] = self.props
        return comp

    def limit(self) -> None:
        """webservice `limit: {cpu, memory}`: limits apart from the requests cpu and memory set."""
        lim = self.props.get("limit")
        if not isinstance(lim, dict):
            return
        self.props = {k: v for k, v in self.props.items() if k not in ("limit", "cpu", "memory")}
        own = self.comp.get("properties") or {}
        requests = {k: own[k] for k in ("cpu", "memory") if k in own}
        limits = {**requests, **{k: v for k, v in lim.items()}}
        trait = {"type": "resources", "properties": {**({"requests": requests} if requests else {}), "limits": limits}}
        ppath = self.cpath + ("properties",)
        self.add(trait, ppath + ("limit",))

    def replaced(self, key: str, trait: str) -> None:
        """A property the component sets, replaced by a trait (as in KubeVela): said, never silent."""
        if key in (self.comp.get("properties") or {}):
            self.c.warn(
                self.cpath + ("properties", key),
                f"{key} is replaced by the {trait} trait",
                "the trait's value is used, as in KubeVela",
            )

    def patched_sidecar(self, t: Any) -> Any:
        props = t.get("properties") if isinstance(t, dict) and t.get("type") == "sidecar" else None
        name = props.get("name") if isinstance(props, dict) else None
        if isinstance(name, str) and name in self.sidecar_patches:
            return {**t, "properties": {**props, **self.sidecar_patches[name]}}
        return t

    def add(self, trait: dict, origin: FieldPath) -> None:
        self.extra.append((trait, origin))

    def sidecar_names(self) -> set[str]:
        traits = self.comp.get("traits") if isinstance(self.comp.get("traits"), list) else []
        return {
            t["properties"]["name"]
            for t in traits
            if isinstance(t, dict)
            and t.get("type") == "sidecar"
            and isinstance(t.get("properties"), dict)
            and isinstance(t["properties"].get("name"), str)
        }

    def for_sidecar(self, p: dict, changes: dict) -> bool:
        """A command / container-image for a sidecar of this component patches that sidecar trait."""
        name = p.get("containerName", "")
        if not isinstance(name, str) or name not in self.sidecar_names():
            return False
        self.sidecar_patches[name] = {**self.sidecar_patches.get(name, {}), **changes}
        for j, t in enumerate(self.comp.get("traits") or []):
            if (
                isinstance(t, dict)
                and t.get("type") == "sidecar"
                and isinstance(t.get("properties"), dict)
                and t["properties"].get("name") == name
            ):
                for key in sorted(set(changes) & set(t["properties"])):
                    self.c.warn(
                        self.cpath + ("traits", j, "properties", key),
                        f"{key} of sidecar {name!r} is replaced by a trait",
                        "the later trait's value is used, as in KubeVela",
                    )
        return True

    def main_only(self, p: dict, ppath: FieldPath, what: str) -> bool:
        name = p.get("containerName", "")
        if name not in (*MAIN, self.comp.get("name")):
            self.c.error(
                ppath + ("containerName",),
                f"{what} on container {name!r} is not supported",
                "Composer applies it to the main container (the component's own): remove containerName",
            )
            return False
        return True

    def each_container(self, p: dict, ppath: FieldPath) -> list[tuple[dict, FieldPath]]:
        """KubeVela's two shapes: the parameters, or {containers: [parameters, ...]}."""
        if "containers" in p:
            items = p["containers"] if isinstance(p["containers"], list) else []
            return [(x, ppath + ("containers", i)) for i, x in enumerate(items) if isinstance(x, dict)]
        return [(p, ppath)]

    def unknown(self, p: dict, ppath: FieldPath, known: set[str], what: str) -> None:
        for key in sorted(set(p) - known):
            self.c.error(
                ppath + (key,),
                f"unknown field {key!r} of trait {what}",
                f"expected one of: {', '.join(sorted(known))}",
                key=True,
            )

    def scaler_under_autoscaler(self, traits: list) -> None:
        types = [t.get("type") if isinstance(t, dict) and isinstance(t.get("type"), str) else None for t in traits]
        if "scaler" in types and ({"cpuscaler", "hpa"} & set(types)):
            j = types.index("scaler")
            self.c.warn(
                self.cpath + ("traits", j),
                "scaler replicas are not used: the autoscaler owns the replica count",
                "remove the scaler trait, or set the autoscaler's min instead",
            )


def command(r: TraitRewriter, p: dict, ppath: FieldPath) -> None:
    for q, qpath in r.each_container(p, ppath):
        r.unknown(q, qpath, {"containerName", "command", "args", "addArgs", "delArgs"}, "command")
        side = {k2: q[k] for k, k2 in (("command", "cmd"), ("args", "args")) if q.get(k) is not None}
        if not (q.get("addArgs") or q.get("delArgs")) and r.for_sidecar(q, side):
            continue
        if not r.main_only(q, qpath, "command"):
            continue
        if q.get("command") is not None:
            r.replaced("cmd", "command")
            r.props["cmd"] = q["command"]
            r.c.relocate(qpath + ("command",), r.cpath + ("properties", "cmd"))
        if q.get("args") is not None:
            r.replaced("args", "command")
        lists = {k: q.get(k) for k in ("args", "addArgs", "delArgs") if q.get(k) is not None}
        bad = [k for k, v in lists.items() if not isinstance(v, list)]
        if bad or not isinstance(r.props.get("args") or [], list):
            for k in bad:
                r.c.error(qpath + (k,), f"expected a list of arguments for {k}")
            continue
        args = list(q["args"]) if q.get("args") is not None else list(r.props.get("args") or [])
        args += list(q.get("addArgs") or [])
        for i, gone in enumerate(q.get("delArgs") or []):
            if gone not in args:
                r.c.warn(qpath + ("delArgs", i), f"delArgs {gone!r} removes nothing", "no such argument is set")
        args = [a for a in args if a not in (q.get("delArgs") or [])]
        if q.get("args") is not None or q.get("addArgs") or q.get("delArgs"):
            r.props["args"] = args
            r.c.pin(r.cpath + ("properties", "args"), qpath)


def container_image(r: TraitRewriter, p: dict, ppath: FieldPath) -> None:
    for q, qpath in r.each_container(p, ppath):
        r.unknown(q, qpath, {"containerName", "image", "imagePullPolicy"}, "container-image")
        if "image" in q and r.for_sidecar(q, {"image": q["image"]}):
            if q.get("imagePullPolicy"):
                r.c.error(
                    qpath + ("imagePullPolicy",),
                    "imagePullPolicy of a sidecar is not supported",
                    "Kubernetes' default applies (IfNotPresent, Always for :latest)",
                )
            continue
        if r.main_only(q, qpath, "container-image") and "image" in q:
            r.replaced("image", "container-image")
            r.props["image"] = q["image"]
            r.c.relocate(qpath + ("image",), r.cpath + ("properties", "image"))
            if q.get("imagePullPolicy"):
                r.props["imagePullPolicy"] = q["imagePullPolicy"]


def container_ports(r: TraitRewriter, p: dict, ppath: FieldPath) -> None:
    for q, qpath in r.each_container(p, ppath):
        r.unknown(q, qpath, {"containerName", "ports"}, "container-ports")
        if not r.main_only(q, qpath, "container-ports"):
            continue
        if not isinstance(r.props.get("ports") or [], list) or not isinstance(q.get("ports") or [], list):
            r.c.error(qpath + ("ports",), "expected a list of ports")
            continue
        ports = list(r.props.get("ports") or [])
        for i, x in enumerate(q.get("ports") or []):
            for key in ("hostPort", "hostIP"):
                if isinstance(x, dict) and key in x:
                    r.c.error(
                        qpath + ("ports", i, key),
                        f"{key} is not supported",
                        "reach the pod through its Service instead",
                        key=True,
                    )
            if (
                isinstance(x, dict)
                and isinstance(x.get("containerPort"), int)
                and not any(y.get("port") == x["containerPort"] for y in ports if isinstance(y, dict))
            ):
                ports.append({"port": x["containerPort"], "protocol": x.get("protocol", "TCP"), "expose": False})
        r.props["ports"] = ports


def expose(r: TraitRewriter, p: dict, ppath: FieldPath) -> None:
    """The component's Service, made from the exposed ports (KubeVela names it after the component too)."""
    r.unknown(p, ppath, {"port", "ports", "annotations", "matchLabels", "type"}, "expose")
    for key in ("annotations", "matchLabels"):
        if p.get(key):
            r.c.error(
                ppath + (key,),
                f"expose {key} are not supported",
                "Composer's Service selects the component's pods and carries its labels",
                key=True,
            )
    if p.get("type") == "ExternalName":
        r.c.error(
            ppath + ("type",),
            "an ExternalName Service is not supported",
            "expected ClusterIP, NodePort or LoadBalancer",
        )
    for key in ("port", "ports"):
        if not isinstance(p.get(key) or [], list):
            r.c.error(ppath + (key,), f"expected a list for {key}")
            return
    if not isinstance(r.props.get("ports") or [], list):
        return  # the schema reports the component's ports
    wanted = [{"port": x} for x in p.get("port") or []] + [dict(x) for x in p.get("ports") or [] if isinstance(x, dict)]
    ports = [dict(x) if isinstance(x, dict) else x for x in r.props.get("ports") or []]
    for i, w in enumerate(wanted):
        if "nodePort" in w:
            r.c.error(
                ppath + ("ports", i - len(p.get("port") or []), "nodePort"),
                "nodePort is not supported",
                "Kubernetes picks the node port of a NodePort Service",
                key=True,
            )
            w.pop("nodePort")
        same = [x for x in ports if isinstance(x, dict) and x.get("port") == w.get("port")]
        if same:
            same[0].update({**w, "expose": True})
        else:
            ports.append({**w, "expose": True})
    r.props["ports"] = ports
    if p.get("type") in ("NodePort", "LoadBalancer", "ClusterIP"):
        r.props["exposeType"] = p["type"]


def startup_probe(r: TraitRewriter, p: dict, ppath: FieldPath) -> dict | None:
    if not r.main_only(p, ppath, "startup-probe"):
        return None
    r.c.relocate(ppath, ppath[:-1] + ("properties", "startup"))
    return {"type": "probes", "properties": {"startup": {k: v for k, v in p.items() if k != "containerName"}}}


def service_binding(r: TraitRewriter, p: dict, ppath: FieldPath) -> dict:
    r.unknown(p, ppath, {"envMappings"}, "service-binding")
    env: dict[str, Any] = {}
    mappings = p.get("envMappings") or {}
    if not isinstance(mappings, dict):
        r.c.error(ppath + ("envMappings",), "expected a mapping of env var names to {secret, key}")
        mappings = {}
    for name, m in mappings.items():
        if not isinstance(m, dict) or not isinstance(m.get("secret"), str):
            r.c.error(ppath + ("envMappings", name), "expected {secret: NAME, key: KEY}")
            continue
        env[name] = {"valueFrom": {"secretKeyRef": {"name": m["secret"], "key": m.get("key", name)}}}
    return {"type": "env", "properties": {"env": env}}


def env(r: TraitRewriter, p: dict, ppath: FieldPath) -> dict | None:
    """KubeVela's env trait: env, containerName, replace, unset, or several of them under containers."""
    first: dict | None = None
    for q, qpath in r.each_container(p, ppath):
        r.unknown(q, qpath, {"containerName", "env", "replace", "unset"}, "env")
        name = q.get("containerName") or ""
        main = name in (*MAIN, r.comp.get("name"))
        if (q.get("replace") or q.get("unset")) and not main:
            r.c.error(
                qpath,
                "replace and unset apply to the main container only",
                "remove them, or set the sidecar's env in the sidecar trait",
            )
        own = r.props.get("env")
        if main and isinstance(own, (dict, list)):
            names = (
                list(own)
                if isinstance(own, dict)
                else [e.get("name") for e in own if isinstance(e, dict) and isinstance(e.get("name"), str)]
            )
            if q.get("replace") and names:
                r.c.warn(
                    r.cpath + ("properties", "env"),
                    "env is replaced by the env trait (replace: true)",
                    "the trait's env is used, as in KubeVela",
                )
                names = []
            for i, key in enumerate(q.get("unset") if isinstance(q.get("unset"), list) else []):
                if not isinstance(key, str) or key not in names:
                    r.c.warn(
                        qpath + ("unset", i), f"unset {key!r} removes nothing", "the component sets no such variable"
                    )
                else:
                    where = key if isinstance(own, dict) else names.index(key)
                    r.c.warn(
                        r.cpath + ("properties", "env", where),
                        f"env {key!r} is removed by the env trait (unset)",
                        "as in KubeVela",
                    )
            keep = set(names) - {
                k for k in (q.get("unset") if isinstance(q.get("unset"), list) else []) if isinstance(k, str)
            }
            r.props["env"] = (
                {k: v for k, v in own.items() if k in keep}
                if isinstance(own, dict)
                else [
                    e for e in own if not (isinstance(e, dict) and isinstance(e.get("name"), str)) or e["name"] in keep
                ]
            )
        if main and isinstance(own, (dict, list)) and isinstance(q.get("env"), dict):
            names = (
                list(own)
                if isinstance(own, dict)
                else [e.get("name") for e in own if isinstance(e, dict) and isinstance(e.get("name"), str)]
            )
            for key in sorted(set(q["env"]) & set(names)):
                where = key if isinstance(own, dict) else names.index(key)
                r.c.warn(
                    r.cpath + ("properties", "env", where),
                    f"env {key!r} is replaced by the env trait",
                    "the trait's value is used, as in KubeVela",
                )
        trait = {"type": "env", "properties": {"env": q.get("env") or {}, **({"containerName": name} if name else {})}}
        if first is None:
            first = trait
        else:
            r.add(trait, qpath)
    return first


def pod_trait(key: str, translate: Callable[[TraitRewriter, dict, FieldPath], Any], known: set[str], what: str):
    def handler(r: TraitRewriter, p: dict, ppath: FieldPath) -> dict:
        r.unknown(p, ppath, known, what)
        value = translate(r, p, ppath)
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
    s = p.get("strategy") if isinstance(p.get("strategy"), dict) else {}
    out: dict[str, Any] = {"type": s.get("type", "RollingUpdate")}
    roll = s.get("rollingStrategy")
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


def _security(r: TraitRewriter, p: dict, ppath: FieldPath) -> dict:
    if not r.main_only(p, ppath, "securitycontext"):
        return {}
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


def resource(r: TraitRewriter, p: dict, ppath: FieldPath) -> dict:
    """KubeVela's resource trait: cpu/memory count only without requests/limits; it replaces the component's."""
    if "requests" in p or "limits" in p:
        for key in ("cpu", "memory"):
            if key in p:
                r.c.warn(
                    ppath + (key,),
                    f"{key} is not used next to requests or limits",
                    "as in KubeVela's resource trait: set it under requests / limits",
                )
    for key in ("cpu", "memory"):
        if key in r.props:
            r.c.warn(
                r.cpath + ("properties", key),
                f"{key} is replaced by the resource trait",
                "the trait's resources are used, as in KubeVela",
            )
    return {"type": "resource", "properties": p}


CONTAINER_PROPERTIES = (
    "image",
    "imagePullPolicy",
    "cmd",
    "args",
    "env",
    "ports",
    "port",
    "cpu",
    "memory",
    "livenessProbe",
    "readinessProbe",
    "volumeMounts",
    "volumes",
)


def json_merge_patch(r: TraitRewriter, p: dict, ppath: FieldPath) -> dict:
    """RFC 7386 replaces lists whole: a patch of the containers replaces the component's own container."""
    containers = (
        ((p.get("spec") or {}).get("template") or {}).get("spec", {}) if isinstance(p.get("spec"), dict) else {}
    )
    if isinstance(containers, dict) and "containers" in containers:
        for key in CONTAINER_PROPERTIES:
            if key in r.props:
                r.c.warn(
                    r.cpath + ("properties", key),
                    f"{key} is replaced: json-merge-patch replaces the container list whole",
                    "RFC 7386 does not merge lists; use json-patch to change one container",
                )
    return {"type": "json-merge-patch", "properties": p}


def null_deletes(kind: str):
    """labels / annotations traits: a null value deletes the key (set by the component's properties)."""

    def handler(r: TraitRewriter, p: dict, ppath: FieldPath) -> dict:
        own_values = r.props.get(kind) if isinstance(r.props.get(kind), dict) else {}
        for key in sorted(set(own_values) & set(p)):
            what = "deleted" if p[key] is None else "replaced"
            r.c.warn(
                r.cpath + ("properties", kind, key),
                f"{kind} {key!r} is {what} by the {kind} trait",
                "the trait applies after the properties, as in KubeVela",
            )
        for key in [k for k, v in p.items() if v is None]:
            if key.startswith(("app.kubernetes.io/", "composer.dev/")):
                r.c.error(
                    ppath + (key,),
                    f"label {key!r} is Composer's own and cannot be deleted",
                    "Composer's selectors and state rely on it",
                    key=True,
                )
            own = r.props.get(kind)
            if isinstance(own, dict) and key in own:
                r.props[kind] = {k: v for k, v in own.items() if k != key}
        return {"type": kind, "properties": {k: v for k, v in p.items() if v is not None}}

    return handler


REWRITES: dict[str, Callable[[TraitRewriter, dict, FieldPath], dict | None]] = {
    "command": command,
    "container-image": container_image,
    "container-ports": container_ports,
    "expose": expose,
    "startup-probe": startup_probe,
    "service-binding": service_binding,
    "env": env,
    "affinity": pod_trait("", _affinity, {"podAffinity", "podAntiAffinity", "nodeAffinity", "tolerations"}, "affinity"),
    "topologyspreadconstraints": pod_trait(
        "topologySpreadConstraints",
        lambda r, p, pp: p.get("constraints", []),
        {"constraints"},
        "topologyspreadconstraints",
    ),
    "hostalias": pod_trait("hostAliases", lambda r, p, pp: p.get("hostAliases", []), {"hostAliases"}, "hostalias"),
    "k8s-update-strategy": pod_trait(
        "strategy", _strategy, {"targetAPIVersion", "targetKind", "strategy"}, "k8s-update-strategy"
    ),
    "securitycontext": pod_trait(
        "containerSecurityContext",
        _security,
        {
            "containerName",
            "addCapabilities",
            "dropCapabilities",
            "allowPrivilegeEscalation",
            "privileged",
            "readOnlyRootFilesystem",
            "runAsNonRoot",
            "runAsUser",
            "runAsGroup",
        },
        "securitycontext",
    ),
    "podsecuritycontext": pod_trait(
        "securityContext",
        lambda r, p, pp: {"runAsNonRoot": True, **p},
        {"appArmorProfile", "fsGroup", "runAsGroup", "runAsUser", "runAsNonRoot", "seccompProfile"},
        "podsecuritycontext",
    ),
    "lifecycle": pod_trait("lifecycle", lambda r, p, pp: p, {"postStart", "preStop"}, "lifecycle"),
    "resource": resource,
    "json-merge-patch": json_merge_patch,
    "labels": null_deletes("labels"),
    "annotations": null_deletes("annotations"),
    "init-container": pod_trait(
        "initContainers",
        _init_container,
        {
            "name",
            "image",
            "imagePullPolicy",
            "cmd",
            "args",
            "env",
            "mountName",
            "appMountPath",
            "initMountPath",
            "extraVolumeMounts",
        },
        "init-container",
    ),
}


# Composer traits several KubeVela traits may map to: merged in order, so each type appears once.
MERGEABLE = ("pod", "env", "labels", "annotations", "volume", "probes", "resources")


def merge_props(base: Any, more: Any) -> Any:
    """Maps merge key by key, lists add up, anything else: the later wins."""
    if isinstance(base, dict) and isinstance(more, dict):
        return {**base, **{k: merge_props(base[k], v) if k in base else v for k, v in more.items()}}
    if isinstance(base, list) and isinstance(more, list):
        return base + more
    return more


def merge_traits(traits: list, main: str) -> tuple[list, dict[int, int]]:
    """Same-type traits merged into the first (env for a sidecar into that sidecar); old index -> new."""
    sidecars = {
        t["properties"]["name"]: j
        for j, t in enumerate(traits)
        if isinstance(t, dict)
        and t.get("type") == "sidecar"
        and isinstance(t.get("properties"), dict)
        and isinstance(t["properties"].get("name"), str)
    }
    out: list = []
    mapping: dict[int, int] = {}
    first: dict[str, int] = {}
    pending: dict[int, dict] = {}  # sidecar old index -> env merged into it
    for j, t in enumerate(traits):
        props = t.get("properties") if isinstance(t, dict) else None
        ttype = t.get("type") if isinstance(t, dict) else None
        if (
            ttype == "env"
            and isinstance(props, dict)
            and isinstance(props.get("containerName"), str)
            and props["containerName"] in sidecars
            and isinstance(props.get("env"), dict)
        ):
            pending[sidecars[props["containerName"]]] = merge_props(
                pending.get(sidecars[props["containerName"]], {}), props["env"]
            )
            mapping[j] = -1 - sidecars[props["containerName"]]  # resolved below
            continue
        if ttype == "env" and isinstance(props, dict) and props.get("containerName") == main:
            props = {k: v for k, v in props.items() if k != "containerName"}
            t = {**t, "properties": props}
        if ttype in MERGEABLE and isinstance(props, dict) and not (ttype == "env" and props.get("containerName")):
            if ttype in first:
                k = first[ttype]
                out[k] = {**out[k], "properties": merge_props(out[k]["properties"], props)}
                mapping[j] = k
                continue
            first[ttype] = len(out)
        mapping[j] = len(out)
        out.append(t)
    for old, env in pending.items():
        k = mapping[old]
        side = out[k]["properties"]
        out[k] = {**out[k], "properties": {**side, "env": merge_props(side.get("env") or {}, env)}}
    return out, {j: (mapping[-1 - k] if k < 0 else k) for j, k in mapping.items()}
