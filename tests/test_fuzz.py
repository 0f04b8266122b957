"""Property-based fuzzing of load → resolve → graph → render.

Mutated application files (structure-level: values swapped for other types, keys
renamed, items dropped or duplicated; and text-level: bytes flipped, lines cut) go
through the real pipeline. Every input must either compile or fail with diagnostics
that all name a file and a line. Any other exception is a bug. Past crashers live in
tests/fuzz_corpus/ and are replayed first.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from composer.diagnostics import DiagnosticError
from composer.project import compile_project, open_project
from composer.plugins import PluginRegistry
from tests.helpers import ROOT

EXAMPLES = ROOT / "examples"
CORPUS = ROOT / "tests" / "fuzz_corpus"
SEEDS = sorted(EXAMPLES.glob("*/app.yaml")) + sorted((ROOT / "tests" / "golden").glob("*/app.yaml"))
N = int(os.environ.get("APPC_FUZZ_EXAMPLES", "300"))
REGISTRY = PluginRegistry.discover()

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63), st.floats(allow_nan=True), st.text(max_size=40),
    st.sampled_from(["${db.url}", "${x.y}", "${db.nope}", "$${db.url}", "{{ 7*7 }}", "../../etc", "/abs", "a" * 70, "Ünïcode", "0x1F", "~", "null"]),
)  # fmt: skip
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=12), inner, max_size=3)), max_leaves=6)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _set(node, path, value):
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value


@st.composite
def mutated(draw):
    seed = draw(st.sampled_from(SEEDS))
    text = seed.read_text()
    if draw(st.integers(0, 4)) == 0:  # text-level mutation
        data = bytearray(text.encode())
        for _ in range(draw(st.integers(1, 5))):
            op = draw(st.integers(0, 2))
            i = draw(st.integers(0, max(0, len(data) - 1)))
            if op == 0:
                data[i] = draw(st.integers(0, 255))
            elif op == 1:
                del data[i : i + draw(st.integers(1, 40))]
            else:
                data[i:i] = draw(st.sampled_from([b"\n  - ", b": ", b"{", b"]", b"&a ", b"*a", b"!!binary ", b"\t", b"<<: ", b"---\n"]))
        return seed, bytes(data)
    doc = yaml.safe_load(text)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        path = draw(st.sampled_from(paths))
        op = draw(st.integers(0, 3))
        try:
            if op == 0:
                _set(doc, path, draw(values))
            elif op == 1 and isinstance(path[-1], str):  # rename a key
                parent = doc
                for p in path[:-1]:
                    parent = parent[p]
                parent[draw(st.text(min_size=1, max_size=12))] = parent.pop(path[-1])
            elif op == 2:  # drop
                parent = doc
                for p in path[:-1]:
                    parent = parent[p]
                del parent[path[-1]]
            else:  # duplicate a list item
                parent = doc
                for p in path[:-1]:
                    parent = parent[p]
                if isinstance(parent, list):
                    parent.append(parent[path[-1]])
        except (KeyError, IndexError, TypeError):
            pass
    return seed, yaml.safe_dump(doc, allow_unicode=True).encode()


def check(seed: Path, data: bytes, tmp: Path) -> None:
    """One input through the pipeline: success, or diagnostics that all carry file and line."""
    app = tmp / "app.yaml"
    app.write_bytes(data)
    envs = tmp / "environments"
    envs.mkdir(exist_ok=True)
    env_files = sorted((seed.parent / "environments").glob("*.yaml"))
    for f in env_files[:1]:
        (envs / f.name).write_bytes(f.read_bytes())
    for sub in ("definitions", "modules"):
        src = seed.parent / sub
        if src.is_dir() and not (tmp / sub).exists():
            (tmp / sub).symlink_to(src)
    try:
        project = open_project(app)
        compile_project(project, env_files[0].stem if env_files else None, REGISTRY)
    except DiagnosticError as exc:
        assert exc.diagnostics
        for d in exc.diagnostics:
            assert d.file and d.line, f"diagnostic without file:line: {d.text()}"


@pytest.mark.parametrize("case", sorted(CORPUS.glob("*.yaml")) if CORPUS.is_dir() else [], ids=lambda p: p.name)
def test_corpus_of_past_crashers(case: Path, tmp_path: Path):
    seed = EXAMPLES / "webshop" / "app.yaml"
    check(seed, case.read_bytes(), tmp_path)


@settings(max_examples=N, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=mutated())
def test_mutated_apps_never_crash(case, tmp_path_factory):
    seed, data = case
    check(seed, data, tmp_path_factory.mktemp("fuzz"))
