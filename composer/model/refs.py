"""Typed references to other components' outputs: `${db.url}`.

A reference is parsed once into an `OutputRef`: the graph (composer/graph.py) splits every
text holding one into literal and reference parts, and types each reference (secret or not)
against its target's contract. Renderers read those parts to decide how each reaches its
target (a secretKeyRef, a Terraform variable), never by formatting or re-parsing a string.
`malformed` is the syntax check resolve runs first; `REF` also serves render's final guard. `str()` of
an `OutputRef` raises: the value is not known until apply.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from composer.diagnostics import FieldPath

# ${component.key}; `$${` escapes a literal "${".
REF = re.compile(r"(?<!\$)\$\{([a-z][-a-z0-9]*)\.([a-z_][a-z0-9_]*)\}")
# Looks like a reference (a dotted pair) but is not one, e.g. ${DB.url} or ${db.url-x}.
LOOSE_REF = re.compile(r"(?<!\$)\$\{([A-Za-z0-9_-]+\.[^}]*)\}")


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


def split(text: str, unescape: bool = True) -> tuple[Part, ...]:
    """Split text into literal strings and references. `$${` unescapes to `${` unless told not to."""
    parts: list[Part] = []
    pos = 0
    for m in REF.finditer(text):
        if m.start() > pos:
            parts.append(text[pos : m.start()])
        parts.append(OutputRef(m.group(1), m.group(2)))
        pos = m.end()
    if pos < len(text):
        parts.append(text[pos:])
    if not unescape:
        return tuple(parts)
    return tuple(p.replace("$${", "${") if isinstance(p, str) else p for p in parts)


def unescaped_copy(value: Any, dollars: list[str]) -> Any:
    """A copy of the dicts and lists of `value` with `$${` -> `${` in every string (after the
    unresolved-reference guard), listing in `dollars` each string holding `${`: those `dollar_texts`
    finds (tuples are searched, not copied). Render's guard and unescaping of 1,000 manifests in
    one walk; a text without `${` is taken as it is, without a call."""
    if isinstance(value, str):
        if "${" in value:
            dollars.append(value)
            return value.replace("$${", "${")
        return value
    if isinstance(value, dict):
        return {k: v if v.__class__ is str and "${" not in v else unescaped_copy(v, dollars) for k, v in value.items()}
    if isinstance(value, list):
        return [v if v.__class__ is str and "${" not in v else unescaped_copy(v, dollars) for v in value]
    if isinstance(value, tuple):
        dollars += [text for _, text in dollar_texts(value)]
    return value


def malformed(text: str) -> list[str]:
    """`${a.b}` spans that look like references but are not `${component.key}`.

    `${HOME}` (no dot) is left alone: shell text in cmd is common and harmless."""
    if "${" not in text:
        return []
    bad = []
    for m in LOOSE_REF.finditer(text):
        if not REF.fullmatch(m.group(0)):
            bad.append(m.group(0))
    return bad


def dollar_texts(value: Any, path: FieldPath = ()) -> list[tuple[FieldPath, str]]:
    """`walk_strings`, only the strings holding `${` (a reference, a malformed one, or `$${`): what
    resolve, the graph and render's guard look at. A list built by plain recursion, without a
    generator per level: 1,000 manifests hold ~30,000 strings and few or none of them hold `${`."""
    found: list[tuple[FieldPath, str]] = []
    _collect_dollar_texts(value, path, found)
    return found


def _collect_dollar_texts(value: Any, path: FieldPath, found: list[tuple[FieldPath, str]]) -> None:
    kind = value.__class__  # exact classes first: the usual values, without isinstance calls
    if kind is dict:
        items: Any = value.items()
    elif kind is list:
        items = enumerate(value)
    elif isinstance(value, str):
        if "${" in value:
            found.append((path, value))
        return
    elif isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return
    for k, v in items:
        kind = v.__class__
        if kind is str:
            if "${" in v:
                found.append((path + (k,), v))
        elif kind is dict or kind is list or isinstance(v, (dict, list, tuple)):
            _collect_dollar_texts(v, path + (k,), found)
        elif isinstance(v, str) and "${" in v:
            found.append((path + (k,), v))


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
