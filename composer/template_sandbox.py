"""The Jinja sandbox behind composer/templates.py: the immutable environment with bounds on
the operations that blow up memory or time, the instrumented compile (every loop and every `~`
charged to the evaluation's budget, composer/template_budget.py), and the three ways a template
runs: a text template, one whole expression keeping its type, and a syntax check.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any

import yaml
from jinja2 import StrictUndefined, Template, TemplateError, Undefined, nodes
from jinja2.parser import Parser
from jinja2.runtime import Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError, safe_range

from composer import template_budget as budget
from composer.template_budget import MAX_VALUE, BudgetExceeded
from composer.templates import TemplateFailure, plain_result

MAX_OUTPUT = MAX_VALUE  # characters a text template may write
MAX_SIZE_ARGUMENT = MAX_OUTPUT  # widths and counts given to filters and string methods
MAX_POWER_BITS = 100_000

# Widths in format strings: '%999999999s', '%*s', '{:>999999999}'.
_PCT_WIDTH = re.compile(r"%(\([^)]*\))?[^%a-zA-Z]*?(\*|\d{7,})")
_BRACE_WIDTH = re.compile(r"\{[^{}]*:[^{}]*(\d{7,}|\{)")  # also nested (computed) widths
# Filters whose numeric arguments are sizes (widths, counts).
_SIZED_FILTERS = ("center", "indent", "wordwrap", "truncate", "batch", "slice")

_ERRORS = (
    TemplateError,
    SecurityError,
    BudgetExceeded,
    TypeError,
    ValueError,
    ArithmeticError,
    LookupError,
    AttributeError,
    RecursionError,
    yaml.YAMLError,
    MemoryError,
)


def _tojson(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _toyaml(value: Any) -> str:
    try:
        return yaml.safe_dump(value, sort_keys=True, default_flow_style=True).strip()
    except yaml.YAMLError:
        raise TypeError(f"toyaml cannot represent a {type(value).__name__}") from None


def _check_format(text: str) -> None:
    if _PCT_WIDTH.search(text) or _BRACE_WIDTH.search(text):
        raise SecurityError("format width is too large")


def _check_sizes(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    for a in (*args, *kwargs.values()):
        if isinstance(a, int) and not isinstance(a, bool) and abs(a) > MAX_SIZE_ARGUMENT:
            raise SecurityError(f"argument {a} is larger than {MAX_SIZE_ARGUMENT:,}")


def _loop_guard(iterable: Any) -> Any:
    """Wraps the iterable of every {% for %}: the iterations of one evaluation share one
    budget, so nested loops cannot hang the render even when they produce no output."""
    for item in iterable:
        budget.loop_iteration()
        yield item


def _checked(value: Any) -> Any:
    """Wraps every `~` concatenation: its result counts against the budget like any other."""
    return budget.charge(value)


def _sized_filter(fn: Any) -> Any:
    @functools.wraps(fn)  # keeps jinja_pass_arg (context/environment filters)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _check_sizes(args[1:], kwargs)
        return fn(*args, **kwargs)

    return wrapper


def _budgeted(name: str, fn: Any) -> Any:
    """A filter or test that charges the evaluation's budget for its result, and refuses an
    amplifying call (join, replace, indent, wordwrap) before it runs."""
    passes = getattr(fn, "jinja_pass_arg", None) is not None

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        lead, rest = (args[:1], args[1:]) if passes else ((), args)
        if rest:
            value = list(rest[0]) if name == "join" and budget.is_lazy(rest[0]) else rest[0]
            budget.check_amplifier(name, value, tuple(rest[1:]), kwargs, method=False)
            rest = (value, *rest[1:])
        return budget.charge(fn(*lead, *rest, **kwargs))

    return wrapper


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with bounds on the operations that blow up memory or time:
    repetition (`'x' * n`), powers and products, format widths, size arguments of string
    methods; and every call, operator and lookup charged to the evaluation's budget."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "**", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_OUTPUT:
                    raise SecurityError(f"repetition would give more than {MAX_OUTPUT:,} items")
            if _is_int(left) and _is_int(right) and left.bit_length() + right.bit_length() > MAX_POWER_BITS:
                raise SecurityError("the product is too large")
        elif operator == "**":
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and abs(right) * max(abs(left).bit_length(), 1) > MAX_POWER_BITS
            ):
                raise SecurityError("the power is too large")
        elif operator == "%" and isinstance(left, str):
            _check_format(left)
            budget.check_amplifier("%", left, (right,), {}, method=True)
        return budget.charge(super().call_binop(context, operator, left, right))

    def getattr(self, obj: Any, attribute: str) -> Any:
        budget.charge_one()
        if isinstance(obj, Undefined):
            str(obj)  # report the undefined name itself, not "attribute of StrictUndefined is unsafe"
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        result = super().getitem(obj, argument)
        if isinstance(argument, slice):
            return budget.charge(result)
        budget.charge_one()
        return result

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        target = getattr(__obj, "__wrapped__", __obj)  # str.format comes wrapped by the sandbox
        owner = getattr(target, "__self__", None)
        if isinstance(owner, str):  # 'x'.center(n), .ljust, .zfill, .expandtabs, .format, .join, .replace
            name = getattr(target, "__name__", "")
            if name in ("format", "format_map"):
                _check_format(owner)
                budget.check_amplifier(name, owner, args, kwargs, method=True)
            else:
                _check_sizes(args, kwargs)
                if name == "join" and args and budget.is_lazy(args[0]):
                    args = (list(args[0]), *args[1:])
                budget.check_amplifier(name, owner, args, kwargs, method=True)
        if isinstance(__obj, Macro):
            with budget.macro_call():
                return budget.charge(super().call(__context, __obj, *args, **kwargs))
        return budget.charge(super().call(__context, __obj, *args, **kwargs))


def _env() -> ImmutableSandboxedEnvironment:
    # finalize sees every {{ value }} of a text template before it becomes text
    env = _Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, finalize=budget.charge)
    env.filters["tojson"] = _tojson
    env.filters["toyaml"] = _toyaml
    env.filters["format"] = _checked_format(env.filters["format"])
    for name in _SIZED_FILTERS:
        env.filters[name] = _sized_filter(env.filters[name])
    for name, fn in list(env.filters.items()):
        env.filters[name] = _budgeted(name, fn)
    for name, fn in list(env.tests.items()):
        env.tests[name] = _budgeted(name, fn)
    env.globals.clear()
    # range is jinja's safe_range (at most 100,000 items), never the builtin.
    env.globals.update(range=safe_range, dict=dict, min=min, max=max, len=len)
    return env


def _checked_format(fmt: Callable[..., Any]) -> Callable[..., Any]:
    """The `format` filter, refusing amplifying format strings first."""

    def checked(value: Any, *args: Any, **kwargs: Any) -> Any:
        _check_format(str(value))
        return fmt(value, *args, **kwargs)

    return checked


def _instrument(tree: nodes.Template) -> nodes.Template:
    """Route every {% for %} iterable through `_loop_guard` and every `~` through `_checked`."""
    for loop in tree.find_all(nodes.For):
        loop.iter = _wrapped("_loop_guard", loop.iter, loop.lineno)
    for parent in list(tree.find_all(nodes.Node)):
        for name, child in parent.iter_fields():
            if isinstance(child, nodes.Concat):
                setattr(parent, name, _wrapped("_checked", child, child.lineno))
            elif isinstance(child, list):
                setattr(
                    parent,
                    name,
                    [_wrapped("_checked", c, c.lineno) if isinstance(c, nodes.Concat) else c for c in child],
                )
    return tree


def _wrapped(function: str, node: nodes.Node, lineno: int) -> nodes.Call:
    call = nodes.Call(nodes.ImportedName(f"{__name__}.{function}"), [node], [], None, None)
    call.set_lineno(lineno)
    call.set_environment(_ENV)
    return call


def _parse_expression(source: str) -> nodes.Template:
    """What `compile_expression` does, keeping the tree so that it can be instrumented."""
    parser = Parser(_ENV, source, state="variable")
    expr = parser.parse_expression()
    if not parser.stream.eos:
        raise TemplateError("chunk after expression")
    return nodes.Template([nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)], lineno=1)


_ENV = _env()
_cache: dict[str, Template] = {}


def _compile(source: str, expression: bool) -> Template:
    key = ("e:" if expression else "t:") + source
    hit = _cache.get(key)
    if hit is None:
        tree = _parse_expression(source) if expression else _ENV.parse(source)
        hit = _ENV.from_string(_instrument(tree))
        _cache[key] = hit
    return hit


def _template_line(exc: BaseException) -> int | None:
    """The template line an error was raised at (Jinja rewrites tracebacks to template lines)."""
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _failure(exc: Exception) -> TemplateFailure:
    return TemplateFailure(_explain(exc), _template_line(exc))


def _explain(exc: Exception) -> str:
    if isinstance(exc, (SecurityError, BudgetExceeded)):
        return f"blocked by the template sandbox: {exc}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def render_text(source: str, context: dict[str, Any]) -> str:
    """A text template, rendered."""
    # Streamed, so a runaway template stops at the limit instead of filling memory first.
    parts: list[str] = []
    size = 0
    try:
        with budget.evaluation():
            for part in _compile(source, False).generate(**context):
                size += len(part)
                if size > MAX_OUTPUT:
                    raise TemplateFailure(f"template output exceeds {MAX_OUTPUT:,} characters")
                parts.append(part)
    except TemplateFailure:
        raise
    except _ERRORS as exc:
        raise _failure(exc) from None
    return "".join(parts)


def evaluate_expression(source: str, context: dict[str, Any]) -> Any:
    """One whole `{{ expression }}`, keeping its type; its result is bounded like text output."""
    try:
        with budget.evaluation():
            template = _compile(source, True)
            ctx = template.new_context(dict(context))
            try:
                for _ in template.root_render_func(ctx):
                    pass
            except Exception:
                template.environment.handle_exception()  # rewrites the traceback to template lines
            result = budget.charge(ctx.vars["result"])
    except _ERRORS as exc:
        raise _failure(exc) from None
    if isinstance(result, Undefined):
        try:
            str(result)  # a StrictUndefined raises with its reason (undefined name, sandbox block)
        except Exception as exc:
            raise _failure(exc) from None
        raise TemplateFailure(f"{source} is undefined")
    return plain_result(result)


def check_syntax(source: str) -> str | None:
    """None if the template parses, else the syntax error (for `appc def validate`)."""
    try:
        _ENV.parse(source)
    except TemplateError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        line = getattr(exc, "lineno", None)
        return f"line {line} of the template: {first}" if line else first
    return None
