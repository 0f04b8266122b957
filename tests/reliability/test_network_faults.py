"""Network faults: the cloud emulator (moto) or the Kubernetes API stand-in goes away in the
middle of an apply and comes back empty; a slow API server meets --timeout
(docs/reliability.md).

Pass: the interrupted apply exits 3 and its message names the endpoint; after the restart,
`appc plan --refresh` shows what the restarted server lost, `appc apply --refresh` recreates
it, and then everything the state knows exists again (and nothing else). A slow server fails
the apply within --timeout plus a bounded margin, with a message that says so.

These tests run their own moto process and their own stand-in, on fixed free ports, so they
can stop and restart them on the same address.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest
import yaml

from tests.helpers import appc, write
from tests.reliability.leaks import scan, token_value
from tests.reliability.support import (
    MotoProcess,
    appc_process,
    cluster_objects,
    free_port,
    make_mixed_project,
    mixed_components,
    moto_secrets,
    state_objects,
    state_of,
    state_secrets,
)
from tests.support.kube_handle import get
from tests.support.kube_standin import start_standin
from tests.support.terraform_env import require_terraform


def _units(result_or_events) -> dict[str, dict]:
    events = result_or_events if isinstance(result_or_events, list) else result_or_events.events
    return {e["unit"]: e for e in events if e["type"] == "unit"}


def _messages(events: list[dict]) -> str:
    return " ".join(
        f"{d['summary']} {d.get('detail') or ''}" for e in events if e["type"] == "unit" for d in e["diagnostics"]
    )


@pytest.fixture
def own_moto(monkeypatch):
    """A moto process of this test's own, on a fixed port, and the AWS environment pointing at it."""
    moto = MotoProcess().start()
    for k, v in moto.aws_environment().items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    try:
        yield moto
    finally:
        moto.stop()


# a long reliability run (its own moto server stopped and restarted, ~2 min): `scripts/test -m slow`. The
# default suite covers an API stopped mid-apply with the cluster stand-in (the next test) and
# `--refresh` against moto in tests/test_engine.py
@pytest.mark.slow
def test_cloud_emulator_stopped_mid_apply_then_restarted_converges_with_refresh(tmp_path, own_moto, kube_clean):
    require_terraform()
    kube_clean.set_auto_ready(True)
    ns = "netfault"
    app = make_mixed_project(
        tmp_path, ns, mixed_components(tokens=("a", "b"), workloads=("api",))
    )  # b reads a's ARN: b runs after a
    started = time.monotonic()
    proc = appc_process(["apply", "-f", app, "-e", "test", "--auto-approve", "--json"], tmp_path)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        event = json.loads(line)
        if event["type"] == "unit" and event["unit"] == "a":
            assert event["status"] == "applied", event
            own_moto.stop()  # b is about to start: its provider finds nobody at the endpoint
            break
    rest, err = proc.communicate(timeout=600)
    events = [json.loads(x) for x in ("".join(lines) + rest).splitlines() if x.startswith("{")]
    failed_after = time.monotonic() - started
    assert proc.returncode == 3, err[-3000:]
    units = _units(events)
    assert units["b"]["status"] == "failed" and units["api"]["status"] == "blocked"
    assert f"127.0.0.1:{own_moto.port}" in _messages(events) and "connection refused" in _messages(events), _messages(
        events
    )
    assert "Traceback" not in err
    assert state_of(tmp_path)["units"]["a"]["status"] == "applied"  # what finished is kept

    own_moto.start()  # the same address, but it has forgotten everything
    plan = appc("plan", "-f", app, "-e", "test", "--refresh", "--detailed-exitcode", "--json")
    assert plan.code == 2, plan.out[-3000:] + plan.err[-3000:]
    assert _units(plan)["a"]["changes"] == {"add": 1, "change": 0, "remove": 0}  # drift: a is gone
    assert _units(plan)["b"]["changes"] == {"add": 1, "change": 0, "remove": 0}  # never created

    fixed = appc("apply", "-f", app, "-e", "test", "--refresh", "--auto-approve", "--json")
    assert fixed.code == 0, fixed.out[-3000:] + fixed.err[-3000:]
    again = appc("apply", "-f", app, "-e", "test", "--auto-approve", "--json")
    assert again.code == 0 and again.events[-1]["terraform_runs"] == 0 and again.events[-1]["k8s_writes"] == 0
    state = state_of(tmp_path)
    assert moto_secrets(boto3.client("secretsmanager")) == state_secrets(state)  # 0 leaked, 0 orphaned
    assert cluster_objects(kube_clean, ns) == state_objects(state, f"kube:standin/{ns}")
    report = scan(
        [token_value("a"), token_value("b")],
        texts={
            "failed run": "".join(lines) + rest + err,
            "plan": plan.out + plan.err,
            "apply --refresh": fixed.out + fixed.err,
            "again": again.out + again.err,
        },
        paths=[tmp_path / ".composer"],
        allow_tfstate=True,
    )
    assert report.hits == [], report.describe()
    print(
        f"\nmoto stopped mid-apply: exit 3 after {failed_after:.1f} s naming 127.0.0.1:{own_moto.port}; plan --refresh exit 2 (a: drift); apply --refresh converged; leak scan {report.files} files, 0 hits"
    )


