"""The bind stage (composer/render/bindings.py): typed bindings built once from the graph,
and the renderers reading them instead of parsing `${...}` again. The app is the bound-output
golden case (tests/test_golden_bound.py shows what these bindings carry after an apply)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from composer.project import compile_project, open_project

CASE = Path(__file__).parent / "golden" / "bound" / "shop"  # the bound-output golden case


@pytest.fixture
def compiled(registry):
    return compile_project(open_project(CASE / "app.yaml"), "gitops", registry)


def test_a_reference_to_a_secret_output_makes_a_sensitive_variable(compiled):
    """Regression: `db_pass: "${db.password}"` is secret in the graph; render/terraform.py used to
    re-split the text into a non-secret reference, so `ref_db_password` lacked `sensitive`."""
    root = json.loads(compiled.rendered.files["terraform/schema/main.tf.json"])
    assert root["variable"] == {
        "ref_db_host": {"type": "string", "description": "output host of unit db, supplied by appc at apply"},
        "ref_db_password": {
            "type": "string",
            "sensitive": True,
            "description": "output password of unit db, supplied by appc at apply",
        },
        "ref_db_username": {
            "type": "string",
            "description": "output username of unit db, supplied by appc at apply",
        },
    }
    assert root["module"]["schema"]["db_pass"] == "${var.ref_db_password}"
    assert (
        root["module"]["schema"]["dsn"]
        == "postgres://${var.ref_db_username}:${var.ref_db_password}@${var.ref_db_host}/app"
    )


def test_bindings_are_typed_and_follow_the_graph(compiled):
    from composer.render.bindings import Binding

    bindings = compiled.rendered.bindings
    variables = {b.name: b for b in bindings.of("schema", "variable")}
    assert variables["ref_db_password"] == Binding(
        "db", "password", True, "schema", "variable", "ref_db_password", "reference"
    )
    assert not variables["ref_db_host"].secret
    # Connections in the order the model declares them, every contract key of each, secret known.
    assert [(b.source, b.key, b.secret, b.name) for b in bindings.connections("api")] == [
        ("db", "host", False, "DB_HOST"),
        ("db", "port", False, "DB_PORT"),
        ("db", "database", False, "DB_DATABASE"),
        ("db", "username", False, "DB_USERNAME"),
        ("db", "password", True, "DB_PASSWORD"),
        ("db", "url", True, "DB_URL"),
        ("uploads", "name", False, "UPLOADS_NAME"),
        ("uploads", "region", False, "UPLOADS_REGION"),
        ("uploads", "endpoint", False, "UPLOADS_ENDPOINT"),
        ("uploads", "id", False, "UPLOADS_ID"),
    ]
    # api's references name outputs its connections already bind; jobs' reference is its only binding.
    assert [b for b in bindings.of("api") if b.via == "reference"] == []
    assert bindings.of("jobs") == (Binding("db", "password", True, "jobs", "env", "DB_PASSWORD", "reference"),)


def test_the_graph_parses_each_text_once_and_types_its_references(compiled):
    from composer.model.refs import OutputRef

    graph = compiled.graph
    assert graph.parts("schema", "${db.password}") == (OutputRef("db", "password", secret=True),)
    assert graph.parts("api", "bucket ${uploads.name} in ${uploads.region}") == (
        "bucket ",
        OutputRef("uploads", "name", secret=False),
        " in ",
        OutputRef("uploads", "region", secret=False),
    )
    assert graph.parts("api", "info") == ("info",)  # no reference: one literal part
    assert graph.connections["api"] == ("db", "uploads")  # declared order
