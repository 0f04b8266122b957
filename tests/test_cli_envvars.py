"""Every flag of every command can be set through a COMPOSER_* environment variable (for CI)."""

from __future__ import annotations

import typer

from composer.cli.app import app
from tests.helpers import ROOT, appc

# Typer's own options: about the shell, not about a run.
EXEMPT = {"--help", "-h", "--version", "--install-completion", "--show-completion"}


def walk(cmd, path=()):
    yield path, cmd
    for name, sub in sorted((getattr(cmd, "commands", None) or {}).items()):
        yield from walk(sub, (*path, name))


def test_every_option_has_a_composer_envvar():
    missing = []
    for path, cmd in walk(typer.main.get_command(app)):
        for param in cmd.params:
            if param.param_type_name != "option" or EXEMPT & set(param.opts):
                continue
            envvar = param.envvar
            names = [envvar] if isinstance(envvar, str) else list(envvar or [])
            if not names or not all(n.startswith("COMPOSER_") for n in names):
                missing.append(f"appc {' '.join(path)} {'/'.join(param.opts)}: envvar={envvar!r}")
    assert not missing, "options without a COMPOSER_* envvar:\n" + "\n".join(missing)


def test_the_walk_sees_the_whole_tree():
    commands = {" ".join(p) for p, _ in walk(typer.main.get_command(app))}
    assert {"plan", "apply", "destroy", "def list", "env show", "sandbox up", "force-unlock"} <= commands


def test_a_boolean_flag_from_the_environment(monkeypatch):
    monkeypatch.setenv("COMPOSER_JSON", "1")
    r = appc("env", "list", "-f", ROOT / "examples" / "webshop" / "app.yaml")
    assert r.code == 0 and r.events[-1]["type"] == "summary"
