"""Property-based fuzzing of load → validate → render, for application, environment AND
definition files (docs/reliability.md reports the figures).

Inputs:
- *mutated* files: a seed (every `app.yaml`, `environments/*.yaml` and `definitions/*.yaml` of
  examples/ and tests/golden/) changed at the structure level (a value swapped for another
  type or for text that looks like syntax, a key renamed, an item dropped or duplicated) or at
  the byte level (bytes flipped, cut, or YAML/Jinja punctuation inserted);
- *generated* applications: components of every catalog type with properties drawn from the
  type's parameter schema (plausible values mixed with hostile ones), traits, connections and
  `${component.key}` references.

Each input is written into a copy of its seed project and goes through the real pipeline
(open_project → compile_project → write_tree, which is `appc render`); a definition file also
goes through `appc def validate`. Pass: success, or diagnostics that all name a file and a
line (the CLI exits 1). Any other exception, an exit 70, or an input that takes more than
PER_INPUT_SECONDS is a bug.

Hostile input budgets (docs/security.md) are covered cheaply: the inputs include template
attacks (exponential macros, amplifying filters, huge joins), alias bombs spread over several
YAML documents, 5,000-digit integers and catastrophic regex patterns, and while fuzzing the
budgets are shrunk (FUZZ_BUDGETS), so an attack meets its limit in milliseconds, not seconds.

The default suite runs 400 inputs, `scripts/test -m slow` (which .ci/run also runs) 2,000, both
derandomized, so every run checks the same ones; `--long` runs 10,000 with fresh randomness. Past crashers live in tests/fuzz_corpus/ and are replayed first:
`*.yaml` at the top are application files of examples/webshop; a file whose first line is
`# fuzz-seed: <project> <path>` replaces `<path>` in the project `<project>` (relative to the
repository), e.g. `# fuzz-seed: examples/platform-catalog definitions/traits.yaml`. To keep a
new crasher, save hypothesis' falsifying bytes there with that header.

The file-system mode (links, hard links, FIFOs and foreign files planted where appc reads and
writes) is test_fuzz_fs.py.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from composer.catalog import Catalog
from composer.diagnostics import DiagnosticError
from composer.plugins import PluginRegistry
from composer.project import compile_project, open_project
from composer.runners.files import write_tree
from tests.helpers import ROOT, appc
from tests.reliability.support import time_limit

CORPUS = ROOT / "tests" / "fuzz_corpus"
PER_INPUT_SECONDS = 20
CI_COUNTS = {"app": 700, "generated": 300, "env": 500, "def": 500}  # 2,000 inputs
# the default suite (scripts/test) replays the same derandomized inputs, fewer of them: 400
QUICK_COUNTS = {"app": 140, "generated": 60, "env": 100, "def": 100}
LONG_COUNTS = {"app": 3500, "generated": 1500, "env": 2500, "def": 2500}  # 10,000 inputs
REGISTRY = PluginRegistry.discover()
CATALOG = Catalog.build(REGISTRY, [])


# -- seeds -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    project: Path  # the seed project (relative paths below are inside it)
    kind: str  # app | env | def
    path: str  # the file to replace, e.g. environments/dev.yaml

    @property
    def env(self) -> str | None:
        if self.kind == "env":
            return Path(self.path).stem
        envs = sorted((self.project / "environments").glob("*.yaml"))
        return envs[0].stem if envs else None


def _projects() -> list[Path]:
    return [
        p.parent
        for p in sorted((ROOT / "examples").glob("*/app.yaml")) + sorted((ROOT / "tests" / "golden").glob("*/app.yaml"))
    ]


PROJECTS = _projects()
SEEDS: dict[str, list[Seed]] = {
    "app": [Seed(p, "app", "app.yaml") for p in PROJECTS],
    "env": [
        Seed(p, "env", f"environments/{e.name}") for p in PROJECTS for e in sorted((p / "environments").glob("*.yaml"))
    ],
    "def": [
        Seed(p, "def", f"definitions/{d.name}") for p in PROJECTS for d in sorted((p / "definitions").glob("*.yaml"))
    ],
}
assert all(SEEDS.values()), {k: len(v) for k, v in SEEDS.items()}


def _copy_project(seed_project: Path, dest: Path) -> None:
    """The parts of a project the pipeline reads (never .composer/, deploy/ or expected/).
    Copied, not linked: module sources must resolve inside the project."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copy2(seed_project / "app.yaml", dest / "app.yaml")
    for sub in ("environments", "definitions", "modules"):
        if (seed_project / sub).is_dir():
            shutil.copytree(seed_project / sub, dest / sub)


