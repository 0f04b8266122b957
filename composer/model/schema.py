"""JSON Schema export of the file formats, for editors (yaml-language-server) and CI linters.

The application schema also carries each known type's parameter schema, selected by
`type`, so an editor completes `properties` for `webservice`, `postgres`, and the
platform's own types.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from composer.model.app import Application
from composer.model.definitions import ComponentDefinition, TraitDefinition
from composer.model.environment import Environment

SCHEMA_ID = "https://composer.dev/schemas/{name}.schema.json"
JsonObject = dict[str, Any]  # a JSON Schema document or part of one


def _base(model: type[BaseModel], name: str) -> JsonObject:
    schema = model.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID.format(name=name), **schema}


def _with_defs(owner: str, params: JsonObject, root_defs: JsonObject) -> JsonObject:
    """Embed a parameter schema: its $defs move to the root, renamed `<owner>.<name>`."""
    params = copy.deepcopy(params)
    local = params.pop("$defs", {})
    prefix = f"{owner}."

    def fix(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: fix(v) for k, v in node.items()}
            ref = out.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                out["$ref"] = "#/$defs/" + prefix + ref[len("#/$defs/") :]
            return out
        if isinstance(node, list):
            return [fix(v) for v in node]
        return node

    for name, sub in local.items():
        root_defs[prefix + name] = fix(sub)
    fixed: JsonObject = fix(params)
    return fixed


def application_schema(
    types: Iterable[tuple[str, JsonObject]] = (), traits: Iterable[tuple[str, JsonObject]] = ()
) -> JsonObject:
    schema = _base(Application, "application")
    comp = schema["$defs"]["Component"]
    types = list(types)
    traits = list(traits)
    if types:
        comp["properties"]["type"] = {"title": "Type", "anyOf": [{"enum": [n for n, _ in types]}, {"type": "string"}]}
        comp["allOf"] = [
            {
                "if": {"properties": {"type": {"const": n}}, "required": ["type"]},
                "then": {"properties": {"properties": _with_defs("type." + n, p, schema["$defs"])}},
            }
            for n, p in types
        ]
    if traits:
        trait = schema["$defs"]["Trait"]
        trait["properties"]["type"] = {"title": "Type", "anyOf": [{"enum": [n for n, _ in traits]}, {"type": "string"}]}
        trait["allOf"] = [
            {
                "if": {"properties": {"type": {"const": n}}, "required": ["type"]},
                "then": {"properties": {"properties": _with_defs("trait." + n, p, schema["$defs"])}},
            }
            for n, p in traits
        ]
    return schema


def schemas(
    types: Iterable[tuple[str, JsonObject]] = (), traits: Iterable[tuple[str, JsonObject]] = ()
) -> dict[str, JsonObject]:
    return {
        "application.schema.json": application_schema(types, traits),
        "environment.schema.json": _base(Environment, "environment"),
        "componentdefinition.schema.json": _base(ComponentDefinition, "componentdefinition"),
        "traitdefinition.schema.json": _base(TraitDefinition, "traitdefinition"),
    }
