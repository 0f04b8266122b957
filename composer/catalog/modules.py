"""Module packages: the files a module's call tree needs, identified by content hash.

A module may call sibling and nested local modules (`source = "../core"`,
`"./modules/x"`). The package is every directory of that call tree, copied with
their paths relative to the deepest directory holding them all, so the calls still
resolve inside the render tree. Only files Terraform may load count: docs
(`*.md`, LICENSE, …), `examples/`, `test(s)/` and hidden files do not, so a README edit
never makes a unit look changed, and the digest is the one `composer.lock` records.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from composer.catalog.hcl import ModuleInterface, interface
from composer.diagnostics import Diagnostic, DiagnosticError

MAX_MODULE_BYTES = 8 * 1024 * 1024
MAX_CALL_DEPTH = 16
SKIPPED_DIRS = frozenset({"examples", "example", "test", "tests", "docs", "doc"})
SKIPPED_SUFFIXES = (".md", ".markdown", ".rst", ".adoc", ".txt")
SKIPPED_NAMES = frozenset({"LICENSE", "LICENCE", "NOTICE", "CHANGELOG", "AUTHORS", "CODEOWNERS", "Makefile"})
TF_SUFFIXES = (".tf", ".tf.json")
_MODULE_BLOCK = re.compile(rb'(?m)^\s*module\s*"|"module"\s*:')


@dataclass(frozen=True)
class ModuleSource:
    """A Terraform module package's files, read once, identified by content hash.
    `entry` is the module inside the package that a root calls ("" for its top)."""

    name: str
    files: tuple[tuple[str, bytes], ...]
    digest: str
    entry: str = ""

    @property
    def dirname(self) -> str:
        return f"{self.name}-{self.digest[:12]}"

    @property
    def call_path(self) -> str:
        return self.dirname + (f"/{self.entry}" if self.entry else "")

    def module_files(self, sub: str | None = None) -> list[tuple[str, bytes]]:
        """The Terraform files of one module directory of the package (default: the entry)."""
        sub = self.entry if sub is None else sub
        prefix = f"{sub}/" if sub else ""
        return [
            (rel, data)
            for rel, data in self.files
            if rel.startswith(prefix) and "/" not in rel[len(prefix) :] and rel.endswith(TF_SUFFIXES)
        ]


_interfaces: dict[tuple[str, str], ModuleInterface] = {}


def module_interface(module: ModuleSource) -> ModuleInterface:
    """The entry module's interface (parsed once per process and digest)."""
    key = (module.digest, module.entry)
    if key not in _interfaces:
        _interfaces[key] = interface(module.module_files())
    return _interfaces[key]


_constraints: dict[str, dict[str, tuple[str, ...]]] = {}


def provider_constraints(module: ModuleSource) -> dict[str, tuple[str, ...]]:
    """Version constraints of every provider the package's modules require, merged
    (Terraform intersects them; the root must not contradict them)."""
    if module.digest not in _constraints:
        merged: dict[str, list[str]] = {}
        dirs = sorted({rel.rpartition("/")[0] for rel, _ in module.files if rel.endswith(TF_SUFFIXES)})
        for sub in dirs:
            declaring = [(rel, data) for rel, data in module.module_files(sub) if b"required_providers" in data]
            for local, found in interface(declaring).provider_constraints.items():
                merged.setdefault(local, []).extend(c for c in found if c not in merged.get(local, []))
        _constraints[module.digest] = {k: tuple(v) for k, v in sorted(merged.items())}
    return _constraints[module.digest]


def digest_files(files: list[tuple[str, bytes]], entry: str = "") -> str:
    h = hashlib.sha256()
    for rel, data in sorted(files):
        h.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
    if entry:
        h.update(b"entry\0" + entry.encode())
    return h.hexdigest()


def _loaded(rel: Path) -> bool:
    if any(part.startswith(".") for part in rel.parts) or any(part in SKIPPED_DIRS for part in rel.parts[:-1]):
        return False
    return not (rel.name.endswith(SKIPPED_SUFFIXES) or rel.name.split(".")[0] in SKIPPED_NAMES)


