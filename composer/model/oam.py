"""Import of KubeVela-style OAM Applications (core.oam.dev/v1beta1): components and traits.

The built-in workload types already take KubeVela's property shapes, so most of an
OAM file passes through. What differs is translated here: env lists, the older
`volumes` list, port exposure defaults, and the traits whose shapes differ (gateway,
cpuscaler, hpa, scaler); storage is in oam_storage.py, traits Composer reads as
properties or other traits in oam_traits.py, the helmchart and k8s-objects types in
oam_objects.py (helmchart: oam_helm.py), metadata / policies / workflow in oam_app.py. The source map is carried along, so diagnostics still point at the
original lines and name the field paths the user wrote. What Composer does not
support is an error that says so, and what it reads differently a warning; nothing
is dropped silently. The full mapping is in docs/oam.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from composer.diagnostics import Diagnostic, DiagnosticError, FieldPath, Severity
from composer.model.base import API_VERSION
from composer.model.oam_sourcemap import GATEWAY_WORDS, TRAIT_NAMES, OamSourceMap, _move
from composer.model.oam_storage import (
    DEFAULT_FILE_MODE,
    STORAGE_KEYS,
    VOLUME_MOUNT_HINTS,
    StorageTranslation,
    pod_metrics,
)
from composer.model.oam_storage import kind_of as _kind
from composer.model.source import SourceDocument, SourceMap

if TYPE_CHECKING:
    from composer.model.oam_refs import Companions

UNSUPPORTED_COMPONENT = {
    "inputs": "component inputs/outputs (data passing) are not supported: use connections or ${component.key} references",
    "outputs": "component inputs/outputs (data passing) are not supported: use connections or ${component.key} references",
    "externalRevision": "externalRevision is not supported: Composer keeps its own revision history",
    "scopes": "OAM scopes are not supported: Composer groups nothing beyond the application",
}

# KubeVela built-ins that Composer has no counterpart for; the hint joins the "unknown type/trait" error.
KUBEVELA_ONLY_TYPES = {
    "helm": "Composer has no built-in helm type: render the chart (helm template) into a k8s-objects component, "
    "or publish a ComponentDefinition under definitions/",
    "raw": "KubeVela's raw is one object: use type k8s-objects with properties.objects: [<the object>]",
}
KUBEVELA_ONLY_TRAITS: dict[str, str] = {}

# KubeVela's container workload types, whose properties are translated. Other types (k8s-objects,
# platform definitions) take their properties as they are.
WORKLOAD_TYPES = ("webservice", "worker", "task", "cron-task", "daemon", "statefulset")

# KubeVela component properties Composer has no counterpart for (anything else unknown is a schema error).
KUBEVELA_ONLY_PROPERTIES = {
    "hostAliases": "KubeVela has no hostAliases property on this type: use the hostalias trait",
    "addRevisionLabel": "a revision label is not supported: pods carry Composer's composer.dev/* labels",
    "ttlSecondsAfterFinished": "KubeVela has it on cron-task only: use a json-patch trait on this type's object",
    "activeDeadlineSeconds": "KubeVela has it on cron-task only: use a json-patch trait on this type's object",
}


class _Converter(StorageTranslation):
    def __init__(self, src: SourceMap, dst: OamSourceMap):
        self.src = src
        self.dst = dst
        self.errors: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []
        self.storage_env: dict[str, Any] = {}  # env vars from storage mountToEnv(s), per component
        self.app_name = ""  # metadata.name, for traits that write it (nocalhost)
        self.read_from: tuple[Companions | None, Any] = (None, None)  # the files beside, the app (oam_ref_objects.py)

    def error(self, path: FieldPath, summary: str, detail: str = "", *, key: bool = False) -> None:
        """`path` as converted so far; the diagnostic names the path the user wrote."""
        self.errors.append(self.dst.diagnostic(path, summary, detail, key=key))

    def warn(self, path: FieldPath, summary: str, detail: str = "") -> None:
        """A field Composer reads with a different effect than KubeVela: said, never silent."""
        self.warnings.append(self.dst.diagnostic(path, summary, detail, key=True, severity=Severity.WARNING))

    def carry(self, old: FieldPath, new: FieldPath, value: Any) -> None:
        """A patch merged from `old` into `new` (an override policy): its keys keep their positions."""
        _move(self.src, self.dst, old, new)
        if isinstance(value, dict):
            for k in value:
                self.dst.origins[new + (k,)] = old + (k,)

    def relocate(self, old: FieldPath, new: FieldPath) -> None:
        """The value at `old` now lives at `new`: carry its positions, remember where it came from."""
        _move(self.src, self.dst, old, new)
        self.dst.origins[new] = old

    def pin(self, new: FieldPath, old: FieldPath) -> None:
        """A new value built from `old` (e.g. an env entry): its position and origin are old's."""
        pos = self.src.locate(old)
        if pos is not None:
            self.dst.values[new] = pos
        self.dst.origins[new] = old

    def rename(self, props: dict, ppath: FieldPath, renames: dict[str, str]) -> None:
        for old, new in renames.items():
            if old not in props:
                continue
            if new in props:
                self.error(
                    ppath + (old,), f"{old!r} and {new!r} are the same setting here", "give one of them", key=True
                )
                continue
            props[new] = props.pop(old)
            self.relocate(ppath + (old,), ppath + (new,))

    # -- components ------------------------------------------------------------------

    def component(self, comp: Any, cpath: FieldPath) -> Any:
        if not isinstance(comp, dict):
            return comp
        comp = dict(comp)
        for key, why in UNSUPPORTED_COMPONENT.items():
            if key in comp:
                self.error(cpath + (key,), f"unsupported OAM field {key!r}", why, key=True)
        ctype = comp.get("type")
        if ctype in ("helmchart", "k8s-objects", "ref-objects"):
            from composer.model.oam_objects import object_component

            comp = object_component(self, comp, cpath)
        if ctype in WORKLOAD_TYPES:
            from composer.model.oam_traits import TraitRewriter

            comp = TraitRewriter(self, comp, cpath).run()
        if isinstance(ctype, str) and ctype in KUBEVELA_ONLY_TYPES:
            self.dst.notes[cpath + ("type",)] = KUBEVELA_ONLY_TYPES[ctype]
        traits = comp.get("traits")
        props = comp.get("properties")
        if isinstance(props, dict) and ctype in WORKLOAD_TYPES:
            comp["properties"] = self.properties(props, cpath + ("properties",), _gateway_ports(traits))
        if isinstance(traits, list):
            self.storage_env = {}
            comp["traits"] = [self.trait(t, cpath + ("traits", j)) for j, t in enumerate(traits)]
            if self.storage_env:
                self.pin(cpath + ("traits", len(comp["traits"])), cpath + ("traits",))
                comp["traits"].append({"type": "env", "properties": {"env": self.storage_env}})
            from composer.model.oam_trait_merge import merge_traits

            comp["traits"], moved = merge_traits(comp["traits"], comp.get("name"))
            self.renumber(cpath + ("traits",), moved)
        return comp

    def renumber(self, prefix: FieldPath, moved: dict[int, int]) -> None:
        """Traits merged or shifted: carry their positions (the first one's win) and origins along."""
        n = len(prefix)
        for table in (self.dst.values, self.dst.keys, self.dst.origins, self.dst.notes, self.dst.vocab):
            under = {p: v for p, v in table.items() if p[:n] == prefix and len(p) > n and isinstance(p[n], int)}
            for p in under:
                del table[p]
            for p in sorted(under, key=lambda p: (p[n], len(p))):
                new = prefix + (moved.get(p[n], p[n]),) + p[n + 1 :]
                table.setdefault(new, under[p])

    def properties(self, props: dict, ppath: FieldPath, routed: set[int]) -> dict:
        props = dict(props)
        if props.get("addRevisionLabel") is False:
            del props["addRevisionLabel"]  # KubeVela's default: no effect
        for key, why in KUBEVELA_ONLY_PROPERTIES.items():
            if key in props:
                self.error(ppath + (key,), f"KubeVela property {key!r} is not supported", why, key=True)
        if "env" in props:
            props["env"] = self.env_list(props["env"], ppath + ("env",))
        if "volumes" in props:
            if "volumeMounts" in props:
                self.error(
                    ppath + ("volumes",),
                    "give volumeMounts or the older volumes list, not both",
                    "KubeVela ignores volumes next to volumeMounts: move the entries into volumeMounts",
                    key=True,
                )
            else:
                props["volumeMounts"] = self.legacy_volumes(props.pop("volumes"), ppath)
        if isinstance(props.get("volumeMounts"), dict):
            props["volumeMounts"] = self.volume_mounts(props["volumeMounts"], ppath + ("volumeMounts",))
        ports = props.get("ports")
        if isinstance(ports, list):
            for i, p in enumerate(ports):
                if isinstance(p, dict) and "nodePort" in p:
                    self.error(
                        ppath + ("ports", i, "nodePort"),
                        "nodePort is not supported",
                        "Kubernetes picks the node port of a NodePort Service",
                        key=True,
                    )
            # KubeVela exposes a port on the Service only with expose: true, or when a gateway routes to it.
            props["ports"] = [
                {**p, "expose": isinstance(p.get("port"), int) and p["port"] in routed}
                if isinstance(p, dict) and "expose" not in p
                else p
                for p in ports
            ]
        return props

    def env_list(self, env: Any, path: FieldPath) -> Any:
        """KubeVela's [{name, value | valueFrom}] -> Composer's {NAME: value | {valueFrom}}."""
        if not isinstance(env, list):
            return env
        out: dict[str, Any] = {}
        first: dict[str, int] = {}
        for i, item in enumerate(env):
            ipath = path + (i,)
            if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
                self.error(
                    ipath, "an env entry needs a name", "expected {name: X, value: Y} or {name: X, valueFrom: {...}}"
                )
                continue
            extra = sorted(set(item) - {"name", "value", "valueFrom"})
            if extra:
                self.error(
                    ipath + (extra[0],),
                    f"unknown field {extra[0]!r} in env entry",
                    "expected name, value or valueFrom",
                    key=True,
                )
                continue
            name = item["name"]
            if name in first:
                self.error(ipath + ("name",), f"env var {name!r} is given twice", f"first given at env[{first[name]}]")
                continue
            if "value" in item and "valueFrom" in item:
                self.error(ipath, f"env entry {name!r} has both value and valueFrom", "give one of them")
                continue
            first[name] = i
            npath = path + (name,)
            if "valueFrom" in item:
                out[name] = {"valueFrom": item["valueFrom"]}
                self.pin(npath, ipath)
                self.relocate(ipath + ("valueFrom",), npath + ("valueFrom",))
            else:
                value = item.get("value", "")
                if isinstance(value, bool):
                    value = "true" if value else "false"
                elif isinstance(value, (int, float)):
                    value = str(value)
                elif not isinstance(value, str):
                    self.error(ipath + ("value",), f"the value of env var {name!r} must be text, got {_kind(value)}")
                    continue
                out[name] = value
                self.pin(npath, ipath + ("value",) if "value" in item else ipath)
            pos = self.src.locate(ipath + ("name",))
            if pos is not None:
                self.dst.keys[npath] = pos
        return out

    def volume_mounts(self, mounts: dict, mpath: FieldPath) -> dict:
        """KubeVela's volumeMounts are Composer's, less what Composer lacks; defaultMode 420 is the default."""
        out = dict(mounts)
        for kind, items in mounts.items():
            if kind in VOLUME_MOUNT_HINTS:
                self.error(mpath + (kind,), f"{kind} volumes are not supported", VOLUME_MOUNT_HINTS[kind], key=True)
                continue
            if not isinstance(items, list):
                continue
            out[kind] = []
            for i, v in enumerate(items):
                if isinstance(v, dict):
                    v = dict(v)
                    for key in sorted(set(v) & set(VOLUME_MOUNT_HINTS)):
                        self.error(
                            mpath + (kind, i, key),
                            f"volumeMounts field {key!r} is not supported",
                            VOLUME_MOUNT_HINTS[key],
                            key=True,
                        )
                    if v.get("defaultMode") == DEFAULT_FILE_MODE:
                        del v["defaultMode"]
                out[kind].append(v)
        return out

    def legacy_volumes(self, vols: Any, ppath: FieldPath) -> Any:
        """KubeVela's older [{name, mountPath, type, ...}] list -> volumeMounts grouped by type."""
        vpath = ppath + ("volumes",)
        base = ppath + ("volumeMounts",)
        self.pin(base, vpath)
        if not isinstance(vols, list):
            self.error(vpath, f"expected a list of volumes, got {_kind(vols)}")
            return {}
        groups: dict[str, list] = {}
        for i, v in enumerate(vols):
            if not isinstance(v, dict):
                self.error(vpath + (i,), f"expected a volume {{name, mountPath, type}}, got {_kind(v)}")
                continue
            v = dict(v)
            vtype = v.pop("type", "emptyDir")
            if not isinstance(vtype, str) or vtype not in STORAGE_KEYS:
                self.error(
                    vpath + (i, "type"), f"unknown volume type {vtype!r}", "expected pvc, configMap, secret or emptyDir"
                )
                continue
            if v.get("defaultMode") == DEFAULT_FILE_MODE:
                del v["defaultMode"]
            j = len(groups.setdefault(vtype, []))
            groups[vtype].append(v)
            self.relocate(vpath + (i,), base + (vtype, j))
        return groups

    # -- traits ----------------------------------------------------------------------

    def trait(self, trait: Any, tpath: FieldPath) -> Any:
        if not isinstance(trait, dict):
            return trait
        ttype = trait.get("type")
        props = trait.get("properties", {})
        if isinstance(ttype, str) and ttype in KUBEVELA_ONLY_TRAITS:
            self.dst.notes[tpath + ("type",)] = KUBEVELA_ONLY_TRAITS[ttype]
        # KubeVela's older ingress trait has the gateway shape (domain, http).
        vela_ingress = ttype == "ingress" and isinstance(props, dict) and ("http" in props or "domain" in props)
        new_type = TRAIT_NAMES.get(ttype, ttype) if isinstance(ttype, str) else ttype
        if new_type != ttype:
            self.dst.notes[tpath] = f"OAM trait {ttype!r} is read as Composer's {new_type!r}, see docs/oam.md"
            if new_type == "ingress":
                self.dst.vocab[tpath] = GATEWAY_WORDS
        elif vela_ingress:
            self.dst.notes[tpath] = "KubeVela's ingress trait (domain, http) is read like gateway, see docs/oam.md"
        if not isinstance(props, dict):
            return {**trait, "type": new_type}
        props = dict(props)
        ppath = tpath + ("properties",)
        if ttype in ("gateway", "pure-ingress") or vela_ingress:
            props = self.gateway(props, ppath)
        elif ttype == "cpuscaler":
            self.rename(props, ppath, {"cpuPercent": "cpuUtil"})  # the name KubeVela's own docs example uses
            self.scale_target(props, ppath)
        elif ttype == "hpa":
            self.hpa(props, ppath)
        elif ttype == "storage":
            props = self.storage(props, ppath)
        elif ttype == "scaler":
            props.setdefault("replicas", 1)  # KubeVela's default
        elif ttype in ("env", "sidecar") and "env" in props:
            props["env"] = self.env_list(props["env"], ppath + ("env",))
        elif ttype in ("labels", "annotations") and "properties" not in trait:
            props = {}
        return {**trait, "type": new_type, "properties": props}

    def gateway(self, props: dict, ppath: FieldPath) -> dict:
        if "domain" not in props and "host" not in props:
            self.error(
                ppath,
                "a gateway without a domain is not supported",
                "Composer's ingress routes one host: set properties.domain",
            )
        self.rename(props, ppath, {"domain": "host", "http": "paths", "secretName": "tlsSecretName"})
        # KubeVela puts the class (default nginx) in the kubernetes.io/ingress.class annotation,
        # or in spec.ingressClassName with classInSpec: true. Composer does the same.
        in_spec = props.pop("classInSpec", False)
        if not isinstance(in_spec, bool):
            self.error(ppath + ("classInSpec",), f"classInSpec must be true or false, got {_kind(in_spec)}")
        added: dict[str, Any] = {}
        cls = props.pop("class", "nginx")
        if in_spec is True:
            if "className" not in props:
                props["className"] = cls
                self.relocate(ppath + ("class",), ppath + ("className",))
        elif "className" not in props:
            added["kubernetes.io/ingress.class"] = cls
            self.relocate(ppath + ("class",), ppath + ("annotations", "kubernetes.io/ingress.class"))
        if "gatewayHost" in props:
            added["ingress.controller/host"] = props.pop("gatewayHost")
            self.relocate(ppath + ("gatewayHost",), ppath + ("annotations", "ingress.controller/host"))
        if added:
            own = props.get("annotations", {})
            props["annotations"] = {**added, **own} if isinstance(own, dict) else own
        return props

    def scale_target(self, props: dict, ppath: FieldPath) -> None:
        for key, default in (("targetAPIVersion", "apps/v1"), ("targetKind", "Deployment")):
            if key in props and props.pop(key) != default:
                self.error(
                    ppath + (key,),
                    f"{key} other than {default!r} is not supported",
                    "Composer's autoscaler scales the component's own Deployment",
                )

    def hpa(self, props: dict, ppath: FieldPath) -> None:
        """KubeVela's hpa: cpu/mem {type, value} -> cpuUtil/memUtil."""
        self.scale_target(props, ppath)
        for old, new in (("cpu", "cpuUtil"), ("mem", "memUtil")):
            if old not in props:
                continue
            spec = props.pop(old)
            mpath = ppath + (old,)
            if not isinstance(spec, dict):
                self.error(mpath, f"expected {{type: Utilization, value: N}}, got {_kind(spec)}")
                continue
            for extra in sorted(set(spec) - {"type", "value"}):
                self.error(mpath + (extra,), f"unknown field {extra!r}", "expected type and value", key=True)
            mtype = spec.get("type", "Utilization")
            if mtype not in ("Utilization", "AverageValue"):
                self.error(
                    mpath + ("type",), f"{old}.type {mtype!r} is not supported", "expected Utilization or AverageValue"
                )
            target = new if mtype == "Utilization" else f"{old if old == 'cpu' else 'mem'}AverageValue"
            props[target] = spec.get("value", 50)
            self.relocate(mpath + ("value",) if "value" in spec else mpath, ppath + (target,))
        if "podCustomMetrics" in props:
            metrics = props.pop("podCustomMetrics")
            props["podMetrics"] = pod_metrics(self, metrics, ppath + ("podCustomMetrics",))
            self.relocate(ppath + ("podCustomMetrics",), ppath + ("podMetrics",))


