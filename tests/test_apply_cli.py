"""appc plan/apply/destroy/outputs through the CLI, on real Terraform against moto.

Faults from the engine issue, each tested: a held lock (exit 4 naming the holder),
terraform missing (exit 1), corrupt or foreign state (refused, never overwritten),
non-interactive apply without --auto-approve (exit 1), saved plans (exact, refused when
stale, modified or foreign), kill -9 mid-apply then a converging re-run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from composer.state.local import LocalStore
from composer.state.protocol import new_lock_info
from tests.helpers import appc
from tests.support.projects import make_project, token_component

BUCKET = "    - {name: files, type: bucket, properties: {force_destroy: true}}\n"


def state_of(root: Path) -> dict:
    return json.loads((root / ".composer" / "test.state.json").read_text())


def test_terraform_missing_is_exit_1(tmp_path, moto, monkeypatch):
    app = make_project(tmp_path, token_component("a"))
    monkeypatch.setenv("COMPOSER_TERRAFORM", str(tmp_path / "no-terraform-here"))
    r = appc("apply", "-f", app, "-e", "test", "--auto-approve")
    assert r.code == 1 and "terraform is not installed" in r.err
    assert not (tmp_path / ".composer" / "test.state.json").exists()


def test_non_interactive_apply_needs_auto_approve(tmp_path, moto):
    app = make_project(tmp_path, token_component("a"))
    r = appc("apply", "-f", app, "-e", "test")
    assert r.code == 1 and "--auto-approve" in r.err


def test_a_held_lock_is_exit_4_naming_the_holder(tmp_path, moto):
    app = make_project(tmp_path, token_component("a"))
    store = LocalStore(tmp_path / ".composer", "eng", "test")
    info = new_lock_info("apply")
    store.lock(info)
    try:
        r = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
        assert r.code == 4
        assert info.holder in r.err or info.holder in r.out
        assert r.events[-1]["exit_code"] == 4
        s = appc("status", "-f", app, "-e", "test")
        assert "locked by" in s.out
    finally:
        store.unlock(info)


@pytest.mark.parametrize(
    "content,why",
    [
        (b"{not json", "corrupt"),
        (
            json.dumps({"format": 1, "lineage": "x", "serial": 3, "app": "other", "environment": "test"}).encode(),
            "other",
        ),
    ],
)
def test_corrupt_or_foreign_state_is_refused_and_kept(tmp_path, moto, content, why):
    app = make_project(tmp_path, token_component("a"))
    path = tmp_path / ".composer" / "test.state.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    r = appc("apply", "-f", app, "-e", "test", "--auto-approve")
    assert r.code == 1 and "Traceback" not in r.err
    assert why in r.err.lower() or "refus" in r.err.lower()
    assert path.read_bytes() == content


def test_saved_plan_is_applied_exactly_and_refused_when_stale_or_modified_then_outputs_and_destroy(tmp_path, moto):
    """One applied bucket for several outcomes (each real apply costs seconds): a saved plan
    applied exactly, refused when modified, foreign or stale; then `outputs` reads the unit and a
    non-interactive destroy without --auto-approve destroys nothing."""
    app = make_project(tmp_path, BUCKET.replace("files", "a"))
    plan = tmp_path / "p.json"
    r = appc("plan", "-f", app, "-e", "test", "--out", plan, "--detailed-exitcode", "--json")
    assert r.code == 2, r.err
    units = json.loads(plan.read_text())["units"]
    # 6: bucket, public access block, encryption, versioning, secret and its version (the development
    # tier writes no lifecycle rule, providers/aws/implementations.yaml)
    assert units["a"]["changes"] == {"add": 6, "change": 0, "remove": 0} and units["a"]["tfplan"]
    # modified by hand
    tampered = tmp_path / "t.json"
    doc = json.loads(plan.read_text())
    doc["units"]["a"]["changes"]["add"] = 5
    tampered.write_text(json.dumps(doc))
    r = appc("apply", "-f", app, "-e", "test", tampered)
    assert r.code == 1 and "modified" in r.err
    # another environment's plan
    other_env = tmp_path / "environments" / "other.yaml"
    other_env.write_text((tmp_path / "environments" / "test.yaml").read_text().replace("name: test", "name: other"))
    r = appc("apply", "-f", app, "-e", "other", plan)
    assert r.code == 1 and "not eng/other" in r.err
    # exact apply
    r = appc("apply", "-f", app, "-e", "test", plan, "--json")
    assert r.code == 0, r.err
    assert r.events[-1]["units_changed"] == 1
    # stale: state moved since the plan
    r = appc("apply", "-f", app, "-e", "test", plan)
    assert r.code == 1 and "state moved" in r.err
    r = appc("plan", "-f", app, "-e", "test", "--detailed-exitcode")
    assert r.code == 0 and "no changes" in r.out

    r = appc("outputs", "-f", app, "-e", "test", "--json")
    outs = [e for e in r.events if e["type"] == "outputs"][0]["outputs"]
    assert outs["name"] == "eng-test-a" and outs["region"] == "us-east-1"

    r = appc("destroy", "-f", app, "-e", "test")
    assert r.code == 1 and "--auto-approve" in r.err and "not run in an interactive terminal" in r.err
    assert state_of(tmp_path)["units"]["a"]["status"] == "applied"
    assert [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]] == ["eng-test-a"]


def _appc_process(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "from composer.cli import main; main()", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )


def test_kill_9_mid_apply_then_rerun_converges(tmp_path, moto):
    comps = "".join(
        BUCKET.replace("files", n) for n in ("a", "b", "c")
    )  # --parallelism 2: killed after the first, the rest in flight or queued
    app = make_project(tmp_path, comps)
    proc = _appc_process(
        ["apply", "-f", str(app), "-e", "test", "--auto-approve", "--json", "--parallelism", "2"], tmp_path
    )
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        if '"type": "unit"' in line and '"applied"' in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    # state is valid JSON at every moment
    state = state_of(tmp_path)
    assert state["app"] == "eng"
    r = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json", "--lock-timeout", "60")
    assert r.code == 0, r.out[-4000:]  # (--json: the failed unit's diagnostic is in the events, not stderr)
    state = state_of(tmp_path)
    assert sorted(state["units"]) == ["a", "b", "c"] and {u["status"] for u in state["units"].values()} == {"applied"}
    known = {u["outputs"]["name"] for u in state["units"].values()}
    assert {
        b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]
    } == known  # no leaked resource, none missing
    refs = {u["secret_ref"] for u in state["units"].values()}
    assert {s["ARN"] for s in boto3.client("secretsmanager").list_secrets()["SecretList"]} == refs
    assert appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json").events[-1]["terraform_runs"] == 0
