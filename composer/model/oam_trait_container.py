"""KubeVela traits about the main container (and its sidecars): command, image, ports, expose,
probes, service binding, env, resources, json-merge-patch, labels and annotations; each returns
the Composer trait it becomes (None: read into the component's properties). See oam_traits.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from composer.diagnostics import FieldPath

if TYPE_CHECKING:
    from composer.model.oam_traits import TraitRewriter

from composer.model.oam_trait_pod import MAIN


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


PORT_TYPES = ("webservice", "daemon", "statefulset")  # the types with ports (and a Service) in Composer


def has_ports(r: TraitRewriter, ppath: FieldPath, what: str) -> bool:
    """expose / container-ports / nocalhost need a type with ports; said at the trait, not at a port the user never wrote."""
    ctype = r.comp.get("type")
    if ctype in PORT_TYPES:
        return True
    r.c.error(
        ppath[:-1] + ("type",),
        f"{what} on a {ctype} is not supported",
        f"Composer's {ctype} has no ports or Service: use type webservice (a Deployment with a Service)",
    )
    return False


def container_ports(r: TraitRewriter, p: dict, ppath: FieldPath) -> None:
    if not has_ports(r, ppath, "container-ports"):
        return
    for q, qpath in r.each_container(p, ppath):
        r.unknown(q, qpath, {"containerName", "ports"}, "container-ports")
        if not r.main_only(q, qpath, "container-ports"):
            continue
        if not isinstance(r.props.get("ports") or [], list) or not isinstance(q.get("ports") or [], list):
            r.c.error(qpath + ("ports",), "expected a list of ports")
            continue
        ports = list(r.props.get("ports") or [])
        for i, x in enumerate(q.get("ports") or []):
            if isinstance(x, dict):
                r.unknown(
                    x, qpath + ("ports", i), {"containerPort", "protocol", "hostPort", "hostIP"}, "container-ports"
                )
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
    if not has_ports(r, ppath, "expose"):
        return
    if p.get("matchLabels"):
        r.c.error(
            ppath + ("matchLabels",),
            "expose matchLabels are not supported",
            "Composer's Service selects the component's pods: expose the other pods from their own component",
            key=True,
        )
    if p.get("annotations") and not isinstance(p["annotations"], dict):
        r.c.error(ppath + ("annotations",), "expected annotations as a mapping", "NAME: value, for the Service")
    elif p.get("annotations") and isinstance(r.props.get("serviceAnnotations", {}), dict):
        r.props["serviceAnnotations"] = {**r.props.get("serviceAnnotations", {}), **p["annotations"]}
        r.c.relocate(ppath + ("annotations",), r.cpath + ("properties", "serviceAnnotations"))
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


def startup_probe(r: TraitRewriter, p: dict[str, Any], ppath: FieldPath) -> dict[str, Any] | None:
    """The main container's startup probe, or a sidecar's (by containerName) on its sidecar trait;
    `probes: [...]` sets several, each naming its container, as KubeVela's definition allows."""
    if "probes" not in p:
        return _one_startup_probe(r, p, ppath, ppath)
    if set(p) != {"probes"} or not isinstance(p["probes"], list):
        r.c.error(ppath, "expected either probes: [...] alone or one probe", "as KubeVela's startup-probe takes them")
        return None
    main = None
    for i, q in enumerate(p["probes"]):
        qpath = ppath + ("probes", i)
        if not isinstance(q, dict) or not q.get("containerName"):
            r.c.error(
                qpath,
                "containerName must be set when specifying startup probe for multiple containers",
                "name the container (the component's name for the main one)",
            )
            continue
        main = _one_startup_probe(r, q, qpath, ppath) or main
    return main


def _one_startup_probe(
    r: TraitRewriter, p: dict[str, Any], qpath: FieldPath, ppath: FieldPath
) -> dict[str, Any] | None:
    probe = {k: v for k, v in p.items() if k != "containerName"}
    if r.for_sidecar(p, {"startupProbe": probe}):
        j = r.sidecar_index(p["containerName"])
        r.c.relocate(qpath, r.cpath + ("traits", j, "properties", "startupProbe"))
        return None
    if not r.main_only(p, qpath, "startup-probe"):
        return None
    r.c.relocate(qpath, ppath + ("startup",))
    return {"type": "probes", "properties": {"startup": probe}}


