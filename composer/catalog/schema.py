"""Parameter schemas of definitions: checking them, filling defaults, validating values.

A value the quick check (composer/catalog/schema_fast.py) knows to be valid is not walked by
jsonschema, and a schema's validator is built on its first use: jsonschema and RE2
(composer/catalog/schema_validation.py, which finds every error and writes every message) load
only when a value or a schema needs them. An apply of valid values never does (issue 13: the
appc process's start; jsonschema is ~65 ms of imports).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from composer.catalog.schema_fast import known_valid

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

_checked: dict[str, str | None] = {}


class SchemaValidator:
    """The validator of one parameter schema; jsonschema's own is built when first needed."""

    def __init__(self, schema: dict) -> None:
        self.schema = schema
        self._compiled: Draft202012Validator | None = None

    @property
    def compiled(self) -> Draft202012Validator:
        if self._compiled is None:
            from composer.catalog import schema_validation

            self._compiled = schema_validation.compiled(self.schema)
        return self._compiled


def check_schema(schema: Any) -> str | None:
    """None if `schema` is a valid JSON Schema, else why not (memoised per process)."""
    import json

    try:
        key = json.dumps(schema, sort_keys=True, default=str)
    except (TypeError, ValueError):
        key = None
    if key is not None and key in _checked:
        return _checked[key]
    result = _check_schema(schema)
    if key is not None:
        _checked[key] = result
    return result


def _check_schema(schema: Any) -> str | None:
    from composer.catalog.schema_validation import schema_problem

    problem = schema_problem(schema)
    if problem is None:
        return None
    where = "/".join(str(p) for p in problem[0])
    return problem[1] + (f" (at {where})" if where else "")


def validator(schema: dict) -> SchemaValidator:
    return SchemaValidator(schema)


def _deref(schema: Any, root: dict) -> Any:
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 16:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            return schema
        node: Any = root
        for part in ref[2:].split("/"):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return schema
        schema = node
        seen += 1
    return schema


def apply_defaults(schema: dict, value: Any, root: dict | None = None) -> Any:
    """A copy of `value` with the schema's `default`s filled in for missing object properties."""
    root = root if root is not None else schema
    schema = _deref(schema, root)
    if not isinstance(schema, dict):
        return value
    if isinstance(value, dict):
        props = schema.get("properties", {})
        out = dict(value)
        for key, sub in props.items():
            sub_d = _deref(sub, root)
            if key not in out and isinstance(sub_d, dict) and "default" in sub_d:
                out[key] = copy.deepcopy(sub_d["default"])
            if key in out:
                out[key] = apply_defaults(sub_d, out[key], root)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key in out:
                if key not in props:
                    out[key] = apply_defaults(extra, out[key], root)
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(schema["items"], v, root) for v in value]
    return value


def errors(v: SchemaValidator, value: Any) -> Iterator[tuple[tuple, str]]:
    """(path inside value, message) for every violation (composer/catalog/schema_validation.py
    says how they are grouped and worded). A value `schema_fast` knows to be valid is not walked
    by jsonschema (most values are valid)."""
    if known_valid(v.schema, value):
        return
    from composer.catalog import schema_validation

    yield from schema_validation.errors(v.compiled, value)
