"""The quick "valid" of composer/catalog/schema_fast.py agrees with jsonschema.

For schemas inside its subset it must give jsonschema's answer exactly; outside it, it may only
say "not known" (False), never "valid" for a value jsonschema rejects.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from composer.catalog import schema as jschema
from composer.catalog.schema_fast import known_valid

TYPES = ["array", "boolean", "integer", "null", "number", "object", "string"]
KEYS = ["a", "b", "name", "kind"]

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(-2, 2)
    | st.sampled_from([1.0, 0.0])
    | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=3),
    max_leaves=12,
)


def _schema(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    count = st.none() | st.integers(0, 3)
    return st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(TYPES) | st.lists(st.sampled_from(TYPES), min_size=1, max_size=3, unique=True),
            "properties": st.dictionaries(st.sampled_from(KEYS), inner, max_size=3),
            "required": st.lists(st.sampled_from(KEYS), max_size=2, unique=True),
            "additionalProperties": st.booleans() | inner,
            "items": st.booleans() | inner,
            "minItems": count,
            "maxItems": count,
            "minLength": count,
            "maxLength": count,
            "description": st.just("annotation"),
            "default": values,
        },
    ).map(lambda d: {k: v for k, v in d.items() if v is not None})


schemas = st.recursive(st.booleans() | st.just({}), _schema, max_leaves=6)


def jsonschema_valid(schema: Any, value: Any) -> bool:
    return not list(jschema.validator(schema).compiled.iter_errors(value))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schemas, values)
def test_inside_the_subset_the_answer_is_jsonschemas(schema: Any, value: Any) -> None:
    if isinstance(schema, bool):
        schema = {"items": schema}
    Draft202012Validator.check_schema(schema)  # a valid JSON Schema, as definitions are checked to be
    assert known_valid(schema, value) == jsonschema_valid(schema, value), (schema, value)


def test_outside_the_subset_it_never_says_valid() -> None:
    cases = [
        ({"enum": ["a"]}, "a"),
        ({"properties": {"a": {"pattern": "^x"}}}, {"a": "x"}),
        ({"$ref": "#/$defs/x", "$defs": {"x": {"type": "string"}}}, "s"),
        ({"type": "object", "oneOf": [{"required": ["a"]}]}, {"a": 1}),
        ({"type": "frobnicate"}, 1),
        ({"minItems": 1.0}, [1]),
        ({"items": [{"type": "string"}]}, ["s"]),
        ({"required": [["a"]]}, {"a": 1}),
    ]
    for schema, value in cases:
        assert known_valid(schema, value) is False, schema


def test_the_k8s_objects_schema_is_read_fast_and_still_finds_errors(tmp_path) -> None:
    from composer.catalog import Catalog
    from composer.cli.common import registry

    ctype = Catalog.build(registry()).component("k8s-objects")
    assert ctype is not None
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "labels": {"a": "b"}}, "data": {}}
    assert known_valid(ctype.schema, {"objects": [obj]})
    assert list(jschema.errors(ctype.validator, {"objects": [obj]})) == []
    bad = {"objects": [{**obj, "metadata": {"name": "x", "labels": {"a": 1}}}]}
    assert known_valid(ctype.schema, bad) is False
    assert [m for _, m in jschema.errors(ctype.validator, bad)] == ["expected string, got integer"]
