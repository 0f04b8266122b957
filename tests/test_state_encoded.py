"""composer/state/encoded.py writes the bytes (and signs the canonical JSON) of encoding the
whole state document at once, write after write, while it reuses each inventory item's text."""

from __future__ import annotations

import json
import random

from composer.state import keys
from composer.state.encoded import encoded, encoded_whole
from composer.state.model import InventoryItem, Revision, StateDoc, UnitState
from composer.state.protocol import decode_state, encode_state

KEY = b"k" * 32
NAMES = ["web", "db-0", "cache", "queue-x", "z9"]


def sign(canonical: bytes) -> str:
    return keys.signature(KEY, "state", canonical)


def item(rng: random.Random, component: str, i: int) -> InventoryItem:
    return InventoryItem(
        apiVersion=rng.choice(["v1", "apps/v1"]),
        kind=rng.choice(["ConfigMap", "Deployment"]),
        name=f"obj-{i}",
        namespace=rng.choice([None, "default", "bench"]),
        component=component,
        hash=f"{rng.getrandbits(64):x}",
        uid=rng.choice([None, f"uid-{i}"]),
        resourceVersion=rng.choice([None, str(i)]),
        generation=rng.choice([None, 1, 2]),
    )


def unit(rng: random.Random) -> UnitState:
    return UnitState(
        kind="kubernetes",
        type="k8s-objects",
        hash=f"{rng.getrandbits(64):x}",
        status="applied",
        outputs={"note": rng.choice(["é", "x", "\n", "a\u2028b", 'q"uote'])},
    )


def test_write_after_write_gives_the_bytes_of_encoding_the_whole_document():
    rng = random.Random(7)
    doc = StateDoc(app="bench", environment="dev", revisions=(Revision(serial=1, at="t", command="apply"),))
    assert encoded(doc, sign) == encoded_whole(doc, sign)  # no inventory at all
    for step in range(12):  # as an apply writes after each unit: one component's items replaced
        component = NAMES[step % len(NAMES)]
        target = rng.choice(["kube:ctx/ns", "kube:other/ns", "kube:é/x"])
        inventory = dict(doc.inventory)
        kept = tuple(i for i in inventory.get(target, ()) if i.component != component)
        inventory[target] = kept + tuple(item(rng, component, n) for n in range(rng.randint(0, 6)))
        doc = doc.with_unit(component, unit(rng)).model_copy(update={"inventory": inventory, "serial": step})
        assert encoded(doc, sign) == encoded_whole(doc, sign), step


def test_the_stored_text_is_the_standard_librarys_and_its_signature_verifies():
    rng = random.Random(3)
    doc = StateDoc(app="bench", environment="dev", inventory={"kube:a/b": (item(rng, "web", 1),), "kube:c/d": ()})
    data = encode_state(doc, KEY)
    obj = json.loads(data)
    assert data.decode() == json.dumps(obj, sort_keys=True, indent=2) + "\n"
    assert keys.verify(KEY, "state", obj)
    assert decode_state(data, "here", "bench", "dev", key=KEY) == doc