# -- mutation --------------------------------------------------------------------------------

HOSTILE = [
    "${db.url}", "${x.y}", "${db.nope}", "$${db.url}", "${env:HOME}", "${env:APPC_FUZZ_UNSET}", "${", "}",
    "{{ 7*7 }}", "{% for x in y %}", "{{ ''.__class__.__mro__ }}", "{{ lipsum.__globals__ }}", "{{ parameters | tojson }}",
    "{% include 'x' %}", "{# c #}", "%{ if true }x%{ endif }", "../../etc", "/abs", "a" * 70, "Ünïcode", "0x1F", "~",
    "null", "yes", "1e999", "-0", ".inf", "\x00", "\u202e", "$(rm -rf /)", "`id`", "a\nb: c", "---", "key: [", "'\"",
    "s3", "local", "gcs", "aws", "gcp", "azure", "kubernetes", "default", "webservice", "terraform-module", "postgres",
    "modules/../..", "in-cluster", "aws-rds", "::", "a" * 300,
    # budgets: templates that ran for minutes or built gigabytes, a backtracking pattern
    "{% macro f(n) %}{{ f(n - 1) }}{{ f(n - 1) }}{% endmacro %}{{ f(40) }}", "{{ range(100000) | map('center', 100000) | join }}",
    "{{ range(1500) | map('center', 1000000) | join }}", "{{ range(100000) | join('x' * 1000000) }}", "{{ ['x' * 1000000] * 1000 }}",
    "^(a+)+$", "a" * 3000 + "!",
]  # fmt: skip
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.sampled_from(HOSTILE),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=12), inner, max_size=3)),
    max_leaves=6,
)
ALIAS_BOMB = b"\n---\na: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
INSERTS = [b"\n  - ", b": ", b"{", b"]", b"&a ", b"*a", b"!!binary ", b"!!python/object ", b"\t", b"<<: ", b"---\n", b"{{", b"}}", b"{%", b"%}", b"${", b"\xff", b"\x00", b"\r", b"9" * 5000, ALIAS_BOMB * 3]  # fmt: skip
# Budgets while fuzzing (module, name, value): small, so that attacks end in milliseconds.
FUZZ_BUDGETS = [
    ("composer.template_budget", "MAX_OPERATIONS", 20_000), ("composer.template_budget", "MAX_WORK", 400_000),
    ("composer.template_budget", "MAX_VALUE", 100_000), ("composer.model.source", "MAX_NODES", 50_000),
    ("composer.model.source", "MAX_ALIASED_VALUES", 2_000),
]  # fmt: skip


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _parent(doc, path):
    for p in path[:-1]:
        doc = doc[p]
    return doc


def _mutate_tree(draw, doc):
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            return draw(values)
        path = draw(st.sampled_from(paths))
        op = draw(st.integers(0, 3))
        try:
            parent = _parent(doc, path)
            if op == 0:
                parent[path[-1]] = draw(values)
            elif op == 1 and isinstance(path[-1], str):  # rename a key
                parent[draw(st.one_of(st.text(min_size=1, max_size=12), st.sampled_from(HOSTILE)))] = parent.pop(
                    path[-1]
                )
            elif op == 2:  # drop
                del parent[path[-1]]
            elif isinstance(parent, list):  # duplicate a list item
                parent.append(parent[path[-1]])
        except (KeyError, IndexError, TypeError):
            pass
    return doc


