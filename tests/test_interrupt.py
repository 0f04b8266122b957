"""Ctrl-C during `appc apply`, on real Terraform against moto.

The CLI's SIGINT handler stops new units from starting and forwards one SIGINT to each
running terraform (composer/cli/session.py `interruptible`, composer/runners/terraform.py
`interrupt_all`), which then stops cleanly and saves its state. The run exits 3, says it
was interrupted and how to resume, leaves valid Composer state and no terraform process
behind, and a re-run converges. A run past --timeout is stopped the same way, and a
terraform that ignores the SIGINT is killed after the grace period: no wait is unbounded.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import pytest

from composer.runners import terraform, terraform_process
from tests.helpers import appc
from tests.support.projects import make_project

# SQS takes about 25 s on moto (the provider polls the queue's attributes): slow enough to
# interrupt mid-apply. The bucket is fast.
COMPONENTS = "    - {name: jobs, type: queue}\n    - {name: files, type: bucket, properties: {force_destroy: true}}\n"


def _processes_in(root: Path) -> list[str]:
    """Processes (other than this one) whose working directory is under `root`: a terraform
    run or provider plugin left behind works in the unit's directory under .composer/."""
    found = []
    root = root.resolve()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue  # gone, or not ours to inspect
        if cwd == root or root in cwd.parents:
            found.append(f"{entry.name} {cmd}")
    return found


def test_ctrl_c_mid_apply_exits_3_keeps_state_and_a_rerun_converges(tmp_path, moto):
    app = make_project(tmp_path, COMPONENTS)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from composer.cli import main; main()",
            "apply",
            "-f",
            str(app),
            "-e",
            "test",
            "--auto-approve",
            "--json",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    err_lines: list[str] = []
    drain = threading.Thread(target=lambda: err_lines.extend(proc.stderr), daemon=True)
    drain.start()
    events: list[dict] = []
    deadline = time.monotonic() + 180
    started = False
    rest: list[str] = []
    try:
        for line in proc.stdout:
            events.append(json.loads(line))
            e = events[-1]
            # Interrupt once terraform is creating the queue, not while it is still in init.
            if e.get("unit") == "jobs" and e["type"] == "terraform" and e.get("kind") == "apply_start":
                started = True
                break
            assert time.monotonic() < deadline, "the queue's terraform apply never started"
        assert started, f"appc ended before the queue's apply started: {events[-3:]} {''.join(err_lines)[-2000:]}"
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        tail = threading.Thread(target=lambda: rest.extend(proc.stdout), daemon=True)
        tail.start()
        proc.wait(timeout=120)  # Terraform stops cleanly within seconds; a hang fails here
        tail.join(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    drain.join(timeout=10)
    events += [json.loads(line) for line in rest if line.strip()]
    err = "".join(err_lines)

    assert proc.returncode == 3, err[-3000:]
    summary = events[-1]
    assert summary["type"] == "summary" and summary["exit_code"] == 3 and summary["interrupted"] is True
    stopped = [e for e in events if e["type"] == "interrupted"]
    assert stopped and stopped[0]["resume"] == "appc apply -e test"
    assert "interrupted" in err and "appc apply -e test" in err

    # Composer state is valid, and says the queue did not finish.
    state = json.loads((tmp_path / ".composer" / "test.state.json").read_text())
    assert state["app"] == "eng" and state["environment"] == "test"
    assert state["units"].get("jobs", {}).get("status") != "applied"
    # No terraform (or provider plugin) left running in the project.
    assert _processes_in(tmp_path) == []

    r = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
    assert r.code == 0, r.err
    state = json.loads((tmp_path / ".composer" / "test.state.json").read_text())
    assert sorted(state["units"]) == ["files", "jobs"] and {u["status"] for u in state["units"].values()} == {"applied"}
    queues = boto3.client("sqs").list_queues().get("QueueUrls", [])
    assert sorted(q.rsplit("/", 1)[1] for q in queues) == [
        "eng-test-jobs",
        "eng-test-jobs-dlq",
    ]  # none leaked, none twice
    again = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
    assert again.code == 0 and again.events[-1]["terraform_runs"] == 0


def test_timeout_stops_a_slow_terraform_run_and_the_unit_fails(tmp_path, moto):
    """--timeout bounds each terraform run: past it, terraform is asked to stop (then killed
    after the grace period), the unit fails naming the timeout, and nothing is left running."""
    app = make_project(tmp_path, "    - {name: jobs, type: queue}\n")
    started = time.monotonic()
    r = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json", "--timeout", "8")
    assert time.monotonic() - started < 60
    assert r.code == 3, r.err
    (unit,) = [e for e in r.events if e["type"] == "unit"]
    assert unit["status"] == "failed" and "timed out after 8 s" in unit["diagnostics"][0]["summary"]
    assert _processes_in(tmp_path) == []
    state = json.loads((tmp_path / ".composer" / "test.state.json").read_text())
    assert state["units"]["jobs"]["status"] == "failed"


def test_a_terraform_that_ignores_the_interrupt_is_killed_after_the_grace_period(tmp_path, monkeypatch):
    """The stand-in for terraform is a shell script that ignores SIGINT (as a hung provider
    would make terraform do): the run still ends, bounded by --timeout plus the grace period."""
    stubborn = tmp_path / "terraform"
    stubborn.write_text("#!/bin/sh\ntrap '' INT\nsleep 60 &\nwait\nsleep 60\n")
    stubborn.chmod(0o755)
    monkeypatch.setattr(terraform_process, "GRACE_SECONDS", 1.0)
    runner = terraform.TerraformRunner({"PATH": os.environ["PATH"]}, binary=str(stubborn), timeout=1.0)
    started = time.monotonic()
    with pytest.raises(terraform.TerraformError) as err:
        runner.apply("slow", tmp_path)
    assert time.monotonic() - started < 10
    assert err.value.timed_out and "timed out after 1 s" in err.value.diagnostics[0].summary
    assert _processes_in(tmp_path) == []
