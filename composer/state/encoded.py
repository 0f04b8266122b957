"""The state document's two encodings, with each inventory item encoded once per process.

A state is stored as `json.dumps(doc, sort_keys=True, indent=2)` (composer/state/jsontext.py)
and signed over its canonical JSON (composer/state/keys.py). An apply writes the state after
every unit, and the inventory (one item per Kubernetes object) is most of it: encoding 1,000
items twice per write was ~7 ms of CPU holding the interpreter lock, which stalled every
request in flight, eleven times per 1,000-object apply (issue 13). Inventory items are frozen
and a unit's write keeps the other units' items as the same objects, so each item's two texts
are kept by identity and every write joins them. The result is the same bytes as encoding
the whole document (tests/test_state_encoded.py compares them).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from composer.state.jsontext import INDENT, Unusual, dumps_indented, encode_at
from composer.state.keys import SIGNATURE_FIELD
from composer.state.model import InventoryItem, StateDoc

Signer = Callable[[bytes], str]  # canonical JSON -> the signature

_ITEM_LEVEL = 3  # doc -> "inventory" -> a target's list -> an item


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class _ItemTexts:
    """Each inventory item's (canonical, indented) text, by identity, for the items of the
    last document encoded (a strong reference keeps an id from being reused)."""

    def __init__(self) -> None:
        self._known: dict[int, tuple[InventoryItem, str, str]] = {}
        self._lock = threading.Lock()

    def of(self, items: list[InventoryItem]) -> list[tuple[str, str]]:
        with self._lock:
            known, kept = self._known, {}
            out = []
            for item in items:
                hit = known.get(id(item))
                if hit is None or hit[0] is not item:
                    data = item.model_dump(mode="json", by_alias=True)
                    hit = (item, _canonical(data), encode_at(data, _ITEM_LEVEL))
                kept[id(item)] = hit
                out.append((hit[1], hit[2]))
            self._known = kept
            return out


_TEXTS = _ItemTexts()


def _inventory(doc: StateDoc) -> tuple[str, str]:
    """The inventory's canonical text and its indented text (as the value of a top-level key)."""
    targets = sorted(doc.inventory)
    texts = _TEXTS.of([item for t in targets for item in doc.inventory[t]])
    if not targets:
        return "{}", "{}"
    canonical, indented, at = [], [], 0
    for target in targets:
        these = texts[at : at + len(doc.inventory[target])]
        at += len(these)
        canonical.append(_canonical(target) + ":[" + ",".join(c for c, _ in these) + "]")
        inner, outer = INDENT * _ITEM_LEVEL, INDENT * (_ITEM_LEVEL - 1)
        listed = "[\n" + ",\n".join(inner + t for _, t in these) + "\n" + outer + "]" if these else "[]"
        indented.append(INDENT * 2 + json.dumps(target) + ": " + listed)
    return "{" + ",".join(canonical) + "}", "{\n" + ",\n".join(indented) + "\n" + INDENT + "}"


def encoded(doc: StateDoc, sign: Signer) -> bytes:
    """The stored bytes of `doc`: indented text whose `signature` is `sign(canonical JSON)`."""
    try:
        return _joined(doc, sign)
    except Unusual:  # a value only the standard library encodes: the whole document at once
        return encoded_whole(doc, sign)


def _joined(doc: StateDoc, sign: Signer) -> bytes:
    rest = doc.model_dump(mode="json", by_alias=True, exclude={"inventory"})
    inventory_canonical, inventory_text = _inventory(doc)
    canonical = ",".join(
        _canonical(k) + ":" + (inventory_canonical if k == "inventory" else _canonical(rest[k]))
        for k in sorted([*rest, "inventory"])
    )
    rest[SIGNATURE_FIELD] = sign(("{" + canonical + "}").encode())
    members = [
        INDENT + json.dumps(k) + ": " + (inventory_text if k == "inventory" else encode_at(rest[k], 1))
        for k in sorted([*rest, "inventory"])
    ]
    return ("{\n" + ",\n".join(members) + "\n}\n").encode()


def encoded_whole(doc: StateDoc, sign: Signer) -> bytes:
    """The same bytes from the whole document at once (and what the tests compare with)."""
    obj = doc.model_dump(mode="json", by_alias=True)
    obj[SIGNATURE_FIELD] = sign(_canonical(obj).encode())
    return (dumps_indented(obj) + "\n").encode()
