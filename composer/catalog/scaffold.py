"""`appc def scaffold`: a starting ComponentDefinition from a module's interface.

Parameters come from the module's variables (types, defaults and descriptions as JSON
Schema; variables without a default are required), the output contract from its
outputs (`sensitive` ones are `secret: true`), and the implementation passes every
parameter to its variable. The platform team then trims it to what app teams should see.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from composer.catalog.hcl import ModuleInterface, Variable

# Terraform provider local names -> Composer provider plugins.
_PROVIDERS = {"aws": "aws", "google": "gcp", "azurerm": "azure", "kubernetes": "kubernetes"}
_PRIMITIVES = {"string": {"type": "string"}, "number": {"type": "number"}, "bool": {"type": "boolean"}}


def type_schema(expr: str | None) -> dict:
    """A Terraform type expression as JSON Schema (best effort; `any` and unknown: no constraint)."""
    if not expr:
        return {}
    t = re.sub(r"\s+", "", expr)
    if t in _PRIMITIVES:
        return dict(_PRIMITIVES[t])
    m = re.fullmatch(r"(list|set|map)\((.*)\)", t)
    if m:
        inner = type_schema(m.group(2))
        if m.group(1) == "map":
            return {"type": "object", **({"additionalProperties": inner} if inner else {})}
        return {
            "type": "array",
            **({"items": inner} if inner else {}),
            **({"uniqueItems": True} if m.group(1) == "set" else {}),
        }
    if t.startswith("object("):
        return {"type": "object"}
    if t.startswith("tuple("):
        return {"type": "array"}
    return {}


def _property(v: Variable) -> dict:
    schema = type_schema(v.type)
    if v.description:
        schema["description"] = v.description
    if not v.required and v.default is not None and _jsonable(v.default):
        schema["default"] = v.default
    return schema


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return not (isinstance(value, str) and "${" in value)


def _input(v: Variable) -> str:
    # Without a default in the schema the parameter may be absent: pass null, Terraform's "unset".
    has_default = v.required or (v.default is not None and _jsonable(v.default))
    expression = f"parameters.{v.name}" if has_default else f"parameters.{v.name} | default(none)"
    return "{{ " + expression + " }}"


def scaffold(iface: ModuleInterface, name: str, module: str, version: str | None) -> dict:
    provider = next((_PROVIDERS[p] for p in iface.provider_constraints if p in _PROVIDERS), "aws")
    parameters: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {v.name: _property(v) for v in iface.variables.values()},
    }
    required = [v.name for v in iface.variables.values() if v.required]
    if required:
        parameters["required"] = required
    outputs = {
        o.name: {
            **({"secret": True} if o.sensitive else {}),
            **({"description": o.description} if o.description else {}),
        }
        for o in iface.outputs.values()
    }
    terraform: dict[str, Any] = {
        "module": module,
        **({"version": version} if version else {}),
        "inputs": {v.name: _input(v) for v in iface.variables.values()},
    }
    return {
        "apiVersion": "composer.dev/v1alpha1",
        "kind": "ComponentDefinition",
        "metadata": {"name": name},
        "spec": {
            "category": "resource",
            "description": f"Scaffolded from {module}"
            + (f" {version}" if version else "")
            + "; trim the parameters to what app teams should set.",
            "parameters": parameters,
            "outputs": outputs,
            "implementations": {provider: {"provider": provider, "default": True, "terraform": terraform}},
        },
    }


def scaffold_yaml(iface: ModuleInterface, name: str, module: str, version: str | None) -> str:
    doc = scaffold(iface, name, module, version)
    header = "# Written by `appc def scaffold`: every variable is a parameter and every output a contract key.\n# Trim it: keep what app teams should choose, set the rest in inputs, map contract keys under outputs.\n"
    return header + yaml.safe_dump(doc, sort_keys=False, width=120, allow_unicode=True)