def service_binding(r: TraitRewriter, p: dict, ppath: FieldPath) -> dict:
    r.unknown(p, ppath, {"envMappings"}, "service-binding")
    env: dict[str, Any] = {}
    mappings = p.get("envMappings") or {}
    if not isinstance(mappings, dict):
        r.c.error(ppath + ("envMappings",), "expected a mapping of env var names to {secret, key}")
        mappings = {}
    for name, m in mappings.items():
        if not isinstance(m, dict) or not isinstance(m.get("secret"), str):
            r.c.error(
                ppath + ("envMappings", name), "expected {secret: NAME, key: KEY}", "as service-binding.cue has it"
            )
            continue
        r.unknown(m, ppath + ("envMappings", name), {"secret", "key"}, "service-binding")
        env[name] = {"valueFrom": {"secretKeyRef": {"name": m["secret"], "key": m.get("key", name)}}}
    return {"type": "env", "properties": {"env": env}}


def _env_names(own: dict | list) -> list:
    """The variable names a component's own env sets, in either of its shapes."""
    if isinstance(own, dict):
        return list(own)
    return [e.get("name") for e in own if isinstance(e, dict) and isinstance(e.get("name"), str)]


def _unset_list(q: dict) -> list:
    return q.get("unset") if isinstance(q.get("unset"), list) else []


def _replace_and_unset(r: TraitRewriter, q: dict, qpath: FieldPath, own: dict | list) -> None:
    """The main container's env after `replace: true` and `unset: [...]`, each change said."""
    names = _env_names(own)
    if q.get("replace") and names:
        r.c.warn(
            r.cpath + ("properties", "env"),
            "env is replaced by the env trait (replace: true)",
            "the trait's env is used, as in KubeVela",
        )
        names = []
    for i, key in enumerate(_unset_list(q)):
        if not isinstance(key, str) or key not in names:
            r.c.warn(qpath + ("unset", i), f"unset {key!r} removes nothing", "the component sets no such variable")
        else:
            where = key if isinstance(own, dict) else names.index(key)
            r.c.warn(
                r.cpath + ("properties", "env", where),
                f"env {key!r} is removed by the env trait (unset)",
                "as in KubeVela",
            )
    keep = set(names) - {k for k in _unset_list(q) if isinstance(k, str)}
    r.props["env"] = (
        {k: v for k, v in own.items() if k in keep}
        if isinstance(own, dict)
        else [e for e in own if not (isinstance(e, dict) and isinstance(e.get("name"), str)) or e["name"] in keep]
    )


def _warn_overridden(r: TraitRewriter, q: dict, own: dict | list) -> None:
    names = _env_names(own)
    for key in sorted(set(q["env"]) & set(names)):
        where = key if isinstance(own, dict) else names.index(key)
        r.c.warn(
            r.cpath + ("properties", "env", where),
            f"env {key!r} is replaced by the env trait",
            "the trait's value is used, as in KubeVela",
        )


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
            _replace_and_unset(r, q, qpath, own)
        if main and isinstance(own, (dict, list)) and isinstance(q.get("env"), dict):
            _warn_overridden(r, q, own)
        trait = {"type": "env", "properties": {"env": q.get("env") or {}, **({"containerName": name} if name else {})}}
        if first is None:
            first = trait
        else:
            r.add(trait, qpath)
    return first


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
    _warn_replaced(r, ("cpu", "memory"), "by the resource trait", "the trait's resources are used, as in KubeVela")
    return {"type": "resource", "properties": p}


def _warn_replaced(r: TraitRewriter, keys: tuple[str, ...], by: str, hint: str) -> None:
    """A warning at each of the component's own properties in `keys` that the trait replaces."""
    for key in keys:
        if key in r.props:
            r.c.warn(r.cpath + ("properties", key), f"{key} is replaced {by}", hint)


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
    pod: Any = p
    for key in ("spec", "template", "spec"):
        pod = pod.get(key) if isinstance(pod, dict) else None
    if isinstance(pod, dict) and "containers" in pod:
        _warn_replaced(
            r,
            CONTAINER_PROPERTIES,
            "by json-merge-patch, which replaces the container list whole",
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
