"""`appc plan --format markdown`: the pull-request summary, compared whole (golden).

Real Terraform against moto plans the bucket; the worker is diffed against the (empty)
inventory. `pytest --update-golden` rewrites tests/golden/plan/*.md.
"""

from __future__ import annotations

from tests.helpers import ROOT, appc
from tests.support.projects import make_project

GOLDEN = ROOT / "tests" / "golden" / "plan"
COMPONENTS = (
    "    - {name: files, type: bucket}\n"
    "    - {name: worker, type: worker, properties: {image: 'ghcr.io/acme/worker:1.0'}, connections: [files]}\n"
)


def check_golden(name: str, text: str, update: bool) -> None:
    expected = GOLDEN / name
    if update:
        expected.parent.mkdir(parents=True, exist_ok=True)
        expected.write_text(text, encoding="utf-8")
    assert text == expected.read_text(encoding="utf-8")


def test_plan_markdown_is_the_whole_stdout_and_golden(tmp_path, moto, update_golden):
    app = make_project(tmp_path, COMPONENTS)
    r = appc("plan", "-f", app, "-e", "test", "--format", "markdown", "--detailed-exitcode")
    assert r.code == 2, r.err
    check_golden("bucket-worker.md", r.out, update_golden)  # progress went to stderr
    assert "2 unit(s) to change" in r.err


def test_plan_markdown_after_a_change_shows_updates_and_prunes(tmp_path, moto, update_golden, monkeypatch):
    app = make_project(tmp_path, COMPONENTS)
    assert appc("apply", "-f", app, "-e", "test", "--auto-approve").code == 0
    app.write_text(
        app.read_text()
        .replace("    - {name: files, type: bucket}\n", "")
        .replace(", connections: [files]", "")
        .replace(":1.0", ":1.1")
    )
    monkeypatch.setenv("COMPOSER_PLAN_FORMAT", "markdown")
    monkeypatch.chdir(tmp_path)  # the saved plan's path, as given, appears in the summary
    r = appc("plan", "-f", app, "-e", "test", "--out", "plan.json")
    assert r.code == 0, r.err
    check_golden("update-and-prune.md", r.out, update_golden)


def test_plan_markdown_with_json_goes_only_to_the_file(tmp_path, moto):
    app = make_project(tmp_path, COMPONENTS)
    md = tmp_path / "out" / "plan.md"
    r = appc("plan", "-f", app, "-e", "test", "--format", "markdown", "--markdown-out", md, "--json")
    assert r.code == 0, r.err
    events = r.events  # every stdout line is a JSON event
    assert events[-1]["type"] == "summary" and events[-1]["changes_present"] is True
    assert md.read_text() == (GOLDEN / "bucket-worker.md").read_text()


def test_plan_rejects_an_unknown_format(tmp_path):
    app = make_project(tmp_path, COMPONENTS)
    r = appc("plan", "-f", app, "-e", "test", "--format", "html")
    assert r.code == 1 and "expected text or markdown" in r.err
