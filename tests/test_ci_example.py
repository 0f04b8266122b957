"""examples/ci/github-actions.yml: every appc command it runs exists, with every flag it uses.

Each `run:` line that invokes appc is split like a shell would; its subcommands and flags
are checked against `appc <subcommand...> --help`. The workflow's shape (plan on pull
requests, apply on main per environment, never cancelled) is checked too.
"""

from __future__ import annotations

import re
import shlex

import pytest
import yaml

from tests.helpers import ROOT, appc

WORKFLOW = ROOT / "examples" / "ci" / "github-actions.yml"
SHELL_OPERATORS = {">", ">>", "<", "|", "||", "&&", ";", "2>", "2>&1", "&"}


def load() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def appc_invocations() -> list[list[str]]:
    """The argument lists (after `appc`) of every appc command in a run: step."""
    calls = []
    for job in load()["jobs"].values():
        for step in job.get("steps", []):
            for line in str(step.get("run", "")).splitlines():
                line = line.split(" #", 1)[0].strip()
                if not re.search(r"(^|[\s;&|(])appc\s", line + " "):
                    continue
                tokens = shlex.split(line, posix=True)
                start = tokens.index("appc") + 1
                args = []
                for tok in tokens[start:]:
                    if tok in SHELL_OPERATORS:
                        break
                    args.append(tok)
                calls.append(args)
    return calls


def split_command(args: list[str]) -> tuple[list[str], list[str]]:
    """(subcommand path, flags) for an appc argument list: leading words that name
    commands, then every token that starts with '-'."""
    groups = {"def", "env", "sandbox"}
    path = []
    for tok in args:
        if tok.startswith("-"):
            break
        path.append(tok)
        if tok not in groups:
            break
    flags = [tok.split("=", 1)[0] for tok in args[len(path) :] if tok.startswith("-")]
    return path, flags


CALLS = appc_invocations()


def test_the_workflow_runs_appc():
    commands = {" ".join(split_command(c)[0]) for c in CALLS}
    assert {"validate", "plan", "apply"} <= commands


@pytest.mark.parametrize("args", CALLS, ids=[" ".join(c) for c in CALLS])
def test_every_flag_exists(args, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # one option per line in the help table
    path, flags = split_command(args)
    r = appc(*path, "--help")
    assert r.code == 0, f"appc {' '.join(path)} --help: {r.err}"
    assert r.out.lstrip().startswith(f"Usage: appc {' '.join(path)}".strip()), r.out[:200]
    for flag in flags:
        assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", r.out), f"appc {' '.join(path)} has no {flag}"


def test_plan_on_pull_requests_and_apply_on_main_per_environment():
    doc = load()
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "pull_request" in on and on["push"]["branches"] == ["main"]
    jobs = doc["jobs"]
    plan_runs = " ".join(str(s.get("run", "")) for s in jobs["plan"]["steps"])
    assert "appc plan -e staging --out plan.json --format markdown --detailed-exitcode" in plan_runs
    uses = [s.get("uses", "") for s in jobs["plan"]["steps"]]
    assert any(u.startswith("actions/github-script") for u in uses)
    assert any(u.startswith("actions/upload-artifact") for u in uses)
    applies = {
        name: job for name, job in jobs.items() if any("appc apply" in str(s.get("run", "")) for s in job["steps"])
    }
    envs = set()
    for name, job in applies.items():
        env = job["environment"]
        envs.add(env)
        assert job["concurrency"] == {"group": f"appc-{env}", "cancel-in-progress": False}, name
        assert "main" in job.get("if", "") or job.get("needs"), name
    assert envs == {"staging", "prod"}
