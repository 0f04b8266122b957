"""The `Application` and `Environment` custom resources (composer.dev/v1alpha1), generated from
the same pydantic models that read app.yaml and environments/*.yaml, so files, CRDs and
`appc schema` share one source of truth.

Kubernetes accepts only *structural* OpenAPI v3 schemas: no `$ref`, a `type` on every node
(or `x-kubernetes-preserve-unknown-fields`), no `additionalProperties: false`, no `anyOf`
branch that carries its own type. `structural()` turns pydantic's JSON Schema into one;
`structural_problems()` states those rules as a check, for the tests. Validation beyond the
structure (names, references, definitions' parameter schemas) is the controller's: it loads
every object with the file loader and reports problems as status conditions.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from composer.model.app import ApplicationSpec
from composer.model.base import API_VERSION
from composer.model.environment import EnvironmentSpec

GROUP, VERSION = API_VERSION.split("/")
PRESERVE = {"x-kubernetes-preserve-unknown-fields": True}
# Keywords a structural schema may carry besides the structure (apiextensions v1 JSONSchemaProps).
_KEPT = {"description", "enum", "format", "maximum", "minimum", "maxLength", "minLength", "maxItems", "minItems"}
_KEPT |= {"pattern", "exclusiveMaximum", "exclusiveMinimum", "multipleOf", "uniqueItems", "nullable"}

# The binding of an Application CR to its Environment (docs/controller.md); files have no such field.
ENVIRONMENT_FIELD = {
    "type": "string",
    "description": "The Environment (same namespace) to reconcile in; empty: the only Environment of the namespace.",
}

# The platform catalog of an Environment CR: definitions YAML in one key of a ConfigMap of its
# namespace, or a signed bundle (a Secret key of its namespace, or a file under the controller's
# --catalog-bundle-dir) verified against the controller's --catalog-key.
_BUNDLE_FIELD = {
    "type": "object",
    "description": "A signed bundle (appc bundle --sign) whose definitions are the catalog; verified before use.",
    "properties": {
        "secret": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "key": {"type": "string", "description": "The key holding the bundle (default catalog.bundle)."},
            },
        },
        "path": {
            "type": "string",
            "description": "A relative path under the controller's --catalog-bundle-dir (a mounted volume).",
        },
    },
}
CATALOG_FIELD = {
    "type": "object",
    "description": "The platform catalog: definitions read from a ConfigMap in this namespace, or a signed bundle.",
    "properties": {
        "bundle": _BUNDLE_FIELD,
        "configMap": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "key": {
                    "type": "string",
                    "description": "The key holding definitions YAML (default definitions.yaml).",
                },
            },
        },
    },
}


def structural(schema: dict[str, Any]) -> dict[str, Any]:
    """pydantic's JSON Schema (with `$defs`) as a structural OpenAPI v3 schema."""
    return _convert(schema, schema.get("$defs", {}), ())


