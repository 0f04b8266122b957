"""The stand-in's typed view of built-in kinds: what a real API server's structured merge
refuses before it merges anything (tests/support/kube_standin.py, ``strict_schema=True``).

The schema is the official ``kubernetes`` client's model metadata (``openapi_types`` and
``attribute_map`` of ``V1Deployment``, ``V1Container``, ...), which is generated from the same
OpenAPI document the API server serves. Associative lists and their keys are not in that
metadata; they come from ``_ASSOC_KEYS`` in kube_standin.py (the documented
``x-kubernetes-list-map-keys``).

What a real server does, and where it comes from:

* An applied object is converted to a typed value first (apimachinery
  ``pkg/util/managedfields/internal/structuredmerge.go``: ``ObjectToTyped(patchObj)``). A
  failure is returned as a plain error, so the client gets HTTP **500** with the message
  ``failed to create typed patch object (NS/NAME; GROUP/VERSION, Kind=KIND): PATH: ...``
  and no ``reason`` (kubernetes/kubernetes#122480, #139253).
* The path messages are structured-merge-diff's (``typed/validate.go``, ``typed/helpers.go``):
  ``field not declared in schema``; ``expected string, got ...``; ``expected numeric (int or
  float), got ...``; ``expected boolean, got ...``; ``duplicate entries for key [name="A"]``.
* A resource quantity that does not parse fails when the merged object is decoded into the Go
  type: ``quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'``
  (apimachinery ``pkg/api/resource/quantity.go``, ``ErrFormatWrong``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
QUANTITY_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
# Maps whose values are resource.Quantity (the client types them as dict[str, str]).
QUANTITY_MAPS = {"limits", "requests", "capacity", "allocatable", "hard", "used", "overhead"}

KeysOf = Callable[[str | None, Any], "tuple[str, ...] | None"]


def model_for(api_version: str, kind: str) -> Any:
    """The client's model class of a built-in kind (V1Deployment, V2HorizontalPodAutoscaler), or None."""
    from kubernetes import client

    version = api_version.rpartition("/")[2]
    return getattr(client.models, version[:1].upper() + version[1:] + kind, None)


def _model(name: str) -> Any:
    from kubernetes import client

    return getattr(client.models, name, None)


def _scalar_error(want: str, value: Any) -> str | None:
    if want == "str" or want in ("datetime", "date"):
        if not isinstance(value, str):
            return f"expected string, got &value.valueUnstructured{{Value:{json.dumps(value)}}}"
    elif want in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"expected numeric (int or float), got {type(value).__name__ if not isinstance(value, str) else 'string'}"
    elif want == "bool":
        if not isinstance(value, bool):
            return f"expected boolean, got {json.dumps(value)}"
    return None


def _key_text(item: dict, keys: tuple[str, ...]) -> str:
    return ",".join(f"{k}={json.dumps(item.get(k, 'TCP' if k == 'protocol' else None))}" for k in keys)


def _check(value: Any, want: str, path: str, field: str | None, keys_of: KeysOf, out: list[str]) -> None:
    if value is None or want == "object":
        return
    if want.startswith("list["):
        if not isinstance(value, list):
            out.append(f"{path}: expected list, got {type(value).__name__}")
            return
        inner = want[5:-1]
        keys = keys_of(field, value)
        seen: set[str] = set()
        for i, item in enumerate(value):
            at = f"{path}[{i}]"
            if keys and isinstance(item, dict):
                text = _key_text(item, keys)
                if text in seen:
                    out.append(f"{path}: duplicate entries for key [{text}]")
                seen.add(text)
                at = f"{path}[{text}]"
            _check(item, inner, at, None, keys_of, out)
        return
    if want.startswith("dict["):
        if not isinstance(value, dict):
            out.append(f"{path}: expected map, got {type(value).__name__}")
            return
        inner = want[5:-1].split(", ", 1)[1]
        for k, v in value.items():
            _check(v, inner, f"{path}.{k}", None, keys_of, out)
            if field in QUANTITY_MAPS and isinstance(v, str) and not QUANTITY.match(v):
                out.append(f"{path}.{k}: {QUANTITY_ERROR}")
        return
    model = _model(want)
    if model is None:
        problem = _scalar_error(want, value)
        if problem:
            out.append(f"{path}: {problem}")
        return
    if not isinstance(value, dict):
        out.append(f"{path}: expected map, got {type(value).__name__}")
        return
    by_json = {j: py for py, j in model.attribute_map.items()}
    for k, v in value.items():
        py = by_json.get(k)
        if py is None:
            out.append(f"{path}.{k}: field not declared in schema")
            continue
        _check(v, model.openapi_types[py], f"{path}.{k}", k, keys_of, out)


def typed_errors(api_version: str, kind: str, obj: dict, keys_of: KeysOf) -> list[str] | None:
    """The structured-merge-diff errors of an applied object (None: no schema for the kind)."""
    model = model_for(api_version, kind)
    if model is None:
        return None
    out: list[str] = []
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    _check(body, model.__name__, "", None, keys_of, out)
    return out


def typed_patch_message(api_version: str, kind: str, namespace: str | None, name: str, errors: list[str]) -> str:
    group_version = api_version if "/" in api_version else "/" + api_version
    where = f"{namespace or ''}/{name}"
    return f"failed to create typed patch object ({where}; {group_version}, Kind={kind}): " + "\n".join(errors)
