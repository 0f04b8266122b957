"""Apply benchmark: appc against one monolithic Terraform root, side by side, on moto.

    python bench/apply.py [--units 20] [--parallelism 4] [--sizes 10,50,100] [--latency-ms 50] [--json]
                          [--only d|e|f|a,b,c,...] [--compare-pool] [--timeout 1800] [--setup-parallelism 16]

(a) N independent bucket units (S3 bucket + Secrets Manager secret each): `appc apply`
    with --parallelism P, against the same resources in ONE monolithic root
    (`terraform apply`), against the units run one after another (--parallelism 1).
(b) a no-op re-apply: terraform runs and wall time.
(c) one changed unit out of N, against `terraform apply` of the monolithic root after
    the same change.
(f) a no-op re-apply of --probe-units (50) units with reality probes on (--probe=strict):
    0 terraform runs, 0 mutating Kubernetes calls (counted by the Kubernetes stand-in),
    <= 3 AWS API calls, <= 1 s (issue 13).

(d) first apply of N independent units against the monolithic root at the same parallelism
    (`terraform apply -parallelism=P`); with --compare-pool, also with the provider pool off.
(e) one changed unit at each N of --sizes, appc against the monolithic root, on the emulator
    as is and behind bench/latency_proxy.py adding --latency-ms to every API request.
    (e) and (f) share one set-up that grows with N, each step bounded by --timeout
    (bench/apply_units.py says why: a bucket's lifecycle configuration costs >= 55 s to create).

Targets: (a) <= 0.5x the sequential run; (b) 0 terraform runs and <= 1 s; (c) <= 0.1x
the monolithic apply; (d) <= 1.5x monolithic; (e) appc flat (<= 1.2x from the smallest to
the largest N) and <= 0.1x monolithic at the largest N with latency. Every figure comes from this one run; moto is reset between
scenarios so each starts from an empty account. Needs terraform on PATH and a provider
mirror (see composer/runners/terraform.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.apply_units import Series, run_series, write_monolithic_root  # noqa: E402
from composer.runners.terraform import terraform_environment  # noqa: E402


def start_moto(workdir: Path) -> tuple[str, subprocess.Popen]:
    port_file = workdir / "moto.port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.moto_server", "--port", "0", "--port-file", str(port_file), "--quiet"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not port_file.exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("moto did not start")
        time.sleep(0.1)
    return f"http://127.0.0.1:{port_file.read_text().strip()}", proc


def reset(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=30).read()


def make_project(root: Path, n: int, versioning_off: int | None = None) -> Path:
    comps = []
    for i in range(n):
        props = "{force_destroy: true" + (", versioning: false" if versioning_off == i else "") + "}"
        comps.append(f"    - {{name: b{i:02d}, type: bucket, properties: {props}}}\n")
    (root / "environments").mkdir(parents=True, exist_ok=True)
    (root / "app.yaml").write_text(
        "apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {name: bench}\nspec:\n  components:\n"
        + "".join(comps)
    )
    (root / "environments" / "bench.yaml").write_text(
        "apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {name: bench}\nspec:\n"
        "  cloud: {provider: aws, region: us-east-1}\n  kubernetes: {directory: deploy, namespace: bench, secretStore: {name: aws}}\n"
    )
    return root / "app.yaml"


def appc(args: list[str], cwd: Path, env: dict, events: list | None = None) -> tuple[float, dict]:
    t = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", "from composer.cli import main; main()", *args, "--json"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.monotonic() - t
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    summary = lines[-1] if lines else {}
    if events is not None:
        events += lines
    if proc.returncode != 0:
        raise SystemExit(
            f"appc {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}"
        )
    return wall, summary


def progress(label: str, value: object) -> None:
    """Each figure on stderr as soon as it is known, so a run cut short still reports."""
    print(f"[bench] {label}: {value}", file=sys.stderr, flush=True)


def terraform(args: list[str], cwd: Path, env: dict) -> float:
    t = time.monotonic()
    proc = subprocess.run(["terraform", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"terraform {' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return time.monotonic() - t


def start_proxy(workdir: Path, upstream: str, delay_ms: float) -> tuple[str, subprocess.Popen]:
    port_file = workdir / f"proxy-{delay_ms:g}.port"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "latency_proxy.py"), "--upstream", upstream, "--delay-ms", str(delay_ms),
         "--port-file", str(port_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("the latency proxy did not start")
        time.sleep(0.1)
    return f"http://127.0.0.1:{port_file.read_text().strip()}", proc


def start_standin(workdir: Path) -> tuple[str, str, subprocess.Popen]:
    """The Kubernetes API stand-in as its own process (its /standin/stats counts mutating calls)."""
    kubeconfig, port_file = workdir / "kubeconfig", workdir / "standin.port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.kube_standin", "--port", "0", "--kubeconfig", str(kubeconfig),
         "--port-file", str(port_file), "--auto-ready"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text().strip():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("the Kubernetes stand-in did not start")
        time.sleep(0.1)
    return f"http://127.0.0.1:{port_file.read_text().strip()}", str(kubeconfig), proc


def units_series(work: Path, url: str, env: dict, tf_env: dict, args: argparse.Namespace, only: set) -> dict:
    """(e) and (f) on one growing set-up (bench/apply_units.py says why and how)."""
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()] if "e" in only else []
    probe_units = args.probe_units if "f" in only else 0
    series = Series(work, env, tf_env, args.parallelism, args.setup_parallelism, args.timeout)
    standin_url, kubeconfig, standin = start_standin(work)
    proxy = None
    try:
        proxy_url = None
        if sizes and args.latency_ms > 0:
            proxy_url, proxy = start_proxy(work, url, args.latency_ms)
        return run_series(series, sizes, probe_units, args.latency_ms, (standin_url, kubeconfig), proxy_url)
    finally:
        for proc in (p for p in (proxy, standin) if p is not None):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", type=int, default=20)
    ap.add_argument("--parallelism", type=int, default=4)
    ap.add_argument("--sizes", default="10,50,100", help="unit counts of the one-changed-unit series (e); '' skips it")
    ap.add_argument("--latency-ms", type=float, default=50.0, help="delay per API request for (e); 0 skips")
    ap.add_argument("--no-sequential", action="store_true", help="skip (a)'s one-unit-at-a-time run")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--probe-units", type=int, default=50, help="units of the no-op-with-probes row (f); 0: skip it")
    ap.add_argument("--only", default="", help="scenarios to run, e.g. 'd' or 'e,f' (default: all of a-f)")
    ap.add_argument(
        "--compare-pool", action="store_true", help="(d) also with the provider pool off (COMPOSER_PROVIDER_POOL=0)"
    )
    ap.add_argument("--timeout", type=float, default=1800.0, help="wall-time bound of each (e)/(f) step, seconds")
    ap.add_argument(
        "--setup-parallelism",
        type=int,
        default=16,
        help="appc --parallelism of the (e)/(f) set-up applies (not measured)",
    )
    args = ap.parse_args()
    n = args.units
    work = Path(tempfile.mkdtemp(prefix="appc-bench-apply-"))
    url, moto = start_moto(work)
    # moto is plain http: a CA bundle serves nothing here, and it would turn the provider pool off
    # (composer/runners/terraform_providers.py), so neither appc nor the monolithic root gets one.
    base = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    env = dict(
        base,
        AWS_ENDPOINT_URL=url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
    )
    tf_env = terraform_environment(work / "tfcfg", env)
    env["TF_PLUGIN_CACHE_DIR"] = tf_env.get("TF_PLUGIN_CACHE_DIR", "")
    env["TF_CLI_CONFIG_FILE"] = tf_env["TF_CLI_CONFIG_FILE"]
    fig: dict = {"units": n, "parallelism": args.parallelism, "cpus": os.cpu_count(), "load": os.getloadavg()}
    only = {x.strip() for x in args.only.split(",") if x.strip()} or set("abcdef")
    try:
        if only & set("abcd"):
            first_apply(work, url, env, tf_env, args, only, fig)
        if only & set("ef"):
            reset(url)
            fig.update(units_series(work, url, env, tf_env, args, only))
    finally:
        moto.terminate()
        moto.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    fig["load_after"] = os.getloadavg()
    checks = verdicts(fig, args)
    if args.json:
        print(json.dumps(fig, indent=2))
    else:
        report(fig, checks, args)
    return 0 if all(checks.values()) else 1


def first_apply(work: Path, url: str, env: dict, tf_env: dict, args: argparse.Namespace, only: set, fig: dict) -> None:
    """(a)-(d): the monolithic root, the units one at a time, in parallel (with the provider pool
    and, for comparison, without), a no-op re-apply and one changed unit."""
    n = args.units
    mono_src = work / "mono-src"
    app = make_project(mono_src, n)
    appc(["render", "-f", str(app), "-e", "bench", "-o", str(work / "render")], mono_src, env)
    mono = work / "mono"
    write_monolithic_root(work / "render", mono)
    terraform(["init", "-input=false", "-no-color"], mono, tf_env)
    reset(url)
    tf = ["apply", "-auto-approve", "-input=false", "-no-color", f"-parallelism={args.parallelism}"]
    fig["mono_apply_s"] = terraform(tf, mono, tf_env)
    progress("(a)/(d) monolithic first apply", f"{fig['mono_apply_s']:.2f} s")
    if only & set("c"):
        doc = json.loads((mono / "main.tf.json").read_text())
        doc["module"]["b07"]["versioning"] = False
        (mono / "main.tf.json").write_text(json.dumps(doc, indent=2))
        fig["mono_change_one_s"] = terraform(tf, mono, tf_env)
    run = ["apply", "-e", "bench", "--auto-approve", "--parallelism", str(args.parallelism)]
    if "a" in only and not args.no_sequential:
        reset(url)
        seq = work / "seq"
        app = make_project(seq, n)
        one = ["apply", "-f", str(app), "-e", "bench", "--auto-approve", "--parallelism", "1"]
        fig["sequential_s"], s = appc(one, seq, env)
        fig["sequential_terraform_runs"] = s.get("terraform_runs")
    if args.compare_pool:
        reset(url)
        nopool = work / "nopool"
        app = make_project(nopool, n)
        off = {**env, "COMPOSER_PROVIDER_POOL": "0"}
        fig["parallel_nopool_s"], _ = appc(["apply", "-f", str(app), *run[1:]], nopool, off)
        progress("(d) appc first apply, provider pool off", f"{fig['parallel_nopool_s']:.2f} s")
    reset(url)
    par = work / "par"
    app = make_project(par, n)
    fig["parallel_s"], s = appc(["apply", "-f", str(app), *run[1:]], par, env)
    fig["parallel_terraform_runs"] = s.get("terraform_runs")
    progress("(a)/(d) mono / parallel first apply", f"{fig['mono_apply_s']:.2f} s / {fig['parallel_s']:.2f} s")
    if only & set("bc"):
        fig["noop_s"], s = appc(["apply", "-f", str(app), *run[1:]], par, env)
        fig["noop_terraform_runs"] = s.get("terraform_runs")
        make_project(par, n, versioning_off=7)
        fig["change_one_s"], s = appc(["apply", "-f", str(app), *run[1:]], par, env)
        fig["change_one_terraform_runs"] = s.get("terraform_runs")
        fig["change_one_units_changed"] = s.get("units_changed")
        progress("(b) no-op / (c) change one", f"{fig['noop_s']:.2f} s / {fig['change_one_s']:.2f} s")


def verdicts(fig: dict, args: argparse.Namespace) -> dict[str, bool]:
    """Every target whose figures this run measured: met (True) or missed."""
    checks: dict[str, bool] = {}
    if "sequential_s" in fig:
        fig["a_parallel_vs_sequential"] = round(fig["parallel_s"] / fig["sequential_s"], 3)
        checks["(a) parallel <= 0.5x sequential"] = fig["a_parallel_vs_sequential"] <= 0.5
    if "noop_s" in fig:
        checks["(b) no-op: 0 terraform runs"] = fig["noop_terraform_runs"] == 0
        checks["(b) no-op <= 1 s"] = fig["noop_s"] <= 1.0
    if "change_one_s" in fig and "mono_change_one_s" in fig:
        fig["c_change_one_vs_monolithic"] = round(fig["change_one_s"] / fig["mono_change_one_s"], 3)
        checks["(c) one changed unit <= 0.1x monolithic"] = fig["c_change_one_vs_monolithic"] <= 0.1
    if "probe_noop_s" in fig:
        checks["(f) no-op with probes: 0 terraform runs, 0 mutating Kubernetes calls, <= 3 AWS calls"] = (
            fig["probe_noop_terraform_runs"] == 0
            and fig["probe_noop_k8s_mutating"] == 0
            and fig["probe_noop_aws_calls"] <= 3
            and fig["probe_noop_rerun"] == 0
        )
        checks["(f) no-op with probes <= 1 s"] = fig["probe_noop_s"] <= 1.0
    if "parallel_s" in fig:
        fig["a_parallel_vs_monolithic"] = round(fig["parallel_s"] / fig["mono_apply_s"], 3)
        checks["(d) first apply <= 1.5x monolithic"] = fig["a_parallel_vs_monolithic"] <= 1.5
    if "parallel_nopool_s" in fig:
        fig["d_nopool_vs_monolithic"] = round(fig["parallel_nopool_s"] / fig["mono_apply_s"], 3)
    for mode, series in fig.get("e_change_one", {}).items():
        if len(series) > 1:
            flat = series[-1]["appc_s"] / series[0]["appc_s"]
            fig[f"e_{mode}_flatness"] = round(flat, 3)
            checks[f"(e) {mode}: appc flat (<= 1.2x from N={series[0]['n']} to N={series[-1]['n']})"] = flat <= 1.2
        if mode == "latency" and series:
            checks[f"(e) latency: <= 0.1x monolithic at N={series[-1]['n']}"] = series[-1]["ratio"] <= 0.1
    for t in fig.get("timed_out", []):
        checks[f"step N={t['n']} finished within --timeout"] = False
    fig["checks"] = checks
    return checks


def report(fig: dict, checks: dict[str, bool], args: argparse.Namespace) -> None:
    load = " / ".join(f"{x:.1f}" for x in fig["load"])
    print(
        f"apply benchmark: {args.units} bucket units on moto, {fig['cpus']} CPUs (load {load}), "
        f"appc --parallelism {args.parallelism}\n"
    )
    rows = []
    if "parallel_s" in fig:
        rows += [
            ("(a) appc apply, parallel", fig["parallel_s"], f"{fig['parallel_terraform_runs']} terraform runs"),
            ("(a) monolithic terraform apply", fig["mono_apply_s"], "1 root"),
        ]
    if "parallel_nopool_s" in fig:
        rows.append(("(d) appc apply, provider pool off", fig["parallel_nopool_s"], "COMPOSER_PROVIDER_POOL=0"))
    if "sequential_s" in fig:
        rows.append(
            (
                "(a) appc apply, one unit at a time",
                fig["sequential_s"],
                f"{fig['sequential_terraform_runs']} terraform runs",
            )
        )
    if "noop_s" in fig:
        rows += [
            ("(b) appc apply, no change", fig["noop_s"], f"{fig['noop_terraform_runs']} terraform runs"),
            (
                "(c) appc apply, one unit changed",
                fig["change_one_s"],
                f"{fig['change_one_terraform_runs']} terraform runs, {fig['change_one_units_changed']} unit changed",
            ),
        ]
    if "mono_change_one_s" in fig:
        rows.append(("(c) monolithic apply, same change", fig["mono_change_one_s"], "refreshes every resource"))
    if "probe_noop_s" in fig:
        rows.append(
            (
                f"(f) no change, probes on, {fig['probe_units']} units",
                fig["probe_noop_s"],
                f"{fig['probe_noop_terraform_runs']} terraform runs, {fig['probe_noop_aws_calls']} AWS calls, "
                f"{fig['probe_noop_k8s_mutating']} mutating Kubernetes calls; median of "
                + ", ".join(
                    f"{r['wall_s']:.2f} ({'compiled' if r.get('compiled') else 'cached'}, cpu {r['cpu_s']:.2f} s, load {r['load']})"
                    for r in fig["probe_runs"]
                ),
            )
        )
    for label, secs, note in rows:
        print(f"  {label:<40} {secs:8.2f} s   {note}")
    ratios = [
        ("(a) parallel / sequential", "a_parallel_vs_sequential"),
        ("(d) parallel / monolithic", "a_parallel_vs_monolithic"),
        ("(d) pool off / monolithic", "d_nopool_vs_monolithic"),
        ("(c) one change / monolithic", "c_change_one_vs_monolithic"),
    ]
    print()
    for label, key in ratios:
        if key in fig:
            print(f"  {label:<30} = {fig[key]:.2f}x")
    for mode, series in fig.get("e_change_one", {}).items():
        label = f"behind a {args.latency_ms:g} ms proxy" if mode == "latency" else "emulator as is"
        print(f"  (e) one changed unit, {label}:")
        for row in series:
            print(
                f"      N={row['n']:<4} appc {row['appc_s']:7.2f} s   monolithic {row['mono_s']:7.2f} s   "
                f"{row['ratio']:.2f}x   {row['terraform_runs']} terraform runs   load {row['load']:.1f}"
            )
    if fig.get("setup_s"):
        print("  set-up (not measured): " + ", ".join(f"{k} {v:.0f} s" for k, v in fig["setup_s"].items()))
    for t in fig.get("timed_out", []):
        print(f"  TIMED OUT: step N={t['n']} after {t['after_s']:.0f} s (in {t['in']})")
    print()
    for k, ok in checks.items():
        print(f"  {'met   ' if ok else 'MISSED'}  {k}")
    print(f"\n  load average at the end: {' / '.join(f'{x:.1f}' for x in fig['load_after'])}")


if __name__ == "__main__":
    raise SystemExit(main())
