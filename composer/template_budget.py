"""The work budget of one template evaluation (docs/definitions.md lists the numbers).

Every evaluation of a definition's templates (a text template, or all the module inputs of
one component together) gets a `Budget`. The sandbox charges it for every operation it intercepts (calls,
filters, tests, arithmetic, attribute and item lookups, loop iterations, items drawn from a
lazy filter) one unit plus the size of the value the operation produced. An evaluation that
runs more than MAX_OPERATIONS operations, spends more than MAX_WORK units, runs longer than MAX_CPU_SECONDS of CPU, nests macros deeper
than MAX_MACRO_DEPTH, or produces any one value larger than MAX_VALUE characters or items
stops with a `BudgetExceeded`. Operations that multiply a size in one step inside C code
(`join` with a long separator, `replace`, `indent`, `expandtabs`, `wordwrap`) are checked
before they run, because their result would be allocated before any check after them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

MAX_VALUE = 1_000_000  # characters (text) or items (lists, mappings, nested counted) of any one value
MAX_OPERATIONS = 1_000_000  # intercepted operations per evaluation (about 2 s of CPU)
MAX_WORK = 10_000_000  # units per evaluation: one per operation plus the size of what it produced
MAX_CPU_SECONDS = 5.0  # CPU seconds per evaluation: a backstop for work the units do not see
MAX_MACRO_DEPTH = 50  # macros calling macros
MAX_LOOP_ITERATIONS = 200_000  # all {% for %} iterations of one evaluation, nested loops counted
_CLOCK_EVERY = 64  # read the CPU clock every this many charges


class BudgetExceeded(Exception):
    """The evaluation went past one of its limits; the message names which. The sandbox reports
    it as it reports Jinja's SecurityError: "blocked by the template sandbox: ..."."""


@dataclass
class Budget:
    work: int = 0
    loops: int = 0
    depth: int = 0
    charges: int = 0
    started: float = field(default_factory=time.thread_time)

    def spend(self, units: int) -> None:
        self.work += units
        self.charges += 1
        if self.charges > MAX_OPERATIONS:
            raise BudgetExceeded(f"the template ran more than {MAX_OPERATIONS:,} operations")
        if self.work > MAX_WORK:
            raise BudgetExceeded(
                f"the template did more than {MAX_WORK:,} units of work (operations plus the size of what they produced)"
            )
        if self.charges % _CLOCK_EVERY == 0 and time.thread_time() - self.started > MAX_CPU_SECONDS:
            raise BudgetExceeded(f"the template ran for more than {MAX_CPU_SECONDS:g} s of CPU time")


_current: ContextVar[Budget | None] = ContextVar("composer_template_budget", default=None)


@contextmanager
def evaluation() -> Iterator[Budget]:
    """The budget of one evaluation: a fresh one, or the enclosing evaluation's (the module
    inputs of one component are one evaluation, however many templates they hold)."""
    current = _current.get()
    if current is not None:
        yield current
        return
    budget = Budget()
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


def _budget() -> Budget:
    budget = _current.get()
    # Outside `evaluation()` (Jinja folding a constant while compiling): a budget for one step.
    return budget if budget is not None else Budget()


def size(value: Any, limit: int | None = None) -> int:
    """Characters of text plus items of containers inside `value` (shared parts counted each
    time they appear, as a serializer would write them); stops counting past `limit`."""
    limit = MAX_VALUE if limit is None else limit
    total = 0
    stack = [value]
    while stack and total <= limit:
        v = stack.pop()
        if isinstance(v, (str, bytes)):
            total += len(v) or 1
        elif isinstance(v, dict):
            total += 1 + len(v)
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, (list, tuple, set, frozenset)):
            total += 1 + len(v)
            stack.extend(v)
        else:
            total += 1
    return total


def charge(value: Any) -> Any:
    """Charge the current evaluation for producing `value`; refuse a value past MAX_VALUE.
    A lazy iterable comes back metered: each item is charged as it is drawn."""
    budget = _budget()
    n = size(value)
    budget.spend(1 + n)
    if n > MAX_VALUE:
        raise BudgetExceeded(f"a value would be larger than {MAX_VALUE:,} characters or items")
    if is_lazy(value):
        return _metered(value)
    return value


