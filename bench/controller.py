"""Controller benchmark (issue 15): `appc controller run` replicas reconciling Application CRs.

    .venv/bin/python bench/controller.py                      # 20 apps; 1, 2 and 4 replicas
    .venv/bin/python bench/controller.py --apps 200 --timeout 1800 --scale-memory 200 --json
                                                              # the issue's figure, each round at most 30 min

Each Application has a workload (a webservice) and a bucket it connects to, so every one is a
real Terraform apply on moto plus a Deployment, a Service and a connection Secret on the
Kubernetes API stand-in (tests/support/kube_standin.py, its own process, `--auto-ready`). For
each replica count, side by side in this one run, with moto and the stand-in reset in between:

1. **ready**: the replicas (processes, `--shards 4R` with Leases when R > 1, `--workers` each)
   are started and left to divide the shards; then N Application CRs are created at once and
   the time until every one says Ready is taken. Apps/minute. A round has a time budget
   (`--timeout`): when it runs out, the apps Ready by then give the rate (`finished: false`), so
   the issue's 200-app figure runs in bounded time. **cpu**: CPU seconds per app of the replicas
   and every process they waited for (the child `appc`, Terraform, the provider plugin).
2. **memory**: the replicas' resident memory (VmRSS) after every app is Ready, less before
   the CRs existed, divided by N: controller memory per managed application (children excluded:
   they exit after each reconcile).
3. **no-op resync** (with 1 replica): the Environment's `resyncSeconds` drops to 30 and every app
   is re-applied once by the resync timer. From the stand-in's request log in that window (Lease
   renewals excluded): API requests and mutating requests per app; from the controller's log
   (one line per reconcile): Terraform processes started (target 0). Its CPU per app is the
   cost of a child `appc` that starts no Terraform (process start, imports, render, probes).

4. **memory at scale** (`--scale-memory N`, e.g. 200): one replica watching N Application CRs of a
   suspended Environment (every handler runs, no child does): its VmRSS growth per CR, the
   issue's 200 in a couple of minutes instead of hours of applies on this machine.

5. **what limits throughput** (each round): the CPU seconds of the replicas (their own), of the
   children they waited for (`appc`, Terraform, the provider plugins) and of moto and the
   stand-in, against the round's wall time times the cores, and how busy the whole machine's
   cores were (/proc/stat, other users' processes included): busy cores mean CPU is the limit;
   idle cores with fewer reconciles allowed at once (replicas x workers) than cores mean
   concurrency is; idle cores otherwise mean waiting (round trips, the state lock, sleeps).

AWS_CA_BUNDLE is dropped from the replicas' environment (moto is plain http; with it set the
pooled AWS provider processes are off, composer/runners/terraform_providers.py), and the output
says which provider path was measured. `--lease-seconds` is passed to the replicas.

Targets (the issue): Ready throughput >= 1.6x from 1 to 2 replicas on 2 cores (limited by
Terraform CPU), <= 2 MB per app, 0 mutating calls and 0 Terraform processes on a no-op resync.
Needs terraform on PATH and the provider mirror (composer/runners/terraform.py).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.apply import reset as reset_moto  # noqa: E402
from bench.apply import start_moto  # noqa: E402
from bench.k8s import start_standin  # noqa: E402
from composer.controller.manifests import InstallOptions, install_manifests  # noqa: E402
from composer.runners.terraform import terraform_environment  # noqa: E402
from composer.runners.terraform_providers import unsound_reason  # noqa: E402

NS, LEASES, GROUP = "bench", "composer-system", "composer.dev/v1alpha1"
RECONCILED = re.compile(r"bench/app\d+ (reconcile|resync): exit (\d+), \d+ units, (\d+) terraform runs")


def _client(kubeconfig: str) -> Any:
    from kubernetes import client, config, dynamic

    cfg = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, client_configuration=cfg, persist_config=False)
    return dynamic.DynamicClient(client.ApiClient(cfg))


def _apply(dyn: Any, doc: dict[str, Any]) -> None:
    resource = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
    dyn.server_side_apply(resource, body=doc, namespace=doc["metadata"].get("namespace"), field_manager="bench")


def _environment(resync_seconds: int, suspend: bool = False) -> dict[str, Any]:
    spec = {
        "cloud": {"provider": "aws", "region": "us-east-1"},
        "kubernetes": {"context": "standin"},
        "resyncSeconds": resync_seconds,
        "suspend": suspend,
    }
    return {"apiVersion": GROUP, "kind": "Environment", "metadata": {"name": "dev", "namespace": NS}, "spec": spec}


def _application(i: int) -> dict[str, Any]:
    web = {
        "name": f"web{i}",
        "type": "webservice",
        "properties": {"image": "nginx:1.27", "port": 8080},
        "connections": ["files"],
    }
    files = {"name": "files", "type": "bucket", "properties": {"force_destroy": True}}
    meta = {"name": f"app{i}", "namespace": NS}
    return {"apiVersion": GROUP, "kind": "Application", "metadata": meta, "spec": {"components": [web, files]}}


def _install(dyn: Any) -> None:
    for doc in install_manifests(InstallOptions())[:2]:
        _apply(dyn, doc)
    for name in (NS, LEASES):
        _apply(dyn, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    _apply(dyn, _environment(86400))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_replicas(
    count: int, work: Path, env: dict[str, str], workers: int, lease_s: int = 0
) -> list[tuple[subprocess.Popen, Path]]:
    shards = 0 if count == 1 else 4 * count
    replicas = []
    for i in range(count):
        port, log = _free_port(), work / f"replica{i}.log"
        args = ["controller", "run", "--state-dir", str(work / "state"), "--namespace", NS, "--workers", str(workers)]
        args += ["--health-port", str(port), "--shards", str(shards), "--lease-namespace", LEASES]
        if lease_s:  # the renew interval stays under it: a third of the lease, at most the default 5 s
            args += ["--lease-seconds", str(lease_s), "--lease-renew-seconds", str(min(5.0, lease_s / 3))]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "composer", *args],
                cwd=work,
                env={**env, "POD_NAME": f"r{i}"},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        replicas.append((proc, log))
        _until(f"replica {i} healthy", lambda port=port: _healthy(port), 120)
    return replicas


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:  # noqa: S310 - loopback
            return bool(resp.status == 200)
    except OSError:
        return False


def _balanced(dyn: Any, count: int) -> bool:
    """Every shard Lease held, 4 by each of the `count` replicas (a transient split, e.g. while
    the first replica gives shards back, would move Applications mid-run)."""
    leases = dyn.resources.get(api_version="coordination.k8s.io/v1", kind="Lease")
    items = dyn.get(leases, namespace=LEASES).items
    holders = [i.spec.holderIdentity for i in items if i.metadata.name.startswith("appc-shard-")]
    return len(holders) == 4 * count and all(holders) and all(holders.count(h) == 4 for h in set(holders))


def _until(what: str, check: Any, timeout: float, partial: bool = False) -> bool:
    """Wait for `check`; at the timeout, False when `partial` (the caller reports what it got),
    else exit. Keeps a 200-app run bounded: a round that does not finish still gives figures."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            if partial:
                return False
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(1.0)
    return True


