"""Kubernetes delivery benchmark: our server-side apply against `kubectl apply --server-side`.

    .venv/bin/python bench/k8s.py                     # 1,000 objects, 3 rounds, a table
    .venv/bin/python bench/k8s.py --objects 1000 --repeat 5 --json

The API is the stand-in (tests/support/kube_standin.py), started as its own process with
`--auto-ready`, so it does not share this process's interpreter. One run measures:

1. **sink**: `ClusterSink.apply` of N objects (N/2 Deployments + N/2 ConfigMaps, one
   component), timed in-process from a fresh client (namespace check and creation included,
   rollout checks included: the apply responses already carry the ready status).
   Objects/s and API requests per object, from the stand-in's counters.
2. **no-op**: the same apply again with the inventory of the first, from a fresh sink (as
   a new `appc` process would): the count of mutating requests (target 0).
3. **kubectl**: `kubectl apply --server-side --validate=false -f DIR` of the same objects,
   rendered into files exactly as we send them (plus a Namespace file); wall time of the
   process, and again as a no-op re-apply. `--validate=false` because the stand-in serves no
   OpenAPI document.
4. **appc**: `appc apply --auto-approve` of a generated app holding the same N objects
   (N/100 `k8s-objects` components of 50 Deployments + 50 ConfigMaps) as a process: render,
   engine, state and the sink together; then a no-op re-apply (mutating requests), which the
   compiled-model cache serves without compiling (issue 13; the table says whether it did).
   Each with the process's CPU time (user + system), which a shared machine moves less.

5. **floor**: the same applies from raw sockets with pre-serialised bodies: the stand-in's
   own capacity, which no client can beat. It puts the ratio to kubectl in context: the
   stand-in is a single-threaded Python server, and kubectl is a fast Go client.

Every measurement is repeated (--repeat) with the stand-in reset in between; medians are
reported. The machine's load matters (two vCPUs shared with the stand-in): compare ratios;
the load average at the start and the end is printed with the figures. The `appc` processes
run with Composer's bytecode compiled beforehand, as an installed appc has it (pip compiles
at install; with PYTHONDONTWRITEBYTECODE set, each process would compile ~200 modules anew).

Targets (the issue): >= 50 objects/s; 0 mutating requests on a no-op re-apply; our apply
<= 0.5x kubectl's wall time; and (issue 13) the appc process's no-op re-apply <= 0.5 s, its
apply <= 1.0x kubectl.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_OBJECTS_PER_S = 50.0
TARGET_RATIO = 0.5
TARGET_APPC_NOOP_S = 0.5  # issue 13: a no-op re-apply of the appc process, probes on
TARGET_APPC_RATIO = 1.0  # issue 13: `appc apply` as a process against kubectl's wall time
NAMESPACE = "bench"


def objects(n: int, component: str = "bench", app: str = "bench") -> list[dict]:
    from composer.render.kubernetes import standard_labels

    out: list[dict] = []
    for i in range(n // 2):
        labels = standard_labels(app, "bench", component)
        sel = {"composer.dev/app": app, "composer.dev/component": component, "bench/index": str(i)}
        out.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"cfg-{i}", "namespace": NAMESPACE, "labels": labels},
                "data": {"index": str(i), "mode": "fast"},
            }
        )
        out.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": f"web-{i}", "namespace": NAMESPACE, "labels": labels},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": sel},
                    "template": {
                        "metadata": {"labels": {**labels, **sel}},
                        "spec": {
                            "containers": [
                                {
                                    "name": "web",
                                    "image": "nginx:1.27",
                                    "ports": [{"containerPort": 8080}],
                                    "env": [{"name": "INDEX", "value": str(i)}],
                                }
                            ]
                        },
                    },
                },
            }
        )
    return out


def start_standin(tmp: Path) -> tuple[subprocess.Popen, str, str]:
    kubeconfig, port_file = tmp / "kubeconfig", tmp / "port"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.kube_standin",
            "--port",
            "0",
            "--kubeconfig",
            str(kubeconfig),
            "--port-file",
            str(port_file),
            "--auto-ready",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the Kubernetes stand-in did not start")
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port_file.read_text().strip()}", str(kubeconfig)


def sink_for(kubeconfig: str):
    """A sink as a fresh `appc` process has it: new client, full token bucket, empty caches."""
    from composer.runners.kube import client
    from composer.runners.kube.base import DEFAULT_WORKERS
    from composer.runners.kube.client import DEFAULT_BURST, DEFAULT_QPS, RateLimit
    from composer.runners.kubernetes import ClusterSink, KubeClient

    client._BUCKETS.clear()
    client._DISCOVERY.clear()

    workers = int(os.environ.get("COMPOSER_KUBE_WORKERS") or DEFAULT_WORKERS)
    rate = RateLimit(
        float(os.environ.get("COMPOSER_KUBE_QPS") or DEFAULT_QPS),
        int(os.environ.get("COMPOSER_KUBE_BURST") or DEFAULT_BURST),
    )
    return ClusterSink(
        KubeClient.for_context(kubeconfig, "standin", workers, rate),
        app="bench",
        environment="bench",
        context="standin",
        namespace=NAMESPACE,
        workers=workers,
    )


def run_kubectl(kubeconfig: str, directory: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        ["kubectl", "--kubeconfig", kubeconfig, "apply", "--server-side", "--validate=false", "-f", str(directory)],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"kubectl failed: {proc.stderr[-2000:]}")
    return wall


def server_floor(url: str, objs: list[dict], connections: int = 2) -> float:
    """The stand-in's own limit: the same applies from a client that costs nothing (raw
    sockets, bodies serialised beforehand, responses skipped). No client can beat it."""
    import socket
    import threading
    from urllib.parse import urlparse

    from composer.runners.kube.resources import BUILTIN_KINDS, Resource

    host, port = urlparse(url).hostname, urlparse(url).port
    requests = []
    for o in objs:
        plural, namespaced = BUILTIN_KINDS[(o["apiVersion"], o["kind"])]
        path = Resource(o["apiVersion"], o["kind"], plural, namespaced).path(NAMESPACE, o["metadata"]["name"])
        body = json.dumps(o).encode()
        requests.append(
            f"PATCH {path}?fieldManager=appc HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/apply-patch+yaml\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
    ns = b'{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"%s"}}' % NAMESPACE.encode()

    def run(chunk: list[bytes]) -> None:
        with socket.create_connection((host, port)) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            f = s.makefile("rb")
            for q in chunk:
                s.sendall(q)
                f.readline()
                length = 0
                while (line := f.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length"):
                        length = int(line.split(b":")[1])
                f.read(length)

    run(
        [
            f"POST /api/v1/namespaces HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {len(ns)}\r\n\r\n".encode()
            + ns
        ]
    )
    threads = [threading.Thread(target=run, args=(requests[i::connections],)) for i in range(connections)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def generate_app(directory: Path, n: int, kubeconfig: str) -> Path:
    import yaml

    per = 100
    components = []
    for c in range(max(1, n // per)):
        name = f"group-{c:03d}"
        objs = objects(per, component=name)
        for o in objs:
            o["metadata"].pop("namespace", None)
            o["metadata"].pop("labels", None)
            o["metadata"]["name"] = f"{name}-{o['metadata']['name']}"
            if o["kind"] == "Deployment":
                sel = {"bench/object": o["metadata"]["name"]}
                o["spec"]["selector"] = {"matchLabels": sel}
                o["spec"]["template"]["metadata"] = {"labels": sel}
        components.append({"name": name, "type": "k8s-objects", "properties": {"objects": objs}})
    app = {
        "apiVersion": "composer.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "bench"},
        "spec": {"components": components},
    }
    env = {
        "apiVersion": "composer.dev/v1alpha1",
        "kind": "Environment",
        "metadata": {"name": "bench"},
        "spec": {"kubernetes": {"context": "standin", "namespace": NAMESPACE}},
    }
    (directory / "environments").mkdir(parents=True, exist_ok=True)
    (directory / "app.yaml").write_text(yaml.safe_dump(app, sort_keys=False))
    (directory / "environments" / "bench.yaml").write_text(yaml.safe_dump(env, sort_keys=False))
    return directory / "app.yaml"


def compile_bytecode() -> None:
    """Composer's bytecode, as pip writes it at install time (see the docstring)."""
    import compileall

    for package in ("composer", "providers"):
        compileall.compile_dir(str(ROOT / package), quiet=1)


