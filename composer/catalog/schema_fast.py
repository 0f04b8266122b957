"""A quick "valid" for parameter values whose schema keeps to a small part of JSON Schema.

jsonschema walks a value keyword by keyword with a new validator object per level: 1,000
Kubernetes objects of a `k8s-objects` component take ~23 ms to find nothing wrong. Most
parameter schemas only say which properties exist, their types, what is required and how
long things are; for those, `known_valid` answers with plain dictionary walks.

It answers True only when the value is valid; False means "not known to be valid": the value
breaks a rule, or the schema uses a keyword this module does not read (`enum`, `pattern`,
`$ref`, `oneOf`...). Either way the caller asks jsonschema, which finds the errors and their
messages: `schema.errors` is the one caller, so every diagnostic still comes from jsonschema.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

# Keywords that never make a value invalid (annotations, and `$defs`: definitions are applied
# only through `$ref`, which this module does not follow).
_ANNOTATIONS = frozenset(
    {"description", "title", "default", "examples", "$comment", "deprecated", "readOnly", "writeOnly", "$defs"}
)
_READ = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
    }
)
_KNOWN = _READ | _ANNOTATIONS


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


# JSON Schema's types as jsonschema's Draft 2020-12 type checker decides them.
_TYPES: dict[str, Callable[[Any], bool]] = {
    "array": lambda v: isinstance(v, list),
    "boolean": lambda v: isinstance(v, bool),
    "integer": _is_integer,
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, numbers.Number) and not isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "string": lambda v: isinstance(v, str),
}


Check = Callable[[Any], bool]


def known_valid(schema: Any, value: Any) -> bool:
    """True only if `value` is valid against `schema` (see the module docstring)."""
    check = _checker(schema)
    return check is not None and check(value)


_compiled: dict[int, tuple[Any, Check | None]] = {}  # id(schema) -> (the schema, kept alive; its check)


def _checker(schema: Any) -> Check | None:
    """The check of a schema, made once per schema object (a catalog keeps its schemas)."""
    found = _compiled.get(id(schema))
    if found is None or found[0] is not schema:
        if len(_compiled) >= 256:
            _compiled.clear()
        found = _compiled[id(schema)] = (schema, _compile(schema))
    return found[1]


def _compile(schema: Any) -> Check | None:
    """A function telling whether a value is valid, or None when the schema leaves the subset."""
    if schema is True or schema is False:
        return _anything if schema else _nothing
    if not isinstance(schema, dict) or not _KNOWN.issuperset(schema):
        return None
    parts = [_type_check(schema), _object_check(schema), _array_check(schema), _text_check(schema)]
    checks = [p for p in parts if p is not None and p is not _anything]
    if any(p is None for p in parts):
        return None

    def check(value: Any) -> bool:
        for one in checks:
            if not one(value):
                return False
        return True

    return check


def _anything(value: Any) -> bool:
    return True


def _nothing(value: Any) -> bool:
    return False


def _type_check(schema: dict) -> Check | None:
    if "type" not in schema:
        return _anything
    wanted = schema["type"]
    names = [wanted] if isinstance(wanted, str) else wanted
    if not isinstance(names, list) or not all(isinstance(n, str) and n in _TYPES for n in names):
        return None
    tests = [_TYPES[n] for n in names]
    if len(tests) == 1:
        return tests[0]  # the usual one type, without a generator per value
    return lambda value: any(t(value) for t in tests)


def _object_check(schema: dict) -> Check | None:
    required = schema.get("required", [])
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    if not isinstance(required, list) or not all(isinstance(k, str) for k in required):
        return None
    if not isinstance(properties, dict):
        return None
    known = {key: _compile(sub) for key, sub in properties.items()}
    other = None if extra is True else _compile(extra)
    if any(c is None for c in known.values()) or (extra is not True and other is None):
        return None
    if not required and not known and other is None:
        return _anything

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        for key in required:
            if key not in value:
                return False
        for key, item in value.items():
            one = known.get(key, other)
            if one is not None and not one(item):
                return False
        return True

    return check


def _array_check(schema: dict) -> Check | None:
    least, most, items = schema.get("minItems"), schema.get("maxItems"), schema.get("items", True)
    each = None if items is True else _compile(items)
    if not _counts(least, most) or (items is not True and each is None):
        return None
    if least is None and most is None and each is None:
        return _anything

    def check(value: Any) -> bool:
        if not isinstance(value, list):
            return True
        if (least is not None and len(value) < least) or (most is not None and len(value) > most):
            return False
        return each is None or all(each(item) for item in value)

    return check


def _text_check(schema: dict) -> Check | None:
    least, most = schema.get("minLength"), schema.get("maxLength")
    if not _counts(least, most):
        return None
    if least is None and most is None:
        return _anything
    return lambda value: (
        not isinstance(value, str) or ((least is None or len(value) >= least) and (most is None or len(value) <= most))
    )


def _counts(*bounds: Any) -> bool:
    """Whether each bound is absent or a whole number (else jsonschema judges the schema)."""
    return all(b is None or (isinstance(b, int) and not isinstance(b, bool)) for b in bounds)
