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

    def lines(self, lines: Iterable[Any]) -> None:
        """Renderables for people (rich Text: foreign text is never read as markup)."""
        if not self.json:
            for line in lines:
                self.out.print(line, highlight=False, emoji=False)

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


class RunView:
    """Progress of plan/apply/destroy: a live table on a terminal, a line per event otherwise."""

    def __init__(self, view: View, units: list[tuple[str, str]], title: str):
        self.view = view
        self.rows = {name: {"kind": kind, "status": "pending", "started": None, "time": "", "activity": ""} for name, kind in units}
        self.title = title
        self.live = None
        self.lock = __import__("threading").Lock()
        if not view.json and view.out.is_terminal:
            from rich.live import Live

            self.live = Live(self._table(), console=view.out, refresh_per_second=8, transient=False)

    def __enter__(self) -> "RunView":
        if self.live:
            self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.live:
            self.live.update(self._table())
            self.live.__exit__(*exc)

    def _table(self):
        t = Table(title=self.title, show_edge=False, header_style="bold")
        for c in ("unit", "kind", "status", "time", "activity"):
            t.add_column(c)
        colors = {"applied": "green", "destroyed": "green", "pruned": "green", "unchanged": "dim", "planned": "cyan", "failed": "red", "blocked": "yellow", "running": "blue"}
        for name, r in self.rows.items():
            elapsed = r["time"] or (f"{time.monotonic() - r['started']:.0f}s" if r["started"] else "")
            st = r["status"]
            t.add_row(name, r["kind"], f"[{colors.get(st, 'white')}]{st}[/]", elapsed, _esc(r["activity"])[:70])
        return t

    def __call__(self, type_: str, **fields: Any) -> None:
        self.view.event(type_, **fields)
        with self.lock:
            unit = fields.get("unit")
            row = self.rows.setdefault(unit, {"kind": fields.get("kind", ""), "status": "pending", "started": None, "time": "", "activity": ""}) if unit else None
            if type_ == "unit_start" and row is not None:
                row["status"], row["started"] = "running", time.monotonic()
                row["activity"] = fields.get("action", "")
                self._line(f"  {unit}: {fields.get('action') or 'starting'}")
            elif type_ == "terraform" and row is not None:
                if fields.get("kind") in ("apply_start", "apply_complete", "apply_errored", "apply_progress"):
                    row["activity"] = f"{fields.get('resource') or ''} {fields.get('kind', '').replace('apply_', '')}".strip()
                    if fields.get("kind") != "apply_progress":
                        self._line(f"  {unit}: {row['activity']}")
            elif type_ == "unit" and row is not None:
                row["status"] = fields["status"]
                row["time"] = f"{fields.get('duration_s', 0):.1f}s" if fields.get("duration_s") else ""
                ch = fields.get("changes")
                row["activity"] = f"+{ch['add']} ~{ch['change']} -{ch['remove']}" if ch else (fields.get("action") or "")
                if fields.get("k8s_writes"):
                    row["activity"] += f" {fields['k8s_writes']} k8s writes"
                self._line(f"  {unit}: {fields['status']} {row['activity']} {row['time']}".rstrip())
                for d in fields.get("diagnostics") or []:
                    self._line(f"    {d['summary']}" + (f"\n      {d['detail']}" if d.get("detail") else ""), err=True)
            if self.live:
                self.live.update(self._table())

    def _line(self, text: str, err: bool = False) -> None:
        if self.view.json or self.live and not err:
            return
        (self.view.err if err else self.view.out).print(_esc(text))