def _gateway_ports(traits: Any) -> set[int]:
    """The ports a gateway (or an ingress, KubeVela's older one or Composer's) routes to."""
    out: set[int] = set()
    for t in traits if isinstance(traits, list) else []:
        if isinstance(t, dict) and t.get("type") in ("gateway", "ingress") and isinstance(t.get("properties"), dict):
            props = t["properties"]
            for routes in (props.get("http"), props.get("paths")):
                if isinstance(routes, dict):
                    out |= {p for p in routes.values() if isinstance(p, int)}
            if isinstance(props.get("port"), int):
                out.add(props["port"])
    return out


def convert(doc: SourceDocument, refs: Companions | None = None) -> tuple[dict, SourceMap, list[Diagnostic]]:
    """Translate an OAM Application into Composer's Application data, a matching source map and warnings."""
    from composer.model.oam_app import AppLevel
    from composer.model.oam_refs import Companions, inline

    src = doc.source_map
    data = doc.data
    dst = OamSourceMap(src.file, dict(src.values), dict(src.keys))
    c = _Converter(src, dst)
    spec = data.get("spec")
    if not isinstance(spec, dict):
        return {**data, "apiVersion": API_VERSION}, dst, []  # validation reports the shape
    c.read_from = (refs or Companions(), data)
    spec = inline(spec, c.read_from[0], c)  # workflow.ref and the Policy objects it names
    app = AppLevel(c)
    c.app_name = str((data.get("metadata") or {}).get("name") or "") if isinstance(data.get("metadata"), dict) else ""
    metadata = app.metadata(data["metadata"]) if isinstance(data.get("metadata"), dict) else data.get("metadata")
    raw = spec.get("components") if isinstance(spec.get("components"), list) else None
    names = [x["name"] for x in raw or [] if isinstance(x, dict) and isinstance(x.get("name"), str)]
    app.workflow(spec.get("workflow"), app.policies(spec.get("policies"), names), names)
    out = {**data, "apiVersion": API_VERSION, "metadata": metadata, "spec": dict(spec)}
    if raw is not None:
        raw = app.apply_overrides(raw) + app.step_components(len(raw), raw)
        out["spec"]["components"] = [c.component(comp, ("spec", "components", i)) for i, comp in enumerate(raw)]
        out = app.finish(out, out["spec"]["components"])
    from composer.model.loader import by_line

    if c.errors:
        raise DiagnosticError(by_line(c.errors))
    return out, dst, by_line(c.warnings)
