"""Sandboxed templates for platform definitions.

Definitions carry Jinja expressions (module inputs, manifest templates, trait
patches). They run in an immutable sandbox with strict undefined names: no attribute
escapes (`__class__`, `mro`), no mutation of the context, no I/O, bounded output.
A string that is exactly one `{{ expression }}` keeps the expression's type, so
`"{{ parameters.replicas }}"` gives a number and `"{{ tags }}"` gives a mapping.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_OUTPUT = 1_000_000

_WHOLE = re.compile(r"^\{\{(.*)\}\}$", re.S)


class TemplateFailure(Exception):
    """A template could not be evaluated; the message says why, without values."""


def _tojson(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _env() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters["tojson"] = _tojson
    env.filters["toyaml"] = lambda v: yaml.safe_dump(v, sort_keys=True, default_flow_style=True).strip()
    env.globals.clear()
    env.globals.update(range=range, dict=dict, min=min, max=max, len=len)
    return env


_ENV = _env()
_cache: dict[str, Any] = {}


def _compile(source: str, expression: bool):
    key = ("e:" if expression else "t:") + source
    hit = _cache.get(key)
    if hit is None:
        hit = _ENV.compile_expression(source, undefined_to_none=False) if expression else _ENV.from_string(source)
        _cache[key] = hit
    return hit


def _explain(exc: Exception) -> str:
    if isinstance(exc, SecurityError):
        return f"blocked by the template sandbox: {exc}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def render_text(source: str, context: dict[str, Any]) -> str:
    try:
        out = _compile(source, False).render(**context)
    except (TemplateError, SecurityError, TypeError, ValueError, ArithmeticError, LookupError, AttributeError, RecursionError) as exc:
        raise TemplateFailure(_explain(exc)) from None
    if len(out) > MAX_OUTPUT:
        raise TemplateFailure(f"template output exceeds {MAX_OUTPUT:,} characters")
    return out


def evaluate(value: Any, context: dict[str, Any]) -> Any:
    """Evaluate templates inside a value (recursively). Non-string leaves pass through."""
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            return value
        m = _WHOLE.match(value.strip())
        if m and "{{" not in m.group(1) and "}}" not in m.group(1):
            try:
                result = _compile(m.group(1).strip(), True)(**context)
            except (TemplateError, SecurityError, TypeError, ValueError, ArithmeticError, LookupError, AttributeError, RecursionError) as exc:
                raise TemplateFailure(_explain(exc)) from None
            if isinstance(result, Undefined):
                raise TemplateFailure(f"{m.group(1).strip()} is undefined")
            return _plain(result)
        return render_text(value, context)
    if isinstance(value, dict):
        return {k: evaluate(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [evaluate(v, context) for v in value]
    return value


def _plain(value: Any) -> Any:
    """Template results become plain JSON-able values (no sandbox proxies, no callables)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    raise TemplateFailure(f"expression gives a {type(value).__name__}, expected text, a number, a boolean, a list or a mapping")


def render_yaml_documents(source: str, context: dict[str, Any]) -> list[Any]:
    text = render_text(source, context)
    try:
        return [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise TemplateFailure(f"template output is not valid YAML: {str(exc).splitlines()[0]}") from None


def check_syntax(source: str) -> str | None:
    """None if the template parses, else the syntax error (for `appc def validate`)."""
    try:
        _ENV.parse(source)
    except TemplateError as exc:
        return str(exc).splitlines()[0]
    return None
