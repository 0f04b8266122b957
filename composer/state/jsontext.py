"""State files as text: the bytes `json.dumps(doc, sort_keys=True, indent=2)` writes, made faster.

With `indent`, the standard library encodes in pure Python (its C encoder serves only compact
output), about 8 ms for a state of 1,000 inventory items; an apply writes the state after
every unit, so a 10-unit apply of 1,000 objects paid ~50 ms for it (issue 13). Here the
containers whose members are all scalars (an inventory item, a list of names) are encoded by
the C encoder, with the newline and the indent as its item separator, and a list of such
containers (the inventory) by one call of it, its two levels of separators told apart after;
only the containers above them are walked in Python. The text is the standard library's, byte for byte
(tests/test_state_jsontext.py compares them); anything but JSON's own types and string keys
is left to the standard library.
"""

from __future__ import annotations

import json
from typing import Any

INDENT = "  "
_SCALARS = (str, int, float, bool, type(None))
_SCALAR_TYPES = frozenset(_SCALARS)
_STRING_TYPE = frozenset((str,))


def dumps_indented(doc: Any) -> str:
    """`json.dumps(doc, sort_keys=True, indent=2)`."""
    try:
        return _encode(doc, 0)
    except Unusual:
        return json.dumps(doc, sort_keys=True, indent=2)


class Unusual(Exception):
    """A value this encoder does not shape itself (a tuple, a non-string key, any object)."""


def encode_at(value: Any, level: int) -> str:
    """The text of `value` standing at nesting `level` of an indented document (the top is 0).
    Raises Unusual for what only the standard library encodes."""
    return _encode(value, level)


def _encode(value: Any, level: int) -> str:
    if isinstance(value, dict):
        if not value:
            return "{}"
        if not all(isinstance(k, str) for k in value):
            raise Unusual
        inner, outer = INDENT * (level + 1), INDENT * level
        if _SCALAR_TYPES.issuperset(map(type, value.values())):
            flat = json.dumps(value, sort_keys=True, separators=(",\n" + inner, ": "))
            return "{\n" + inner + flat[1:-1] + "\n" + outer + "}"
        members = [inner + json.dumps(k) + ": " + _encode(value[k], level + 1) for k in sorted(value)]
        return "{\n" + ",\n".join(members) + "\n" + outer + "}"
    if type(value) is list:
        if not value:
            return "[]"
        inner, outer = INDENT * (level + 1), INDENT * level
        if all(_flat(v) for v in value):
            # One C call with NUL as every separator: a raw NUL is never in JSON text (strings
            # escape it), and between two members it always stands as `}NUL{`.
            flat = json.dumps(value, sort_keys=True, separators=("\0", ": "))
            member = INDENT * (level + 2)
            text = flat[2:-2].replace("}\0{", "\n" + inner + "},\n" + inner + "{\n" + member)
            text = text.replace("\0", ",\n" + member)
            return "[\n" + inner + "{\n" + member + text + "\n" + inner + "}\n" + outer + "]"
        if _SCALAR_TYPES.issuperset(map(type, value)):
            flat = json.dumps(value, separators=(",\n" + inner, ": "))
            return "[\n" + inner + flat[1:-1] + "\n" + outer + "]"
        return "[\n" + ",\n".join(inner + _encode(v, level + 1) for v in value) + "\n" + outer + "]"
    if type(value) in _SCALARS:
        return json.dumps(value)
    raise Unusual


def _flat(value: Any) -> bool:
    """A non-empty dict of string keys and scalar values (an inventory item)."""
    return (
        type(value) is dict
        and bool(value)
        and _STRING_TYPE.issuperset(map(type, value))
        and _SCALAR_TYPES.issuperset(map(type, value.values()))
    )