def charge_one() -> None:
    _budget().spend(1)


def loop_iteration() -> None:
    budget = _budget()
    budget.loops += 1
    if budget.loops > MAX_LOOP_ITERATIONS:
        raise BudgetExceeded(f"template loops ran more than {MAX_LOOP_ITERATIONS:,} iterations")
    budget.spend(1)


@contextmanager
def macro_call() -> Iterator[None]:
    budget = _budget()
    budget.depth += 1
    try:
        if budget.depth > MAX_MACRO_DEPTH:
            raise BudgetExceeded(f"macros call each other more than {MAX_MACRO_DEPTH} levels deep")
        yield
    finally:
        budget.depth -= 1


def is_lazy(value: Any) -> bool:
    return hasattr(value, "__next__") and not isinstance(value, (str, bytes, dict, list, tuple))


def _metered(items: Iterable[Any]) -> Iterator[Any]:
    for item in items:
        yield charge(item)


def _text_size(value: Any) -> int:
    return len(value) if isinstance(value, str) else size(value)


def check_amplifier(name: str, target: Any, args: tuple[Any, ...], kwargs: dict[str, Any], *, method: bool) -> None:
    """Refuse, before it runs, an operation whose result would be larger than MAX_VALUE in
    one C-level step: `sep.join(items)` / `items|join(sep)`, `s.replace(old, new)`,
    `s|indent(width)`, `s.expandtabs(n)`, `s|wordwrap(width, wrapstring=...)`,
    `s.translate(table)`, and formatting (`s.format(...)`, `s|format(...)`, `s % args`), whose
    every field may repeat its largest argument. `target` is the string a method is called
    on, or the value a filter is applied to."""
    if name == "join":
        items, sep = (args[0] if args else (), target) if method else (target, args[0] if args else kwargs.get("d", ""))
        if hasattr(items, "__len__"):
            total = len(items) if isinstance(items, str) else sum(_text_size(i) for i in items)
            _refuse_if(total + len(str(sep)) * max(len(items) - 1, 0))
    elif not isinstance(target, str):
        return
    elif name == "replace" and len(args) >= 2:
        old, new = str(args[0]), str(args[1])
        count = args[2] if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0 else None
        hits = (len(target) + 1 if not old else target.count(old)) if count is None else count
        _refuse_if(len(target) + hits * max(len(new) - len(old), 0))
    elif name == "indent":
        width = args[0] if args else kwargs.get("width", 4)
        _refuse_if(
            len(target)
            + (target.count("\n") + 1)
            * (len(width) if isinstance(width, str) else width if isinstance(width, int) else 0)
        )
    elif name == "expandtabs":
        tabsize = args[0] if args else kwargs.get("tabsize", 8)
        _refuse_if(len(target) + target.count("\t") * (tabsize if isinstance(tabsize, int) else 0))
    elif name == "wordwrap":
        wrapstring = (args[2] if len(args) > 2 else kwargs.get("wrapstring")) or "\n"
        _refuse_if(len(target) * (1 + len(str(wrapstring))))
    elif name == "translate" and args and isinstance(args[0], dict):
        _refuse_if(len(target) * max([1, *(_text_size(v) for v in args[0].values() if v is not None)]))
    elif name in ("format", "format_map", "%"):
        values = [*args, *kwargs.values()]
        if len(values) == 1 and isinstance(values[0], (tuple, dict)):  # s % (a, b) / s % {...} / format_map
            values = list(values[0].values() if isinstance(values[0], dict) else values[0])
        fields = target.count("{") + target.count("%")
        _refuse_if(len(target) + fields * max([0, *(_text_size(v) for v in values)]))


def _refuse_if(estimate: int) -> None:
    if estimate > MAX_VALUE:
        raise BudgetExceeded(f"the result would be larger than {MAX_VALUE:,} characters")
