"""The cluster side of the reality probe and of drift repair.

- `with_identity`: the inventory items of a write carry the uid, resourceVersion and generation
  the server answered, so a later probe can tell our object from a changed or re-created one.
- `list_live`: one LIST per kind and namespace, by Composer's app label, for every recorded
  object of the units about to be skipped (no GET per object, no write). It asks for the
  list as a Table of object metadata (as `kubectl get` does): uid, resourceVersion and
  generation are all the probe reads, and a Deployment's spec and status are most of its
  bytes (a server that cannot make a Table answers with the plain list, read the same way).
- `reclaimed_body`: an object another field manager changed is written again with our fields
  (force, for that object only) minus the paths policies.ignoreDrift leaves to others.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from composer.engine.probes import LiveObject, ObjectKey
from composer.runners.kube.client import ApiError, Unreachable
from composer.state.model import InventoryItem

if TYPE_CHECKING:
    from composer.runners.kube.base import ClusterBase as ClusterSink  # the sink's shared part: client, app, target

SinkKey = tuple[str, str | None, str]  # (kind, namespace as rendered, name): the sink's own key
METADATA_TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"  # the plain list as fallback


def with_identity(
    items: tuple[InventoryItem, ...], live: Mapping[Any, Mapping[str, Any]], before: Mapping[SinkKey, InventoryItem]
) -> tuple[InventoryItem, ...]:
    """Items with the identity the server gave each object just written, or (not written this
    time) the identity recorded before."""
    out = []
    for item in items:
        key = (item.kind, item.namespace, item.name)
        meta = (live.get(key) or {}).get("metadata") or {}
        if meta.get("uid"):
            generation = meta.get("generation")
            update = {
                "uid": str(meta["uid"]),
                "resource_version": str(meta.get("resourceVersion") or ""),
                "generation": generation if isinstance(generation, int) else None,
            }
        elif key in before:
            old = before[key]
            update = {"uid": old.uid, "resource_version": old.resource_version, "generation": old.generation}
        else:
            out.append(item)
            continue
        out.append(item.model_copy(update=update))
    return tuple(out)


def reclaimed_body(body: dict, leave: tuple[str, ...] | None) -> dict:
    """The body without the dotted paths another manager may keep (`spec.replicas`)."""
    if not leave:
        return body
    out = copy.deepcopy(body)
    for path in leave:
        *parents, last = path.split(".")
        node: Any = out
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return out


def list_live(sink: ClusterSink, items: Iterable[InventoryItem]) -> dict[ObjectKey, LiveObject | None]:
    """What the cluster holds of these recorded objects: one LIST per kind and namespace. A key
    is absent from the answer when its LIST failed (the probe cannot answer for it)."""
    groups: dict[tuple[str, str, str], list[InventoryItem]] = {}
    for item in items:
        groups.setdefault((item.api_version, item.kind, item.namespace or sink.namespace), []).append(item)
    out: dict[ObjectKey, LiveObject | None] = {}
    for (api_version, kind, namespace), members in sorted(groups.items(), key=lambda kv: kv[0]):
        found = _list(sink, api_version, kind, namespace)
        if found is None:
            continue
        for item in members:
            out[(sink.target, item.kind, item.namespace, item.name)] = found.get(item.name)
    return out


def _list(sink: ClusterSink, api_version: str, kind: str, namespace: str) -> dict[str, LiveObject] | None:
    try:
        res = sink.client.resource(api_version, kind)
        if res is None:  # the kind is gone (its CRD removed): so are its objects
            return {}
        doc = sink.client.request(
            "GET",
            res.path(namespace if res.namespaced else None),
            query={"labelSelector": f"composer.dev/app={sink.app}", "includeObject": "Metadata"},
            accept=METADATA_TABLE,
        )
    except (ApiError, Unreachable):
        return None
    out = {}
    for meta in _listed_metadata(doc or {}):
        generation = meta.get("generation")
        out[str(meta.get("name"))] = LiveObject(
            str(meta.get("uid") or ""),
            str(meta.get("resourceVersion") or ""),
            generation if isinstance(generation, int) else None,
        )
    return out


def _listed_metadata(doc: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    """The metadata of each listed object: from a Table's rows, or from a plain list's items."""
    if doc.get("kind") == "Table":
        objects = [row.get("object") for row in doc.get("rows") or [] if isinstance(row, dict)]
    else:
        objects = list(doc.get("items") or [])
    return [obj.get("metadata") or {} for obj in objects if isinstance(obj, dict)]
