"""bench/apply.py (e) and (f) on one set-up that grows: one changed unit at N = 10, 50, 100 (on the
emulator as is and behind the latency proxy), and the no-op re-apply of 50 units with probes on.

Why the set-up is shaped this way (measured, docs/performance.md "Apply"): moto does not slow as it
fills. Each bucket unit's `aws_s3_bucket_lifecycle_configuration` costs at least 55 s of wall time
on its first apply, on any backend: the AWS provider (5.100) waits after the Put until ten reads in
a row, 5 s apart after a 10 s delay, return the rules it wrote (`waitLifecycleConfigEquals`:
Delay 10 s, PollInterval 5 s, ContinuousTargetOccurence 10). The wait is a sleep that holds one of
Terraform's `-parallelism` slots, so at P=4 a set-up of N buckets took N/4 x 55 s (100 buckets:
~23 min, per root). The fix is in the set-up, not the measured runs:

- the set-up applies run at a high parallelism (`--setup-parallelism`, default 16 for appc's units
  and N for the monolithic root), so the waits overlap; the measured runs keep P (`--parallelism`);
- appc's project and the monolithic root live side by side in one moto (different app names, so
  different bucket and secret names), set up once per N and reused by both measured passes: the
  emulator as is (versioning of b07 off), then behind the proxy (versioning back on);
- the set-up grows: N=50 adds 40 units to the N=10 set-up, N=100 adds 50 more;
- (f) runs on the same appc project when it holds --probe-units units, against the Kubernetes
  stand-in (so mutating Kubernetes calls are counted by the API server, not only by appc).

Every step (one N, or (f)) has its own wall-time bound (--timeout); a step that runs out is recorded
as timed out, its processes are ended, and the series stops (later steps grow from its set-up).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHANGED = "b07"  # the unit whose versioning the measured runs flip


class StepTimeout(Exception):
    """A step ran past its --timeout; its processes were ended."""


@dataclass
class Series:
    """What every step needs: where to work, the emulator, the environments and the bounds."""

    work: Path
    env: dict[str, str]
    tf_env: dict[str, str]
    parallelism: int
    setup_parallelism: int
    timeout_s: float
    deadline: float = 0.0
    setup_s: dict[str, float] = field(default_factory=dict)


def _run(cmd: list[str], cwd: Path, env: dict[str, str], series: Series) -> tuple[float, str]:
    """Run one process in its own session, bounded by the step's deadline (the whole group is
    ended when it passes). Returns wall seconds and stdout; a failure stops the bench."""
    t = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=max(1.0, series.deadline - t))
    except subprocess.TimeoutExpired:
        for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
                proc.communicate(timeout=grace)
                break
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue
        raise StepTimeout(" ".join(cmd[:4])) from None
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out[-3000:]}\n{err[-2000:]}")
    return time.monotonic() - t, out


def _appc(args: list[str], cwd: Path, env: dict[str, str], series: Series) -> tuple[float, list[dict]]:
    cmd = [sys.executable, "-c", "from composer.cli import main; main()", *args, "--json"]
    wall, out = _run(cmd, cwd, env, series)
    return wall, [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def _terraform(args: list[str], cwd: Path, env: dict[str, str], series: Series) -> float:
    return _run(["terraform", *args], cwd, env, series)[0]


def write_project(root: Path, app: str, n: int, kubernetes: str, versioning_off: str | None = None) -> Path:
    """N bucket units b00..; `kubernetes` is the environment's kubernetes block (flow YAML)."""
    comps = [
        f"    - {{name: b{i:02d}, type: bucket, properties: {{force_destroy: true"
        + (", versioning: false" if f"b{i:02d}" == versioning_off else "")
        + "}}\n"
        for i in range(n)
    ]
    (root / "environments").mkdir(parents=True, exist_ok=True)
    (root / "app.yaml").write_text(
        f"apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {{name: {app}}}\nspec:\n  components:\n"
        + "".join(comps)
    )
    (root / "environments" / "bench.yaml").write_text(
        "apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {name: bench}\nspec:\n"
        f"  cloud: {{provider: aws, region: us-east-1}}\n  kubernetes: {kubernetes}\n"
    )
    return root / "app.yaml"


def write_monolithic_root(render_dir: Path, target: Path) -> None:
    """One root holding every unit's module call (same modules, inputs and provider); rewritten in
    place as the set-up grows, so its state and .terraform stay."""
    shutil.copytree(render_dir / "modules", target / "modules", dirs_exist_ok=True)
    root: dict = {"module": {}}
    for unit in sorted((render_dir / "terraform").iterdir()):
        doc = json.loads((unit / "main.tf.json").read_text())
        root.setdefault(
            "terraform",
            {
                "required_providers": doc["terraform"]["required_providers"],
                "backend": {"local": {"path": "mono.tfstate"}},
            },
        )
        root.setdefault("provider", doc["provider"])
        for name, call in doc["module"].items():
            root["module"][name] = {**call, "source": call["source"].replace("../../modules/", "./modules/")}
    (target / "main.tf.json").write_text(json.dumps(root, indent=2))


