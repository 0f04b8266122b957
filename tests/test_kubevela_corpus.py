"""KubeVela coverage, measured on tests/corpus/kubevela (Application files written in KubeVela's
documented idioms; docs/oam.md says how they are counted), and the field walk: every field of
a file that loads is either mapped (changing it changes the render or the diagnostics) or
reported (a warning names it or a field above it). Nothing is dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from composer.diagnostics import DiagnosticError, format_path
from composer.model.loader import load_application
from composer.project import Project, compile_project, open_project
from tests.helpers import ROOT

CORPUS = ROOT / "tests" / "corpus" / "kubevela"
FILES = sorted(p for p in CORPUS.glob("*.yaml") if not p.name.startswith("objects-"))
# Kubernetes objects that ref-objects files reference: read from beside the app, never an app themselves.
OBJECTS = sorted(CORPUS.glob("objects-*.yaml"))
# A step's name only identifies it (Composer has no workflow status to show it in): changing it
# changes nothing unless something refers to it (dependsOn, --approve), which the walk sees then.
# The same holds for a policy's name.
IDENTIFIERS = re.compile(r"^spec\.(workflow\.steps\[\d+\](\.subSteps\[\d+\])*|policies\[\d+\])\.name$")


def _header(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if not line.startswith("# "):
            break
        key, _, value = line[2:].partition(":")
        out[key.strip()] = value.strip()
    return out


def _compile(project: Project, registry, catalog) -> tuple[dict[str, bytes], set[tuple[str, str, str]]]:
    """What the app does (rendered files, apply order, gates) and its diagnostics — or the errors alone."""
    try:
        compiled = compile_project(project, "test", registry, catalog=catalog)
    except DiagnosticError as exc:
        return {}, {(d.severity.value, d.summary, format_path(d.path)) for d in exc.diagnostics}
    warnings = (*project.app.warnings, *compiled.warnings)
    # What apply does beyond the files: the order of units and the approval gates.
    files = {
        **compiled.rendered.files,
        "<apply order>": repr(sorted((e.dependency, e.dependent, e.reason) for e in compiled.graph.edges)).encode(),
        "<gates>": repr(project.app.model.spec.gates).encode(),
    }
    return files, {(d.severity.value, d.summary, format_path(d.path)) for d in warnings}


def test_corpus_coverage_is_at_least_90_percent_and_every_refusal_is_at_a_line(registry):
    catalog = None
    loaded, refused = [], []
    for path in FILES:
        head = _header(path)
        try:
            project = open_project(path)
            catalog = catalog or project.catalog(registry)
            compile_project(project, "test", registry, catalog=catalog)
            loaded.append(path.name)
            assert head.get("expect") != "refused", f"{path.name} is marked refused but loads"
        except DiagnosticError as exc:
            refused.append(path.name)
            assert head.get("expect") == "refused" or head["uses"] != "core", (
                f"{path.name} is refused: {exc.diagnostics[0].text()}"
            )
            for d in exc.diagnostics:
                assert d.file and d.line and d.path and d.detail, (
                    f"{path.name}: a refusal without a line or a hint: {d.text()}"
                )
    core = [p.name for p in FILES if _header(p)["uses"] == "core"]
    core_loaded = [n for n in loaded if n in core]
    ratio = len(core_loaded) / len(core)
    print(
        f"\nKubeVela corpus: {len(FILES)} files, {len(core)} vela-core only, {len(core_loaded)} of them load and render ({ratio:.1%}); refused: {', '.join(refused)}"
    )
    assert ratio >= 0.90
    assert (len(FILES), len(core), len(core_loaded)) == (64, 62, 60)  # docs/oam.md quotes these


def _leaves(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Every scalar, and every empty mapping or list (a key whose value is {} is a field too)."""
    if isinstance(value, (dict, list)) and not value:
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, path + (i,))
    else:
        yield path, value


def _mutated(data: Any, path: tuple) -> Any:
    if not path:
        v = data
        if isinstance(v, bool):
            return not v
        if isinstance(v, (int, float)):
            return v + 1
        return "x" if v is None or v in ({}, []) else f"{v}x"
    if isinstance(data, dict):
        return {k: (_mutated(v, path[1:]) if k == path[0] else v) for k, v in data.items()}
    return [(_mutated(v, path[1:]) if i == path[0] else v) for i, v in enumerate(data)]


