"""build_graph() called directly (tests/support/core.py): order, edge reasons, typed refs, cycles and
bad references with their field paths. No Terraform, no servers."""

from __future__ import annotations

import pytest

from composer.diagnostics import DiagnosticError
from composer.graph import Edge
from composer.model.refs import OutputRef
from tests.support.core import graph_of

WORKER = "type: worker, properties: {image: 'acme/app:1'"


def test_dependencies_come_first_and_each_edge_says_why(tmp_path):
    graph = graph_of(
        tmp_path,
        f"""
- {{name: w, {WORKER}, env: {{N: '${{s.name}}', P: '${{db.password}}'}}}}, dependsOn: [s], connections: [q]}}
- {{name: s, type: bucket}}
- {{name: db, type: postgres}}
- {{name: q, type: queue}}
""",
    )
    assert graph.order.index("w") == 3 and set(graph.order[:3]) == {"s", "db", "q"}
    assert set(graph.edges) == {
        Edge("s", "w", "dependsOn"),
        Edge("s", "w", "reference"),
        Edge("db", "w", "reference"),
        Edge("q", "w", "connection"),
    }


def test_refs_are_typed_once_and_know_which_are_secret(tmp_path):
    graph = graph_of(
        tmp_path,
        f"""
- {{name: s, type: bucket}}
- {{name: db, type: postgres}}
- {{name: w, {WORKER}, env: {{N: '${{s.name}}', P: '${{db.password}}'}}}}}}
""",
    )
    env = ("spec", "components", 2, "properties", "env")
    assert graph.refs["w"] == (
        (env + ("N",), OutputRef("s", "name", False)),
        (env + ("P",), OutputRef("db", "password", True)),
    )
    assert graph.refs["s"] == graph.refs["db"] == ()


def test_a_cycle_is_one_diagnostic_that_draws_it(tmp_path):
    with pytest.raises(DiagnosticError) as caught:
        graph_of(tmp_path, f"- {{name: a, {WORKER}}}, dependsOn: [b]}}\n- {{name: b, {WORKER}}}, dependsOn: [a]}}")
    (d,) = caught.value.diagnostics
    assert (d.summary, d.path, d.line) == ("dependency cycle: a → b → a", ("spec", "components", 0, "name"), 6)


def test_every_bad_edge_is_reported_with_its_field_path(tmp_path):
    with pytest.raises(DiagnosticError) as caught:
        graph_of(
            tmp_path,
            f"""
- {{name: a, {WORKER}}}, connections: [nope, a]}}
- {{name: b, {WORKER}, env: {{X: '${{db.nokey}}'}}}}}}
- {{name: db, type: postgres}}
- {{name: c, {WORKER}}}, connections: [b], dependsOn: [ghost]}}
""",
        )
    found = [(d.summary, d.path, d.address) for d in caught.value.diagnostics]
    assert found == [
        ("connection names unknown component 'nope'", ("spec", "components", 0, "connections", 0), "a"),
        ("a component cannot connect to itself", ("spec", "components", 0, "connections", 1), "a"),
        (
            "reference ${db.nokey}: postgres 'db' has no output 'nokey'",
            ("spec", "components", 1, "properties", "env", "X"),
            "b",
        ),
        ("cannot connect to 'b': type 'worker' declares no outputs", ("spec", "components", 3, "connections", 0), "c"),
        ("dependsOn names unknown component 'ghost'", ("spec", "components", 3, "dependsOn", 0), "c"),
    ]


def test_render_unescapes_a_copy_and_lists_every_text_holding_a_reference():
    from composer.model import refs

    shared = {"k": "v"}
    value = {
        "a": "x ${db.url} y",
        "b": ["$${lit.eral}", 3, None, {"c": "plain", "d": shared}],
        "t": ("${in.tuple}", "$${kept}"),
        "n": 1.5,
    }
    dollars: list[str] = []
    copy = refs.unescaped_copy(value, dollars)
    assert copy == {
        "a": "x ${db.url} y",
        "b": ["${lit.eral}", 3, None, {"c": "plain", "d": {"k": "v"}}],
        "t": ("${in.tuple}", "$${kept}"),  # a tuple is searched, not copied
        "n": 1.5,
    }
    assert copy["b"][3]["d"] is not shared and value["b"][0] == "$${lit.eral}"  # a copy; the value stays
    assert (
        dollars
        == [text for _, text in refs.dollar_texts(value)]
        == [
            "x ${db.url} y",
            "$${lit.eral}",
            "${in.tuple}",
            "$${kept}",
        ]
    )