def _ready_count(dyn: Any) -> int:
    apps = dyn.resources.get(api_version=GROUP, kind="Application")
    ready = 0
    for item in dyn.get(apps, namespace=NS).to_dict()["items"]:
        conds = (item.get("status") or {}).get("conditions") or []
        ready += any(c["type"] == "Ready" and c["status"] == "True" for c in conds)
    return ready


def _rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def _cpu_split(pids: list[int]) -> tuple[float, float]:
    """CPU seconds of the processes themselves and of every child they have waited for (for a
    replica: the `appc apply` children, and through them Terraform and its provider plugins):
    /proc/PID/stat fields utime + stime, and cutime + cstime."""
    ticks = os.sysconf("SC_CLK_TCK")
    own = waited = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        own += int(fields[11]) + int(fields[12])
        waited += int(fields[13]) + int(fields[14])
    return own / ticks, waited / ticks


def _cpu_s(pids: list[int]) -> float:
    return sum(_cpu_split(pids))


def _machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of every core since boot, everyone's processes: /proc/stat `cpu`."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values[:8]) - idle, sum(values[:8])


class CpuWindow:
    """What limits a round: this bench's CPU (replicas, their children, moto and the stand-in)
    against wall time x cores, and how busy the machine's cores were meanwhile."""

    def __init__(self, replicas: list[int], servers: list[int], concurrency: int) -> None:
        self.replicas, self.servers, self.concurrency = replicas, servers, concurrency
        self.cores = os.cpu_count() or 1
        self.started = time.monotonic()
        self.before = (_cpu_split(replicas), _cpu_s(servers), _machine_jiffies())

    def figures(self) -> dict[str, Any]:
        wall = time.monotonic() - self.started
        (own0, waited0), servers0, (busy0, total0) = self.before
        own, waited = _cpu_split(self.replicas)
        servers = _cpu_s(self.servers) - servers0
        busy, total = _machine_jiffies()
        machine = (busy - busy0) / max(1, total - total0)
        ours = (own - own0 + waited - waited0 + servers) / max(1e-9, wall * self.cores)
        out = {
            "wall_s": round(wall, 1),
            "cores": self.cores,
            "cpu_replicas_s": round(own - own0, 1),
            "cpu_children_s": round(waited - waited0, 1),  # appc children, Terraform, providers
            "cpu_servers_s": round(servers, 1),  # moto and the stand-in
            "bench_cpu_share": round(ours, 3),  # of wall x cores
            "machine_busy": round(machine, 3),  # every process's, other users' too
        }
        out["limit"] = self.verdict(machine, ours)
        return out

    def verdict(self, machine: float, ours: float) -> str:
        idle = f"the cores were {machine:.0%} busy ({ours:.0%} by this bench)"
        if machine >= 0.85:
            others = "" if machine - ours < 0.2 else f"; other processes took {machine - ours:.0%} of them"
            return f"CPU: {idle}{others}"
        if self.concurrency < self.cores:
            return f"concurrency: {self.concurrency} reconcile(s) at a time (replicas x workers) on {self.cores} cores; {idle}"
        return f"waiting, not CPU: {idle} with {self.concurrency} reconciles allowed at once (round trips, the state lock, sleeps)"


