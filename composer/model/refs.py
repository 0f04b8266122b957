"""Typed references to other components' outputs: `${db.url}`.

A reference is parsed once into an `OutputRef`. Text that embeds references is split
into `Interpolation` parts, so renderers decide how each part reaches its target
(a secretKeyRef, a Terraform variable) and never by formatting a string. `str()` of
an `OutputRef` raises: the value is not known until apply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator

from composer.diagnostics import FieldPath

# ${component.key}; `$${` escapes a literal "${".
REF = re.compile(r"(?<!\$)\$\{([a-z][-a-z0-9]*)\.([a-z_][a-z0-9_]*)\}")
LOOSE_REF = re.compile(r"(?<!\$)\$\{([^}]*)\}")


@dataclass(frozen=True)
class OutputRef:
    component: str
    key: str
    secret: bool = False  # filled in by the graph once the contract is known

    def __str__(self) -> str:  # pragma: no cover - the guard is the point
        raise TypeError(
            f"${{{self.component}.{self.key}}} is not known until apply; "
            "bind it through the connection Secret instead of formatting it into text"
        )

    @property
    def text(self) -> str:
        return f"${{{self.component}.{self.key}}}"

    @property
    def env_name(self) -> str:
        return env_name(self.component, self.key)


def env_name(component: str, key: str) -> str:
    return f"{component}_{key}".upper().replace("-", "_")


Part = str | OutputRef


def split(text: str) -> tuple[Part, ...]:
    """Split text into literal strings and references. `$${` unescapes to `${`."""
    parts: list[Part] = []
    pos = 0
    for m in REF.finditer(text):
        if m.start() > pos:
            parts.append(text[pos : m.start()])
        parts.append(OutputRef(m.group(1), m.group(2)))
        pos = m.end()
    if pos < len(text):
        parts.append(text[pos:])
    return tuple(p.replace("$${", "${") if isinstance(p, str) else p for p in parts)


def has_refs(text: str) -> bool:
    return "${" in text and REF.search(text) is not None


def malformed(text: str) -> list[str]:
    """`${...}` spans that look like references but are not `${component.key}`."""
    if "${" not in text:
        return []
    bad = []
    for m in LOOSE_REF.finditer(text):
        if not REF.fullmatch(m.group(0)) and not m.group(1).startswith("env:"):
            bad.append(m.group(0))
    return bad


def walk_strings(value: Any, path: FieldPath = ()) -> Iterator[tuple[FieldPath, str]]:
    """Every string inside a nested value, with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from walk_strings(v, path + (k,))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from walk_strings(v, path + (i,))


def find_refs(value: Any, path: FieldPath = ()) -> Iterator[tuple[FieldPath, OutputRef]]:
    for p, s in walk_strings(value, path):
        if "${" in s:
            for m in REF.finditer(s):
                yield p, OutputRef(m.group(1), m.group(2))