def load_average() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def run_appc(app_file: Path, kubeconfig: str) -> tuple[float, dict, bool, float]:
    """Wall time, the summary, whether the compiled-model cache served the run, and the
    process's CPU time (user + system: on a shared machine it moves less than the wall time)."""
    import resource

    env = dict(os.environ, KUBECONFIG=kubeconfig)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            'import sys; from composer.cli import main; sys.argv[0] = "appc"; main()',
            "apply",
            "-f",
            str(app_file),
            "-e",
            "bench",
            "--auto-approve",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip().startswith("{")]
    if proc.returncode != 0:
        raise SystemExit(f"appc apply failed ({proc.returncode}): {proc.stderr[-2000:]} {lines[-3:]}")
    return wall, lines[-1], any(e.get("type") == "compile" and e.get("cached") for e in lines), cpu


def measure(n: int, repeat: int, with_appc: bool) -> dict:
    from composer.render import dump_yaml
    from tests.support.kube_standin import StandInRemote

    tmp = Path(tempfile.mkdtemp(prefix="appc-bench-k8s-"))
    proc, url, kubeconfig = start_standin(tmp)
    remote = StandInRemote(url)
    try:
        objs = objects(n)
        manifests = tmp / "manifests"
        manifests.mkdir()
        (manifests / "00-namespace.yaml").write_bytes(
            dump_yaml([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}])
        )
        (manifests / "bench.yaml").write_bytes(dump_yaml(objs))
        app_file = generate_app(tmp / "app", n, kubeconfig) if with_appc else None
        if with_appc:
            compile_bytecode()
        load_before = load_average()
        rounds: list[dict] = []
        for _ in range(repeat):
            r: dict = {}
            remote.reset()
            started = time.perf_counter()
            items, writes = sink_for(kubeconfig).apply("bench", [json.loads(json.dumps(o)) for o in objs], ())
            r["sink_s"] = time.perf_counter() - started
            st = remote.stats()
            r["sink_requests"], r["sink_mutating"], r["sink_writes"] = st["total"], st["mutating"], writes

            remote.reset_counters()
            started = time.perf_counter()
            _, writes = sink_for(kubeconfig).apply("bench", [json.loads(json.dumps(o)) for o in objs], items)
            r["noop_s"] = time.perf_counter() - started
            st = remote.stats()
            r["noop_requests"], r["noop_mutating"], r["noop_writes"] = st["total"], st["mutating"], writes

            remote.reset()
            r["floor_s"] = server_floor(url, objs)

            remote.reset()
            r["kubectl_s"] = run_kubectl(kubeconfig, manifests)
            st = remote.stats()
            r["kubectl_requests"], r["kubectl_mutating"] = st["total"], st["mutating"]
            remote.reset_counters()
            r["kubectl_noop_s"] = run_kubectl(kubeconfig, manifests)
            r["kubectl_noop_mutating"] = remote.stats()["mutating"]

            if app_file is not None:
                remote.reset()
                shutil.rmtree(app_file.parent / ".composer", ignore_errors=True)
                r["appc_s"], summary, _, r["appc_cpu_s"] = run_appc(app_file, kubeconfig)
                st = remote.stats()
                r["appc_requests"], r["appc_mutating"], r["appc_k8s_writes"] = (
                    st["total"],
                    st["mutating"],
                    summary.get("k8s_writes"),
                )
                remote.reset_counters()
                r["appc_noop_s"], _, r["appc_noop_cached"], r["appc_noop_cpu_s"] = run_appc(app_file, kubeconfig)
                r["appc_noop_mutating"] = remote.stats()["mutating"]
            rounds.append(r)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)

    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    out = {
        "objects": n,
        "load_average": f"{load_before} -> {load_average()}",
        "repeat": repeat,
        "cpus": os.cpu_count(),
        "workers": int(
            os.environ.get("COMPOSER_KUBE_WORKERS")
            or __import__("composer.runners.kube.base", fromlist=["x"]).DEFAULT_WORKERS
        ),
        "sink_s": round(med["sink_s"], 3),
        "sink_objects_per_s": round(n / med["sink_s"], 1),
        "sink_requests_per_object": round(med["sink_requests"] / n, 3),
        "noop_s": round(med["noop_s"], 3),
        "noop_requests": int(med["noop_requests"]),
        "noop_mutating": int(max(r["noop_mutating"] for r in rounds)),
        "kubectl_s": round(med["kubectl_s"], 3),
        "kubectl_requests_per_object": round(med["kubectl_requests"] / n, 3),
        "kubectl_noop_s": round(med["kubectl_noop_s"], 3),
        "kubectl_noop_mutating": int(med["kubectl_noop_mutating"]),
        "ratio_vs_kubectl": round(med["sink_s"] / med["kubectl_s"], 3),
        "server_floor_s": round(med["floor_s"], 3),
        "floor_ratio_vs_kubectl": round(med["floor_s"] / med["kubectl_s"], 3),
        "rounds": rounds,
    }
    if with_appc:
        out.update(
            {
                "appc_s": round(med["appc_s"], 3),
                "appc_cpu_s": round(med["appc_cpu_s"], 3),
                "appc_noop_cpu_s": round(med["appc_noop_cpu_s"], 3),
                "appc_objects_per_s": round(n / med["appc_s"], 1),
                "appc_requests_per_object": round(med["appc_requests"] / n, 3),
                "appc_noop_s": round(med["appc_noop_s"], 3),
                "appc_noop_mutating": int(max(r["appc_noop_mutating"] for r in rounds)),
                "appc_ratio_vs_kubectl": round(med["appc_s"] / med["kubectl_s"], 3),
                "appc_noop_compiled_from_cache": all(r["appc_noop_cached"] for r in rounds),
            }
        )
    out["targets"] = {
        "objects_per_s >= 50": out["sink_objects_per_s"] >= TARGET_OBJECTS_PER_S
        and (not with_appc or out["appc_objects_per_s"] >= TARGET_OBJECTS_PER_S),
        "no-op mutating == 0": out["noop_mutating"] == 0 and (not with_appc or out["appc_noop_mutating"] == 0),
        "apply <= 0.5x kubectl": out["ratio_vs_kubectl"] <= TARGET_RATIO,
    }
    if with_appc:  # issue 13: the appc process itself
        out["targets"]["appc no-op re-apply <= 0.5 s"] = out["appc_noop_s"] <= TARGET_APPC_NOOP_S
        out["targets"]["appc apply <= 1.0x kubectl"] = out["appc_ratio_vs_kubectl"] <= TARGET_APPC_RATIO
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--objects", type=int, default=1000, help="objects to apply (half Deployments, half ConfigMaps)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-appc", action="store_true", help="skip the `appc apply` process measurement")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if shutil.which("kubectl") is None:
        raise SystemExit("kubectl is not on PATH: it is the baseline")
    result = measure(args.objects, args.repeat, not args.no_appc)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "rounds"}))
    else:
        n = result["objects"]
        rows = [
            (
                "sink apply",
                f"{result['sink_s']:.2f} s",
                f"{result['sink_objects_per_s']:.0f} obj/s",
                f"{result['sink_requests_per_object']:.3f} req/obj",
            ),
            (
                "sink no-op re-apply",
                f"{result['noop_s']:.2f} s",
                f"{result['noop_mutating']} mutating",
                f"{result['noop_requests']} requests",
            ),
            (
                "kubectl apply --server-side",
                f"{result['kubectl_s']:.2f} s",
                f"{n / result['kubectl_s']:.0f} obj/s",
                f"{result['kubectl_requests_per_object']:.3f} req/obj",
            ),
            (
                "kubectl no-op re-apply",
                f"{result['kubectl_noop_s']:.2f} s",
                f"{result['kubectl_noop_mutating']} mutating",
                "",
            ),
            (
                "stand-in floor (zero-cost client)",
                f"{result['server_floor_s']:.2f} s",
                f"{n / result['server_floor_s']:.0f} obj/s",
                "",
            ),
        ]
        if "appc_s" in result:
            rows += [
                (
                    "appc apply (process)",
                    f"{result['appc_s']:.2f} s",
                    f"{result['appc_objects_per_s']:.0f} obj/s",
                    f"{result['appc_requests_per_object']:.3f} req/obj",
                ),
                ("  its CPU time (user + sys)", f"{result['appc_cpu_s']:.2f} s", "", ""),
                (
                    "appc no-op re-apply (process)",
                    f"{result['appc_noop_s']:.2f} s",
                    f"{result['appc_noop_mutating']} mutating",
                    "compile: cached" if result["appc_noop_compiled_from_cache"] else "compile: full",
                ),
                ("  its CPU time (user + sys)", f"{result['appc_noop_cpu_s']:.2f} s", "", ""),
            ]
        print(
            f"{n} objects, median of {result['repeat']}, {result['cpus']} CPUs, {result['workers']} apply threads,"
            f" load average (1/5/15 min) {result['load_average']}"
        )
        for r in rows:
            print(f"  {r[0]:<32} {r[1]:>9} {r[2]:>16} {r[3]:>16}")
        print(
            f"  sink / kubectl wall time: {result['ratio_vs_kubectl']:.2f}   stand-in floor / kubectl: {result['floor_ratio_vs_kubectl']:.2f}"
            + (f"   appc (process) / kubectl: {result['appc_ratio_vs_kubectl']:.2f}" if "appc_s" in result else "")
        )
        for name, ok in result["targets"].items():
            print(f"  target {name}: {'met' if ok else 'MISSED'}")
    return 0 if all(result["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
