"""Source files read as text: the checks made before any YAML is parsed (size limit, a
directory, binary content, UTF-8), each a diagnostic naming the file. Used by source.py.
"""

from __future__ import annotations

from pathlib import Path

from composer.diagnostics import Diagnostic, DiagnosticError

MAX_FILE_BYTES = 4 * 1024 * 1024


def read_text(path: Path) -> str:
    """Read a source file as UTF-8 text, with clear errors for the usual ways it goes wrong."""
    name = str(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DiagnosticError([Diagnostic("file not found", f"no file at {name}", file=name)]) from None
    except OSError as exc:
        raise DiagnosticError([Diagnostic("cannot read file", exc.strerror or str(exc), file=name)]) from None
    if path.is_dir():
        raise DiagnosticError([Diagnostic("expected a file, found a directory", file=name)])
    if size > MAX_FILE_BYTES:
        raise DiagnosticError(
            [
                Diagnostic(
                    "file is too large",
                    f"{size / 1_048_576:.1f} MiB; the limit is {MAX_FILE_BYTES // 1_048_576} MiB for one YAML file "
                    "(split large catalogs into several files)",
                    file=name,
                    line=1,
                    column=1,
                )
            ]
        )
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise DiagnosticError(
            [
                Diagnostic(
                    "file is binary, not YAML text",
                    "it contains NUL bytes",
                    file=name,
                    line=raw[: raw.index(b"\x00")].count(b"\n") + 1,
                    column=1,
                )
            ]
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DiagnosticError(
            [
                Diagnostic(
                    "file is not valid UTF-8 text",
                    f"invalid byte at offset {exc.start}",
                    file=name,
                    line=line,
                    column=1,
                )
            ]
        ) from None
