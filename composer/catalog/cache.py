"""Which module package a Terraform unit renders from: through composer.lock and the cache.

- A remote source (git, registry) renders only from the content-addressed module cache
  (`$COMPOSER_MODULE_CACHE`, default `~/.cache/appc/modules/<sha256>/`), and only when
  composer.lock records it; the cached tree is re-hashed on every read.
- A local module of a platform definition is read where it lies; once composer.lock records
  it, its digest must match (a vendored module edited after locking is refused).
  `--locked` makes a lock entry mandatory for local modules too.
- Modules that ship with Composer's provider plugins are versioned with appc itself.

Every refusal is exit 1 naming the module and, for a mismatch, both digests.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from composer.catalog.lock import Lock, LockedModule, read_lock
from composer.catalog.modules import ModuleSource, read_package
from composer.catalog.sources import ModuleAddress
from composer.diagnostics import Diagnostic, DiagnosticError

CACHE_ENV = "COMPOSER_MODULE_CACHE"
OFFLINE_HINT = "run `appc lock` on a machine that can reach the source: it fetches every locked module into the module cache, which can then be copied here (COMPOSER_MODULE_CACHE)"


def module_cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "appc" / "modules"


def lock_source(address: ModuleAddress, path: Path | None, project_root: Path) -> str:
    """How composer.lock names a source: remote as written, local relative to the project."""
    if not address.remote and path is not None:
        return Path(os.path.relpath(path, project_root)).as_posix()
    return address.source


def lock_version(address: ModuleAddress, version: str | None) -> str | None:
    return address.ref if address.kind == "git" else version


def ships_with_appc(origin: str) -> bool:
    return origin == "builtin" or origin.startswith("provider:")


@dataclass(frozen=True)
class ModuleRequest:
    """One module a unit calls: what the definition (or app) wrote, and where it was found."""

    address: ModuleAddress
    version: str | None
    path: Path | None  # local modules
    base: Path | None  # what a local package may span
    name: str
    origin: str  # the definition file, builtin, or provider:<name>


@dataclass
class ModuleResolver:
    project_root: Path
    lock: Lock | None
    cache: Path
    locked: bool = False  # --locked / CI: every module must be in the lock

    def source_key(self, req: ModuleRequest) -> tuple[str, str | None]:
        return lock_source(req.address, req.path, self.project_root), lock_version(req.address, req.version)

    def module(self, req: ModuleRequest) -> ModuleSource:
        if not req.address.remote:
            assert req.path is not None
            module = read_package(req.path, req.name, req.base or req.path.parent)
            if ships_with_appc(req.origin):
                return module
            entry = self._entry(req, required=self.locked)
            if entry is not None and entry.hex != module.digest:
                raise self._mismatch(
                    req,
                    entry,
                    module.digest,
                    f"the module files at {req.path} changed since `appc lock`; review the change, then run `appc lock` to record it",
                )
            return module
        entry = self._entry(req, required=True)
        assert entry is not None
        root = self.cache / entry.hex
        if not root.is_dir():
            raise DiagnosticError(
                [
                    Diagnostic(
                        f"module {req.address.source} is locked but not in the module cache",
                        f"expected {root}; {OFFLINE_HINT}",
                    )
                ]
            )
        module = read_package(root / entry.entry if entry.entry else root, req.name, root)
        if module.digest != entry.hex:
            raise self._mismatch(
                req,
                entry,
                module.digest,
                f"the cached copy at {root} was modified; delete it and run `appc lock` to fetch it again",
            )
        return module

    def _entry(self, req: ModuleRequest, required: bool) -> LockedModule | None:
        source, version = self.source_key(req)
        entry = self.lock.module(source, version) if self.lock else None
        if entry is None and required:
            what = f"{source}" + (f" ({version})" if version else "")
            why = "composer.lock does not record it" if self.lock else "there is no composer.lock"
            raise DiagnosticError(
                [
                    Diagnostic(
                        f"module {what} of {req.origin} is not locked",
                        f"{why}; run `appc lock` to fetch and record it"
                        + (" (--locked refuses to change the lock)" if self.locked else ""),
                    )
                ]
            )
        return entry

    def _mismatch(self, req: ModuleRequest, entry: LockedModule, actual: str, detail: str) -> DiagnosticError:
        source, _ = self.source_key(req)
        return DiagnosticError(
            [
                Diagnostic(
                    f"module {source} does not match composer.lock: locked sha256:{entry.hex}, found sha256:{actual}",
                    detail,
                )
            ]
        )


def locked_module_near(start: Path, address: ModuleAddress, version: str | None, name: str) -> ModuleSource | None:
    """A remote module of a definition file, from the composer.lock of the project holding it
    (searched upward from the definition's directory) and the cache; None when not locked."""
    for directory in [start, *list(start.absolute().parents)[:4]]:
        lock = read_lock(directory / "composer.lock")
        if lock is None:
            continue
        req = ModuleRequest(address, version, None, None, name, str(start))
        try:
            return ModuleResolver(directory, lock, module_cache_dir()).module(req)
        except DiagnosticError:
            return None
    return None
