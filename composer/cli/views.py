"""Views: how results reach people (rich text on stderr/stdout) and machines (--json lines).

With --json every line on stdout is one JSON event; the last is a `summary`.
Diagnostics go to stderr as text for people, and as `diagnostic` events for machines.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Iterable

from rich.console import Console
from rich.table import Table

from composer.diagnostics import Diagnostic, Severity

SUMMARY_KEYS = ("units_changed", "units_skipped", "terraform_runs", "k8s_writes")


class View:
    def __init__(self, json_mode: bool, command: str) -> None:
        self.json = json_mode
        self.command = command
        self.started = time.monotonic()
        self.out = Console(file=sys.stdout, highlight=False, soft_wrap=True)
        self.err = Console(file=sys.stderr, highlight=False, soft_wrap=True)

    # machine events --------------------------------------------------------------
    def event(self, type_: str, **fields: Any) -> None:
        if self.json:
            sys.stdout.write(json.dumps({"type": type_, **fields}, sort_keys=False, default=str) + "\n")
            sys.stdout.flush()

    def summary(self, ok: bool, exit_code: int, **fields: Any) -> None:
        if self.json:
            base = {k: 0 for k in SUMMARY_KEYS}
            base.update(fields)
            self.event("summary", command=self.command, ok=ok, exit_code=exit_code, **base, duration_s=round(time.monotonic() - self.started, 3))

    # people -----------------------------------------------------------------------
    def diagnostics(self, diags: Iterable[Diagnostic]) -> None:
        diags = list(diags)
        for d in diags:
            if self.json:
                self.event("diagnostic", **d.to_json())
            else:
                style = "red" if d.severity is Severity.ERROR else "yellow"
                head, _, rest = d.text().partition("\n")
                self.err.print(f"[{style}]{_esc(head)}[/{style}]" + ("\n" + _esc(rest) if rest else ""))
        if not self.json:
            n = sum(d.severity is Severity.ERROR for d in diags)
            if n > 1:
                self.err.print(f"[red]{n} errors[/red]")

    def info(self, text: str) -> None:
        if not self.json:
            self.out.print(text)

    def text(self, text: str) -> None:
        """Raw output (a graph, a schema) that belongs on stdout in both modes."""
        sys.stdout.write(text if text.endswith("\n") else text + "\n")

    def table(self, title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
        if self.json:
            return
        t = Table(title=title, show_edge=False, header_style="bold")
        for c in columns:
            t.add_column(c)
        for r in rows:
            t.add_row(*[_esc(str(x)) for x in r])
        self.out.print(t)


def _esc(text: str) -> str:
    return text.replace("[", "\\[")
