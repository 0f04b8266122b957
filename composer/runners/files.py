"""Writing a render tree to a directory.

The tree is written to a temporary sibling directory first and swapped in, so a
reader never sees half a tree and a failed render leaves the old one untouched.
A directory that holds something other than an earlier render is never overwritten.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Mapping

from composer.diagnostics import Diagnostic, DiagnosticError
from composer.render import MARKER


def write_tree(files: Mapping[str, bytes], directory: Path) -> None:
    directory = directory.absolute()
    if directory.exists():
        if not directory.is_dir():
            raise DiagnosticError([Diagnostic(f"{directory} exists and is not a directory")])
        if any(directory.iterdir()) and not (directory / MARKER).exists():
            raise DiagnosticError(
                [Diagnostic(f"{directory} is not empty and holds no earlier render", "choose an empty or new directory; appc only replaces its own output")]
            )
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        made: set[Path] = {tmp}
        for rel, data in files.items():
            target = tmp / rel
            if target.parent not in made:  # one mkdir per directory, not per file
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            target.write_bytes(data)
        old = None
        if directory.exists():
            old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
            directory.rename(old)
        tmp.rename(directory)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
