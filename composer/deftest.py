"""`appc def test`: unit tests for a catalog of definitions, kept beside it.

    <catalog>/tests/<case>/app.yaml              an application using the catalog's types
    <catalog>/tests/<case>/environments/*.yaml   the environment(s) it renders for
    <catalog>/tests/<case>/expected/<env>/...    the rendered files (golden; `--update` writes them)
    <catalog>/tests/<case>/assertions.yaml       optional checks on rendered files, or the error expected

A case is a small project: `appc render -f tests/<case>/app.yaml --catalog <catalog>` shows
what it renders. Module copies (`modules/`) are not compared: composer.lock digests cover
them. Rendering is deterministic, so a byte difference is a real change. Assertions:

    - {file: terraform/files/main.tf.json, path: module.files.force_destroy, equals: true}
    - {file: kubernetes/api.yaml, contains: shop-files-conn}
    - {error: "is not a variable of the module"}       # rendering must fail with this text
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from composer.catalog.cache import ModuleResolver, module_cache_dir
from composer.catalog.lock import read_lock
from composer.diagnostics import Diagnostic, DiagnosticError
from composer.plugins import PluginRegistry
from composer.project import compile_project, open_project


@dataclass
class CaseResult:
    name: str
    environment: str
    failures: list[str] = field(default_factory=list)
    updated: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures


def find_cases(catalog: Path) -> list[Path]:
    tests = catalog / "tests"
    return sorted(p for p in tests.iterdir() if (p / "app.yaml").is_file()) if tests.is_dir() else []


def _resolver(catalog: Path) -> ModuleResolver | None:
    """The lock of the project holding the catalog (searched upward), for locked remote modules."""
    for directory in [catalog.absolute(), *list(catalog.absolute().parents)[:4]]:
        if (directory / "composer.lock").is_file():
            return ModuleResolver(directory, read_lock(directory / "composer.lock"), module_cache_dir())
    return None


def run_case(case: Path, catalog: Path, registry: PluginRegistry, update: bool) -> list[CaseResult]:
    project = open_project(case / "app.yaml")
    assertions = _assertions(case)
    results = []
    names: list[str | None] = [*project.environment_names()]
    for env in names or [None]:
        result = CaseResult(case.name, env or "default")
        try:
            compiled = compile_project(project, env, registry, [catalog], modules=_resolver(catalog))
        except DiagnosticError as exc:
            text = "\n".join(f"{d.summary} {d.detail}" for d in exc.diagnostics)
            expected = [a["error"] for a in assertions if "error" in a]
            if not expected:
                result.failures += [
                    f"rendering failed: {d.summary}" + (f" ({d.detail})" if d.detail else "") for d in exc.diagnostics
                ]
            result.failures += [f"the error does not say {e!r}" for e in expected if e not in text]
            results.append(result)
            continue
        files = {k: v for k, v in compiled.rendered.files.items() if not k.startswith("modules/")}
        result.failures += [
            f"rendering succeeded, but an error saying {a['error']!r} was expected" for a in assertions if "error" in a
        ]
        result.failures += _check_assertions(files, [a for a in assertions if "error" not in a])
        expected_dir = case / "expected" / result.environment
        if update:
            result.updated = _write_expected(expected_dir, files)
        elif expected_dir.is_dir():
            result.failures += compare(expected_dir, files)
        elif not assertions:
            result.failures.append(
                f"no expected/{result.environment}/ files and no assertions.yaml: run `appc def test --update` to record the render"
            )
        results.append(result)
    return results


def _assertions(case: Path) -> list[dict]:
    path = case / "assertions.yaml"
    if not path.is_file():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    if not isinstance(data, list) or not all(
        isinstance(a, dict) and ({"error"} <= set(a) or "file" in a) for a in data
    ):
        raise DiagnosticError(
            [
                Diagnostic(
                    f"{path} is not a list of assertions",
                    "each item has `file` (with `equals` at `path`, or `contains`) or `error`",
                    file=str(path),
                )
            ]
        )
    return data


def _lookup(doc: Any, path: str) -> Any:
    for part in [p for p in path.split(".") if p]:
        if isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        elif isinstance(doc, dict) and part in doc:
            doc = doc[part]
        else:
            raise KeyError(path)
    return doc


def _parse(rel: str, data: bytes) -> Any:
    if rel.endswith(".json"):
        return json.loads(data)
    docs = list(yaml.safe_load_all(data))
    return docs[0] if len(docs) == 1 else docs


def _check_assertions(files: dict[str, bytes], assertions: list[dict]) -> list[str]:
    out = []
    for a in assertions:
        rel = str(a["file"])
        if rel not in files:
            out.append(f"{rel} was not rendered")
            continue
        if "contains" in a and str(a["contains"]) not in files[rel].decode("utf-8", "replace"):
            out.append(f"{rel} does not contain {a['contains']!r}")
        if "equals" in a:
            try:
                got = _lookup(_parse(rel, files[rel]), str(a.get("path", "")))
            except KeyError:
                out.append(f"{rel} has nothing at {a.get('path')!r}")
                continue
            if got != a["equals"]:
                out.append(f"{rel} at {a.get('path')!r}: expected {json.dumps(a['equals'])}, got {json.dumps(got)}")
    return out


def compare(expected_dir: Path, files: dict[str, bytes]) -> list[str]:
    expected = {
        p.relative_to(expected_dir).as_posix(): p.read_bytes()
        for p in sorted(expected_dir.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }
    out = [f"{rel} is rendered but not expected" for rel in sorted(set(files) - set(expected))]
    out += [f"{rel} is expected but not rendered" for rel in sorted(set(expected) - set(files))]
    for rel in sorted(set(files) & set(expected)):
        if files[rel] != expected[rel]:
            diff = difflib.unified_diff(
                expected[rel].decode("utf-8", "replace").splitlines(),
                files[rel].decode("utf-8", "replace").splitlines(),
                "expected",
                "rendered",
                lineterm="",
                n=1,
            )
            out.append(f"{rel} differs:\n" + "\n".join(list(diff)[2:14]))
    return out


def _write_expected(directory: Path, files: dict[str, bytes]) -> int:
    import shutil

    if directory.is_dir():
        shutil.rmtree(directory)
    for rel, data in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return len(files)
