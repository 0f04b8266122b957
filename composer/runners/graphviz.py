"""Graphviz: turn dot text into SVG with the `dot` program, when it is installed."""

from __future__ import annotations

import shutil
import subprocess

from composer.diagnostics import Diagnostic, DiagnosticError


def to_svg(dot_text: str, timeout: float = 30.0) -> str:
    exe = shutil.which("dot")
    if exe is None:
        raise DiagnosticError(
            [
                Diagnostic(
                    "Graphviz is not installed", "install graphviz (the `dot` program) or use --format mermaid|dot"
                )
            ]
        )
    proc = subprocess.run([exe, "-Tsvg"], input=dot_text, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise DiagnosticError([Diagnostic("Graphviz failed", proc.stderr.strip()[:500])])
    return proc.stdout