def _project(scratch: Path, data: Any) -> Project:
    """The mutated file, loaded the way appc loads it (beside a copy of the corpus environments)."""
    (scratch / "environments").mkdir(exist_ok=True)
    (scratch / "environments" / "test.yaml").write_bytes((CORPUS / "environments" / "test.yaml").read_bytes())
    for objects in OBJECTS:
        (scratch / objects.name).write_bytes(objects.read_bytes())
    app = scratch / "app.yaml"
    app.write_text(yaml.safe_dump(data, sort_keys=False))
    return open_project(app)


def walk(path: Path, registry, scratch: Path) -> list[str]:
    """The fields of `path` that are neither mapped nor reported."""
    data = yaml.safe_load(path.read_text())
    original = open_project(path)
    catalog = original.catalog(registry)
    base_files, base_diags = _compile(original, registry, catalog)
    assert base_files, f"{path.name} does not render: {base_diags}"
    reported = {p for _, _, p in base_diags}
    silent = []
    changes = [(leaf, _mutated(data, leaf), "") for leaf, _ in _leaves(data)]
    changes += [
        (where, _with_unknown_key(data, where), " (an unknown key added)") for where in _component_mappings(data)
    ]
    for leaf, changed, how in changes:
        shown = format_path(leaf)
        if any(
            shown == r or shown.startswith(r + ".") or shown.startswith(r + "[") for r in reported if r
        ) or IDENTIFIERS.match(shown):
            continue
        try:
            files, diags = _compile(_project(scratch, changed), registry, catalog)
        except DiagnosticError as exc:  # refused while loading: the change was noticed
            files, diags = {}, {(d.severity.value, d.summary, format_path(d.path)) for d in exc.diagnostics}
        if files == base_files and diags == base_diags:
            silent.append(shown + how)
    return silent


def _component_mappings(value: Any, path: tuple = ()) -> Iterator[tuple]:
    """Every mapping inside a component (where a misspelt key would go), the component itself excluded."""
    if isinstance(value, dict) and len(path) > 3 and path[:2] == ("spec", "components"):
        yield path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for k, v in items:
        yield from _component_mappings(v, path + (k,))


def _with_unknown_key(data: Any, path: tuple) -> Any:
    if not path:
        return {**data, "unknownKeyOfTheWalk": "x"}
    if isinstance(data, dict):
        return {k: (_with_unknown_key(v, path[1:]) if k == path[0] else v) for k, v in data.items()}
    return [(_with_unknown_key(v, path[1:]) if i == path[0] else v) for i, v in enumerate(data)]


@pytest.mark.slow  # every field changed, then every mapping given an unknown key: minutes for the corpus
@pytest.mark.parametrize(
    "path",
    [p for p in FILES if _header(p).get("expect") != "refused" and _header(p)["uses"] == "core"],
    ids=lambda p: p.name,
)
def test_field_walk_whole_corpus_finds_no_silent_drop(path: Path, registry, tmp_path: Path):
    assert walk(path, registry, tmp_path) == []


def test_the_walk_catches_a_silent_drop(registry, tmp_path: Path, monkeypatch):
    """The walk can fail: with the gateway's class dropped on the floor, it names the field."""
    from composer.model import oam

    real = oam._Converter.gateway

    def dropping(self, props, ppath):
        out = real(self, props, ppath)
        out.pop("annotations", None)  # the class annotation, silently gone
        return out

    monkeypatch.setattr(oam._Converter, "gateway", dropping)
    assert "spec.components[0].traits[0].properties.class" in walk(CORPUS / "03-gateway.yaml", registry, tmp_path)
    assert load_application(CORPUS / "03-gateway.yaml")  # still loads: the drop was silent


@pytest.mark.slow  # a whole walk of one file
def test_the_walk_catches_an_unknown_key_that_is_ignored(registry, tmp_path: Path, monkeypatch):
    """With the command trait's key check switched off, a misspelt key there is named by the walk."""
    from composer.model.oam_traits import TraitRewriter

    monkeypatch.setattr(TraitRewriter, "unknown", lambda self, p, ppath, known, what: None)
    silent = walk(CORPUS / "16-command-image.yaml", registry, tmp_path)
    assert "spec.components[0].traits[0].properties (an unknown key added)" in silent
