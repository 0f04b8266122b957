"""Server-side apply, patches and selectors of the Kubernetes API stand-in
(tests/support/kube_standin.py), as pure functions over JSON values.

Field sets are FieldsV1 paths (``f:``, ``k:``, ``v:`` elements, as in ``metadata.managedFields``);
associative lists are keyed by the documented ``x-kubernetes-list-map-keys`` (``_ASSOC_KEYS``);
JSON merge patch (RFC 7386), an approximation of strategic merge patch, JSON patch (RFC 6902),
and label and field selectors as the API server parses them.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

_MISSING: Any = object()

# Associative lists (x-kubernetes-list-type: map) and their keys, by field name.
_ASSOC_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "env": ("name",),
    "volumes": ("name",),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "imagePullSecrets": ("name",),
    "hostAliases": ("ip",),
    "ownerReferences": ("uid",),
    "conditions": ("type",),
    "resourceClaims": ("name",),
    "topologySpreadConstraints": ("topologyKey", "whenUnsatisfiable"),
    "readinessGates": ("conditionType",),
    "schedulingGates": ("name",),
}
_KEY_DEFAULTS = {"protocol": "TCP"}
_ATOMIC_MAPS = {"selector", "labelSelector", "namespaceSelector"}
_SET_LISTS = {"finalizers"}


# --------------------------------------------------------------------------------------------
# Field sets, server-side apply and patches (schema-less approximations of the real thing)
# --------------------------------------------------------------------------------------------

Path = tuple[str, ...]


def _assoc_keys(field: str | None, items: Any) -> tuple[str, ...] | None:
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        return None
    if field == "ports":
        if all("containerPort" in i for i in items):
            return ("containerPort", "protocol")
        if all("port" in i for i in items):
            return ("port", "protocol")
        return None
    keys = _ASSOC_KEYS.get(field or "")
    if keys and all(keys[0] in i for i in items):
        return keys
    return None


def _key_of(item: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    out = {}
    for k in keys:
        v = item.get(k, _KEY_DEFAULTS.get(k))
        if v is not None:
            out[k] = v
    return out


def _item_element(item: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    return "k:" + json.dumps(_key_of(item, keys), sort_keys=True, separators=(",", ":"))


def _walk_fields(value: Any, path: Path, field: str | None, out: set[Path]) -> None:
    if isinstance(value, dict) and value and field not in _ATOMIC_MAPS:
        for k, v in value.items():
            _walk_fields(v, path + (f"f:{k}",), k, out)
    elif isinstance(value, list) and (keys := _assoc_keys(field, value)):
        for item in value:
            ip = path + (_item_element(item, keys),)
            out.add(ip)
            for k, v in item.items():
                _walk_fields(v, ip + (f"f:{k}",), k, out)
    elif (
        isinstance(value, list)
        and field in _SET_LISTS
        and value
        and all(not isinstance(x, (dict, list)) for x in value)
    ):
        for x in value:
            out.add(path + ("v:" + json.dumps(x, separators=(",", ":")),))
    else:
        out.add(path)


def _fieldset(obj: Mapping[str, Any] | None, scope: str = "main", has_status: bool = True) -> set[Path]:
    """The set of field paths (FieldsV1 elements) set in an object, within a scope."""
    out: set[Path] = set()
    if not obj:
        return out
    if scope == "status":
        if "status" in obj and obj["status"] is not None:
            _walk_fields(obj["status"], ("f:status",), "status", out)
        return out
    for k, v in obj.items():
        if k in ("apiVersion", "kind") or v is None or (k == "status" and has_status):
            continue
        if k == "metadata":
            if not isinstance(v, dict):
                continue
            for mk in ("labels", "annotations", "finalizers", "ownerReferences"):
                if mk in v and v[mk] is not None:
                    _walk_fields(v[mk], ("f:metadata", f"f:{mk}"), mk, out)
            continue
        _walk_fields(v, (f"f:{k}",), k, out)
    return out


def _find_item(items: list[Any], element: str) -> int:
    if element.startswith("k:"):
        want = json.loads(element[2:])
        for idx, item in enumerate(items):
            if isinstance(item, dict) and all(item.get(k, _KEY_DEFAULTS.get(k)) == v for k, v in want.items()):
                return idx
    elif element.startswith("v:"):
        want = json.loads(element[2:])
        for idx, item in enumerate(items):
            if item == want:
                return idx
    return -1


def _value_at(obj: Any, path: Path) -> Any:
    cur = obj
    for el in path:
        if el.startswith("f:"):
            if not isinstance(cur, dict) or el[2:] not in cur:
                return _MISSING
            cur = cur[el[2:]]
        elif el.startswith(("k:", "v:")):
            if not isinstance(cur, list):
                return _MISSING
            idx = _find_item(cur, el)
            if idx < 0:
                return _MISSING
            cur = cur[idx]
        else:
            return _MISSING
    return cur


def _delete_at(obj: Any, path: Path) -> bool:
    if not path:
        return False
    parent = _value_at(obj, path[:-1])
    el = path[-1]
    if el.startswith("f:") and isinstance(parent, dict) and el[2:] in parent:
        del parent[el[2:]]
        return True
    if el.startswith(("k:", "v:")) and isinstance(parent, list):
        idx = _find_item(parent, el)
        if idx >= 0:
            del parent[idx]
            return True
    return False


def _path_str(path: Path) -> str:
    out = []
    for el in path:
        if el.startswith("f:"):
            out.append("." + el[2:])
        elif el.startswith("k:"):
            keyd = json.loads(el[2:])
            out.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keyd.items()) + "]")
        elif el.startswith("v:"):
            out.append(f"[={el[2:]}]")
    return "".join(out)


def _fields_to_v1(paths: Iterable[Path]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    paths = set(paths)
    for p in sorted(paths):
        node = root
        for el in p:
            node = node.setdefault(el, {})
    # Mark the set nodes that also have children with ".".
    for p in paths:
        node = _value_at_v1(root, p)
        if node:
            node["."] = {}
    return root


def _value_at_v1(root: dict[str, Any], path: Path) -> dict[str, Any]:
    node = root
    for el in path:
        node = node[el]
    return node


def _fields_from_v1(fields: Any, prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    if not isinstance(fields, dict):
        return out
    for k, v in fields.items():
        if k == ".":
            if prefix:
                out.add(prefix)
            continue
        p = prefix + (k,)
        if not v:
            out.add(p)
        else:
            out |= _fields_from_v1(v, p)
    return out


def _prefixes(paths: Iterable[Path]) -> set[Path]:
    return {p[:i] for p in paths for i in range(1, len(p) + 1)}


def _removable(dropped: set[Path], kept: set[Path]) -> list[Path]:
    """What an applier's dropped fields remove, outermost first (structured-merge-diff
    ``merge/update.go`` prunes the removed set from the merged value): a dropped list item goes
    whole, with its key fields, unless another manager still owns something inside it; then only
    the applier's own non-key fields in it go."""
    out: list[Path] = []
    for p in sorted(dropped, key=len):
        if p in kept or any(p[:i] in out for i in range(1, len(p))):
            continue
        parent = p[-2] if len(p) >= 2 else ""
        if parent.startswith("k:") and p[-1].startswith("f:") and p[-1][2:] in json.loads(parent[2:]):
            continue  # a key field of an item that stays
        out.append(p)
    return sorted(out, key=len, reverse=True)