def _reconciles(logs: list[Path], kind: str) -> list[tuple[int, int]]:
    """(exit code, terraform runs) of every `kind` line in the replicas' logs."""
    found = []
    for log in logs:
        for m in RECONCILED.finditer(log.read_text(errors="replace")):
            if m.group(1) == kind:
                found.append((int(m.group(2)), int(m.group(3))))
    return found


def _noop_resync(dyn: Any, remote: Any, pids: list[int], logs: list[Path], n: int) -> dict[str, Any]:
    _apply(dyn, _environment(30))  # resyncSeconds is the CR's own: no re-reconcile, only the timer
    remote.reset_counters()
    started, cpu_before = time.monotonic(), _cpu_s(pids)
    _until("every app resynced", lambda: len(_reconciles(logs, "resync")) >= n, max(300.0, 30.0 * n), partial=True)
    cpu = _cpu_s(pids) - cpu_before
    records = [r for r in remote.requests() if r["resource"] != "leases"]
    _apply(dyn, _environment(86400, suspend=True))
    resyncs = _reconciles(logs, "resync")
    n = max(1, len(resyncs))  # per app resynced (all of them unless the window timed out)
    mutating = [r for r in records if r["verb"] in ("create", "update", "patch", "apply", "delete")]
    return {
        "resync_window_s": round(time.monotonic() - started, 1),
        "resync_requests_per_app": round(len(records) / n, 2),
        "resync_mutating_per_app": round(len(mutating) / n, 2),
        "resync_mutating": sorted({f"{r['verb']} {r['resource']}" for r in mutating}),
        "resync_terraform_processes": sum(runs for _, runs in resyncs),
        "resync_failed": sum(1 for code, _ in resyncs if code != 0),
        "resynced": len(resyncs),
        "resync_cpu_s_per_app": round(cpu / n, 2),  # a child appc that starts no Terraform
    }


