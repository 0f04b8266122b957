"""The state store that records provenance: every unit an apply writes is stamped with where it
came from (a bundle's digest and signer, else the git commit of the source tree). Kept apart from
composer/runners/bundle_install.py so that every apply does not import the bundle verifier and
its cryptography (issue 13: the appc process's start)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from composer.state.model import InstalledFrom, StateDoc, now
from composer.state.protocol import StateStore

if TYPE_CHECKING:
    from composer.project import Compiled


class RecordingStore:
    """A state store that stamps `installed` on every unit a write changes (composer/state/model.py).
    The provenance is computed at the first write (a plan never pays for `git`)."""

    def __init__(self, inner: StateStore, provenance: Callable[[], InstalledFrom | None]) -> None:
        self._inner = inner
        self._provenance = provenance
        self._known: InstalledFrom | None = None
        self._asked = False
        self._last: StateDoc | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def read(self) -> StateDoc | None:
        self._last = self._inner.read()
        return self._last

    def _stamp(self) -> InstalledFrom | None:
        if not self._asked:
            self._known, self._asked = self._provenance(), True
        return self._known

    def write(self, doc: StateDoc) -> StateDoc:
        before = self._last.units if self._last else {}
        units = dict(doc.units)
        for name, unit in doc.units.items():
            changed = unit.status == "applied" and before.get(name) != unit and unit.installed is None
            stamp = self._stamp() if changed else None
            if stamp is not None:
                units[name] = unit.model_copy(update={"installed": stamp.model_copy(update={"at": now()})})
        self._last = self._inner.write(doc.model_copy(update={"units": units}))
        return self._last


def source_provenance(root: Path) -> InstalledFrom | None:
    """An apply from a git work tree: its remote and commit (`+dirty` with uncommitted changes)."""
    uri, commit, dirty = source_of(root)
    if not commit:
        return None
    source = f"git+{uri or root.as_posix()}@{commit}{'+dirty' if dirty else ''}"
    return InstalledFrom(bundle_digest=None, source=source[:2048], signer=None, at=None)


# A work tree's own config may name a command git runs while it looks (core.fsmonitor, during
# `status`): off. `--no-optional-locks`: looking never rewrites the index.
_GIT_OPTIONS = ("-c", "core.fsmonitor=false", "--no-optional-locks")


def source_of(root: Path) -> tuple[str | None, str | None, bool]:
    """(remote URL, commit, dirty) of the git work tree holding `root`, if git and one exist."""
    git = shutil.which("git")
    if git is None:
        return None, None, False

    def run(*args: str) -> str | None:
        try:
            proc = subprocess.run(
                [git, *_GIT_OPTIONS, "-C", str(root), *args],
                capture_output=True,
                text=True,
                timeout=30,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return proc.stdout.strip() if proc.returncode == 0 else None

    commit = run("rev-parse", "HEAD")
    if not commit:
        return None, None, False
    dirty = bool(run("status", "--porcelain", "--", "."))
    return run("remote", "get-url", "origin"), commit, dirty


def recording(store: StateStore, compiled: Compiled) -> StateStore:
    """`store`, recording where each applied unit came from: the bundle, else the source commit."""
    bundled = compiled.provenance
    return RecordingStore(store, (lambda: bundled) if bundled else (lambda: source_provenance(compiled.project.root)))
