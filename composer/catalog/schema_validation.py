"""jsonschema's side of parameter schemas: the validator (Draft 2020-12, patterns in RE2), a
schema's problems, and the errors of a value with their messages.

Patterns (`pattern`, `patternProperties`, and the keys `additionalProperties` must leave
to them) are matched with RE2, which runs in time linear in the text: a definition's
catastrophic-backtracking pattern (`^(a+)+$`) cannot hang validation. A pattern that RE2
cannot compile (backreferences, lookaround) is a schema error at load, with the reason.

Imported only when a value or a schema needs jsonschema (composer/catalog/schema.py): most
applies never do (issue 13: the appc process's start).
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterator
from typing import Any

import re2
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import SchemaError, ValidationError
from referencing import Registry

# `$ref`s resolve inside the schema (and the JSON Schema metaschemas) only. jsonschema's
# default registry would fetch any other URI over HTTP while validating: never from here.
_LOCAL_ONLY = Registry()

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # RE2 would print every rejected pattern to stderr


@functools.lru_cache(maxsize=4096)
def _regex(pattern: str) -> Any:
    return re2.compile(pattern, _RE2_OPTIONS)


def pattern_problem(pattern: Any) -> str | None:
    """None if RE2 compiles `pattern`, else why not."""
    if not isinstance(pattern, str):
        return None  # the meta-schema reports a pattern that is not text
    try:
        _regex(pattern)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        return f"pattern {pattern!r} is not supported: {reason} (patterns are matched with RE2, in linear time: no backreferences or lookaround)"
    return None


def _matches(pattern: str, text: str) -> bool:
    return _regex(pattern).search(text) is not None


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "string"):
        return
    problem = pattern_problem(pattern)
    if problem:
        yield ValidationError(problem)
    elif not _matches(pattern, instance):
        yield ValidationError(f"does not match the pattern {pattern!r}")


def _pattern_properties(validator: Any, patterns: dict, instance: Any, schema: dict) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, sub in patterns.items():
        problem = pattern_problem(pattern)
        if problem:
            yield ValidationError(problem)
            continue
        for key, value in instance.items():
            if _matches(pattern, key):
                yield from validator.descend(value, sub, path=key, schema_path=pattern)


def _additional_properties(validator: Any, extra: Any, instance: Any, schema: dict) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    known, patterns = (
        schema.get("properties", {}),
        [p for p in schema.get("patternProperties", {}) if not pattern_problem(p)],
    )
    extras = [k for k in instance if k not in known and not any(_matches(p, k) for p in patterns)]
    if validator.is_type(extra, "object"):
        for key in extras:
            yield from validator.descend(instance[key], extra, path=key)
    elif extra is False and extras:
        yield ValidationError(f"unknown properties {', '.join(map(repr, sorted(extras)))}")


_Validator = validators.extend(
    Draft202012Validator,
    {"pattern": _pattern, "patternProperties": _pattern_properties, "additionalProperties": _additional_properties},
)


def _pattern_problems(schema: Any, path: tuple) -> Iterator[tuple[tuple, str]]:
    """Patterns in a schema that RE2 cannot compile (values under default/const/enum are data)."""
    if isinstance(schema, dict):
        for k, v in schema.items():
            if k == "pattern":
                problem = pattern_problem(v)
                if problem:
                    yield path + (k,), problem
            elif k == "patternProperties" and isinstance(v, dict):
                for p in v:
                    problem = pattern_problem(p)
                    if problem:
                        yield path + (k, p), problem
            if k not in ("default", "const", "enum", "examples", "pattern"):
                yield from _pattern_problems(v, path + (k,))
    elif isinstance(schema, list):
        for i, v in enumerate(schema):
            yield from _pattern_problems(v, path + (i,))


def schema_problem(schema: Any) -> tuple[tuple, str] | None:
    """None if `schema` is a valid parameter schema, else (path inside the schema, why not).
    Besides JSON Schema itself: the schema describes an object, and each property's
    `default` is valid for that property (else the app team would get the platform's error)."""
    if not isinstance(schema, dict):
        return (), "parameters must be a JSON Schema object"
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return tuple(exc.absolute_path), exc.message
    if schema.get("type", "object") != "object":
        return ("type",), "parameters must describe an object (type: object)"
    for found in _pattern_problems(schema, ()):
        return found
    root = compiled(schema)
    for path, ref in _refs(schema, ()):
        try:
            root.evolve(schema={"$ref": ref}).is_valid(None)
        except Exception:  # referencing's Unresolvable and its jsonschema wrappers
            return path, f"$ref {ref!r} does not resolve inside the schema (remote references are not fetched)"
    for key, sub in (schema.get("properties") or {}).items():
        if isinstance(sub, dict) and "default" in sub:
            for _, msg in errors(root.evolve(schema=sub), sub["default"]):
                return ("properties", key, "default"), f"the default does not match its own schema: {msg}"
    return None


def _refs(schema: Any, path: tuple) -> Iterator[tuple[tuple, str]]:
    if isinstance(schema, dict):
        for k, v in schema.items():
            if k == "$ref" and isinstance(v, str):
                yield path + (k,), v
            elif k not in ("default", "const", "enum", "examples"):
                yield from _refs(v, path + (k,))
    elif isinstance(schema, list):
        for i, v in enumerate(schema):
            yield from _refs(v, path + (i,))


def compiled(schema: dict) -> Draft202012Validator:
    """jsonschema's validator of `schema`, with RE2 patterns and local `$ref`s only."""
    return _Validator(schema, registry=_LOCAL_ONLY)


def errors(v: Draft202012Validator, value: Any) -> Iterator[tuple[tuple, str]]:
    """(path inside value, message) for every violation, best match first per location.

    An unknown property is reported at its own key (one error per key), and when it is a
    close misspelling of a required property that is missing, the two are one error:
    "unknown property 'imgae'; did you mean 'image' (required)?"."""
    found = sorted(v.iter_errors(value), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    missing: dict[tuple, set[str]] = {}
    for err in found:
        if err.validator == "required" and isinstance(err.instance, dict):
            missing.setdefault(tuple(err.absolute_path), set()).update(
                r for r in err.validator_value if r not in err.instance
            )
    explained: set[tuple[tuple, str]] = set()
    out: list[tuple[tuple, str]] = []
    for err in found:
        path = tuple(err.absolute_path)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            props = sorted(err.schema.get("properties", {}))
            for extra in sorted(set(err.instance) - set(props)):
                out.append((path + (extra,), _unknown(extra, props, missing.get(path, set()), explained, path)))
            continue
        out.append((path, _message(err)))
    seen = set()
    for path, msg in out:
        name = msg.split("'")[1] if msg.endswith(" is required") and msg.count("'") == 2 else None
        if (path, msg) in seen or (name is not None and (path, name) in explained):
            continue
        seen.add((path, msg))
        yield path, msg


def _unknown(extra: str, props: list[str], missing: set[str], explained: set[tuple[tuple, str]], path: tuple) -> str:
    close = difflib.get_close_matches(extra, props, n=1)
    if close and close[0] in missing:
        explained.add((path, close[0]))
        return f"unknown property {extra!r}; did you mean {close[0]!r} (required)?"
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown property {extra!r}{hint}" + (f"; expected one of: {', '.join(props)}" if props else "")


def _message(err: ValidationError) -> str:
    # jsonschema messages echo the offending value; keep them short and value-free where we can.
    v = err.validator
    if v == "additionalProperties":
        props = sorted(err.schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(props)) if isinstance(err.instance, dict) else []
        close = [c for e in extra for c in difflib.get_close_matches(e, props, n=1, cutoff=0.8)]
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        return f"unknown property {', '.join(map(repr, extra))}{hint}" + (
            f"; expected one of: {', '.join(props)}" if props else ""
        )
    if v == "required":
        return err.message.replace(" is a required property", " is required")
    if v == "enum":
        return "expected one of: " + ", ".join(repr(x) for x in err.validator_value)
    if v == "type":
        t = err.validator_value
        return f"expected {' or '.join(t) if isinstance(t, list) else t}, got {_json_type(err.instance)}"
    if v == "pattern":
        return f"does not match the pattern {err.validator_value!r}"
    if v in (
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
    ):
        return f"{v} is {err.validator_value}"
    if v == "oneOf":
        return "does not match any of the allowed forms"
    return err.message if len(err.message) < 200 else err.message[:200] + "…"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