@st.composite
def mutated(draw, kind: str):
    seed = draw(st.sampled_from(SEEDS[kind]))
    text = (seed.project / seed.path).read_text(encoding="utf-8")
    if draw(st.integers(0, 4)) == 0:  # byte-level mutation
        data = bytearray(text.encode())
        for _ in range(draw(st.integers(1, 5))):
            op = draw(st.integers(0, 2))
            i = draw(st.integers(0, max(0, len(data) - 1)))
            if op == 0:
                data[i] = draw(st.integers(0, 255))
            elif op == 1:
                del data[i : i + draw(st.integers(1, 40))]
            else:
                data[i:i] = draw(st.sampled_from(INSERTS))
        return seed, bytes(data)
    docs = [d for d in yaml.safe_load_all(text)]
    i = draw(st.integers(0, len(docs) - 1))
    docs[i] = _mutate_tree(draw, docs[i])
    return seed, yaml.safe_dump_all(docs, allow_unicode=True, sort_keys=False).encode()


NAMES = ["db", "api", "web", "cache", "files", "jobs", "q", "a-b", "x" * 70, "Bad_Name", "1st", "", "api"]  # fmt: skip


def _plausible(schema: dict):
    if not isinstance(schema, dict):
        return values
    if "enum" in schema:
        return st.one_of(st.sampled_from(schema["enum"]), values)
    if "default" in schema:
        return st.one_of(st.just(schema["default"]), values)
    t = schema.get("type")
    if t == "string":
        return st.one_of(
            st.sampled_from(
                ["nginx:1.27", "ghcr.io/acme/api:1.0", "0 3 * * *", "${db.url}", "${api.host}", "mods/m", "x"]
            ),
            st.text(max_size=30),
            st.sampled_from(HOSTILE),
        )
    if t == "integer":
        return st.one_of(st.integers(-5, 70000), values)
    if t == "boolean":
        return st.one_of(st.booleans(), values)
    return values


@st.composite
def generated(draw):
    """An application built from the catalog's types and traits (no seed)."""
    types = sorted(CATALOG.components)
    traits = sorted(CATALOG.traits)
    comps = []
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5))
    for name in names:
        t = draw(st.sampled_from(types + ["nope"]))
        props_schema = ((CATALOG.components[t].schema or {}).get("properties") or {}) if t in CATALOG.components else {}
        keys = draw(st.lists(st.sampled_from(sorted(props_schema) or ["x"]), max_size=4, unique=True))
        props = {k: draw(_plausible(props_schema.get(k, {}))) for k in keys}
        if t == "terraform-module" and draw(st.booleans()):
            props.update(
                source="mods/m",
                outputs={"id": {}, "secret": {"secret": True}},
                inputs={"name": draw(_plausible({"type": "string"}))},
            )
        comp: dict = {"name": name, "type": t, "properties": props}
        if draw(st.booleans()):
            tr = draw(st.lists(st.sampled_from(traits + ["nope"]), max_size=3))
            comp["traits"] = [
                {
                    "type": x,
                    "properties": {
                        k: draw(_plausible(v))
                        for k, v in list(((CATALOG.traits[x].schema or {}).get("properties") or {}).items())[:2]
                    },
                }
                if x in CATALOG.traits
                else {"type": x}
                for x in tr
            ]
        if draw(st.booleans()):
            comp["connections"] = draw(st.lists(st.sampled_from(names), max_size=2))
        if draw(st.integers(0, 4)) == 0:
            comp["dependsOn"] = draw(st.lists(st.sampled_from(names), max_size=2))
        comps.append(comp)
    doc = {
        "apiVersion": "composer.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": draw(st.sampled_from(["shop", "a", "Bad", "x" * 60]))},
        "spec": {"components": comps},
    }
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).encode()


GENERATED_PROJECT = {
    "environments/test.yaml": "apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {name: test}\nspec:\n  cloud: {provider: aws, region: us-east-1}\n  kubernetes: {namespace: t}\n",
    "mods/m/main.tf": 'variable "name" {\n  type    = string\n  default = ""\n}\noutput "id" { value = var.name }\noutput "secret" {\n  value     = "s"\n  sensitive = true\n}\n',
}


# -- the check -------------------------------------------------------------------------------


def _assert_located(diagnostics) -> None:
    assert diagnostics
    for d in diagnostics:
        assert d.file and d.line, f"diagnostic without file:line: {d.text()}"


