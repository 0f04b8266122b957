"""CLI commands beyond render: graph, schema, env, def, version; exit codes and --json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.helpers import ROOT, appc

WEBSHOP = ROOT / "examples" / "webshop" / "app.yaml"
GOLDEN = ROOT / "tests" / "golden" / "graph"


@pytest.mark.parametrize("fmt,suffix", [("mermaid", "mmd"), ("dot", "dot")])
def test_graph_formats_are_golden(fmt, suffix, update_golden):
    r = appc("graph", "-f", WEBSHOP, "-e", "prod", "--format", fmt)
    assert r.code == 0, r.err
    expected = GOLDEN / f"webshop.{suffix}"
    if update_golden:
        expected.parent.mkdir(parents=True, exist_ok=True)
        expected.write_text(r.out)
    assert r.out == expected.read_text()


def test_graph_svg_needs_graphviz():
    r = appc("graph", "-f", WEBSHOP, "-e", "prod", "--format", "svg")
    if shutil.which("dot"):
        assert r.code == 0 and "<svg" in r.out
    else:
        assert r.code == 1 and "Graphviz is not installed" in r.err


def test_graph_rejects_unknown_format():
    r = appc("graph", "-f", WEBSHOP, "-e", "prod", "--format", "png")
    assert r.code == 1 and "expected mermaid, dot or svg" in r.err


def test_schema_validates_examples_and_rejects_bad_properties(tmp_path: Path):
    r = appc("schema", "-o", tmp_path, "-f", WEBSHOP)
    assert r.code == 0, r.err
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "application.schema.json",
        "componentdefinition.schema.json",
        "environment.schema.json",
        "traitdefinition.schema.json",
    ]
    app_schema = json.loads((tmp_path / "application.schema.json").read_text())
    env_schema = json.loads((tmp_path / "environment.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(app_schema)
    jsonschema.validate(yaml.safe_load(WEBSHOP.read_text()), app_schema)
    for env in (WEBSHOP.parent / "environments").glob("*.yaml"):
        jsonschema.validate(yaml.safe_load(env.read_text()), env_schema)
    bad = yaml.safe_load(WEBSHOP.read_text())
    bad["spec"]["components"][0]["properties"]["size"] = "huge"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, app_schema)
    bad = yaml.safe_load(WEBSHOP.read_text())
    bad["spec"]["components"][4]["traits"][0]["properties"] = {"replicas": "two"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, app_schema)


def test_env_list_and_show():
    r = appc("env", "list", "-f", WEBSHOP, "--json")
    assert r.code == 0
    envs = {e["name"]: e for e in r.events if e["type"] == "environment"}
    assert sorted(envs) == ["azure", "dev", "gcp", "local", "prod"]
    assert envs["prod"] == {
        "type": "environment",
        "name": "prod",
        "cloud": "aws eu-west-1",
        "kubernetes": "prod-eu/webshop",
        "state": "s3",
    }
    r = appc("env", "show", "prod", "-f", WEBSHOP)
    doc = yaml.safe_load(r.out)
    assert (
        doc["spec"]["policies"] == {"protect": ["db"], "allow": [], "requireSignedBundles": [], "ignoreDrift": []}
        and doc["spec"]["state"]["lock"] == "dynamodb"
    )


def test_validate_json_ends_with_summary():
    r = appc("validate", "-f", WEBSHOP, "--json")
    assert r.code == 0
    assert [e["environment"] for e in r.events if e["type"] == "validated"] == ["azure", "dev", "gcp", "local", "prod"]
    summary = r.events[-1]
    assert summary["type"] == "summary" and summary["ok"] is True
    assert {"units_changed", "units_skipped", "terraform_runs", "k8s_writes", "duration_s"} <= set(summary)


def test_version():
    r = appc("--version")
    assert r.code == 0 and r.out.startswith("appc ")


def test_env_vars_set_flags(monkeypatch, tmp_path):
    monkeypatch.setenv("COMPOSER_FILE", str(WEBSHOP))
    monkeypatch.setenv("COMPOSER_ENV", "prod")
    r = appc("render", "-o", tmp_path / "out")
    assert r.code == 0, r.err
    assert (tmp_path / "out" / "terraform" / "db" / "main.tf.json").exists()


def test_committed_schemas_are_current(tmp_path, update_golden):
    """docs/schemas (referenced by the examples' yaml-language-server modelines) matches `appc schema`."""
    committed = ROOT / "docs" / "schemas"
    target = committed if update_golden else tmp_path
    assert appc("schema", "-o", target).code == 0
    for p in sorted(target.iterdir()):
        assert p.read_text() == (committed / p.name).read_text(), (
            f"docs/schemas/{p.name} is stale: run appc schema -o docs/schemas"
        )
