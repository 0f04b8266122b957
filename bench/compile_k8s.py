"""CPU time of compiling bench/k8s.py's app (N/100 `k8s-objects` components of 100 objects):
what `appc apply` spends before its first unit, without the process around it.

    .venv/bin/python bench/compile_k8s.py                    # 1,000 objects, 5 fresh processes
    .venv/bin/python bench/compile_k8s.py --objects 1000 --repeat 5 --json

Each repeat is a fresh Python process (imports done first, not timed) that compiles once, as
`appc apply` does: open (YAML load with positions), then `compile_project` (catalog, resolve,
graph, render), each stage timed in CPU time; then, outside the timing, whether the manifests
were dumped to YAML (they must not be: issue 13). The median of each column is printed.
To compare two trees, run this file from each (it compiles the tree it sits in).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from composer.cli.common import registry
from composer.project import compile_project, open_project
import composer.resolve, composer.render, composer.graph, composer.catalog
reg = registry()
spans = {}
def timed(name, module, attr):
    original = getattr(module, attr)
    def wrapper(*a, **k):
        started = time.process_time()
        try:
            return original(*a, **k)
        finally:
            spans[name] = spans.get(name, 0.0) + time.process_time() - started
    setattr(module, attr, wrapper)
import composer.project as project
timed("catalog", project.Project, "catalog")
timed("resolve", project, "resolve")
timed("graph", project, "build_graph")
timed("render", project, "render")
started = time.process_time()
opened = open_project(Path(sys.argv[2]))
spans["load"] = time.process_time() - started
compiled = compile_project(opened, "bench", reg)
spans["total"] = time.process_time() - started
files = compiled.rendered.files
spans["yaml_dumped"] = len(files.dumped()) if hasattr(files, "dumped") else len(compiled.rendered.manifests)
print(json.dumps(spans))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    from k8s import generate_app  # the same app as the apply benchmark

    with tempfile.TemporaryDirectory() as tmp:
        app = generate_app(Path(tmp), args.objects, str(Path(tmp) / "kubeconfig"))
        runs = []
        for _ in range(args.repeat):
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(ROOT), str(app)],
                capture_output=True,
                text=True,
                cwd=tmp,
                timeout=300,
                env=dict(os.environ, PYTHONDONTWRITEBYTECODE=""),
            )
            if out.returncode != 0:
                raise SystemExit(f"the compile failed: {out.stderr[-2000:]}")
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    columns = ["total", "load", "catalog", "resolve", "graph", "render", "yaml_dumped"]
    medians = {c: statistics.median(r.get(c, 0.0) for r in runs) for c in columns}
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    if args.json:
        print(
            json.dumps({"objects": args.objects, "repeat": args.repeat, "load": load, "median": medians, "runs": runs})
        )
        return 0
    print(f"compile of {args.objects} Kubernetes objects, {ROOT}, median of {args.repeat} processes, load {load}")
    print(
        "  "
        + "  ".join(f"{c} {medians[c] * 1000:.0f} ms" for c in columns[:-1])
        + f"  yaml dumped: {medians['yaml_dumped']:.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
