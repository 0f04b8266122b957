"""Writing a render tree to a directory.

The tree is written to a temporary sibling directory first and swapped in, so a
reader never sees half a tree and a failed render leaves the old one untouched.
A directory that holds something other than an earlier render (its `render.json`
marker) is never overwritten, and the old tree is removed only when it carries that
marker. The target itself may not be a symbolic link, and everything below it is
written through composer/safefs.py, so a planted link is refused, never followed.
"""

from __future__ import annotations

import os
import secrets
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from composer import safefs
from composer.diagnostics import Diagnostic, DiagnosticError
from composer.render import MARKER


def _check_target(base: Path, name: str) -> bool:
    """Whether base/name exists; refuses a link, a file, or a directory of someone else's."""
    try:
        st = os.lstat(base / name)
    except FileNotFoundError:
        return False
    directory = base / name
    if stat.S_ISLNK(st.st_mode):
        raise safefs.refusal(
            directory,
            "it is a symbolic link",
            "name the real directory, or a new one; appc only replaces its own output",
        )
    if not stat.S_ISDIR(st.st_mode):
        raise DiagnosticError([Diagnostic(f"{directory} exists and is not a directory")])
    if safefs.list_dir(base, name) and safefs.read_file(base, f"{name}/{MARKER}") is None:
        raise DiagnosticError(
            [
                Diagnostic(
                    f"{directory} is not empty and holds no earlier render",
                    "choose an empty or new directory; appc only replaces its own output",
                )
            ]
        )
    return True


def write_tree(files: Mapping[str, bytes], directory: Path) -> None:
    directory = directory.absolute()
    directory.parent.mkdir(parents=True, exist_ok=True)
    base, name = Path(os.path.realpath(directory.parent)), directory.name
    exists = _check_target(base, name)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=base)).name
    try:
        for rel, data in files.items():
            safefs.write_file(base, f"{tmp}/{rel}", data, dir_mode=0o755, if_changed=False)
        old = f".{name}.old-{secrets.token_hex(6)}" if exists else None
        _swap(base, tmp, name, old)
        if old is not None:
            safefs.remove_owned_tree(base, old, MARKER)
    except BaseException:
        if not safefs.remove_owned_tree(base, tmp, MARKER):
            _remove_partial(base, tmp)
        raise


def _swap(base: Path, new: str, name: str, old: str | None) -> None:
    """Rename name aside to old (if given), then new to name; renames never follow links."""
    with safefs.opened_dir(base) as fd:
        try:
            if old is not None:
                os.rename(name, old, src_dir_fd=fd, dst_dir_fd=fd)
            os.rename(new, name, src_dir_fd=fd, dst_dir_fd=fd)
        except OSError as exc:
            raise DiagnosticError([Diagnostic(f"cannot replace {base / name}: {exc.strerror}")]) from None


def _remove_partial(base: Path, tmp: str) -> None:
    """A temp tree that failed before its marker was written: it is ours (mkdtemp made it)."""
    import shutil

    with safefs.opened_dir(base) as fd:
        try:
            shutil.rmtree(tmp, dir_fd=fd)
        except OSError:
            pass
