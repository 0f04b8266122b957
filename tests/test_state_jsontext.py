"""composer/state/jsontext.py writes the standard library's indented JSON byte for byte."""

from __future__ import annotations

import json
import random

import pytest

from composer.state.jsontext import dumps_indented

LEAVES = ["", "a", "ü", "\u2028", 'quote " and \\', "\n", 0, -1, 2**70, 1.5, -0.0, 1e-300, True, False, None]


def tree(rng: random.Random, depth: int) -> object:
    roll = rng.random()
    if depth == 0 or roll < 0.3:
        return rng.choice(LEAVES)
    if roll < 0.65:
        return {
            rng.choice(["k", "apiVersion", "z", "é", "0", ""]) + str(i): tree(rng, depth - 1)
            for i in range(rng.randint(0, 4))
        }
    return [tree(rng, depth - 1) for _ in range(rng.randint(0, 4))]


@pytest.mark.parametrize("seed", range(40))
def test_random_documents_are_written_as_the_standard_library_writes_them(seed):
    doc = tree(random.Random(seed), 5)
    assert dumps_indented(doc) == json.dumps(doc, sort_keys=True, indent=2)


def test_a_state_shaped_document_and_the_unusual_values_left_to_the_standard_library():
    item = {"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "namespace": None, "generation": 3, "hash": "ab"}
    doc = {"inventory": {"kube:a/b": [item, {**item, "name": "d"}], "kube:c/d": []}, "units": {}, "serial": 7}
    assert dumps_indented(doc) == json.dumps(doc, sort_keys=True, indent=2)
    for unusual in ({"t": (1, 2)}, {1: "int key"}, {"s": {"nested": float("nan")}}, [{"x": [1, [2, {}]]}]):
        assert dumps_indented(unusual) == json.dumps(unusual, sort_keys=True, indent=2)
