"""Golden render tests: every case directory and every example, every environment, whole files.

A case is tests/golden/<case>/ with app.yaml (+ environments/, definitions/) and the
expected tree under expected/<env>/. Each examples/<name>/ is a case too; its expected
trees live in tests/golden/examples/<name>/<env>/. Module sources are pinned by a
`modules.sha256` listing instead of copies. `pytest --update-golden` rewrites them.
"""

from __future__ import annotations

import difflib
import hashlib
import shutil
from pathlib import Path

import pytest

from composer.project import compile_project, open_project
from tests.helpers import ROOT

GOLDEN = ROOT / "tests" / "golden"


def _cases() -> list[tuple[str, Path, Path]]:
    out = []
    sources = [(d, d / "expected") for d in sorted(GOLDEN.iterdir()) if _app_file(d).exists()]
    sources += [
        (d, GOLDEN / "examples" / d.name) for d in sorted((ROOT / "examples").iterdir()) if _app_file(d).exists()
    ]
    for case, expected in sources:
        envs = sorted(p.stem for p in (case / "environments").glob("*.yaml")) or ["default"]
        for env in envs:
            name = f"{case.parent.name}/{case.name}" if case.parent.name == "examples" else case.name
            out.append((f"{name}:{env}", case, expected / env))
    return out


def _app_file(case: Path) -> Path:
    """app.yaml, or a Score workload (score.yaml) that is the whole application."""
    return (
        case / "app.yaml" if (case / "app.yaml").exists() or not (case / "score.yaml").exists() else case / "score.yaml"
    )


CASES = _cases()


def tree(files: dict[str, bytes]) -> dict[str, bytes]:
    """The comparable form of a render: module copies replaced by their hashes."""
    out = {k: v for k, v in files.items() if not k.startswith("modules/")}
    listing = "".join(
        f"{hashlib.sha256(v).hexdigest()}  {k}\n" for k, v in sorted(files.items()) if k.startswith("modules/")
    )
    if listing:
        out["modules.sha256"] = listing.encode()
    return out


def read_tree(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def compare(expected: dict[str, bytes], actual: dict[str, bytes]) -> str:
    problems = []
    for missing in sorted(set(expected) - set(actual)):
        problems.append(f"missing file {missing}")
    for extra in sorted(set(actual) - set(expected)):
        problems.append(f"unexpected file {extra}")
    for name in sorted(set(expected) & set(actual)):
        if expected[name] != actual[name]:
            diff = difflib.unified_diff(
                expected[name].decode(errors="replace").splitlines(),
                actual[name].decode(errors="replace").splitlines(),
                f"expected/{name}",
                f"actual/{name}",
                lineterm="",
                n=2,
            )
            problems.append("\n".join(list(diff)[:60]))
    return "\n".join(problems)


def assert_tree(expected_dir: Path, actual: dict[str, bytes], update_golden: bool) -> None:
    """The files equal the expected tree, whole; with --update-golden, they become it."""
    if update_golden:
        shutil.rmtree(expected_dir, ignore_errors=True)
        for name, data in actual.items():
            (expected_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (expected_dir / name).write_bytes(data)
        return
    assert expected_dir.is_dir(), f"no expected tree at {expected_dir}; run pytest --update-golden and review it"
    problems = compare(read_tree(expected_dir), actual)
    assert not problems, problems


def render_case(case: Path, env: str, registry) -> dict[str, bytes]:
    project = open_project(_app_file(case))
    return compile_project(project, None if env == "default" else env, registry).rendered.files


@pytest.mark.parametrize("case,env_dir", [(c, e) for _, c, e in CASES], ids=[i for i, _, _ in CASES])
def test_golden(case: Path, env_dir: Path, registry, update_golden: bool):
    assert_tree(env_dir, tree(render_case(case, env_dir.name, registry)), update_golden)


@pytest.mark.parametrize("case,env_dir", [(c, e) for _, c, e in CASES[:3]], ids=[i for i, _, _ in CASES[:3]])
def test_render_is_deterministic(case: Path, env_dir: Path, registry):
    """Two renders of the same inputs, from fresh loads, give byte-identical trees."""
    env = env_dir.name
    assert render_case(case, env, registry) == render_case(case, env, registry)