def _apply_merge(live: Any, applied: Any, field: str | None = None) -> Any:
    """Merge an applied configuration into a live value, SSA-style (no deletions)."""
    if isinstance(applied, dict) and isinstance(live, dict) and field not in _ATOMIC_MAPS:
        out = copy.deepcopy(live)
        for k, v in applied.items():
            if v is None:
                continue
            out[k] = _apply_merge(live[k], v, k) if k in live else copy.deepcopy(v)
        return out
    if isinstance(applied, list) and isinstance(live, list):
        keys = _assoc_keys(field, applied)
        if keys and (not live or _assoc_keys(field, live) == keys):
            out_list = copy.deepcopy(live)
            for item in applied:
                idx = _find_item(out_list, _item_element(item, keys))
                if idx >= 0:
                    out_list[idx] = _apply_merge(out_list[idx], item, None)
                else:
                    out_list.append(copy.deepcopy(item))
            return out_list
        if field in _SET_LISTS and all(not isinstance(x, (dict, list)) for x in applied + live):
            return copy.deepcopy(live) + [x for x in applied if x not in live]
    return copy.deepcopy(applied)


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = _merge_patch(out.get(k), v)
    return out


def _strategic_merge(target: Any, patch: Any, field: str | None = None) -> Any:
    """An approximation of strategic merge patch: merge patch + keyed lists + $patch: delete."""
    if isinstance(patch, dict):
        if patch.get("$patch") == "replace":
            return {k: copy.deepcopy(v) for k, v in patch.items() if not k.startswith("$")}
        out = copy.deepcopy(target) if isinstance(target, dict) and field not in _ATOMIC_MAPS else {}
        for k, v in patch.items():
            if k.startswith("$"):
                continue
            if v is None:
                out.pop(k, None)
            else:
                out[k] = _strategic_merge(out.get(k), v, k)
        return out
    if isinstance(patch, list) and isinstance(target, list):
        keys = _assoc_keys(field, [i for i in patch if isinstance(i, dict) and i.get("$patch") != "delete"] or patch)
        if keys and _assoc_keys(field, target) in (keys, None):
            out_list = copy.deepcopy(target)
            for item in patch:
                if not isinstance(item, dict):
                    continue
                idx = _find_item(out_list, _item_element(item, keys))
                if item.get("$patch") == "delete":
                    if idx >= 0:
                        del out_list[idx]
                elif idx >= 0:
                    out_list[idx] = _strategic_merge(out_list[idx], item, None)
                else:
                    out_list.append({k: copy.deepcopy(v) for k, v in item.items() if not k.startswith("$")})
            return out_list
        if field in _SET_LISTS:
            return copy.deepcopy(target) + [x for x in patch if x not in target]
    return copy.deepcopy(patch)


