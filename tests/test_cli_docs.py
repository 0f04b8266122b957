"""docs/cli.md is generated from the CLI (scripts/gen_cli_docs.py) and must match it.
`pytest --update-golden` rewrites it."""

from __future__ import annotations

import importlib.util

from tests.helpers import ROOT

DOC = ROOT / "docs" / "cli.md"


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_cli_docs", ROOT / "scripts" / "gen_cli_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_cli_docs_are_current(update_golden):
    text = load_generator().generate()
    if update_golden:
        DOC.write_text(text, encoding="utf-8")
    assert DOC.read_text(encoding="utf-8") == text, (
        "docs/cli.md is stale: run python scripts/gen_cli_docs.py (or pytest --update-golden)"
    )


def test_the_docs_cover_every_command_exit_code_and_the_summary():
    text = load_generator().generate()
    for heading in (
        "### appc plan",
        "### appc apply",
        "### appc def validate",
        "### appc sandbox up",
        "## Exit codes",
        "## Shell completion",
    ):
        assert heading in text
    for code in ("| 0 |", "| 1 |", "| 2 |", "| 3 |", "| 4 |", "| 70 |"):
        assert code in text
    for key in ("units_changed", "units_skipped", "terraform_runs", "k8s_writes", "duration_s"):
        assert f"`{key}`" in text
    assert "`COMPOSER_PLAN_FORMAT`" in text and "--install-completion" in text