def _walk(directory: Path) -> list[Path]:
    """Regular files under `directory` that Terraform may load; symlinks are never followed."""
    out = []
    for top, dirs, names in os.walk(directory, followlinks=False):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and d not in SKIPPED_DIRS and not os.path.islink(os.path.join(top, d))
        )
        for n in sorted(names):
            p = Path(top, n)
            if not p.is_symlink() and p.is_file() and _loaded(p.relative_to(directory)):
                out.append(p)
    return out


def _direct_tf(directory: Path) -> list[tuple[str, bytes]]:
    return [
        (p.name, p.read_bytes())
        for p in sorted(directory.iterdir())
        if p.name.endswith(TF_SUFFIXES) and p.is_file() and not p.is_symlink()
    ]


def call_tree(entry: Path, boundary: Path) -> list[Path]:
    """Every directory the entry module's local calls reach, the entry first. Calls must
    stay inside `boundary` (the definition's directory, or the fetched package)."""
    boundary = Path(os.path.normpath(boundary.absolute()))
    seen = [Path(os.path.normpath(entry.absolute()))]
    queue = [(seen[0], 0)]
    while queue:
        directory, depth = queue.pop(0)
        # Only files that may hold a module block are parsed (HCL parsing is the slow part).
        iface = interface([(str(directory / n), d) for n, d in _direct_tf(directory) if _MODULE_BLOCK.search(d)])
        for call in iface.calls:
            if not call.startswith(("./", "../")):
                raise DiagnosticError(
                    [
                        Diagnostic(
                            f"module {directory} calls the remote module {call!r}",
                            "a module package may call local modules only (Terraform would fetch this one at every init, bypassing composer.lock); "
                            "make it a definition of its own, or vendor it next to the module",
                        )
                    ]
                )
            target = Path(os.path.normpath(directory / call))
            if target != boundary and boundary not in target.parents:
                raise DiagnosticError(
                    [
                        Diagnostic(
                            f"module {directory} calls {call!r}, which leaves {boundary}",
                            "a module may call modules inside its package (definition directory or fetched source) only",
                        )
                    ]
                )
            if not target.is_dir() or target.is_symlink():
                raise DiagnosticError(
                    [Diagnostic(f"module {directory} calls {call!r}, which is not a directory", f"expected {target}")]
                )
            if target not in seen:
                if depth + 1 > MAX_CALL_DEPTH:
                    raise DiagnosticError(
                        [Diagnostic(f"module calls nest deeper than {MAX_CALL_DEPTH} levels", str(directory))]
                    )
                seen.append(target)
                queue.append((target, depth + 1))
    return seen


def read_package(entry: Path, name: str, boundary: Path | None = None) -> ModuleSource:
    """Read the package the module at `entry` needs (I/O): its call tree's files."""
    if not entry.is_dir():
        raise DiagnosticError([Diagnostic(f"module directory not found: {entry}")])
    dirs = call_tree(entry, boundary or entry.parent)
    root = Path(os.path.commonpath([str(d) for d in dirs]))
    files: dict[str, bytes] = {}
    total = 0
    for directory in dirs:
        for p in _walk(directory):
            rel = p.relative_to(root).as_posix()
            if rel in files:
                continue
            data = p.read_bytes()
            total += len(data)
            if total > MAX_MODULE_BYTES:
                raise DiagnosticError(
                    [
                        Diagnostic(
                            f"module {entry} is larger than {MAX_MODULE_BYTES // 1048576} MiB (Terraform files only)"
                        )
                    ]
                )
            files[rel] = data
    sub = Path(os.path.normpath(entry.absolute())).relative_to(root).as_posix()
    sub = "" if sub == "." else sub
    listed = sorted(files.items())
    return ModuleSource(name, tuple(listed), digest_files(listed, sub), sub)


def read_module(path: Path, name: str) -> ModuleSource:
    """A module directory and the local modules it calls (sibling calls may reach its parent)."""
    return read_package(path, name, path.parent)
