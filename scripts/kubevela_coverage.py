"""Measure KubeVela coverage on KubeVela's own repository (docs/oam.md, "Coverage, and how it is counted").

    .venv/bin/python scripts/kubevela_coverage.py PATH [--all] [--files] [--walk]

PATH is a KubeVela checkout (a work tree) or its git directory (read at HEAD with `git show`).
Every `*.yaml` / `*.yml` file is split into documents; each `core.oam.dev/v1beta1` Application
is loaded and rendered on its own, against a plain environment (context `test`, namespace
`corpus`), as `appc render` would. A document counts as vela-core when every component type,
trait, policy and workflow step it names has a definition under
`vela-templates/definitions/internal/` of the same checkout, and its component and trait
properties name only fields of those definitions' `parameter` (otherwise it was written for a
definition of its own that reuses a vela-core name: left out, and listed). The script prints how many of
those load and render, then the refusals grouped by their first error (quoted names folded,
so one reason is one line); `--files` lists each refused file with its first error, `--all`
counts every Application, not only the vela-core ones, and `--walk` runs the field walk of
tests/test_kubevela_corpus.py on every file that loads (minutes), naming each field that is
neither mapped nor reported; `--markdown` reads the ```yaml blocks of the `*.md` files instead
(the documentation's examples: a wider set for the walk). It needs the checkout, so CI (no
network) does not run it; nothing here is a test.
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from composer.diagnostics import DiagnosticError  # noqa: E402
from composer.project import compile_project, open_project  # noqa: E402

DEFINITIONS = "vela-templates/definitions/internal/"
KINDS = ("component", "trait", "policy", "workflowstep")
ENVIRONMENT = """apiVersion: composer.dev/v1alpha1
kind: Environment
metadata: {name: test}
spec:
  kubernetes: {context: test, namespace: corpus}
