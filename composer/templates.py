"""Sandboxed templates for platform definitions.

Definitions carry Jinja expressions (module inputs, manifest templates, trait
patches). They run in an immutable sandbox with strict undefined names: no attribute
escapes (`__class__`, `mro`), no mutation of the context, no I/O, and bounded work:
every evaluation has a budget (composer/template_budget.py: operations and the size of
what they produce, CPU time, macro depth, loop iterations, the size of any one value,
including a whole expression's result), range size, output size (checked while
streaming), repetition, powers and widths (docs/definitions.md lists the limits).
A string that is exactly one `{{ expression }}` keeps the expression's type, so
`"{{ parameters.replicas }}"` gives a number and `"{{ tags }}"` gives a mapping.

This module is what the rest of Composer calls. The sandbox itself (Jinja and its guards)
is composer/template_sandbox.py, loaded with the first template that holds an expression:
a model whose definitions evaluate no template never imports Jinja (issue 13: the appc
process's start).
"""

from __future__ import annotations

import re
from typing import Any

from composer import template_budget as budget
from composer.diagnostics import MessageError
from composer.template_budget import MAX_LOOP_ITERATIONS, MAX_VALUE  # noqa: F401 (documented limits)

_WHOLE = re.compile(r"^\{\{(.*)\}\}$", re.S)


class TemplateFailure(MessageError):
    """A template could not be evaluated; the message says why, without values. `line` is
    the line inside the template, `path` where the template sits inside an evaluated value."""

    def __init__(self, message: str, line: int | None = None, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(message, path)
        self.line = line
        self.path = path

    def at(self, key: str | int) -> TemplateFailure:
        return TemplateFailure(str(self), self.line, (key, *self.path))

    @property
    def where(self) -> str:
        """' (line N of the template)', or nothing for a one-line template."""
        return f" (line {self.line} of the template)" if self.line and self.line > 1 else ""


def render_text(source: str, context: dict[str, Any]) -> str:
    """A text template, rendered; its output is bounded (MAX_OUTPUT characters)."""
    from composer.template_sandbox import render_text as render

    return render(source, context)


def check_syntax(source: str) -> str | None:
    """None if the template parses, else the syntax error (for `appc def validate`)."""
    from composer.template_sandbox import check_syntax as check

    return check(source)


def evaluate(value: Any, context: dict[str, Any]) -> Any:
    """Evaluate templates inside a value (recursively), all of them on one budget.
    Non-string leaves pass through."""
    with budget.evaluation():
        return _evaluate(value, context)


def _evaluate(value: Any, context: dict[str, Any]) -> Any:
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            return value
        m = _WHOLE.match(value.strip())
        if m and "{{" not in m.group(1) and "}}" not in m.group(1):
            from composer.template_sandbox import evaluate_expression

            return evaluate_expression(m.group(1).strip(), context)
        return render_text(value, context)
    try:
        if isinstance(value, dict):
            return {k: _at(k, v, context) for k, v in value.items()}
        if isinstance(value, list):
            return [_at(i, v, context) for i, v in enumerate(value)]
    except RecursionError:
        raise TemplateFailure("the value is nested too deeply") from None
    return value


def _at(key: str | int, value: Any, context: dict[str, Any]) -> Any:
    try:
        return _evaluate(value, context)
    except TemplateFailure as exc:
        raise exc.at(key) from None


def plain_result(value: Any) -> Any:
    """Template results become plain JSON-able values (no sandbox proxies, no callables)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dict):
        return {str(k): plain_result(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_result(v) for v in value]
    raise TemplateFailure(
        f"expression gives a {type(value).__name__}, expected text, a number, a boolean, a list or a mapping"
    )
