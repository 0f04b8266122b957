"""docs/environments.md is generated from the environment model (scripts/gen_env_docs.py) and
must match it; every field needs a meaning and an example the model accepts.
`pytest --update-golden` rewrites it."""

from __future__ import annotations

import importlib.util

from tests.helpers import ROOT

DOC = ROOT / "docs" / "environments.md"


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_env_docs", ROOT / "scripts" / "gen_env_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_environment_docs_are_current(update_golden):
    text = load_generator().generate()
    if update_golden:
        DOC.write_text(text, encoding="utf-8")
    assert DOC.read_text(encoding="utf-8") == text, (
        "docs/environments.md is stale: run python scripts/gen_env_docs.py (or pytest --update-golden)"
    )


def test_every_field_of_the_model_is_documented_with_an_example():
    gen = load_generator()
    paths = [p for p, *_ in gen.fields()]
    assert "spec.kubernetes.secretStore.apiVersion" in paths and "spec.overrides.<component>.properties" in paths
    assert gen.problems() == []
    text = gen.generate()
    assert text.count("\n### `") == len(paths) and text.count("```yaml\n") == len(paths) + 1


def test_a_field_without_docs_or_a_bad_example_stops_the_generator(monkeypatch):
    gen = load_generator()
    monkeypatch.delitem(gen.FIELDS, "spec.state.lock")
    monkeypatch.setitem(gen.FIELDS, "spec.state.table", ("x", "spec: {state: {backend: s3}}"))  # s3 needs a bucket
    problems = gen.problems()
    assert any(p.startswith("spec.state.lock: no entry") for p in problems)
    assert any(p.startswith("spec.state.table: the example is not a valid environment") for p in problems)