def check(root: Path, env: str | None, def_file: Path | None = None) -> str:
    """One project through the pipeline: 'ok', or 'invalid' with located diagnostics."""
    outcome = "ok"
    with time_limit(PER_INPUT_SECONDS):
        try:
            project = open_project(root / "app.yaml")
            compiled = compile_project(project, env, REGISTRY)
            write_tree(compiled.rendered.files, root / "out")
        except DiagnosticError as exc:
            _assert_located(exc.diagnostics)
            outcome = "invalid"
        if def_file is not None:
            r = appc("def", "validate", def_file, "--json")
            assert r.code in (0, 1), (r.code, r.out[-2000:], r.err[-2000:])
            assert "Traceback" not in r.err and "internal error" not in r.err
            if r.code == 1:
                diags = [e for e in r.events if e["type"] == "diagnostic"]
                assert diags and all(d["file"] and d["line"] for d in diags), diags
    return outcome


def run_case(base: Path, seed: Seed, data: bytes) -> str:
    root = base / "case"
    _copy_project(seed.project, root)
    target = root / seed.path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return check(root, seed.env, target if seed.kind == "def" else None)


def run_generated(base: Path, data: bytes) -> str:
    root = base / "case"
    if root.exists():
        shutil.rmtree(root)
    for rel, text in GENERATED_PROJECT.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "app.yaml").write_bytes(data)
    return check(root, "test")


# -- tests -----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def small_budgets(monkeypatch):
    import importlib

    # The sandbox is loaded on first use and takes its limits from MAX_VALUE then: load it at the
    # real budget, as it would be in any process, before the budgets shrink.
    importlib.import_module("composer.template_sandbox")
    for module, name, value in FUZZ_BUDGETS:
        monkeypatch.setattr(importlib.import_module(module), name, value)


def _corpus() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*.yaml")) if CORPUS.is_dir() else []


HEADER = b"# fuzz-seed:"


@pytest.mark.parametrize("case", _corpus(), ids=lambda p: str(p.relative_to(CORPUS)))
def test_corpus_of_past_crashers(case: Path, tmp_path: Path):
    data = case.read_bytes()
    seed = Seed(ROOT / "examples" / "webshop", "app", "app.yaml")
    if data.startswith(HEADER):
        header, _, data = data.partition(b"\n")
        project, path = header[len(HEADER) :].decode().split()
        kind = "env" if path.startswith("environments/") else "def" if path.startswith("definitions/") else "app"
        seed = Seed(ROOT / project, kind, path)
    run_case(tmp_path, seed, data)


@pytest.fixture(scope="module")
def fuzz_figures():
    figures: dict[str, dict] = {}
    yield figures
    total = sum(f["inputs"] for f in figures.values())
    print(
        "\nfuzz figures: "
        + ", ".join(
            f"{k}: {f['inputs']} inputs ({f['ok']} ok, {f['invalid']} invalid) in {f['seconds']:.1f} s"
            for k, f in figures.items()
        )
        + f"; {total} in all"
    )


@pytest.mark.parametrize(
    "kind,size",
    [(kind, "quick") for kind in QUICK_COUNTS]
    # the 2,000-input run is a long reliability run (~3 min on 2 cores): `scripts/test -m slow`
    + [pytest.param(kind, "ci", marks=pytest.mark.slow) for kind in CI_COUNTS],
)
def test_fuzzed_files_never_crash(kind, size, request, tmp_path, fuzz_figures):
    long = request.config.getoption("--long")
    n = (LONG_COUNTS if long else CI_COUNTS if size == "ci" else QUICK_COUNTS)[kind]
    counts = {"ok": 0, "invalid": 0}
    strategy = generated() if kind == "generated" else mutated(kind)

    @settings(max_examples=n, deadline=None, derandomize=not long, database=None if not long else settings.default.database,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])  # fmt: skip
    @given(case=strategy)
    def fuzz(case):
        outcome = run_generated(tmp_path, case) if kind == "generated" else run_case(tmp_path, *case)
        counts[outcome] += 1

    started = time.monotonic()
    fuzz()
    seconds = time.monotonic() - started
    inputs = counts["ok"] + counts["invalid"]
    fuzz_figures[kind if size == "ci" else f"{kind} ({size})"] = {"inputs": inputs, "seconds": seconds, **counts}
    # hypothesis may stop early only when it has exhausted the strategy, which these cannot
    assert inputs >= n, f"only {inputs} of {n} inputs ran"
