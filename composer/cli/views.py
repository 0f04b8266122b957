"""Views: how results reach people (rich text on stderr/stdout) and machines (--json lines).

With --json every line on stdout is one JSON event; the last is a `summary`.
Diagnostics go to stderr as text for people, and as `diagnostic` events for machines.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from composer.diagnostics import Diagnostic, Severity

if TYPE_CHECKING:
    from rich.console import Console

SUMMARY_KEYS = ("units_changed", "units_skipped", "terraform_runs", "k8s_writes")


def _console(stream) -> Console:
    """emoji=False: text from outside (an ARN's ":secret:") never becomes a glyph. Without a
    terminal (a log, a pipe) there is no width to fit: tables take the width they need. Made on
    first use: a --json run that prints no text for people never imports rich (issue 13)."""
    from rich.console import Console

    console = Console(file=stream, highlight=False, soft_wrap=True, emoji=False)
    if not console.is_terminal:
        console = Console(file=stream, highlight=False, soft_wrap=True, emoji=False, width=1000)
    return console


@dataclass(frozen=True)
class Record:
    """One fact of a listing: its event fields (--json) and its table row (people)."""

    fields: dict[str, Any]
    row: list[Any]


class View:
    """Where a command states its facts; the mode (--json or not) decides how they are rendered."""

    def __init__(self, json_mode: bool, command: str) -> None:
        self.json = json_mode
        self.command = command
        self.started = time.monotonic()

    @cached_property
    def out(self) -> Console:
        return _console(sys.stdout)

    @cached_property
    def err(self) -> Console:
        return _console(sys.stderr)

    # machine events --------------------------------------------------------------
    def event(self, type_: str, **fields: Any) -> None:
        if self.json:
            sys.stdout.write(json.dumps({"type": type_, **fields}, sort_keys=False, default=str) + "\n")
            sys.stdout.flush()

    def summary(self, ok: bool, exit_code: int, **fields: Any) -> None:
        if self.json:
            base = {k: 0 for k in SUMMARY_KEYS}
            base.update(fields)
            self.event(
                "summary",
                command=self.command,
                ok=ok,
                exit_code=exit_code,
                **base,
                duration_s=round(time.monotonic() - self.started, 3),
            )

    # people -----------------------------------------------------------------------
    def diagnostics(self, diags: Iterable[Diagnostic]) -> None:
        diags = list(diags)
        for d in diags:
            if self.json:
                self.event("diagnostic", **d.to_json())
            else:
                from rich.text import Text

                style = "red" if d.severity is Severity.ERROR else "yellow"
                head, _, rest = d.text().partition("\n")
                self.err.print(Text.assemble((head, style), ("\n" + rest) if rest else ""))
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

    # one fact, stated once: an event for machines and text for people ---------------
    def fact(self, type_: str, text: str | None = None, /, **fields: Any) -> None:
        """One fact: a `type_` event with `fields` under --json, the line `text` for people."""
        self.event(type_, **fields)
        if text is not None:
            self.info(text)

    def records(self, type_: str, title: str | None, columns: list[str], records: Iterable[Record]) -> None:
        """Facts of one kind: an event per record under --json, a table with a row per record for people."""
        rows = []
        for record in records:
            self.event(type_, **record.fields)
            rows.append(record.row)
        self.table(title, columns, rows)

    def document(self, type_: str, doc: dict[str, Any], text: str) -> None:
        """A whole document: one event and the summary under --json, `text` (its YAML) for people."""
        if self.json:
            self.event(type_, **doc)
            self.summary(True, 0)
        else:
            self.text(text)

    def table(self, title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
        if self.json:
            return
        from rich.table import Table
        from rich.text import Text

        t = Table(title=title, show_edge=False, header_style="bold")
        for c in columns:
            t.add_column(c, overflow="fold")  # a value is never cut: an ARN must stay whole
        for r in rows:
            t.add_row(*[Text(str(x)) for x in r])  # cells hold foreign text: never markup
        self.out.print(t)


HEARTBEAT_ENV = "COMPOSER_HEARTBEAT_SECONDS"  # how often a log without a terminal hears from a long run
HEARTBEAT_SECONDS = 10.0


def middle_ellipsis(text: str, width: int) -> str:
    """`module.cache.aws_elasticache_cluster.this` in 20 columns: both ends stay readable."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]


class RunView:
    """Progress of plan/apply/destroy. On a terminal: a live table as wide as the terminal (full
    resource addresses when they fit, cut in the middle otherwise). Without one (CI logs): a line
    per unit and resource event, and a heartbeat every HEARTBEAT_SECONDS naming each unit still
    running, the resource it waits on and the time elapsed, so a log never goes silent."""

    def __init__(self, view: View, units: list[tuple[str, str]], title: str, heartbeat: float | None = None):
        self.view = view
        self.rows: dict[str, dict[str, Any]] = {
            name: {"kind": kind, "status": "pending", "started": None, "time": "", "activity": "", "waiting": ""}
            for name, kind in units
        }
        self.title = title
        self.live = None
        self.lock = threading.Lock()
        self.heartbeat = (
            heartbeat if heartbeat is not None else float(os.environ.get(HEARTBEAT_ENV) or HEARTBEAT_SECONDS)
        )
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        if not view.json and view.out.is_terminal:
            from rich.live import Live

            self.live = Live(self._table(), console=view.out, refresh_per_second=8, transient=False)
        elif not view.json and self.heartbeat > 0:
            self._beat = threading.Thread(target=self._beats, name="appc-heartbeat", daemon=True)

    def __enter__(self) -> RunView:
        if self.live:
            self.live.__enter__()
        if self._beat:
            self._beat.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._beat:
            self._beat.join(timeout=2)
        if self.live and self.live.is_started:
            self.live.update(self._table())
            self.live.__exit__(*exc)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Stop redrawing (a question is asked), then go on."""
        if self.live:
            self.live.stop()
        yield  # no restart after an exception (a cancel): the table must not redraw over its message
        if self.live:
            self.live.start()

    def _beats(self) -> None:
        while not self._stop.wait(self.heartbeat):
            now = time.monotonic()
            with self.lock:
                running = [(n, r) for n, r in self.rows.items() if r["status"] == "running" and r["started"]]
                lines = [
                    f"  … {n}: still running ({now - r['started']:.0f}s)"
                    + (f", waiting on {r['waiting']}" if r["waiting"] else "")
                    for n, r in running
                ]
            for line in lines:
                self._line(line)

    def _table(self):
        from rich.table import Table
        from rich.text import Text

        width = self.view.out.width
        t = Table(title=self.title, show_edge=False, header_style="bold", expand=False)
        for c in ("unit", "kind", "status", "time", "activity"):
            t.add_column(c, no_wrap=True, overflow="crop")
        colors = {
            "applied": "green",
            "destroyed": "green",
            "pruned": "green",
            "unchanged": "dim",
            "planned": "cyan",
            "failed": "red",
            "blocked": "yellow",
            "running": "blue",
        }
        # unit, kind ("kubernetes"), status ("unchanged"), time ("108.0s"); 5 columns x 2 padding + 4 rules + 1
        fixed = max((len(n) for n in self.rows), default=4) + 10 + 9 + 6 + 15
        room = max(12, width - fixed)
        for name, r in self.rows.items():
            elapsed = r["time"] or (f"{time.monotonic() - r['started']:.0f}s" if r["started"] else "")
            st = r["status"]
            t.add_row(
                Text(name),
                Text(r["kind"]),
                Text(st, style=colors.get(st, "white")),
                elapsed,
                Text(middle_ellipsis(r["activity"], room)),
            )
        return t

    def __call__(self, type_: str, **fields: Any) -> None:
        self.view.event(type_, **fields)
        with self.lock:
            unit = fields.get("unit")
            row = (
                self.rows.setdefault(
                    unit,
                    {
                        "kind": fields.get("kind", ""),
                        "status": "pending",
                        "started": None,
                        "time": "",
                        "activity": "",
                        "waiting": "",
                    },
                )
                if unit
                else None
            )
            if type_ == "unit_start" and row is not None:
                row["status"], row["started"] = "running", time.monotonic()
                row["activity"] = fields.get("action", "")
                row["waiting"] = (
                    "terraform (init, plan)" if row["kind"] == "terraform" else "the Kubernetes API (writes, rollouts)"
                )
                self._line(f"  {unit}: {fields.get('action') or 'starting'}")
            elif type_ == "terraform" and row is not None:
                kind = fields.get("kind")
                if kind in ("apply_start", "apply_complete", "apply_errored", "apply_progress"):
                    resource = fields.get("resource") or ""
                    row["activity"] = f"{resource} {kind.replace('apply_', '')}".strip()
                    if kind in ("apply_start", "apply_progress"):
                        row["waiting"] = f"{resource} ({fields.get('action') or 'apply'}" + (
                            f", {fields['elapsed_s']}s)" if fields.get("elapsed_s") else ")"
                        )
                    else:
                        row["waiting"] = ""
                    if kind != "apply_progress":
                        self._line(f"  {unit}: {row['activity']}")
            elif type_ == "probe" and row is not None:  # why an unchanged unit runs (composer/engine/probes.py)
                row["activity"] = fields.get("reason", "")
                self._line(f"  {unit}: {row['activity']}")
            elif type_ == "unit" and row is not None:
                row["status"] = fields["status"]
                row["waiting"] = ""
                row["time"] = f"{fields.get('duration_s', 0):.1f}s" if fields.get("duration_s") else ""
                ch = fields.get("changes")
                row["activity"] = (
                    f"+{ch['add']} ~{ch['change']} -{ch['remove']}" if ch else (fields.get("action") or "")
                )
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
        (self.view.err if err else self.view.out).print(text, markup=False, emoji=False, highlight=False)
