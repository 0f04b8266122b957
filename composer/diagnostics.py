"""Diagnostics: the one error type every layer reports through.

A `Diagnostic` names what is wrong (summary), why and what to do (detail), and where:
the file, line and column, and the field path inside the document. Stages collect
diagnostics and fail once with `DiagnosticError`, so a user sees every problem of a
file in one run. Views render them as text for people and as JSON for machines.
A diagnostic never carries a secret value: callers pass names, never values. Values read
from the process environment (`${env:NAME}` in an environment file) cannot be told apart
from other text by the code that reports them (a region, a bucket name), so they are
registered in `REDACTIONS`, and a diagnostic's text and JSON say `${env:NAME}` instead.
"""

from __future__ import annotations

import enum
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

FieldPath = tuple[str | int, ...]


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


def format_path(path: Sequence[str | int]) -> str:
    """Render a field path the way users write it: spec.components[2].traits[0].type."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class Redactions:
    """Values that must never appear in a message, each with the words to say instead.
    A value matches as a whole word (not inside a longer run of letters and digits); values
    shorter than MIN_LENGTH characters are not registered (they would garble every message)."""

    MIN_LENGTH = 4

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, value: str, instead: str) -> None:
        if len(value) < self.MIN_LENGTH or self._names.get(value) == instead:
            return
        with self._lock:
            self._names[value] = instead
            alternatives = "|".join(re.escape(v) for v in sorted(self._names, key=len, reverse=True))
            self._pattern = re.compile(f"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])")

    def apply(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(lambda m: self._names.get(m.group(0), m.group(0)), text)

    def clear(self) -> None:
        with self._lock:
            self._names.clear()
            self._pattern = None


REDACTIONS = Redactions()  # process-wide: the CLI clears it when a command starts


@dataclass(frozen=True)
class Diagnostic:
    summary: str
    detail: str = ""
    severity: Severity = Severity.ERROR
    file: str | None = None
    line: int | None = None
    column: int | None = None
    path: FieldPath = ()
    address: str | None = None  # component or unit the problem belongs to, e.g. "db"

    @property
    def location(self) -> str:
        if not self.file:
            return ""
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}:{self.column or 1}"

    def text(self) -> str:
        head = f"{self.severity.value}: "
        where = self.location
        if where:
            head += f"{where}: "
        if self.path:
            head += f"{format_path(self.path)}: "
        head += self.summary
        if self.detail:
            head += "\n  " + self.detail.replace("\n", "\n  ")
        return REDACTIONS.apply(head)

    def to_json(self) -> dict[str, Any]:
        return {
            "severity": self.severity.value,
            "summary": REDACTIONS.apply(self.summary),
            "detail": REDACTIONS.apply(self.detail),
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": format_path(self.path) if self.path else None,
            "address": self.address,
        }


@dataclass
class DiagnosticError(Exception):
    """Raised by a stage that found errors; carries all of them."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return "\n".join(d.text() for d in self.diagnostics)


class MessageError(DiagnosticError):
    """A `DiagnosticError` of one diagnostic, raised by code that words its failure in one line
    (a held lock, a failed template, an API server's answer). Its str() is that line, as the
    callers that catch it and add the file or unit quote it; uncaught, it still reports as a
    diagnostic (exit 1), never as a bug."""

    def __init__(self, message: str, path: FieldPath = ()) -> None:
        super().__init__([Diagnostic(message, path=path)])

    def __str__(self) -> str:
        return self.diagnostics[0].summary


class Collector:
    """Accumulates diagnostics across a stage; `raise_if_errors` fails once at the end."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def add(self, diagnostic: Diagnostic) -> None:
        self.items.append(diagnostic)

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.items.extend(diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity is Severity.ERROR]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise DiagnosticError(list(self.items))