def _set_versioning(mono: Path, on: bool) -> None:
    doc = json.loads((mono / "main.tf.json").read_text())
    doc["module"][CHANGED]["versioning"] = on
    (mono / "main.tf.json").write_text(json.dumps(doc, indent=2))


def _progress(label: str, value: object) -> None:
    print(f"[bench] {label}: {value}", file=sys.stderr, flush=True)


def grow(series: Series, n: int, appc_env: dict[str, str], kube_block: str, monolithic: bool = True) -> None:
    """Bring both set-ups to n units: appc's project (apply at the set-up parallelism) and, unless
    only (f) runs, the monolithic root (render, init once, apply at -parallelism=n)."""
    units = series.work / "units"
    app = write_project(units / "appc", "bench", n, kube_block)
    run = ["apply", "-f", str(app), "-e", "bench", "--auto-approve", "--parallelism", str(series.setup_parallelism)]
    series.setup_s[f"appc N={n}"] = round(_appc(run, units / "appc", appc_env, series)[0], 1)
    if not monolithic:  # (f) alone: its no-ops must not run on the load of the set-up either
        _progress(f"set-up N={n}", series.setup_s)
        settle()
        return
    src = write_project(
        units / "mono-src", "mono", n, "{directory: deploy, namespace: bench, secretStore: {name: aws}}"
    )
    render = units / f"mono-render-{n}"
    _appc(["render", "-f", str(src), "-e", "bench", "-o", str(render)], units / "mono-src", series.env, series)
    mono = units / "mono"
    mono.mkdir(parents=True, exist_ok=True)
    write_monolithic_root(render, mono)
    _terraform(["init", "-input=false", "-no-color"], mono, series.tf_env, series)  # new module calls need it
    tf = ["apply", "-auto-approve", "-input=false", "-no-color", f"-parallelism={max(n, series.parallelism)}"]
    series.setup_s[f"mono N={n}"] = round(_terraform(tf, mono, series.tf_env, series), 1)
    _progress(f"set-up N={n}", series.setup_s)
    settle()


def settle(max_wait_s: float = 180.0) -> None:
    """Wait, at most max_wait_s, until the 1-minute load average is below the number of cores:
    the set-ups run at a high parallelism, and a row measured right after one ran on the load it
    left (7-16 on 2 cores), which made N=50 and N=100 look slower than N=10."""
    started, limit = time.monotonic(), float(os.cpu_count() or 1)
    while os.getloadavg()[0] >= limit and time.monotonic() - started < max_wait_s:
        time.sleep(5)
    _progress("settled", f"load {os.getloadavg()[0]:.1f} after {time.monotonic() - started:.0f} s")


def change_one(series: Series, n: int, mode: str, envs: tuple[dict, dict], kube_block: str, off: bool) -> dict:
    """One changed unit (b07's versioning) at n units: the monolithic root, then appc, each at P."""
    appc_env, tf_env = envs
    units = series.work / "units"
    _set_versioning(units / "mono", not off)
    tf = ["apply", "-auto-approve", "-input=false", "-no-color", f"-parallelism={series.parallelism}"]
    load = os.getloadavg()[0]
    mono_s = _terraform(tf, units / "mono", tf_env, series)
    app = write_project(units / "appc", "bench", n, kube_block, versioning_off=CHANGED if off else None)
    run = ["apply", "-f", str(app), "-e", "bench", "--auto-approve", "--parallelism", str(series.parallelism)]
    appc_s, events = _appc(run, units / "appc", appc_env, series)
    summary = events[-1] if events else {}
    _progress(f"(e) {mode} N={n}", f"appc {appc_s:.2f} s, monolithic {mono_s:.2f} s (load {load:.1f})")
    return {"n": n, "appc_s": round(appc_s, 2), "mono_s": round(mono_s, 2), "ratio": round(appc_s / mono_s, 3),
            "terraform_runs": summary.get("terraform_runs"), "units_changed": summary.get("units_changed"),
            "load": round(load, 1)}  # fmt: skip


def _standin_mutating(url: str) -> int:
    with urllib.request.urlopen(f"{url}/standin/stats", timeout=10) as resp:
        return int(json.loads(resp.read())["mutating"])


