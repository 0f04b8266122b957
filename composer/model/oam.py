"""Import of KubeVela-style OAM Applications (core.oam.dev/v1beta1).

The built-in workload types already take KubeVela's property shapes, so most of an
OAM file passes through. What differs is translated here, and the source map is
carried along so that diagnostics still point at the original lines. What Composer
does not support is an error that says so; nothing is dropped silently. The full
mapping is in docs/oam.md.
"""

from __future__ import annotations

from typing import Any

from composer.diagnostics import Diagnostic, DiagnosticError, FieldPath
from composer.model.base import API_VERSION
from composer.model.source import SourceDocument, SourceMap

# OAM trait name -> Composer trait name (and a property translation where shapes differ).
TRAIT_NAMES = {
    "gateway": "ingress",
    "storage": "volume",
    "cpuscaler": "hpa",
    "resource": "resources",
}

UNSUPPORTED_SPEC = {
    "policies": "OAM policies (topology, override, garbage-collect) are environment concerns in Composer: "
    "put targets and overrides in environments/<name>.yaml",
    "workflow": "OAM workflows are not supported: Composer orders units by their connections and dependsOn",
}
UNSUPPORTED_COMPONENT = {
    "inputs": "component inputs/outputs (data passing) are not supported: use connections or ${component.key} references",
    "outputs": "component inputs/outputs (data passing) are not supported: use connections or ${component.key} references",
    "externalRevision": "externalRevision is not supported: Composer keeps its own revision history",
}


def _move(src: SourceMap, dst: SourceMap, src_prefix: FieldPath, dst_prefix: FieldPath) -> None:
    n = len(src_prefix)
    for table_src, table_dst in ((src.values, dst.values), (src.keys, dst.keys)):
        for path, pos in table_src.items():
            if path[:n] == src_prefix:
                table_dst[dst_prefix + path[n:]] = pos


def _env_list_to_map(env: Any, src: SourceMap, dst: SourceMap, path: FieldPath, errors: list[Diagnostic]) -> Any:
    if not isinstance(env, list):
        return env
    out: dict[str, Any] = {}
    for i, item in enumerate(env):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            errors.append(src.diagnostic(path + (i,), "an env entry needs a name", "expected {name: X, value: Y} or {name: X, valueFrom: {...}}"))
            continue
        extra = set(item) - {"name", "value", "valueFrom"}
        if extra:
            errors.append(src.diagnostic(path + (i, sorted(extra)[0]), f"unknown field {sorted(extra)[0]!r} in env entry", "expected name, value or valueFrom"))
            continue
        name = item["name"]
        _move(src, dst, path + (i, "value" if "value" in item else "valueFrom"), path + (name,))
        dst.keys[path + (name,)] = src.locate(path + (i, "name")) or src.locate(path + (i,))
        if "valueFrom" in item:
            out[name] = {"valueFrom": item["valueFrom"]}
        else:
            value = item.get("value", "")
            out[name] = value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
    return out


def _trait(trait: Any, src: SourceMap, dst: SourceMap, path: FieldPath, errors: list[Diagnostic]) -> Any:
    if not isinstance(trait, dict):
        return trait
    ttype = trait.get("type")
    props = trait.get("properties", {})
    new_type = TRAIT_NAMES.get(ttype, ttype)
    if not isinstance(props, dict):
        return {**trait, "type": new_type}
    props = dict(props)
    ppath = path + ("properties",)
    if ttype == "gateway":
        renames = {"domain": "host", "http": "paths", "class": "className", "secretName": "tlsSecretName"}
        for old, new in renames.items():
            if old in props:
                props[new] = props.pop(old)
                _move(src, dst, ppath + (old,), ppath + (new,))
        props.pop("classInSpec", None)
    elif ttype == "cpuscaler":
        if "cpuPercent" in props:
            props["cpuUtil"] = props.pop("cpuPercent")
            _move(src, dst, ppath + ("cpuPercent",), ppath + ("cpuUtil",))
    elif ttype in ("env", "sidecar") and "env" in props:
        props["env"] = _env_list_to_map(props["env"], src, dst, ppath + ("env",), errors)
    elif ttype in ("labels", "annotations") and "properties" not in trait:
        props = {}
    return {**trait, "type": new_type, "properties": props}


def convert(doc: SourceDocument) -> tuple[dict, SourceMap]:
    """Translate an OAM Application into Composer's Application data and a matching source map."""
    src = doc.source_map
    data = doc.data
    dst = SourceMap(src.file, dict(src.values), dict(src.keys))
    errors: list[Diagnostic] = []
    spec = data.get("spec")
    if not isinstance(spec, dict):
        return {**data, "apiVersion": API_VERSION}, dst  # validation reports the shape
    for key, why in UNSUPPORTED_SPEC.items():
        if key in spec:
            errors.append(src.diagnostic(("spec", key), f"unsupported OAM field spec.{key}", why, key=True))
    metadata = data.get("metadata")
    if isinstance(metadata, dict):
        metadata = {k: v for k, v in metadata.items() if k != "namespace"}
    components = []
    for i, comp in enumerate(spec.get("components") or []):
        cpath: FieldPath = ("spec", "components", i)
        if not isinstance(comp, dict):
            components.append(comp)
            continue
        comp = dict(comp)
        for key, why in UNSUPPORTED_COMPONENT.items():
            if key in comp:
                errors.append(src.diagnostic(cpath + (key,), f"unsupported OAM field {key!r}", why, key=True))
        props = comp.get("properties")
        if isinstance(props, dict) and "env" in props:
            comp["properties"] = {**props, "env": _env_list_to_map(props["env"], src, dst, cpath + ("properties", "env"), errors)}
        traits = comp.get("traits")
        if isinstance(traits, list):
            comp["traits"] = [_trait(t, src, dst, cpath + ("traits", j), errors) for j, t in enumerate(traits)]
        components.append(comp)
    if errors:
        raise DiagnosticError(errors)
    out = {**data, "apiVersion": API_VERSION, "spec": {"components": components}}
    if metadata is not None:
        out["metadata"] = metadata
    return out, dst