def _convert(node: Any, defs: dict[str, Any], seen: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(node, dict) or not node:
        return dict(PRESERVE)
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        if name in seen:  # a recursive type: its inner levels stay free-form
            return {"type": "object", **PRESERVE}
        merged = {**defs.get(name, {}), **{k: v for k, v in node.items() if k != "$ref"}}
        return _convert(merged, defs, seen + (name,))
    if "anyOf" in node or "oneOf" in node:
        return _union(node, defs, seen)
    if "const" in node:
        node = {**{k: v for k, v in node.items() if k != "const"}, "enum": [node["const"]]}
    out = {k: v for k, v in node.items() if k in _KEPT}
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        return {**out, **_object(node, defs, seen)}
    if kind == "array":
        return {**out, "type": "array", "items": _convert(node.get("items", {}), defs, seen)}
    if isinstance(kind, str):
        return {**out, "type": kind}
    return {**out, **PRESERVE}


def _object(node: dict[str, Any], defs: dict[str, Any], seen: tuple[str, ...]) -> dict[str, Any]:
    props = node.get("properties")
    extra = node.get("additionalProperties")
    if props:
        out: dict[str, Any] = {
            "type": "object",
            "properties": {k: _convert(v, defs, seen) for k, v in props.items()},
        }
        if node.get("required"):
            out["required"] = list(node["required"])
        return out
    if isinstance(extra, dict) and extra:
        return {"type": "object", "additionalProperties": _convert(extra, defs, seen)}
    return {"type": "object", **PRESERVE}


def _union(node: dict[str, Any], defs: dict[str, Any], seen: tuple[str, ...]) -> dict[str, Any]:
    """`X | None` becomes X, nullable; int-or-string keeps its Kubernetes marker; anything else is free-form."""
    branches = node.get("anyOf") or node.get("oneOf") or []
    real = [b for b in branches if b != {"type": "null"}]
    nullable = {"nullable": True} if len(real) < len(branches) else {}
    extra = {k: v for k, v in node.items() if k in _KEPT}
    if len(real) == 1:
        return {**_convert(real[0], defs, seen), **extra, **nullable}
    kinds = {b.get("type") for b in real if isinstance(b, dict)}
    if kinds == {"integer", "string"} and len(real) == 2:
        return {**extra, **nullable, "x-kubernetes-int-or-string": True}
    return {**extra, **nullable, **PRESERVE}


def structural_problems(schema: Any, path: str = "") -> list[str]:
    """What makes `schema` non-structural, by path (empty: Kubernetes accepts it)."""
    if not isinstance(schema, dict):
        return [f"{path or '/'}: not a schema"]
    problems = [f"{path or '/'}: {key} is not allowed" for key in ("$ref", "anyOf", "oneOf", "allOf") if key in schema]
    free = schema.get("x-kubernetes-preserve-unknown-fields") or schema.get("x-kubernetes-int-or-string")
    if "type" not in schema and not free:
        problems.append(f"{path or '/'}: no type")
    if schema.get("additionalProperties") is False:
        problems.append(f"{path or '/'}: additionalProperties: false is not allowed")
    if "properties" in schema and "additionalProperties" in schema:
        problems.append(f"{path or '/'}: properties and additionalProperties together")
    for key, sub in (schema.get("properties") or {}).items():
        problems += structural_problems(sub, f"{path}/{key}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            problems += structural_problems(schema[key], f"{path}/{key}")
    return problems


def _status_schema() -> dict[str, Any]:
    condition = {
        "type": "object",
        "required": ["type", "status"],
        "properties": {
            "type": {"type": "string"},
            "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
            "reason": {"type": "string"},
            "message": {"type": "string"},
            "lastTransitionTime": {"type": "string", "format": "date-time"},
            "observedGeneration": {"type": "integer"},
        },
    }
    return {
        "type": "object",
        "properties": {
            "conditions": {"type": "array", "items": condition},
            "observedGeneration": {"type": "integer"},
            "lastAppliedRevision": {"type": "string"},
            "units": {"type": "object", "additionalProperties": {"type": "object", **PRESERVE}},
        },
    }


def _crd(kind: str, spec_model: type[BaseModel], extra_spec: dict[str, Any], columns: list[dict]) -> dict[str, Any]:
    spec = structural(spec_model.model_json_schema(by_alias=True, mode="validation"))
    spec.setdefault("properties", {}).update(extra_spec)
    plural = kind.lower() + "s"
    root = {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": _status_schema(),
        },
    }
    version = {
        "name": VERSION,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": root},
        "subresources": {"status": {}},
        "additionalPrinterColumns": columns,
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": kind + "List"},
            "versions": [version],
        },
    }


def _ready_column() -> dict[str, Any]:
    return {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'}


def application_crd() -> dict[str, Any]:
    env = {"name": "Environment", "type": "string", "jsonPath": ".spec.environment"}
    return _crd("Application", ApplicationSpec, {"environment": ENVIRONMENT_FIELD}, [env, _ready_column()])


def environment_crd() -> dict[str, Any]:
    extra = {
        "resyncSeconds": {
            "type": "integer",
            "minimum": 30,
            "description": "How often the controller checks this environment's applications for drift (default 600).",
        },
        "suspend": {"type": "boolean", "description": "true: the controller leaves this environment's apps alone."},
        "catalog": CATALOG_FIELD,
    }
    return _crd("Environment", EnvironmentSpec, extra, [_ready_column()])