WORKLOADS = {
    "apiVersion": "composer.dev/v1alpha1",
    "kind": "Application",
    "metadata": {"name": "shop"},
    "spec": {
        "components": [
            {"name": "api", "type": "webservice", "properties": {"image": "ghcr.io/acme/api:1.0", "port": 8080}},
            {"name": "worker", "type": "worker", "properties": {"image": "ghcr.io/acme/worker:1.0"}},
            {
                "name": "settings",
                "type": "k8s-objects",
                "properties": {
                    "objects": [
                        {
                            "apiVersion": "v1",
                            "kind": "ConfigMap",
                            "metadata": {"name": "settings"},
                            "data": {"mode": "fast"},
                        }
                    ]
                },
            },
        ]
    },
}


def _workloads_project(root: Path, namespace: str = "shop") -> Path:
    env = {
        "apiVersion": "composer.dev/v1alpha1",
        "kind": "Environment",
        "metadata": {"name": "dev"},
        "spec": {"kubernetes": {"context": "standin", "namespace": namespace}},
    }
    write(
        root,
        {
            "app.yaml": yaml.safe_dump(WORKLOADS, sort_keys=False),
            "environments/dev.yaml": yaml.safe_dump(env, sort_keys=False),
        },
    )
    return root / "app.yaml"


class _Cluster:
    """Reads a stand-in through the official client, like tests/support/kube_handle.py."""

    def __init__(self, standin):
        self.api = standin.api_client()

    def get(self, path: str):
        return get(self.api, path)


def test_cluster_api_stopped_mid_apply_then_restarted_converges_with_refresh(tmp_path, monkeypatch):
    port = free_port()
    kubeconfig = tmp_path / "kubeconfig"
    standin = start_standin(port=port, kubeconfig_path=str(kubeconfig), auto_ready=True)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    app = _workloads_project(tmp_path / "p")
    try:
        standin.set_delay(0.4)  # every request takes 0.4 s, so the apply is still running when the server goes
        started = time.monotonic()
        proc = appc_process(["apply", "-f", app, "-e", "dev", "--auto-approve", "--json"], app.parent)
        while (
            standin.stats()["mutating"] < 1 and proc.poll() is None and time.monotonic() - started < 60
        ):  # the first write (the namespace): the objects come after it
            time.sleep(0.05)
        standin.stop()
        out, err = proc.communicate(timeout=300)
        failed_after = time.monotonic() - started
        events = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
        assert proc.returncode == 3, out[-3000:] + err[-3000:]
        assert f"cannot reach the Kubernetes API server at http://127.0.0.1:{port}" in _messages(events), _messages(
            events
        )
        assert "Traceback" not in err

        applied = {n for n, u in state_of(app.parent, "dev")["units"].items() if u["status"] == "applied"}
        standin = start_standin(port=port, kubeconfig_path=str(kubeconfig), auto_ready=True)  # same address, empty
        plan = appc("plan", "-f", app, "-e", "dev", "--refresh", "--detailed-exitcode", "--json")
        assert plan.code == 2, plan.out[-3000:]
        for name in applied:  # what the state says was applied, the restarted server lost: drift
            assert (_units(plan)[name]["changes"] or {}).get("add", 0) >= 1, (name, _units(plan)[name])
        fixed = appc("apply", "-f", app, "-e", "dev", "--refresh", "--auto-approve", "--json")
        assert fixed.code == 0, fixed.out[-3000:] + fixed.err[-3000:]
        again = appc("apply", "-f", app, "-e", "dev", "--auto-approve", "--json")
        assert again.code == 0 and again.events[-1]["k8s_writes"] == 0 and standin.stats()["mutating"] > 0
        state = state_of(app.parent, "dev")
        inventory = {(i["kind"], i["name"]) for i in state["inventory"]["kube:standin/shop"]}
        assert (
            cluster_objects(_Cluster(standin), "shop", "shop")
            == inventory
            == {("Deployment", "api"), ("Service", "api"), ("Deployment", "worker"), ("ConfigMap", "settings")}
        )
        print(
            f"\nstand-in stopped mid-apply: exit 3 after {failed_after:.1f} s naming http://127.0.0.1:{port}; {len(applied)} unit(s) applied before the stop; plan --refresh exit 2 showing them as drift; apply --refresh converged"
        )
    finally:
        standin.stop()


def test_a_slow_api_server_fails_the_apply_within_the_timeout(tmp_path, monkeypatch):
    kubeconfig = tmp_path / "kubeconfig"
    standin = start_standin(kubeconfig_path=str(kubeconfig), auto_ready=True)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    app = _workloads_project(tmp_path / "p")
    timeout = 3
    try:
        standin.set_delay(30)  # far beyond --timeout
        started = time.monotonic()
        proc = appc_process(
            ["apply", "-f", app, "-e", "dev", "--auto-approve", "--json", "--timeout", str(timeout)], app.parent
        )
        out, err = proc.communicate(timeout=120)
        took = time.monotonic() - started
        events = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
        assert proc.returncode == 3, out[-3000:] + err[-3000:]
        assert took < timeout + 12, (
            f"the apply took {took:.1f} s with --timeout {timeout}"
        )  # + interpreter start and imports
        text = _messages(events)
        assert f"no answer within {timeout}s; raise --timeout" in text and standin.url in text, text
        for name, unit in _units(events).items():
            assert unit["duration_s"] < timeout + 2, (name, unit["duration_s"])

        standin.set_delay(0)
        r = appc("apply", "-f", app, "-e", "dev", "--auto-approve", "--json", "--timeout", str(timeout))
        assert r.code == 0, r.out[-3000:]
        print(
            f"\nslow API (30 s a request, --timeout {timeout}): exit 3 after {took:.1f} s (units failed within {max(u['duration_s'] for u in _units(events).values()):.1f} s); converged once fast again"
        )
    finally:
        standin.stop()