def noop_with_probes(series: Series, n: int, appc_env: dict[str, str], standin_url: str, repeats: int = 3) -> dict:
    """(f) The no-op re-apply of n settled units with --probe=strict, `repeats` times: wall time,
    Terraform processes, cloud API calls of the probe per cloud, mutating calls the API server saw."""
    app = series.work / "units" / "appc" / "app.yaml"
    runs: list[dict[str, Any]] = []
    for _ in range(repeats):
        before = _standin_mutating(standin_url)
        load, cpu = os.getloadavg()[0], _children_cpu()
        wall, events = _appc(["apply", "-f", str(app), "-e", "bench", "--auto-approve", "--probe=strict"],
                             app.parent, appc_env, series)  # fmt: skip
        cpu = _children_cpu() - cpu  # the appc process's user + sys: what a shared machine's load does not inflate
        probes = next((e for e in events if e.get("type") == "probes"), {})
        summary = events[-1] if events else {}
        runs.append({"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "terraform_runs": summary.get("terraform_runs"),
                     "cloud_api_calls": probes.get("cloud_api_calls") or {}, "rerun": len(probes.get("rerun") or []),
                     "kube_lists": probes.get("kube_lists"),
                     "compiled": not any(e.get("type") == "compile" and e.get("cached") for e in events),
                     "k8s_mutating": _standin_mutating(standin_url) - before, "load": round(load, 1)})  # fmt: skip
    if os.environ.get("BENCH_PROFILE_DIR"):  # one more run, profiled (not counted): where the no-op's time goes
        _profile_noop(series, app, appc_env, Path(os.environ["BENCH_PROFILE_DIR"]))
    median = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]
    _progress(
        f"(f) no-op with probes, {n} units",
        [(r["wall_s"], f"cpu {r['cpu_s']}", "compiled" if r["compiled"] else "cached") for r in runs],
    )
    return {
        "probe_units": n,
        "probe_runs": runs,
        "probe_noop_s": median["wall_s"],
        "probe_noop_terraform_runs": max(r["terraform_runs"] or 0 for r in runs),
        "probe_noop_aws_calls": max(max(r["cloud_api_calls"].values(), default=0) for r in runs),
        "probe_noop_rerun": max(r["rerun"] for r in runs),
        "probe_noop_k8s_mutating": max(r["k8s_mutating"] for r in runs),
    }


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _profile_noop(series: Series, app: Path, env: dict[str, str], out: Path) -> None:
    """BENCH_PROFILE_DIR=DIR: a py-spy flame graph (noop.svg) and `-X importtime` (importtime.txt)
    of one more no-op with probes."""
    out.mkdir(parents=True, exist_ok=True)
    args = ["-c", "from composer.cli import main; main()", "apply", "-f", str(app), "-e", "bench"]
    args += ["--auto-approve", "--probe=strict", "--json"]
    spy = Path(sys.executable).with_name("py-spy")
    _run([str(spy), "record", "-r", "200", "-o", str(out / "noop.svg"), "--", sys.executable, *args],
         app.parent, env, series)  # fmt: skip
    proc = subprocess.run([sys.executable, "-X", "importtime", *args], cwd=app.parent, env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    (out / "importtime.txt").write_text(proc.stderr)


def run_series(series: Series, sizes: list[int], probe_units: int, latency_ms: float, standin: tuple[str, str],
               proxy_url: str | None) -> dict:  # fmt: skip
    """Grow to each N of sizes (and to probe_units for (f)); at each, measure (e) as is and behind
    the proxy, and (f) where N == probe_units. Returns the figures in bench/apply.py's shape."""
    standin_url, kubeconfig = standin
    kube_block = "{context: standin, namespace: bench, secretStore: {name: aws}}"
    appc_env = {**series.env, "KUBECONFIG": kubeconfig}
    steps = sorted(set(sizes) | ({probe_units} if probe_units else set()))
    out: dict = {"e_change_one": {"direct": [], **({"latency": []} if proxy_url else {})}, "setup_s": series.setup_s,
                 "timed_out": []}  # fmt: skip
    for n in steps:
        series.deadline = time.monotonic() + series.timeout_s
        try:
            grow(series, n, appc_env, kube_block, monolithic=bool(sizes))
            if n == probe_units:  # first, so a step that runs out of time still has (f)
                out.update(noop_with_probes(series, n, appc_env, standin_url))
            if n in sizes:
                direct = (appc_env, series.tf_env)
                out["e_change_one"]["direct"].append(change_one(series, n, "direct", direct, kube_block, off=True))
                if proxy_url:
                    slow = (
                        {**appc_env, "AWS_ENDPOINT_URL": proxy_url},
                        {**series.tf_env, "AWS_ENDPOINT_URL": proxy_url},
                    )
                    out["e_change_one"]["latency"].append(change_one(series, n, "latency", slow, kube_block, off=False))
                else:  # put b07 back, unmeasured, so the next step grows from the original configuration
                    change_one(series, n, "restore", (appc_env, series.tf_env), kube_block, off=False)
        except StepTimeout as exc:
            out["timed_out"].append({"n": n, "after_s": series.timeout_s, "in": str(exc)})
            _progress(f"step N={n}", f"timed out after {series.timeout_s:.0f} s in {exc}; the series stops")
            break
    out["latency_ms"] = latency_ms
    return out
