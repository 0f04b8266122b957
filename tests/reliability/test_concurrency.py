"""Two appc runs on one environment, and locks left behind (docs/reliability.md).

- Two `appc apply` at once: one proceeds; the other exits 4 naming the holder, or with
  `--lock-timeout` waits and then finds nothing left to do. The state is valid and complete.
- A lock whose holder is on another host (appc cannot tell whether it is alive) is exit 4
  naming the holder and how to remove it; `appc force-unlock -e ENV LOCK_ID --force` does.
- A lock whose holder pid is dead on this host (a kill -9, a reboot) is taken over with a
  warning naming the old holder.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from composer.state.local import LocalStore
from composer.state.protocol import LockInfo, encode_lock
from tests.helpers import appc, write
from tests.reliability.leaks import scan, token_value
from tests.reliability.support import appc_process, make_mixed_project, mixed_components, moto_secrets, state_secrets
from tests.support.terraform_env import require_terraform


def _diagnostics(result) -> str:
    return " ".join(f"{e.get('summary')} {e.get('detail')}" for e in result.events if e["type"] == "diagnostic")


# a reliability run (two real applies racing, ~40 s): `scripts/test -m slow`. The default suite covers the
# state lock's exit 4 with the next two tests
@pytest.mark.slow
def test_two_applies_at_once_one_proceeds_the_other_exits_4_or_waits(tmp_path, moto, kube_clean):
    require_terraform()
    kube_clean.set_auto_ready(True)
    app = make_mixed_project(tmp_path, "conc", mixed_components(tokens=("a", "b"), workloads=("api",), chain=False))
    first = appc_process(["apply", "-f", app, "-e", "test", "--auto-approve", "--json"], tmp_path)
    started = json.loads(first.stdout.readline())  # the first unit starts once the lock is held
    assert started["type"] == "unit_start", started

    second = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
    assert second.code == 4 and second.events[-1]["exit_code"] == 4
    text = _diagnostics(second)
    assert f"pid {first.pid}, apply" in text and f"@{socket.gethostname()}" in text and "--lock-timeout" in text, text

    waiting_started = time.monotonic()
    third = appc_process(
        ["apply", "-f", app, "-e", "test", "--auto-approve", "--json", "--lock-timeout", "300"], tmp_path
    )
    out1, err1 = first.communicate(timeout=300)
    out3, err3 = third.communicate(timeout=300)
    assert first.returncode == 0, err1[-3000:]
    assert third.returncode == 0, err3[-3000:]
    waited = time.monotonic() - waiting_started
    summary3 = json.loads(out3.splitlines()[-1])
    assert summary3["terraform_runs"] == 0 and summary3["units_skipped"] == 3, (
        summary3
    )  # it waited, then found the work done

    doc = LocalStore(tmp_path / ".composer", "k9", "test").read()  # strict: raises on any corruption
    assert {n: u.status for n, u in doc.units.items()} == {"a": "applied", "b": "applied", "api": "applied"}
    assert [r.command for r in doc.revisions] == ["apply"]  # one writer changed things, once
    assert not list((tmp_path / ".composer").glob(".*.tmp")) and not (tmp_path / ".composer" / "test.lock").exists()
    state = json.loads((tmp_path / ".composer" / "test.state.json").read_text())
    assert moto_secrets(boto3.client("secretsmanager")) == state_secrets(state)
    report = scan(
        [token_value("a"), token_value("b")],
        texts={"first": out1 + err1, "second": second.out + second.err, "third": out3 + err3},
        paths=[tmp_path / ".composer"],
        allow_tfstate=True,
    )
    assert report.hits == [], report.describe()
    print(
        f"\nconcurrency: second apply exit 4 naming pid {first.pid}; the --lock-timeout apply waited {waited:.1f} s and ran 0 terraform; leak scan: {report.files} files, 0 hits"
    )


WORKLOADS_ONLY = """
apiVersion: composer.dev/v1alpha1
kind: Application
metadata: {name: locks}
spec:
  components:
    - {name: api, type: webservice, properties: {image: "ghcr.io/acme/api:1.0", port: 8080}}
"""
GITOPS_ENV = """
apiVersion: composer.dev/v1alpha1
kind: Environment
metadata: {name: test}
spec:
  kubernetes: {directory: deploy, namespace: locks}
"""


def _project(root: Path) -> Path:
    write(root, {"app.yaml": WORKLOADS_ONLY, "environments/test.yaml": GITOPS_ENV})
    return root / "app.yaml"


def _write_lock(root: Path, info: LockInfo) -> Path:
    path = root / ".composer" / "test.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_lock(info))
    return path


def test_a_lock_held_on_another_host_is_exit_4_until_force_unlocked(tmp_path):
    app = _project(tmp_path)
    info = LockInfo(
        id="5f0c3d4e-1111-4222-8333-944445555666",
        holder="ci@build-7",
        pid=4242,
        host="build-7",
        operation="apply",
        created="2025-01-01T00:00:00Z",
    )
    lock = _write_lock(tmp_path, info)

    r = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
    assert r.code == 4 and r.events[-1]["exit_code"] == 4
    text = _diagnostics(r)
    assert (
        "ci@build-7 (pid 4242, apply, since 2025-01-01T00:00:00Z, lock id 5f0c3d4e-1111-4222-8333-944445555666)" in text
    ), text
    assert f"appc force-unlock -e test {info.id} --force" in text, text
    assert not (tmp_path / "deploy").exists()
    assert "locked by ci@build-7" in appc("status", "-f", app, "-e", "test").out

    r = appc("force-unlock", "-f", app, "-e", "test", "not-the-id", "--force")
    assert r.code == 1 and lock.exists()  # another lock id: nothing removed
    r = appc("force-unlock", "-f", app, "-e", "test", info.id)
    assert r.code == 1 and lock.exists()  # --force is required
    r = appc("force-unlock", "-f", app, "-e", "test", info.id, "--force")
    assert r.code == 0 and "removed the lock held by ci@build-7" in r.out and not lock.exists()

    r = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
    assert r.code == 0, r.out + r.err
    assert (tmp_path / "deploy" / "api.yaml").exists()


def test_a_lock_whose_holder_died_on_this_host_is_taken_over_with_a_warning(tmp_path):
    app = _project(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # reaped: the pid no longer exists
    host = socket.gethostname()
    info = LockInfo(
        id="0b1e2d3c-aaaa-4bbb-8ccc-ddddeeeeffff",
        holder=f"someone@{host}",
        pid=dead.pid,
        host=host,
        operation="apply",
        created="2025-01-01T00:00:00Z",
    )
    _write_lock(tmp_path, info)

    r = appc("apply", "-f", app, "-e", "test", "--auto-approve")
    assert r.code == 0, r.out + r.err
    assert (
        f"took over a stale lock of someone@{host} (pid {dead.pid}" in r.err and f"pid {dead.pid} is gone" in r.err
    ), r.err
    assert not (tmp_path / ".composer" / "test.lock").exists()
    assert (tmp_path / "deploy" / "api.yaml").exists()
