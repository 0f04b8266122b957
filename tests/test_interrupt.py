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
from tests.helpers import appc, write
from tests.support.projects import ENV, make_project

# The queue (SQS: about 25 s per queue on moto, the provider polls its attributes) is applied
# whole; `hold` runs after it and sleeps in a provisioner while its flag file exists: a slow unit to
# interrupt that holds no cloud call in flight, so a re-run has nothing to re-create (an
# interrupted queue create would be replaced, 50 s more) and no response to lose.
HOLD_MODULE = {
    "main.tf": """
variable "flag" { type = string }
resource "terraform_data" "this" {
  input = var.flag
  provisioner "local-exec" {
    command = "if [ -e '${var.flag}' ]; then exec sleep 120; fi"
  }
}
output "id" { value = terraform_data.this.id }
""",
}


def _interruptible_project(root: Path) -> tuple[Path, Path]:
    """jobs (a queue), then hold (sleeps while the returned flag file exists). The environment
    opts in to provisioners (the module policy denies them by default)."""
    flag = root / "hold.flag"
    flag.write_text("")
    hold = (
        "    - {name: hold, type: terraform-module, dependsOn: [jobs], "
        f"properties: {{source: modules/hold, inputs: {{flag: '{flag}'}}, outputs: {{id: {{}}}}}}}}\n"
    )
    app = make_project(
        root, "    - {name: jobs, type: queue}\n" + hold, env=ENV + "  policies: {allow: [provisioners]}\n"
    )
    write(root, {f"modules/hold/{k}": v for k, v in HOLD_MODULE.items()})
    return app, flag


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


def test_ctrl_c_then_timeout_mid_apply_exit_3_keep_state_and_a_rerun_converges(tmp_path, moto):
    """One project for both stops (each real apply costs seconds, the queue half a minute):
    Ctrl-C while `hold` runs, then a run past --timeout, then a re-run that converges."""
    app, flag = _interruptible_project(tmp_path)
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
            # Interrupt once terraform is running hold's provisioner, not while it is still in init.
            if e.get("unit") == "hold" and e["type"] == "terraform" and e.get("kind") == "apply_start":
                started = True
                break
            assert time.monotonic() < deadline, "hold's terraform apply never started"
        assert started, f"appc ended before hold's apply started: {events[-3:]} {''.join(err_lines)[-2000:]}"
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

    # Composer state is valid, and says hold did not finish.
    state = json.loads((tmp_path / ".composer" / "test.state.json").read_text())
    assert state["app"] == "eng" and state["environment"] == "test"
    assert state["units"]["jobs"]["status"] == "applied"
    assert state["units"].get("hold", {}).get("status") != "applied"
    # No terraform (or provider plugin, or provisioner) left running in the project.
    assert _processes_in(tmp_path) == []

    # --timeout bounds each terraform run: past it, terraform is asked to stop (then killed after
    # the grace period), the unit fails naming the timeout, and nothing is left running.
    started = time.monotonic()
    r = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json", "--timeout", "5")
    assert time.monotonic() - started < 60
    assert r.code == 3, r.err
    units = {e["unit"]: e for e in r.events if e["type"] == "unit"}
    assert units["jobs"]["status"] == "unchanged" and units["hold"]["status"] == "failed", units
    assert "timed out after 5 s" in units["hold"]["diagnostics"][0]["summary"]
    assert _processes_in(tmp_path) == []
    assert json.loads((tmp_path / ".composer" / "test.state.json").read_text())["units"]["hold"]["status"] == "failed"

    flag.unlink()
    r = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
    assert r.code == 0, r.err
    state = json.loads((tmp_path / ".composer" / "test.state.json").read_text())
    assert sorted(state["units"]) == ["hold", "jobs"] and {u["status"] for u in state["units"].values()} == {"applied"}
    queues = boto3.client("sqs").list_queues().get("QueueUrls", [])
    assert sorted(q.rsplit("/", 1)[1] for q in queues) == [
        "eng-test-jobs",
        "eng-test-jobs-dlq",
    ]  # none leaked, none twice
    again = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
    assert again.code == 0 and again.events[-1]["terraform_runs"] == 0


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
