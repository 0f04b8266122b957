"""Rendered output is valid for the tools that consume it.

- Every Kubernetes manifest in the golden trees passes kubernetes-validate, strict, for one
  recent Kubernetes version (CRD kinds that the schema set does not know are reported, not skipped).
- Every rendered AWS root passes `terraform init -backend=false` + `terraform validate`
  against the provider mirror.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from composer.project import compile_project, open_project
from composer.runners.files import write_tree
from tests.helpers import ROOT
from tests.support.terraform_env import terraform_env

K8S_VERSION = "1.32.0"
GOLDEN = ROOT / "tests" / "golden"


def _manifests() -> list[Path]:
    return sorted(GOLDEN.rglob("kubernetes/*.yaml"))


@pytest.mark.parametrize("path", _manifests(), ids=lambda p: p.relative_to(GOLDEN).as_posix())
def test_manifests_pass_kubernetes_validate_strict(path: Path):
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert docs
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{path.name}: {doc['kind']} {doc['metadata']['name']}: {exc.message} at {list(exc.path)}")


def _aws_cases() -> list[tuple[Path, str]]:
    out = []
    for app in [*sorted(GOLDEN.glob("*/app.yaml")), *sorted((ROOT / "examples").glob("*/app.yaml"))]:
        for env in sorted((app.parent / "environments").glob("*.yaml")):
            if "provider: aws" in env.read_text():
                out.append((app, env.stem))
    return out


def _module_kind(root: Path) -> str:
    """The module a root calls, without the content hash its vendored directory carries."""
    doc = json.loads((root / "main.tf.json").read_text())
    sources = sorted(re.sub(r"-[0-9a-f]{12}$", "", Path(m["source"]).name) for m in doc.get("module", {}).values())
    return ",".join(sources)


@pytest.mark.parametrize(
    "scope",
    # every distinct module once in the default suite; all 15 roots (~2.5 min on 2 cores) with -m slow
    ["one root per module", pytest.param("every root", marks=pytest.mark.slow)],
)
def test_rendered_aws_roots_pass_terraform_validate(tmp_path: Path, registry, scope: str):
    env = terraform_env(tmp_path)
    roots: list[Path] = []
    for app, env_name in _aws_cases():
        out = tmp_path / f"{app.parent.name}-{env_name}"
        compiled = compile_project(open_project(app), env_name, registry)
        write_tree(compiled.rendered.files, out)
        roots += sorted((out / "terraform").iterdir())
    assert len(roots) >= 8
    if scope == "one root per module":
        by_module = {_module_kind(root): root for root in reversed(roots)}
        roots = sorted(by_module.values())
        assert len(roots) >= 4, sorted(by_module)
    failures = []
    for root in roots:
        init = subprocess.run(
            ["terraform", "init", "-backend=false", "-input=false", "-no-color"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if init.returncode != 0:
            failures.append(f"{root}: init failed:\n{init.stderr[-2000:]}")
            continue
        val = subprocess.run(
            ["terraform", "validate", "-json", "-no-color"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        result = json.loads(val.stdout)
        if not result["valid"]:
            failures.append(
                f"{root}: " + "; ".join(d["summary"] + ": " + d.get("detail", "") for d in result["diagnostics"])
            )
    assert not failures, "\n".join(failures)
