"""resolve() called directly (tests/support/core.py): defaults, overrides, errors with field paths.

The unit layer under the golden and CLI tests: no Terraform, no servers, milliseconds a test."""

from __future__ import annotations

import pytest

from composer.diagnostics import DiagnosticError
from tests.support.core import ENV, resolve_text


def errors(tmp_path, components: str, env: str = ENV) -> list[tuple[str, tuple, str | None, int | None]]:
    with pytest.raises(DiagnosticError) as caught:
        resolve_text(tmp_path, components, env)
    return [(d.summary, d.path, d.file, d.line) for d in caught.value.diagnostics]


def test_schema_defaults_fill_what_the_app_leaves_out_and_names_are_physical(tmp_path):
    resolved = resolve_text(tmp_path, "- {name: db, type: postgres, properties: {size: medium}}")
    (db,) = resolved.components
    assert db.parameters == {
        "size": "medium",
        "version": "16",
        "storage_gb": 20,
        "high_availability": False,
        "database": "app",
        "username": "app",
    }
    assert (db.category, db.physical_name, db.is_resource) == ("resource", "shop-test-db", True)
    assert set(db.outputs) == {"host", "port", "database", "username", "password", "url"}
    assert [k for k, spec in db.outputs.items() if spec.secret] == ["password", "url"]


def test_environment_overrides_merge_into_the_app_properties(tmp_path):
    env = ENV + "  overrides:\n    db: {properties: {storage_gb: 50}}\n"
    (db,) = resolve_text(tmp_path, "- {name: db, type: postgres, properties: {size: medium}}", env).components
    assert (db.parameters["size"], db.parameters["storage_gb"]) == ("medium", 50)  # both kept: a merge


def test_an_override_wins_over_the_app_for_the_same_property(tmp_path):
    env = ENV + "  overrides:\n    store: {properties: {versioning: true}}\n"
    (store,) = resolve_text(tmp_path, "- {name: store, type: bucket, properties: {versioning: false}}", env).components
    assert store.parameters == {"versioning": True, "force_destroy": False}


def test_every_bad_property_and_type_is_reported_at_once_with_its_field_path(tmp_path):
    found = errors(
        tmp_path, "- {name: db, type: postgres, properties: {colour: red, size: huge}}\n- {name: q, type: postgre}"
    )
    assert found == [
        (
            "invalid property of postgres: unknown property 'colour'; expected one of: "
            "database, high_availability, size, storage_gb, username, version",
            ("spec", "components", 0, "properties", "colour"),
            "app.yaml",
            6,
        ),
        (
            "invalid property of postgres: expected one of: 'small', 'medium', 'large'",
            ("spec", "components", 0, "properties", "size"),
            "app.yaml",
            6,
        ),
        ("unknown component type 'postgre'", ("spec", "components", 1, "type"), "app.yaml", 7),
    ]


def test_an_unknown_type_suggests_the_near_name(tmp_path):
    with pytest.raises(DiagnosticError) as caught:
        resolve_text(tmp_path, "- {name: q, type: postgre}")
    (d,) = caught.value.diagnostics
    assert d.detail.startswith("did you mean 'postgres'?") and d.address == "q"


def test_an_override_for_a_component_the_app_lacks_is_an_error_in_the_environment_file(tmp_path):
    env = ENV + "  overrides:\n    dbx: {properties: {size: large}}\n"
    found = errors(tmp_path, "- {name: db, type: postgres}", env)
    assert found == [
        ("override for unknown component 'dbx'", ("spec", "overrides", "dbx"), "environments/test.yaml", 8)
    ]
