"""The layers in docs/architecture.md hold: import-linter contracts from pyproject.toml, and the pure core
calls nothing that writes a file (an AST check, for what import-linter cannot see)."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT


def test_import_contracts_are_kept():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe, "import-linter is a test dependency (pip install -e '.[test]')"
    proc = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


# --- the pure core writes no files --------------------------------------------------------------
# import-linter (the "writes no files" contract) keeps safefs, shutil and tempfile out of the pure core,
# but it cannot see a call: `Path.write_text` needs no import. This reads the core's code for the calls
# that create, change or delete files. Reading is allowed (the loader reads app.yaml).

PURE_CORE = [
    "composer/engine",
    "composer/model",
    "composer/catalog",
    "composer/render",
    "composer/resolve.py",
    "composer/graph.py",
    "composer/templates.py",
    "composer/template_sandbox.py",
    "composer/template_budget.py",
    "composer/template_yaml.py",
    "composer/plugins.py",
    "composer/diagnostics.py",
]
# methods of pathlib.Path (and file objects) that write; str.replace and model renames are not here
WRITING_METHODS = {
    "write_text",
    "write_bytes",
    "unlink",
    "mkdir",
    "rmdir",
    "touch",
    "symlink_to",
    "hardlink_to",
    "chmod",
    "rename",
    "truncate",
}
# module functions that write, as `os.x(...)` / `shutil.x(...)`
WRITING_FUNCTIONS = {
    "os": {
        "replace",
        "remove",
        "rename",
        "renames",
        "unlink",
        "makedirs",
        "mkdir",
        "rmdir",
        "removedirs",
        "open",
        "write",
        "fdopen",
        "symlink",
        "link",
        "truncate",
        "chmod",
        "mkfifo",
        "fsync",
    },  # fmt: skip
    "shutil": {"copy", "copy2", "copyfile", "copytree", "move", "rmtree"},
}
WRITE_MODE = re.compile(r"[wax+]")
# ALLOW-LIST (file, call) -> why it is still there. Empty: composer/engine/planfile.py writes saved plans
# through composer.safefs.write_private, which the import contract allow-lists until i12-engine moves it
# behind the workspace port.
ALLOWED_WRITES: dict[tuple[str, str], str] = {}


def _receiver_is_self(call: ast.Call) -> bool:
    func = call.func
    return isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self"


def _write_mode(call: ast.Call, position: int) -> bool:
    """Whether an open() call's mode (positional `position` or mode=) writes; no mode reads."""
    mode = call.args[position] if len(call.args) > position else None
    mode = next((k.value for k in call.keywords if k.arg == "mode"), mode)
    if mode is None:
        return False
    return not (isinstance(mode, ast.Constant) and isinstance(mode.value, str) and not WRITE_MODE.search(mode.value))


def file_writes(source: str) -> list[tuple[int, str]]:
    """(line, call) for every call in `source` that writes to the file system."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "open" and _write_mode(node, 1):
            found.append((node.lineno, "open"))
        elif isinstance(func, ast.Attribute):
            owner = func.value.id if isinstance(func.value, ast.Name) else None
            if owner in WRITING_FUNCTIONS and func.attr in WRITING_FUNCTIONS[owner]:
                found.append((node.lineno, f"{owner}.{func.attr}"))
            elif func.attr in WRITING_METHODS and not _receiver_is_self(node):
                found.append((node.lineno, f".{func.attr}"))
            elif func.attr == "open" and owner not in WRITING_FUNCTIONS and _write_mode(node, 0):
                found.append((node.lineno, ".open"))
    return found


def _core_files() -> list[Path]:
    out: list[Path] = []
    for entry in PURE_CORE:
        path = ROOT / entry
        out += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return out


def test_the_pure_core_calls_nothing_that_writes_a_file():
    files = _core_files()
    assert len(files) > 40, "the list of pure-core modules lost its directories"
    found = []
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        for line, call in file_writes(path.read_text(encoding="utf-8")):
            if (rel, call) not in ALLOWED_WRITES:
                found.append(f"{rel}:{line}: {call}(...)")
    assert not found, "file writes belong behind a port (engine/ports.py) or in runners/: " + "; ".join(found)


def test_the_write_finder_finds_each_kind_of_write():
    """The check above can fail: every form it looks for is found, and reads are not."""
    source = """
import os, shutil
from pathlib import Path
p = Path("x")
p.write_text("a"); p.write_bytes(b"a"); p.unlink(); p.mkdir(); p.rename("y")
os.replace("a", "b"); os.remove("a"); shutil.rmtree("d")
open("f", "w"); open("f", mode="ab"); p.open("w")
open("f"); open("f", "rb"); p.open(); p.read_text(); "a".replace("a", "b"); self.rename({}, [], {})
"""
    calls = sorted(call for _, call in file_writes(source))  # ast.walk goes breadth first: compare as sets
    expected = [".mkdir", ".open", ".rename", ".unlink", ".write_bytes", ".write_text"]
    expected += ["open", "open", "os.remove", "os.replace", "shutil.rmtree"]
    assert calls == sorted(expected), calls
