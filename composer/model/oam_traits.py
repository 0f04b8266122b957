"""KubeVela traits that Composer reads as component properties or as other Composer traits.

Each follows its KubeVela definition (vela-templates/definitions/internal/trait/<name>.cue),
defaults included: `command` and `container-image` set the container's command and image;
`affinity`, `topologyspreadconstraints`, `hostalias`, `init-container`, `k8s-update-strategy`,
`securitycontext`, `podsecuritycontext` and `lifecycle` become Composer's `pod` trait;
`startup-probe` the `probes` trait; `service-binding` and the env trait's `containers`,
`unset` and `replace` become env settings; `expose` and `container-ports` mark ports;
`nocalhost` is in oam_trait_dev.py, and properties read as traits (hostAliases, cron-task job
settings) in oam_props.py. A trait's own keys other than type and properties are errors.
A trait read into the properties leaves an inert `annotations: {}` trait at its index, so
the positions of the traits after it do not move. What has no counterpart is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from composer.diagnostics import FieldPath
from composer.model.oam_props import read_properties
from composer.model.oam_trait_container import (
    command,
    container_image,
    container_ports,
    env,
    expose,
    json_merge_patch,
    null_deletes,
    resource,
    service_binding,
    startup_probe,
)
from composer.model.oam_trait_dev import nocalhost
from composer.model.oam_trait_pod import (
    MAIN,
    SECURITY_KEYS,
    _affinity,
    _init_container,
    _security,
    _strategy,
    pod_trait,
)

INERT = {"type": "annotations", "properties": {}}
# Fields that look like a vela-core trait's but come from elsewhere (older docs, custom definitions
# of the same name, which KubeVela itself refuses without them): what to write instead.
FIELD_HINTS = {
    ("init-container", "command"): "vela-core's init-container takes the command as cmd: rename it",
    ("expose", "http"): "http: {NAME: PORT} is the custom expose trait of KubeVela's advanced CUE tutorial; "
    "vela-core's expose takes port: [8080] or ports: [{port: 8080}] (or publish that TraitDefinition under "
    "definitions/)",
}


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
        read_properties(self)
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
            for key in sorted(set(t) - {"type", "properties"}):
                self.c.error(
                    tpath + (key,), f"unknown field {key!r} of a trait", "a trait has type and properties", key=True
                )
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
        if "limit" in self.props and not isinstance(lim, dict):
            self.c.error(
                self.cpath + ("properties", "limit"), "expected limit: {cpu, memory}", "as webservice.cue has it"
            )
            self.props.pop("limit")
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

    def sidecar_index(self, name: str) -> int:
        """The index of the sidecar trait named `name` (the caller knows there is one)."""
        traits = self.comp.get("traits") or []
        return next(
            j
            for j, t in enumerate(traits)
            if isinstance(t, dict)
            and t.get("type") == "sidecar"
            and isinstance(t.get("properties"), dict)
            and t["properties"].get("name") == name
        )

    def for_sidecar(self, p: dict, changes: dict) -> bool:
        """A command / container-image for a sidecar of this component patches that sidecar trait."""
        name = p.get("containerName", "")
        if not isinstance(name, str) or name not in self.sidecar_names():
            return False
        self.sidecar_patches[name] = {**self.sidecar_patches.get(name, {}), **changes}
        j = self.sidecar_index(name)
        for key in sorted(set(changes) & set(self.comp["traits"][j]["properties"])):
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
        if "containers" not in p:
            return [(p, ppath)]
        for key in sorted(set(p) - {"containers"}):
            self.c.error(
                ppath + (key,), f"{key} goes inside containers: [...]", "give the containers list alone", key=True
            )
        items = p["containers"] if isinstance(p["containers"], list) else []
        if not isinstance(p["containers"], list) or not all(isinstance(x, dict) for x in items):
            self.c.error(
                ppath + ("containers",), "expected containers: [{containerName, ...}, ...]", "one entry per container"
            )
        return [(x, ppath + ("containers", i)) for i, x in enumerate(items) if isinstance(x, dict)]

    def unknown(self, p: dict, ppath: FieldPath, known: set[str], what: str) -> None:
        for key in sorted(set(p) - known):
            hint = FIELD_HINTS.get((what, key))
            self.c.error(
                ppath + (key,),
                f"unknown field {key!r} of trait {what}",
                f"{hint + '; ' if hint else ''}expected one of: {', '.join(sorted(known))}",
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
        "containerSecurityContext", _security, SECURITY_KEYS | {"containers"}, "securitycontext"
    ),
    "podsecuritycontext": pod_trait(
        "securityContext",
        lambda r, p, pp: {"runAsNonRoot": True, **p},
        {"appArmorProfile", "fsGroup", "runAsGroup", "runAsUser", "runAsNonRoot", "seccompProfile"},
        "podsecuritycontext",
    ),
    "lifecycle": pod_trait("lifecycle", lambda r, p, pp: p, {"postStart", "preStop"}, "lifecycle"),
    "resource": resource,
    "nocalhost": nocalhost,
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
