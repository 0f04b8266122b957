"""`appc def test`: definition tests kept beside a catalog (examples/platform-catalog ships some)."""

from __future__ import annotations

import json
import shutil

from tests.helpers import ROOT, appc

CATALOG = ROOT / "examples" / "platform-catalog" / "definitions"


def cases(r) -> dict[str, dict]:
    return {e["case"]: e for e in r.events if e["type"] == "case"}


def test_the_example_catalog_tests_pass():
    r = appc("def", "test", CATALOG, "--json")
    assert r.code == 0, r.out
    assert {n: e["ok"] for n, e in cases(r).items()} == {
        "object-store-retention": True,
        "object-store-unknown-retention": True,
        "static-site-connections": True,
    }


def test_a_changed_definition_fails_its_cases_and_update_records_the_new_render(tmp_path):
    catalog = tmp_path / "definitions"
    shutil.copytree(CATALOG, catalog)
    definition = catalog / "object-store.yaml"
    definition.write_text(definition.read_text().replace("'long': 3650", "'long': 3000"))
    r = appc("def", "test", catalog, "--json")
    assert r.code == 1
    failed = cases(r)["object-store-retention"]
    assert failed["ok"] is False
    assert (
        failed["failures"][0]
        == "terraform/assets/main.tf.json at 'module.assets.expiration_days': expected 3650, got 3000"
    )
    assert failed["failures"][1].startswith("terraform/assets/main.tf.json differs:\n")
    assert '-      "expiration_days": 3650,\n+      "expiration_days": 3000,' in failed["failures"][1]
    assert cases(r)["static-site-connections"]["ok"] is True

    (catalog / "tests" / "object-store-retention" / "assertions.yaml").unlink()
    assert appc("def", "test", catalog, "--update").code == 0
    rendered = json.loads(
        (
            catalog / "tests" / "object-store-retention" / "expected" / "test" / "terraform" / "assets" / "main.tf.json"
        ).read_text()
    )
    assert rendered["module"]["assets"]["expiration_days"] == 3000
    assert appc("def", "test", catalog).code == 0


def test_an_expected_error_that_does_not_happen_fails(tmp_path):
    catalog = tmp_path / "definitions"
    shutil.copytree(CATALOG, catalog)
    definition = catalog / "object-store.yaml"
    definition.write_text(
        definition.read_text()
        .replace("enum: [short, standard, long]", "enum: [short, standard, long, forever]")
        .replace("'long': 3650}", "'long': 3650, 'forever': 36500}")
    )
    r = appc("def", "test", catalog, "--json")
    assert r.code == 1
    assert cases(r)["object-store-unknown-retention"]["failures"] == [
        "rendering succeeded, but an error saying \"expected one of: 'short', 'standard', 'long'\" was expected"
    ]


def test_no_cases_is_a_diagnostic(tmp_path):
    r = appc("def", "test", tmp_path)
    assert r.code == 1 and "no test cases under" in r.err
