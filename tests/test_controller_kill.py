"""A controller replica killed mid-reconcile (SIGKILL of the `appc controller run` process and
every process under it, as when a pod dies, while its child `appc apply` is writing), then
restarted on the same state directory: it converges to Ready, takes over the dead child's
state lock (its pid is gone), leaves no process behind, and deleting the Application leaves
nothing on the Kubernetes API stand-in or on moto: 0 leaked resources.

The default variant has only workloads (the stand-in delays each server-side apply, so the
kill lands between two writes of the unit); the `slow` one adds a bucket on moto with real
Terraform and kills it once the bucket exists.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.test_controller import APPS, _application, _apply, _buckets, _create_ready, _install_crds, _ready, _wait

NS = "team-a"


def _children(pid: int) -> list[int]:
    """Every process below `pid` (read from /proc before any is killed, so none is re-parented)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [pid]
    while frontier:
        below = [child for child, parent in parents.items() if parent in frontier]
        found += below
        frontier = below
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _processes_under(root: Path) -> list[str]:
    """Live processes whose working directory is under `root` (a child appc, terraform, a
    provider); a killed one not yet reaped by its new parent (a zombie) runs nothing."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cwd = Path(os.readlink(entry / "cwd"))
                if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
            except (OSError, IndexError):
                continue
            if cwd == root or root in cwd.parents:
                found.append(f"{entry.name} {_cmdline(int(entry.name))}")
    return found


def _start_replica(state: Path, log: Path, name: str = "replica", shards: int = 0) -> subprocess.Popen:
    args = ["controller", "run", "--state-dir", str(state), "--health-port", "0", "--namespace", NS]
    args += ["--shards", str(shards), "--lease-namespace", "composer-system"]
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "composer", *args, "--timeout", "240"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "POD_NAME": name},
        )


def _kill_tree(proc: subprocess.Popen) -> list[str]:
    """SIGKILL the replica and everything under it at once; returns what ran under it."""
    below = _children(proc.pid)
    seen = [_cmdline(pid) for pid in below]
    for pid in [proc.pid, *below]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(10)
    return seen


def _child_apply_running(proc: subprocess.Popen) -> bool:
    return any("composer apply" in _cmdline(pid) for pid in _children(proc.pid))


@pytest.mark.parametrize(
    "with_bucket",
    [False, pytest.param(True, marks=pytest.mark.slow)],  # True: real Terraform twice, ~1-2 min
    ids=["workloads", "bucket"],
)
def test_a_replica_killed_mid_reconcile_converges_on_restart(
    with_bucket: bool, moto: Any, kube_clean: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kube = kube_clean
    kube.set_auto_ready(True)
    _install_crds(kube)
    app = _application("shop")
    env_spec: dict[str, Any] = {"kubernetes": {"context": kube.context}}
    if with_bucket:
        from tests.support.terraform_env import terraform_env

        monkeypatch.setenv("TF_CLI_CONFIG_FILE", terraform_env(tmp_path)["TF_CLI_CONFIG_FILE"])
        env_spec["cloud"] = {"provider": "aws", "region": "us-east-1"}
        app["spec"]["components"][0]["connections"] = ["files"]
        app["spec"]["components"].append({"name": "files", "type": "bucket", "properties": {"force_destroy": True}})
    env = {"apiVersion": "composer.dev/v1alpha1", "kind": "Environment", "metadata": {"name": "dev", "namespace": NS}}
    _apply(kube, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}, {**env, "spec": env_spec})
    state, log = tmp_path / "state", tmp_path / "controller.log"
    if not with_bucket:
        kube.set_delay(1.5, verbs=["apply"])  # each server-side apply of the child takes 1.5 s
    replica = _start_replica(state, log)
    try:
        _apply(kube, app)
        if with_bucket:
            _wait("the bucket on moto", lambda: _buckets() and _child_apply_running(replica), 180)
        else:
            _wait("the first write", lambda: kube.get(f"/apis/apps/v1/namespaces/{NS}/deployments/web"), 120)
        assert _child_apply_running(replica), "the child appc apply finished before the kill"
        _kill_tree(replica)
    finally:
        if replica.poll() is None:
            _kill_tree(replica)
    kube.set_delay(0.0)
    assert _ready(kube, "shop") is None  # killed before it could say Ready
    assert _processes_under(state) == []
    locks = list(state.rglob("dev.lock"))  # the local store's lock: <environment>.lock
    assert locks, "the killed child left its state lock (its pid is gone)"

    replica = _start_replica(state, log)
    try:
        try:
            obj = _wait("Ready after the restart", lambda: _ready(kube, "shop"), 240)
        except AssertionError:
            status = (kube.get(f"{APPS}/shop") or {}).get("status")
            raise AssertionError(f"not Ready after the restart: {status}\n{log.read_text()[-3000:]}") from None
        assert obj["status"]["reconciledBy"] == "replica"
        assert not [p for p in locks if p.exists()], "the stale lock was taken over and released"
        if with_bucket:
            assert len(_buckets()) == 1
        from kubernetes import dynamic

        client = dynamic.DynamicClient(kube.api())
        resource = client.resources.get(api_version="composer.dev/v1alpha1", kind="Application")
        client.delete(resource, name="shop", namespace=NS)
        _wait("the CR gone", lambda: kube.get(f"{APPS}/shop") is None, 180)
    finally:
        _kill_tree(replica)
    left = [
        kind
        for kind, path in (("Deployment", "apis/apps/v1"), ("Service", "api/v1"))
        if (kube.get(f"/{path}/namespaces/{NS}/{kind.lower()}s") or {}).get("items")
    ]
    assert left == []  # 0 leaked on the stand-in
    assert _buckets() == []  # 0 leaked on moto
    assert _processes_under(state) == []


def _holder(kube: Any, shard: int) -> str | None:
    from composer.runners.controller_shards import lease_name

    lease = kube.get(f"/apis/coordination.k8s.io/v1/namespaces/{LEASES}/leases/{lease_name(shard)}") or {}
    return (lease.get("spec") or {}).get("holderIdentity")


def _deployment_applies(kube: Any) -> dict[str, int]:
    """Server-side applies of each Deployment that the stand-in accepted (its request log, which
    kube_clean does not clear: count names this test alone uses)."""
    counts: dict[str, int] = {}
    for r in kube.request_log():
        if r["resource"] == "deployments" and r["verb"] == "apply" and not r["dry_run"] and r["status"] < 300:
            counts[r["name"]] = counts.get(r["name"], 0) + 1
    return counts


LEASES = "composer-system"


@pytest.mark.slow  # ~2-4 min: two replica processes, a Lease expiry (15 s) and a take-over tick (30 s)
def test_two_replicas_apply_each_unit_once_and_one_killed_mid_reconcile_is_taken_over(
    kube_clean: Any, tmp_path: Path
) -> None:
    """Two replica processes (`--shards 4`) on one state directory, as on a shared volume:
    three Applications become Ready with each Deployment applied exactly once (the stand-in's
    request log, not the controller's bookkeeping); then the replica holding a fourth one is
    SIGKILLed while its child applies it, and the other replica takes the shard over, converges
    (stale lock taken over) and, once the CRs are deleted, 0 objects are left."""
    from composer.runners.controller_shards import shard_of

    kube = kube_clean
    kube.set_auto_ready(True)
    _install_crds(kube)
    namespaces = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in (NS, LEASES)]
    env = {"apiVersion": "composer.dev/v1alpha1", "kind": "Environment", "metadata": {"name": "dev", "namespace": NS}}
    _apply(kube, *namespaces, {**env, "spec": {"kubernetes": {"context": kube.context}}})
    state = tmp_path / "state"
    replicas = {me: _start_replica(state, tmp_path / f"{me}.log", me, shards=4) for me in ("r0", "r1")}
    try:
        _wait(
            "the shards divided", lambda: sorted(_holder(kube, s) or "" for s in range(4)) == ["r0", "r0", "r1", "r1"]
        )
        names = [f"once{i}" for i in range(3)]  # Deployments web-once<i>: names no other test's log holds
        _create_ready(kube, names)
        applies = _deployment_applies(kube)
        assert {n: applies.get(f"web-{n}") for n in names} == {n: 1 for n in names}  # no unit applied twice
        by = {n: kube.get(f"{APPS}/{n}")["status"]["reconciledBy"] for n in names}
        assert all(by[n] == _holder(kube, shard_of(NS, n, 4)) for n in names), by

        victim = next(f"victim{i}" for i in range(100) if _holder(kube, shard_of(NS, f"victim{i}", 4)) == "r0")
        late = _application(victim)
        late["spec"]["components"][0]["name"] = "web-victim"  # not test_controller.py's web-late
        kube.set_delay(1.5, verbs=["apply"])  # each server-side apply of the child takes 1.5 s
        _apply(kube, late)
        _wait("r0's child applying", lambda: _child_apply_running(replicas["r0"]), 120)
        _kill_tree(replicas.pop("r0"))
        kube.set_delay(0.0)
        assert _ready(kube, victim) is None  # killed before it could say Ready
        obj = _wait("the take-over", lambda: _ready(kube, victim), 240)
        assert obj["status"]["reconciledBy"] == "r1"
        # the victim's stale lock was taken over and released (r0 may have been killed inside another
        # app's run too: that lock waits for that app's next reconcile)
        assert not list((state / NS / victim).rglob("dev.lock"))

        from kubernetes import dynamic

        client = dynamic.DynamicClient(kube.api())
        resource = client.resources.get(api_version="composer.dev/v1alpha1", kind="Application")
        for name in [*names, victim]:
            client.delete(resource, name=name, namespace=NS)
        for name in [*names, victim]:
            _wait(f"{name} gone", lambda name=name: kube.get(f"{APPS}/{name}") is None, 180)
    finally:
        for proc in replicas.values():
            _kill_tree(proc)
    assert (kube.get(f"/apis/apps/v1/namespaces/{NS}/deployments") or {}).get("items") == []  # 0 leaked
    assert (kube.get(f"/api/v1/namespaces/{NS}/services") or {}).get("items") == []
    assert _processes_under(state) == []
