"""Golden tests for bound output: what an apply binds, after a fake apply.

A case is tests/golden/bound/<case>/ with app.yaml (+ environments/, modules/) and
`fake-apply.yaml`: the `terraform output` of each unit and the secret store entries its
module wrote. The engine applies the real render with fakes at two seams only, Terraform
(no process) and the secret reader (no cloud); the workspace and the state store are real,
and a RecordingSink takes what the engine hands to sinks. Expected files under
expected/<env>/, whole documents:

    connections/<unit>.secret.yaml           the connection Secret a cluster gets
    connections/<unit>.external-secret.yaml  the ExternalSecret a GitOps directory gets
    workloads/<unit>.yaml                    the workload's objects as sent (env, bindings hash)
    variables/<unit>.json                    the `ref_*` variables supplied to a consuming root

The bindings hash digests keyed secret digests (the state's random key), so it is compared
as a shape and written as `<bindings-hash>`. `pytest --update-golden` rewrites the files.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from composer.engine.run import Engine
from composer.project import compile_project, open_project
from composer.render import dump_yaml
from composer.render.bindings import BINDINGS_HASH_ANNOTATION
from composer.runners.terraform import Changes
from composer.runners.workspace import LocalWorkspace
from composer.state.local import LocalStore
from composer.state.model import new_state
from tests.support.sinks import RecordingSink
from tests.test_golden import assert_tree

BOUND = Path(__file__).parent / "golden" / "bound"
CASES = [(case, env.stem) for case in sorted(BOUND.iterdir()) for env in sorted((case / "environments").glob("*.yaml"))]
HASH = re.compile(r"^[0-9a-f]{16}$")


@dataclass
class FakeTerraform:
    """The Terraform port without a process: every apply succeeds with no changes, and
    `terraform output` gives the case's values. Records the variables each unit got."""

    outputs_by_unit: Mapping[str, Mapping[str, Any]]
    runs: int = 0
    variables: dict[str, dict[str, str]] = field(default_factory=dict)

    def init(self, unit: str, workdir: Path, backend_config: Mapping[str, str] | None = None) -> None:
        return None

    def apply(self, unit: str, workdir: Path, planfile: Path | None = None, variables=None, *, destroy=False):
        self.runs += 1
        self.variables[unit] = dict(variables or {})
        return Changes()

    def outputs(self, unit: str, workdir: Path) -> dict[str, tuple[Any, bool]]:
        return {k: (v, False) for k, v in self.outputs_by_unit.get(unit, {}).items()}


@dataclass
class FakePublisher:
    """The provider's `write_secret` without a cloud: the entry id it would return."""

    written: dict[str, dict[str, str]] = field(default_factory=dict)

    def write(self, provider: str, name: str, values: dict[str, str]) -> str:
        self.written[name] = dict(values)
        return f"{provider}:secret:{name}"

    def delete(self, provider: str, name: str) -> bool:
        return self.written.pop(name, None) is not None


def bound_files(case: Path, env: str, registry, tmp_path: Path) -> dict[str, bytes]:
    project_dir = tmp_path / case.name
    shutil.copytree(case, project_dir, ignore=shutil.ignore_patterns("expected"))
    fake = yaml.safe_load((case / "fake-apply.yaml").read_text())
    compiled = compile_project(open_project(project_dir / "app.yaml"), env, registry)
    terraform, sink = FakeTerraform(fake["outputs"]), RecordingSink()
    sink.needs_secret_store = bool(compiled.resolved.environment.spec.kubernetes.directory)  # type: ignore[attr-defined]
    engine = Engine(
        resolved=compiled.resolved,
        graph=compiled.graph,
        rendered=compiled.rendered,
        modules=compiled.modules,
        store=LocalStore(tmp_path / "state", compiled.resolved.name, env),
        terraform=terraform,
        workspace=LocalWorkspace(project_dir / ".composer", env),
        sinks=(sink,),
        read_secret=lambda provider, secret_id: fake["secret_store"][secret_id],
        publisher=FakePublisher(),
    )
    (project_dir / ".composer").mkdir()
    result = engine.apply(new_state(compiled.resolved.name, env))
    assert not result.failed, {n: o.diagnostics for n, o in result.outcomes.items()}
    files: dict[str, bytes] = {}
    for connection in sink.handed.values():
        unit = connection.component
        files[f"connections/{unit}.secret.yaml"] = dump_yaml([connection.secret()])
        files[f"connections/{unit}.external-secret.yaml"] = dump_yaml([connection.external_secret()])
    for unit, objects in sink.objects.items():
        files[f"workloads/{unit}.yaml"] = dump_yaml([_placeholder_hash(o) for o in objects])
    for unit, variables in terraform.variables.items():
        supplied = {k: v for k, v in sorted(variables.items()) if k.startswith("ref_")}
        if supplied:
            files[f"variables/{unit}.json"] = (json.dumps(supplied, indent=2) + "\n").encode()
    return files


def _placeholder_hash(obj: dict) -> dict:
    for tpl in [(obj.get("spec") or {}).get("template")]:
        annotations = ((tpl or {}).get("metadata") or {}).get("annotations") or {}
        if BINDINGS_HASH_ANNOTATION in annotations:
            assert HASH.match(annotations[BINDINGS_HASH_ANNOTATION])
            annotations[BINDINGS_HASH_ANNOTATION] = "<bindings-hash>"
    return obj


@pytest.mark.parametrize("case,env", CASES, ids=[f"{c.name}:{e}" for c, e in CASES])
def test_bound_output(case: Path, env: str, registry, tmp_path: Path, update_golden: bool):
    assert_tree(case / "expected" / env, bound_files(case, env, registry, tmp_path), update_golden)
