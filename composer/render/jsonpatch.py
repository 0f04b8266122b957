"""JSON Patch (RFC 6902) and JSON Merge Patch (RFC 7386) on plain data, for the json-patch
and json-merge-patch traits. Pure functions: the input is never changed, a copy is returned."""

from __future__ import annotations

import copy
from typing import Any


class PatchError(ValueError):
    def __init__(self, index: int, message: str):
        super().__init__(message)
        self.index = index


def _tokens(pointer: str, index: int) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(index, f"path {pointer!r} is not a JSON pointer (it starts with /)")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _parent(doc: Any, tokens: list[str], index: int) -> tuple[Any, str]:
    node = doc
    for t in tokens[:-1]:
        if isinstance(node, dict) and t in node:
            node = node[t]
        elif isinstance(node, list) and t.isdigit() and int(t) < len(node):
            node = node[int(t)]
        else:
            raise PatchError(index, f"no value at /{'/'.join(tokens[: tokens.index(t) + 1])}")
    return node, tokens[-1]


def _get(doc: Any, pointer: str, index: int) -> Any:
    tokens = _tokens(pointer, index)
    if not tokens:
        return doc
    parent, last = _parent(doc, tokens, index)
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent[int(last)]
    raise PatchError(index, f"no value at {pointer}")


def _add(doc: Any, pointer: str, value: Any, index: int) -> Any:
    tokens = _tokens(pointer, index)
    if not tokens:
        return value
    parent, last = _parent(doc, tokens, index)
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list) and (last == "-" or (last.isdigit() and int(last) <= len(parent))):
        parent.insert(len(parent) if last == "-" else int(last), value)
    else:
        raise PatchError(index, f"cannot add at {pointer}")
    return doc


def _remove(doc: Any, pointer: str, index: int) -> Any:
    _get(doc, pointer, index)
    parent, last = _parent(doc, _tokens(pointer, index), index)
    if isinstance(parent, dict):
        del parent[last]
    else:
        del parent[int(last)]
    return doc


def apply_patch(doc: Any, operations: list[dict]) -> Any:
    out = copy.deepcopy(doc)
    for i, op in enumerate(operations):
        kind, path = op["op"], op["path"]
        if kind == "add":
            out = _add(out, path, copy.deepcopy(op.get("value")), i)
        elif kind == "remove":
            out = _remove(out, path, i)
        elif kind == "replace":
            _get(out, path, i)
            out = (
                _add(_remove(out, path, i), path, copy.deepcopy(op.get("value")), i)
                if path
                else copy.deepcopy(op.get("value"))
            )
        elif kind == "test":
            if _get(out, path, i) != op.get("value"):
                raise PatchError(i, f"test failed: the value at {path} differs")
        elif kind in ("move", "copy"):
            if "from" not in op:
                raise PatchError(i, f"{kind} needs from")
            value = copy.deepcopy(_get(out, op["from"], i))
            if kind == "move":
                out = _remove(out, op["from"], i)
            out = _add(out, path, value, i)
    return out


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: maps merge recursively, null removes a member, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out