def _round(count: int, n: int, args: argparse.Namespace, ctx: dict[str, Any]) -> dict[str, Any]:
    dyn, remote, work = ctx["dyn"], ctx["remote"], ctx["work"] / f"r{count}"
    work.mkdir()
    remote.reset()
    reset_moto(ctx["moto"])
    _install(dyn)
    replicas = _start_replicas(count, work, ctx["env"], args.workers, args.lease_seconds)
    pids, logs = [p.pid for p, _ in replicas], [log for _, log in replicas]
    try:
        if count > 1:
            _until("the shards divided", lambda: _balanced(dyn, count), 120)
        rss_before, cpu_before = _rss_kib(pids), _cpu_s(pids)
        window = CpuWindow(pids, ctx["servers"], count * args.workers)
        started = time.monotonic()
        for i in range(n):
            _apply(dyn, _application(i))
        finished = _until("every app Ready", lambda: _ready_count(dyn) >= n, args.timeout, partial=True)
        seconds, ready = time.monotonic() - started, _ready_count(dyn)
        row: dict[str, Any] = {"replicas": count, "ready": ready, "finished": finished, "ready_s": round(seconds, 1)}
        row["apps_per_min"] = round(60 * ready / seconds, 2)
        row["mib_per_app"] = round((_rss_kib(pids) - rss_before) / 1024 / max(1, ready), 3)
        row["cpu_s_per_app"] = round((_cpu_s(pids) - cpu_before) / max(1, ready), 2)
        row["reconciles"] = len(_reconciles(logs, "reconcile"))
        row["loadavg_1m"] = round(os.getloadavg()[0], 1)
        row.update(window.figures())
        if count == 1 and finished and not args.no_resync:
            row.update(_noop_resync(dyn, remote, pids, logs, n))
        return row
    finally:
        for proc in (p for p, _ in replicas):
            proc.terminate()
        for proc in (p for p, _ in replicas):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _handled_count(dyn: Any) -> int:
    """Applications kopf has handled (its diff-base annotation is written after a handler ran)."""
    apps = dyn.resources.get(api_version=GROUP, kind="Application")
    items = dyn.get(apps, namespace=NS).to_dict()["items"]
    return sum(1 for i in items if "composer.dev/last-handled" in ((i.get("metadata") or {}).get("annotations") or {}))