"""


@dataclass(frozen=True)
class Document:
    name: str  # the file's path with '/' as '_', and the document's index: one line per document
    text: str
    data: dict
    folder: str  # the source folder: its Workflow and Policy objects are written beside the app
    template: str = ""  # why the document is not an Application one applies as it is (excluded), or ""


# Templates KubeVela's own tooling fills in before it applies them, filled in the same way
# (docs/oam.md, "Coverage, and how it is counted"): the e2e tests replace TEST_NAMESPACE
# (test/e2e-multicluster-test/*_test.go, strings.ReplaceAll) and hack/load-test/deploy.sh
# replaces ID, SHARD, VERSION and CLUSTER with sed.
FILLED_IN = (
    ("test/e2e-multicluster-test/", (("TEST_NAMESPACE", "e2e-test"),)),
    ("hack/load-test/app-templates/", (("ID", "1"), ("SHARD", "0"), ("VERSION", "1"), ("CLUSTER", "cluster-worker"))),
)


def fill_in(name: str, text: str) -> str:
    for prefix, pairs in FILLED_IN:
        if name.startswith(prefix):
            for placeholder, value in pairs:
                text = text.replace(placeholder, value)
    return text


def addon_template(name: str, names: set[str]) -> bool:
    """An addon's template.yaml: the addon installer completes it with the addon's resources."""
    folder = name.rsplit("/", 1)[0]
    return name.endswith("/template.yaml") and (f"{folder}/metadata.yaml" in names)


class Checkout:
    """A KubeVela work tree or git directory: its file names and their text."""

    def __init__(self, path: Path):
        self.path = path
        self.git = not (path / "vela-templates").is_dir()

    def names(self) -> list[str]:
        if not self.git:
            return sorted(p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file())
        out = subprocess.run(
            ["git", "--git-dir", str(self.path), "ls-tree", "-r", "--name-only", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
        return sorted(out.stdout.splitlines())

    def read(self, name: str) -> str:
        if not self.git:
            return (self.path / name).read_text(errors="replace")
        out = subprocess.run(
            ["git", "--git-dir", str(self.path), "show", f"HEAD:{name}"], capture_output=True, check=True
        )
        return out.stdout.decode(errors="replace")


def core_definitions(names: list[str]) -> dict[str, set[str]]:
    core: dict[str, set[str]] = {k: set() for k in KINDS}
    for n in names:
        parts = n.split("/")
        if n.startswith(DEFINITIONS) and n.endswith(".cue") and parts[-2] in core:
            core[parts[-2]].add(parts[-1][: -len(".cue")])
    return core


def _documents(text: str) -> Iterator[tuple[int, str, Any]]:
    for i, chunk in enumerate(re.split(r"(?m)^---[ \t]*$", text)):
        try:
            yield i, chunk, yaml.safe_load(chunk)
        except yaml.YAMLError:
            continue  # a template, not YAML: not an Application file


def _companion(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and data.get("apiVersion") == "core.oam.dev/v1alpha1"
        and data.get("kind")
        in (
            "Workflow",
            "Policy",
        )
    )


MARKDOWN_YAML = re.compile(r"```ya?ml[ \t]*\n(.*?)```", re.S)


def applications(checkout: Checkout, names: list[str], markdown: bool = False) -> Iterator[Document]:
    """Each Application document of the YAML files (or, with `markdown`, of the ```yaml blocks of
    the Markdown files: the documentation's examples, a wider set for the field walk)."""
    listed = set(names)
    for name in names:
        if not name.endswith((".md",) if markdown else (".yaml", ".yml")):
            continue
        text = checkout.read(name)
        if "core.oam.dev/v1beta1" not in text:
            continue
        if markdown:
            text = "\n---\n".join(MARKDOWN_YAML.findall(text))
        docs = list(_documents(fill_in(name, text)))
        for i, chunk, data in docs:
            if isinstance(data, dict) and data.get("apiVersion") == "core.oam.dev/v1beta1":
                if data.get("kind") == "Application":
                    template = "an addon template" if addon_template(name, listed) else ""
                    doc_name = f"{name.replace('/', '_').rsplit('.', 1)[0]}-{i}.yaml"
                    yield Document(doc_name, chunk.lstrip("\n"), data, name.rsplit("/", 1)[0], template)


def _kubernetes_object(data: Any) -> bool:
    """An object a ref-objects component may name (composer/model/oam_ref_objects.py)."""
    meta = data.get("metadata") if isinstance(data, dict) else None
    api = data.get("apiVersion") if isinstance(data, dict) else None
    return (
        isinstance(meta, dict)
        and isinstance(meta.get("name"), str)
        and isinstance(data.get("kind"), str)
        and isinstance(api, str)
        and not api.startswith("core.oam.dev/")
    )


def companion_files(checkout: Checkout, names: list[str], folder: str) -> dict[str, str]:
    """The Workflow and Policy documents, and the Kubernetes objects, of every YAML file of `folder`,
    by file name (KubeVela keeps the objects an app refers to beside it, or in the cluster; Composer
    reads them beside it: composer/model/oam_refs.py, oam_ref_objects.py)."""
    out = {}
    for name in names:
        if name.rsplit("/", 1)[0] != folder or not name.endswith((".yaml", ".yml")):
            continue
        text = checkout.read(name)
        docs = list(_documents(fill_in(name, text)))
        chunks = [c.strip("\n") for _, c, d in docs if _companion(d) or _kubernetes_object(d)]
        if chunks:
            out["companion-" + name.rsplit("/", 1)[-1]] = "\n---\n".join(chunks) + "\n"
    return out


def _steps(steps: Any) -> Iterator[Any]:
    for s in steps if isinstance(steps, list) else []:
        if isinstance(s, dict):
            yield s.get("type")
            yield from _steps(s.get("subSteps"))


def uses_only_core(data: dict, core: dict[str, set[str]]) -> bool:
    spec: dict[str, Any] = data["spec"] if isinstance(data.get("spec"), dict) else {}
    comps = [c for c in spec.get("components") or [] if isinstance(c, dict)]
    traits = [t for c in comps for t in c.get("traits") or [] if isinstance(t, dict)]
    policies = [p for p in spec.get("policies") or [] if isinstance(p, dict)]
    workflow: dict[str, Any] = spec["workflow"] if isinstance(spec.get("workflow"), dict) else {}
    used = {
        "component": {c.get("type") for c in comps},
        "trait": {t.get("type") for t in traits},
        "policy": {p.get("type") for p in policies},
        "workflowstep": set(_steps(workflow.get("steps"))),
    }
    return all(used[k] <= core[k] for k in KINDS)


KEY = re.compile(r'^"?([A-Za-z_$][\w$-]*)"?[?!]?\s*:')


def parameter_keys(cue: str) -> set[str] | None:
    """The top-level field names of a definition's `parameter: {...}`, or None when the struct is
    open (`...`, `[string]: T`, an embedded definition) or not a plain struct: then any name is
    the definition's. Comments and quoted text are skipped before braces are counted."""
    at = re.search(r"(?m)^\s*parameter:\s*\{\s*$", cue)
    if not at:
        return None
    keys: set[str] = set()
    depth = 1
    for raw in cue[at.end() :].splitlines():
        line = re.sub(r'"(\\.|[^"\\])*"', '""', raw.split("//", 1)[0]).strip()
        if depth == 1 and line:
            m = KEY.match(raw.strip())
            if line.startswith(("...", "[")) or (not m and not line.startswith(("}", "]"))):
                return None
            if m:
                keys.add(m.group(1))
        depth += line.count("{") + line.count("[") - line.count("}") - line.count("]")
        if depth <= 0:
            return keys
    return None


def core_parameters(checkout: Checkout, names: list[str]) -> dict[tuple[str, str], set[str] | None]:
    """(kind, name) -> the parameter names of each vela-core definition (None: open)."""
    out: dict[tuple[str, str], set[str] | None] = {}
    for n in names:
        parts = n.split("/")
        if n.startswith(DEFINITIONS) and n.endswith(".cue") and parts[-2] in ("component", "trait"):
            out[(parts[-2], parts[-1][: -len(".cue")])] = parameter_keys(checkout.read(n))
    return out


def foreign_fields(data: dict, params: dict[tuple[str, str], set[str] | None]) -> list[str]:
    """Fields of a component's or trait's properties that the vela-core definition of that name does
    not have: the case was written for another ComponentDefinition or TraitDefinition of the same
    name (their templates evaluate a closed `parameter`, so vela-core would refuse it too). Policies
    and workflow steps are not judged so: KubeVela's controller reads some of their fields in Go
    (garbage-collect's `order`) that their CUE definitions do not list."""
    spec: dict[str, Any] = data["spec"] if isinstance(data.get("spec"), dict) else {}
    comps = [c for c in spec.get("components") or [] if isinstance(c, dict)]
    used = [("component", c) for c in comps]
    used += [("trait", t) for c in comps for t in c.get("traits") or [] if isinstance(t, dict)]
    out = []
    for kind, item in used:
        known = params.get((kind, str(item.get("type"))))
        props = item.get("properties")
        if known is not None and isinstance(props, dict):
            out += [f"{kind} {item.get('type')}: {k}" for k in props if k not in known]
    return out


def reason(summary: str) -> str:
    """One line per kind of refusal: quoted names and numbers folded."""
    return re.sub(r"\d+", "N", re.sub(r"'[^']*'", "'…'", summary))


# Cases KubeVela's own end-to-end tests expect to fail (test/e2e-test/application_test.go): a
# refusal is the answer KubeVela gives too, so it is counted as answered, beside the plain figure.
# Each entry: the case, the error Composer must give (its summary starts so), and KubeVela's test.
KUBEVELA_REFUSES = {
    "test_e2e-test_testdata_app_app8-0.yaml": (
        "duplicate component name",
        "'Test app have components with same name': the create is refused",
    ),
    "test_e2e-test_testdata_app_app10-0.yaml": (
        "apply-component names no component",
        "'Test app failed after retries': the workflow ends failed",
    ),
    "test_e2e-test_testdata_app_app_component_depends_on_fail-0.yaml": (
        "invalid property of webservice",
        "'Component dependsOn should block dependent components when dependency fails': the empty image fails",
    ),
}


@dataclass
class Measurement:
    loaded: list[str] = field(default_factory=list)
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # (document, reason, first error)
    excluded: list[tuple[str, str]] = field(default_factory=list)  # (document, why)
    silent: list[str] = field(default_factory=list)


def measure(checkout: Checkout, everything: bool, walk: bool = False, markdown: bool = False) -> Measurement:
    import composer.cli.app as cli

    names = checkout.names()
    core = core_definitions(names)
    params = core_parameters(checkout, names)
    registry = cli.registry()
    catalog = None
    out = Measurement()
    folders: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="kubevela-coverage-") as tmp:
        for doc in applications(checkout, names, markdown):
            if not everything and not uses_only_core(doc.data, core):
                continue
            foreign = [] if everything else foreign_fields(doc.data, params)
            if doc.template or foreign:
                why = doc.template or f"written for another definition of a vela-core name ({', '.join(foreign)})"
                out.excluded.append((doc.name, why))
                continue
            if doc.folder not in folders:
                folders[doc.folder] = _folder(
                    Path(tmp) / f"f{len(folders)}", companion_files(checkout, names, doc.folder)
                )
            path = folders[doc.folder] / doc.name
            path.write_text(doc.text)
            try:
                project = open_project(path)
                catalog = catalog or project.catalog(registry)
                compile_project(project, "test", registry, catalog=catalog)
                out.loaded.append(doc.name)
                if walk:
                    out.silent += [f"{doc.name}: {f}" for f in _walk(path, registry)]
            except DiagnosticError as exc:
                first = exc.diagnostics[0]
                text = first.text().replace(str(path.parent) + "/", "")
                if not all(d.line and d.path for d in exc.diagnostics):
                    text = "WITHOUT A LINE OR FIELD PATH: " + text
                elif not first.detail:
                    text = "(no hint line) " + text
                out.refused.append((doc.name, reason(first.summary), text))
    return out


def _folder(where: Path, companions: dict[str, str]) -> Path:
    """A scratch folder for the apps of one source folder: the environment, and the Workflow and
    Policy objects of that folder's files beside them."""
    (where / "environments").mkdir(parents=True)
    (where / "environments" / "test.yaml").write_text(ENVIRONMENT)
    for name, text in companions.items():
        (where / name).write_text(text)
    return where


def _walk(path: Path, registry: Any) -> list[str]:
    """The fields of one loaded file that are neither mapped nor reported (tests/test_kubevela_corpus.py)."""
    from tests.test_kubevela_corpus import walk

    work = path.parent / "walk"
    if not work.exists():
        work.mkdir()
        for companion in path.parent.glob("companion-*"):
            (work / companion.name).write_text(companion.read_text())
    return walk(path, registry, work)


def _gives(text: str, summary: str) -> bool:
    """Whether a refusal's first error (`error: FILE:LINE:COL: PATH: SUMMARY`) starts with `summary`."""
    return any(part.startswith(summary) for part in text.splitlines()[0].split(": ")[1:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path, help="a KubeVela checkout, or its git directory")
    parser.add_argument("--all", action="store_true", help="count every Application, not only vela-core ones")
    parser.add_argument("--files", action="store_true", help="list each refused file with its first error")
    parser.add_argument("--walk", action="store_true", help="run the field walk on every file that loads")
    parser.add_argument("--markdown", action="store_true", help="read the ```yaml blocks of *.md files instead")
    args = parser.parse_args(argv)
    m = measure(Checkout(args.path), args.all, args.walk, args.markdown)
    loaded, refused, silent = m.loaded, m.refused, m.silent
    total = len(loaded) + len(refused)
    what = "Application documents" if args.all else "Application documents that use only vela-core definitions"
    if m.excluded:
        print(f"not counted: {len(m.excluded)} ({', '.join(f'{n}: {why}' for n, why in m.excluded)})")
    print(f"{total} {what}: {len(loaded)} load and render ({len(loaded) / max(total, 1):.1%}), {len(refused)} refused")
    if not args.all and not args.markdown:
        expected = [n for n, _, text in refused if n in KUBEVELA_REFUSES and _gives(text, KUBEVELA_REFUSES[n][0])]
        answered = len(loaded) + len(expected)
        print(
            f"answered as KubeVela answers: {answered} of {total} ({answered / max(total, 1):.1%}): the "
            f"{len(loaded)} that load and render, and {len(expected)} that KubeVela's own e2e tests expect to "
            f"fail, refused at a line ({len(loaded)} of {total - len(expected)} valid ones load: "
            f"{len(loaded) / max(total - len(expected), 1):.1%})"
        )
    vague = sum(1 for _, _, text in refused if text.startswith("WITHOUT"))
    terse = sum(1 for _, _, text in refused if text.startswith("(no hint line)"))
    print(
        f"refusals with an error that lacks a line or a field path: {vague}; whose first error has no hint line: {terse}"
    )
    for why, n in collections.Counter(r for _, r, _ in refused).most_common():
        print(f"  {n:3}  {why}")
    if args.walk:
        print(f"field walk: {len(silent)} silent drops in {len(loaded)} files that load")
        for line in silent:
            print(f"  {line}")
    if args.files:
        for name, _, text in refused:
            print(f"\n{name}\n  {text.splitlines()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