def _json_pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(f"invalid JSON pointer: {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _json_patch(doc: Any, ops: list[Any]) -> Any:
    """RFC 6902 JSON patch (add, remove, replace, test, move, copy)."""
    doc = copy.deepcopy(doc)

    def parent_of(tokens: list[str]) -> tuple[Any, str]:
        cur = doc
        for t in tokens[:-1]:
            cur = cur[int(t)] if isinstance(cur, list) else cur[t]
        return cur, tokens[-1]

    def get(tokens: list[str]) -> Any:
        cur = doc
        for t in tokens:
            cur = cur[int(t)] if isinstance(cur, list) else cur[t]
        return cur

    def add(tokens: list[str], value: Any) -> None:
        parent, last = parent_of(tokens)
        if isinstance(parent, list):
            parent.insert(len(parent) if last == "-" else int(last), value)
        else:
            parent[last] = value

    def remove(tokens: list[str]) -> Any:
        parent, last = parent_of(tokens)
        return parent.pop(int(last)) if isinstance(parent, list) else parent.pop(last)

    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ValueError(f"invalid JSON patch operation: {op!r}")
        tokens = _json_pointer(op["path"])
        if not tokens:
            raise ValueError("JSON patch on the document root is not supported")
        kind = op["op"]
        if kind == "add":
            add(tokens, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            remove(tokens)
        elif kind == "replace":
            remove(tokens)
            add(tokens, copy.deepcopy(op.get("value")))
        elif kind == "test":
            if get(tokens) != op.get("value"):
                raise ValueError(f"testing value {op['path']} failed")
        elif kind in ("move", "copy"):
            src = _json_pointer(op["from"])
            value = remove(src) if kind == "move" else copy.deepcopy(get(src))
            add(tokens, value)
        else:
            raise ValueError(f"unsupported JSON patch operation: {kind!r}")
    return doc


# --------------------------------------------------------------------------------------------
# Selectors
# --------------------------------------------------------------------------------------------


def _split_selector(s: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _parse_label_selector(s: str) -> list[tuple[str, str, Any]]:
    reqs: list[tuple[str, str, Any]] = []
    for part in _split_selector(s):
        if m := re.fullmatch(r"(\S+)\s+(in|notin)\s*\(([^)]*)\)", part):
            values = {v.strip() for v in m.group(3).split(",") if v.strip()}
            reqs.append((m.group(1), m.group(2), values))
        elif part.startswith("!"):
            reqs.append((part[1:].strip(), "!exists", None))
        elif "!=" in part:
            k, v = part.split("!=", 1)
            reqs.append((k.strip(), "!=", v.strip()))
        elif "==" in part:
            k, v = part.split("==", 1)
            reqs.append((k.strip(), "=", v.strip()))
        elif "=" in part:
            k, v = part.split("=", 1)
            reqs.append((k.strip(), "=", v.strip()))
        elif re.fullmatch(r"[-A-Za-z0-9_./]+", part):
            reqs.append((part, "exists", None))
        else:
            raise ValueError(f"unable to parse requirement: {part!r}")
    return reqs


def _labels_match(labels: Mapping[str, str], reqs: list[tuple[str, str, Any]]) -> bool:
    for key, op, val in reqs:
        present = key in labels
        if op == "=" and labels.get(key) != val:
            return False
        if op == "!=" and present and labels.get(key) == val:
            return False
        if op == "in" and (not present or labels[key] not in val):
            return False
        if op == "notin" and present and labels[key] in val:
            return False
        if op == "exists" and not present:
            return False
        if op == "!exists" and present:
            return False
    return True


def _parse_field_selector(s: str) -> list[tuple[str, str, str]]:
    reqs = []
    for part in _split_selector(s):
        if "!=" in part:
            k, v = part.split("!=", 1)
            reqs.append((k.strip(), "!=", v.strip()))
        elif "==" in part:
            k, v = part.split("==", 1)
            reqs.append((k.strip(), "=", v.strip()))
        elif "=" in part:
            k, v = part.split("=", 1)
            reqs.append((k.strip(), "=", v.strip()))
        else:
            raise ValueError(f"invalid field selector: {part!r}")
    return reqs


def _fields_match(obj: Mapping[str, Any], reqs: list[tuple[str, str, str]]) -> bool:
    for key, op, val in reqs:
        cur: Any = obj
        for part in key.split("."):
            cur = cur.get(part) if isinstance(cur, dict) else None
        actual = "" if cur is None else (str(cur).lower() if isinstance(cur, bool) else str(cur))
        if (op == "=") != (actual == val):
            return False
    return True