def _memory_at_scale(n: int, args: argparse.Namespace, ctx: dict[str, Any]) -> dict[str, Any]:
    """One replica watching `n` Applications whose Environment is suspended: kopf's per-object
    state, the indexes and the guards without any child run, so the issue's 200 CRs fit in
    minutes. The replica's VmRSS growth per Application."""
    dyn, remote, work = ctx["dyn"], ctx["remote"], ctx["work"] / f"scale{n}"
    work.mkdir()
    remote.reset()
    _install(dyn)
    _apply(dyn, _environment(86400, suspend=True))
    (proc, _log), *_ = _start_replicas(1, work, ctx["env"], args.workers, args.lease_seconds)
    try:
        rss_before, started = _rss_kib([proc.pid]), time.monotonic()
        for i in range(n):
            _apply(dyn, _application(i))
        finished = _until("every app handled", lambda: _handled_count(dyn) >= n, args.timeout, partial=True)
        time.sleep(5)  # let the watch settle
        handled = _handled_count(dyn)
        grown = (_rss_kib([proc.pid]) - rss_before) / 1024
        return {
            "scale_apps": n,
            "scale_handled": handled,
            "scale_finished": finished,
            "scale_s": round(time.monotonic() - started, 1),
            "scale_mib_per_app": round(grown / max(1, handled), 3),
            "scale_rss_mib": round(_rss_kib([proc.pid]) / 1024, 1),
        }
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--apps", type=int, default=20)
    ap.add_argument("--replicas", default="1,2,4", help="replica counts, side by side")
    ap.add_argument("--workers", type=int, default=2, help="concurrent reconciles per replica")
    ap.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        help="seconds per round to wait for every app Ready; a round that runs out reports the apps Ready by then",
    )
    ap.add_argument("--no-resync", action="store_true", help="skip the no-op resync measurement")
    ap.add_argument(
        "--lease-seconds",
        type=int,
        default=0,
        help="the replicas' --lease-seconds (0: the controller's default, 15 s); longer keeps shards put on a starved machine",
    )
    ap.add_argument(
        "--scale-memory",
        type=int,
        default=0,
        metavar="N",
        help="also: one replica's memory per Application with N CRs in a suspended Environment (no applies)",
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from tests.support.kube_standin import StandInRemote

    work = Path(tempfile.mkdtemp(prefix="appc-bench-controller-"))
    moto_url, moto = start_moto(work)
    standin, url, kubeconfig = start_standin(work)
    # moto is plain http: a CA bundle serves nothing here, and it would turn the provider pool off
    # (composer/runners/terraform_providers.py); this machine sets it for every process.
    dropped = "AWS_CA_BUNDLE" in os.environ
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    env.update(AWS_ENDPOINT_URL=moto_url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    env.update(AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1", KUBECONFIG=kubeconfig)
    env.update({k: v for k, v in terraform_environment(work / "tfcfg", env).items() if k.startswith("TF_")})
    pool = unsound_reason(env)
    path = {
        "aws_ca_bundle": "dropped (moto is plain http)" if dropped else "not set",
        "provider_pool": "on" if pool is None else f"off: {pool}",
        "lease_seconds": args.lease_seconds or 15,
        "loadavg_start": [round(x, 1) for x in os.getloadavg()],
    }
    print(json.dumps(path), file=sys.stderr)
    ctx = {"dyn": _client(kubeconfig), "remote": StandInRemote(url), "work": work, "moto": moto_url, "env": env}
    ctx["servers"] = [moto.pid, standin.pid]
    rows = []
    try:
        for count in (int(c) for c in args.replicas.split(",") if c.strip()):
            rows.append(_round(count, args.apps, args, ctx))
            print(json.dumps(rows[-1]), file=sys.stderr)
        if args.scale_memory:
            rows.append(_memory_at_scale(args.scale_memory, args, ctx))
            print(json.dumps(rows[-1]), file=sys.stderr)
    finally:
        standin.terminate()
        moto.terminate()
    figures = {"apps": args.apps, "workers": args.workers, **path, "loadavg": os.getloadavg(), "rows": rows}
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"{args.apps} apps, {args.workers} workers per replica, load average {os.getloadavg()[0]:.1f}")
        print(f"AWS_CA_BUNDLE {path['aws_ca_bundle']}; AWS provider pool {path['provider_pool']}")
        for row in (r for r in rows if "replicas" in r):
            print(
                f"{row['replicas']} replicas: {row['ready']} Ready in {row['ready_s']} s ({row['apps_per_min']} apps/min), "
                f"{row['mib_per_app']} MiB and {row['cpu_s_per_app']} CPU s per app, load {row['loadavg_1m']}"
            )
            print(
                f"  CPU s: replicas {row['cpu_replicas_s']}, their children {row['cpu_children_s']}, "
                f"moto + stand-in {row['cpu_servers_s']} in {row['wall_s']} s x {row['cores']} cores; "
                f"limited by {row['limit']}"
            )
        by_count = {row["replicas"]: row["apps_per_min"] for row in rows if "replicas" in row}
        if by_count.get(1) and by_count.get(2):
            print(f"2 replicas / 1 replica throughput: {by_count[2] / by_count[1]:.2f}x")
        print(json.dumps({k: v for r in rows for k, v in r.items() if k.startswith(("resync", "scale"))}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
