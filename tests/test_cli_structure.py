"""The CLI's own seams, without a subprocess: a view states each fact once and renders it for
people or as JSON lines; `project_command` gives a command module the shared project flags in
the documented order and runs its body inside `command()`; the catalog checks definition files
without the CLI (issue 12, item 3)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from composer.catalog.validate import validate_definition_files
from composer.cli.common import ProjectOptions, project_command
from composer.cli.views import Record, View
from composer.diagnostics import Diagnostic, DiagnosticError


def _state_facts(view: View) -> None:
    view.fact("tier", "environment dev: tier development", environment="dev", tier="development")
    view.records(
        "environment",
        None,
        ["environment", "cloud"],
        [
            Record({"name": "dev", "cloud": "aws"}, ["dev", "aws"]),
            Record({"name": "prod", "cloud": "-"}, ["prod", "-"]),
        ],
    )
    view.document("definition", {"name": "db"}, "name: db\n")


def test_a_view_states_each_fact_once_for_machines_and_for_people(capsys):
    _state_facts(View(True, "demo"))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [{k: v for k, v in e.items() if k != "duration_s"} for e in lines] == [
        {"type": "tier", "environment": "dev", "tier": "development"},
        {"type": "environment", "name": "dev", "cloud": "aws"},
        {"type": "environment", "name": "prod", "cloud": "-"},
        {"type": "definition", "name": "db"},
        {
            "type": "summary",
            "command": "demo",
            "ok": True,
            "exit_code": 0,
            "units_changed": 0,
            "units_skipped": 0,
            "terraform_runs": 0,
            "k8s_writes": 0,
        },
    ]
    _state_facts(View(False, "demo"))
    text = [line.rstrip() for line in capsys.readouterr().out.splitlines()]
    assert text == [
        "environment dev: tier development",
        " environment ┃ cloud",
        "━━━━━━━━━━━━━╇━━━━━━━",
        " dev         │ aws",
        " prod        │ -",
        "name: db",
    ]


def test_a_command_module_gets_the_project_flags_in_order_and_the_command_frame():
    app = typer.Typer()
    seen: list[tuple[ProjectOptions, str, bool, bool]] = []

    @project_command(app, "toy")
    def toy(
        view: View,
        project: ProjectOptions,
        target: str = typer.Argument(..., help="A target."),
        loud: bool = typer.Option(False, "--loud", envvar="COMPOSER_LOUD", help="Louder."),
    ) -> None:
        """A toy command."""
        seen.append((project, target, loud, view.json))
        if target == "bad":
            raise DiagnosticError([Diagnostic("bad target")])

    @app.callback()
    def root() -> None:  # a group, so that `toy` is a subcommand as in appc
        pass

    command = typer.main.get_command(app).commands["toy"]  # type: ignore[attr-defined]
    assert [p.name for p in command.params] == [
        "target",
        "file",
        "env",
        "loud",
        "allow_outside",
        "catalog",
        "locked",
        "json_mode",
    ]
    assert command.help == "A toy command."
    runner = CliRunner()
    args = ["toy", "web", "-f", "a.yaml", "-f", "b.yaml", "-e", "dev", "--loud", "--catalog", "c", "--locked"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert seen == [
        (ProjectOptions((Path("a.yaml"), Path("b.yaml")), "dev", (Path("c"),), locked=True), "web", True, True)
    ]
    result = runner.invoke(app, ["toy", "bad", "--json"])
    assert result.exit_code == 1
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["type"] for e in events] == ["diagnostic", "summary"] and events[0]["summary"] == "bad target"


def test_the_catalog_checks_definition_files_without_the_cli(tmp_path):
    (tmp_path / "mod").mkdir()
    (tmp_path / "mod" / "main.tf").write_text('output "url" { value = "u" }\n')
    (tmp_path / "defs.yaml").write_text(
        "apiVersion: composer.dev/v1alpha1\n"
        "kind: ComponentDefinition\n"
        "metadata: {name: store}\n"
        "spec:\n"
        "  category: resource\n"
        "  implementations:\n"
        "    inside: {provider: aws, terraform: {module: mod}}\n"
        "    outside: {provider: aws, terraform: {module: ../elsewhere}}\n"
    )
    report = validate_definition_files([tmp_path / "defs.yaml"])
    assert report.count == 1
    assert [(d.line, d.path, d.summary) for d in report.errors] == [
        (
            8,
            ("spec", "implementations", "outside", "terraform", "module"),
            "the module must be a directory inside the definition's directory",
        )
    ]
