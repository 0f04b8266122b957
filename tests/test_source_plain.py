"""The source reader's two builders (composer/model/source.py, source_plain.py) make the same
values, positions and diagnostics: the plain one builds the usual document without positions
(found again when a diagnostic asks), the full one everything else."""

from __future__ import annotations

from typing import Any

import pytest

from composer.diagnostics import DiagnosticError
from composer.model import source
from composer.model.source_plain import PlainBuilder, Unusual

PLAIN = """\
apiVersion: composer.dev/v1alpha1
kind: Application
metadata: {name: shop}
spec:
  components:
    - name: web
      type: webservice
      properties:
        image: nginx
        replicas: 2
        ratio: 0.5
        enabled: true
        nothing: null
        date: 2024-01-01
        labels: &labels {team: a, tier: web}
        selector: *labels
        ports: [80, 443]
        quoted: "12"
"""

# Each goes the full way: merge keys, keys that are not text, an unknown tag, a duplicate key.
UNUSUAL = {
    "merge": "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n",
    "int key": "80: http\ntrue: yes\n",
    "tag": "a: !custom x\n",
    "duplicate": "a: 1\nb: 2\na: 3\n",
    "long number": "n: " + "9" * 5000 + "\n",
    "mapping key": "? [a, b]\n: c\n",
    "deep": "a: " + "[" * 80 + "]" * 80 + "\n",
}


def _outcome(text: str) -> Any:
    """Each document's values and positions, or the diagnostics."""
    try:
        docs = source.parse_documents(text, "f.yaml")
    except DiagnosticError as exc:
        return exc.diagnostics
    return [(d.data, dict(d.source_map.values), dict(d.source_map.keys)) for d in docs]


def _full(text: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The outcome with every document built the full way, as parse_documents built them before."""
    with monkeypatch.context() as m:
        m.setattr(PlainBuilder, "document", _refuse)
        return _outcome(text)


def _refuse(self: PlainBuilder, node: Any) -> Any:
    raise Unusual("the full way, for comparison")


def test_a_plain_document_is_built_without_positions_and_finds_them_when_asked(monkeypatch):
    (doc,) = source.parse_documents(PLAIN, "f.yaml")
    assert isinstance(doc.source_map, source.DeferredSourceMap) and "values" not in vars(doc.source_map)
    props = doc.data["spec"]["components"][0]["properties"]
    assert props["selector"] == props["labels"] and props["selector"] is not props["labels"]  # an alias is a copy
    assert [type(props[k]) for k in ("replicas", "ratio", "enabled", "nothing", "date", "quoted")] == [
        int,
        float,
        bool,
        type(None),
        str,
        str,
    ]
    d = doc.source_map.diagnostic(("spec", "components", 0, "properties", "selector", "team"), "bad")
    assert (d.file, d.line, d.column) == ("f.yaml", 15, 32)  # an aliased value is placed where its anchor wrote it
    assert _outcome(PLAIN) == _full(PLAIN, monkeypatch)


def test_documents_share_one_budget_whichever_builder_makes_them(monkeypatch):
    text = "---\n".join([PLAIN, UNUSUAL["merge"], PLAIN])
    assert _outcome(text) == _full(text, monkeypatch)
    kinds = [type(d.source_map) for d in source.parse_documents(text, "f.yaml")]
    assert kinds == [source.DeferredSourceMap, source.SourceMap, source.DeferredSourceMap]


@pytest.mark.parametrize("case", sorted(UNUSUAL))
def test_an_unusual_document_is_built_the_full_way(case, monkeypatch):
    assert _outcome(UNUSUAL[case]) == _full(UNUSUAL[case], monkeypatch)


def test_an_alias_bomb_stops_at_the_same_value_as_before(monkeypatch):
    bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{n}: &{n} [{','.join(['*' + p] * 10)}]\n" for p, n in zip("abcdef", "bcdefg", strict=True)
    )
    diagnostics = _outcome("---\n".join([PLAIN, bomb]))
    assert diagnostics == _full("---\n".join([PLAIN, bomb]), monkeypatch)
    assert [(d.summary, d.line) for d in diagnostics] == [("file expands to too many values", 20)]


@pytest.mark.parametrize(
    "text",
    [
        PLAIN.replace("&labels ", "").replace("*labels", "{team: a}"),  # no anchors: built plainly
        "a: 2024-01-01\nb: [1, 2.5, true, null, ~, text]\n",  # a date: PyYAML makes a date
        "a: 1\na: 2\n",  # a duplicate: PyYAML keeps the last
        "1: one\ntrue: yes\n",  # keys that are not text stay what PyYAML makes of them
        "base: {x: 1}\nm: {<<: {y: 2}, z: 3}\n",
        "",
        "a: 1\n---\nb: 2\n",  # several documents: PyYAML's error
    ],
)
def test_a_shipped_file_reads_as_pyyaml_reads_it(text):
    import yaml

    def read(load: Any) -> Any:
        try:
            return load(text)
        except yaml.YAMLError as exc:
            return str(exc)

    expected = read(lambda t: yaml.load(t, Loader=yaml.CSafeLoader))
    got = read(source.load_shipped)
    assert got == expected and repr(got) == repr(expected)  # the same types too (a date, an int key)


def test_positions_assigned_before_they_are_found_stay_as_assigned(monkeypatch):
    (doc,) = source.parse_documents(PLAIN, "f.yaml")
    doc.source_map.values = {(): source.Position(9, 9)}  # as the KubeVela conversion reassigns a map
    assert doc.source_map.values == {(): source.Position(9, 9)}
    assert doc.source_map.keys == _full(PLAIN, monkeypatch)[0][2]  # the other is found as usual


def test_a_loader_and_its_tag_cache_are_freed_when_composing_ends_with_the_collector_off(monkeypatch):
    """The compile runs with the collector off: a loader kept alive by a cycle (its cached bound
    `resolve`) would keep one entry per distinct scalar of every file until the process ends."""
    import gc
    import weakref

    loaders: list[weakref.ref] = []
    init = source._Composer.__init__

    def recording_init(self: Any, stream: Any) -> None:
        init(self, stream)
        loaders.append(weakref.ref(self))

    monkeypatch.setattr(source._Composer, "__init__", recording_init)
    text = "\n".join(f"k{i}: v{i}" for i in range(1000))
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        source.parse_documents(text, "big.yaml")
        assert loaders and all(ref() is None for ref in loaders)
    finally:
        if was_enabled:
            gc.enable()
