"""Test helpers: run appc in-process through its real entry point, write projects."""

from __future__ import annotations

import gc
import io
import json
import sys
import textwrap
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


def appc(*args: str) -> Result:
    """Run `appc ARGS` in this process via composer.cli.main, capturing output and exit code.

    The command runs as in its own process but for one thing: it freezes nothing for the
    collector (`gc.freeze`, what an `appc` process does to the model it compiled and at its
    end, since it then exits). Frozen here, every command's garbage cycles would stay for the
    life of the test worker (~0.5 MB a command)."""
    from composer.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv, freeze = sys.argv, gc.freeze
    sys.argv = ["appc", *map(str, args)]
    gc.freeze = lambda: None
    code = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv, gc.freeze = argv, freeze
    return Result(code, out.getvalue(), err.getvalue())


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(textwrap.dedent(content).lstrip(), encoding="utf-8")
    return root
