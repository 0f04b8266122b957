"""Terraform's JSON syntax (`*.tf.json`) for the module policy: the blocks with their labels, one
attribute of a block, every string (templates may hide in any), and the line of a value.
Pure; used by composer/catalog/policy.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any


def _objects(value: Any) -> list[dict]:
    """A JSON block body may be one object or a list of them."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return []


# Block types and how many labels each has in Terraform's JSON syntax.
_JSON_LABELS = {
    "resource": 2,
    "data": 2,
    "module": 1,
    "provider": 1,
    "terraform": 0,
    "check": 1,
    "removed": 0,
    "ephemeral": 2,
}
_JSON_NESTED = {"terraform": ("backend", "cloud"), "check": ("data",)}


def _json_blocks(doc: Any, outer: tuple[str, ...] = ()) -> Iterator[tuple[str, list[str], dict, tuple[str, ...]]]:
    """(block type, labels, body, enclosing block types) for the blocks the rules look at."""
    kinds = _JSON_NESTED.get(outer[-1], ()) if outer else tuple(_JSON_LABELS)
    for obj in _objects(doc):
        for kind in kinds:
            if kind not in obj:
                continue
            depth = 1 if kind in ("backend", "cloud") and outer else _JSON_LABELS.get(kind, 0)
            for labels, body in _json_labelled(obj[kind], depth):
                yield kind, labels, body, outer
                if kind in ("resource", "removed", "ephemeral"):
                    for prov in _objects(body.get("provisioner")):
                        for name in prov:
                            yield "provisioner", [name], prov[name] if isinstance(prov[name], dict) else {}, (kind,)
                if kind in _JSON_NESTED:
                    yield from _json_blocks(body, (*outer, kind))


def _json_labelled(value: Any, depth: int) -> Iterator[tuple[list[str], dict]]:
    if depth == 0:
        for body in _objects(value):
            yield [], body
        return
    for obj in _objects(value):
        for label, inner in obj.items():
            for labels, body in _json_labelled(inner, depth - 1):
                yield [label, *labels], body


def _json_strings(doc: Any) -> Iterator[str]:
    if isinstance(doc, str):
        yield doc
    elif isinstance(doc, dict):
        for k, v in doc.items():
            yield k
            yield from _json_strings(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _json_strings(v)


def _json_line(text: str, needle: str) -> int | None:
    at = text.find(json.dumps(needle, ensure_ascii=False)[1:-1]) if needle else -1
    return text.count("\n", 0, at) + 1 if at >= 0 else None
