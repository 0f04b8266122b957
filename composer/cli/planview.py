"""Plans for people: the text after `appc plan`, the confirmation before apply, and the
markdown for a pull-request comment. (`--json` carries the same structure in each
`unit` event's `resources`.)

Every address, path and value here came from outside (Terraform, a cluster, the model), so
it reaches the terminal as rich `Text`, never as markup. Values are already redacted by
the engine (composer/engine/changes.py): sensitive ones read `(sensitive)`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rich.text import Text

from composer.engine.changes import ResourceChange

GITHUB_COMMENT_LIMIT = 65_536
ATTRIBUTES_SHOWN = 40  # per resource in the terminal; --json has them all
_STYLES = {"create": "green", "update": "yellow", "replace": "magenta", "destroy": "red", "read": "cyan"}
_UNIT_VERBS = {
    "create": "create",
    "update": "update",
    "prune": "prune (removed from the model: apply destroys it)",
    "none": "no changes",
}


@dataclass
class PlanTotals:
    add: int = 0
    change: int = 0
    remove: int = 0

    def text(self) -> str:
        return f"{self.add} to add, {self.change} to change, {self.remove} to destroy"


def ordered(result: Any, order: list[str]) -> list[Any]:
    """Outcomes in dependency order, pruned units last (the same plan gives the same bytes)."""
    rank = {n: i for i, n in enumerate(order)}
    return sorted(result.outcomes.values(), key=lambda o: (rank.get(o.name, len(rank)), o.name))


def unit_action(o: Any, applied: set[str]) -> str:
    if o.action == "prune":
        return "prune"
    if o.status == "unchanged":
        return "unchanged"
    if o.status != "planned":
        return o.status  # failed | blocked
    if not o.changes:
        return "none"
    return "update" if o.name in applied else "create"


def totals(outcomes: Iterable[Any]) -> PlanTotals:
    """Resources to add, change and destroy over every unit, Kubernetes objects and pruned units included."""
    t = PlanTotals()
    for o in outcomes:
        if o.status == "planned" and o.changes:
            t.add += o.changes.get("add", 0)
            t.change += o.changes.get("change", 0)
            t.remove += o.changes.get("remove", 0)
    return t


def resource_lines(r: ResourceChange, limit: int | None = ATTRIBUTES_SHOWN) -> list[str]:
    head = f"{r.symbol} {r.address}" + (f"  ({r.reason})" if r.reason else "")
    attrs = [f"    {a.text()}" for a in r.attributes]
    if limit is not None and len(attrs) > limit:
        attrs = attrs[:limit] + [f"    … {len(attrs) - limit} more attributes (appc plan --json shows them all)"]
    return [head, *attrs]


def plan_text(result: Any, order: list[str], applied: set[str]) -> list[Text]:
    """The plan for a terminal: each changing unit, its resources and their changed fields."""
    out: list[Text] = []
    for o in ordered(result, order):
        action = unit_action(o, applied)
        if action in ("unchanged", "none", "failed", "blocked"):
            continue
        out.append(Text.assemble((o.name, "bold"), f" ({o.kind}): {_UNIT_VERBS.get(action, action)}"))
        if o.reason:  # its hash is unchanged: the reality probe says why it is planned
            out.append(Text(f"  because {o.reason}", style="yellow"))
        for r in o.resources:
            lines = resource_lines(r)
            out.append(Text("  " + lines[0], style=_STYLES.get(r.action, "")))
            out.extend(Text("  " + line) for line in lines[1:])
        if not o.resources and o.changes:
            out.append(Text(f"  +{o.changes['add']} ~{o.changes['change']} -{o.changes['remove']}"))
    t = totals(result.outcomes.values())
    out.append(Text.assemble(("Plan: ", "bold"), t.text() + "."))
    return out


def confirmation(result: Any) -> tuple[str, list[str]]:
    """The question before apply, and the lines naming what will be destroyed or replaced."""
    changing = [n for n, o in result.outcomes.items() if o.changes or o.action == "prune"]
    warnings = []
    for o in result.outcomes.values():
        if o.action == "prune":
            gone = ", ".join(r.address for r in o.resources) or "nothing left in its state"
            warnings.append(f"{o.name} is removed from the model: apply DESTROYS {gone}")
            continue
        for r in o.resources:
            if r.action in ("destroy", "replace"):
                verb = "DESTROYS" if r.action == "destroy" else "REPLACES (destroys, then creates)"
                warnings.append(f"{o.name}: apply {verb} {r.address}" + (f" ({r.reason})" if r.reason else ""))
    return f"apply changes to {', '.join(changing)}?", warnings


# -- markdown ------------------------------------------------------------------------------------


def _details(o: Any, action: str) -> str:
    body = [line for r in o.resources for line in resource_lines(r, limit=None)]
    fence = "```"
    while any(fence in line for line in body):
        fence += "`"
    n = len(o.resources)
    return "\n".join(
        [
            f"<details><summary><code>{_html(o.name)}</code>: {action}, {n} resource{'' if n == 1 else 's'}</summary>",
            "",
            f"{fence}diff",
            *body,
            fence,
            "",
            "</details>",
            "",
        ]
    )


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plan_markdown(
    app: str,
    env: str,
    result: Any,
    order: list[str],
    applied: set[str],
    saved: str | None = None,
    limit: int = GITHUB_COMMENT_LIMIT,
) -> str:
    """A plan as a pull-request comment: a summary table, totals, then a collapsed block per
    changing unit with its resources and changed fields, cut to fit GitHub's comment limit.

    Sensitive values read `(sensitive)` (the engine redacts them); a provider's error text
    never appears (it can quote a secret): failed units point to the job log. The first
    line is an HTML comment CI can use to find and update its earlier comment.
    """
    rows, pruned, failed, blocks = [], [], [], []
    unchanged = create = update = 0
    for o in ordered(result, order):
        action = unit_action(o, applied)
        unchanged += action == "unchanged"
        create += action == "create"
        update += action == "update"
        if action == "prune":
            pruned.append(o.name)
        if action in ("failed", "blocked"):
            failed.append(o.name)
        counts = [str(o.changes.get(k, 0)) for k in ("add", "change", "remove")] if o.changes else ["-", "-", "-"]
        rows.append(f"| `{o.name}` | {o.kind} | {action} | {' | '.join(counts)} |")
        if o.resources:
            blocks.append(_details(o, action))
    t = totals(result.outcomes.values())
    changing = create + update + len(pruned)
    head = [
        f"<!-- appc-plan: {app}/{env} -->",
        f"### appc plan: `{app}` in `{env}`",
        "",
        "| unit | kind | action | add | change | destroy |",
        "|---|---|---|--:|--:|--:|",
        *rows,
        "",
        f"**Totals**: {t.text()} (Terraform resources and Kubernetes objects); "
        f"{changing} unit{'' if changing == 1 else 's'} to change ({create} to create, {update} to update, {len(pruned)} to prune), {unchanged} unchanged.",
        "",
        "Pruned (removed from the model; apply destroys them): "
        + (", ".join(f"`{n}`" for n in pruned) if pruned else "none")
        + ".",
        "",
    ]
    probed = [f"- `{o.name}`: {_html(o.reason)}" for o in ordered(result, order) if o.reason]
    if probed:  # unchanged in the model, planned because the reality probe found a difference
        head += ["Planned because their resources are not as the last apply left them:", *probed, ""]
    if failed:
        head += [f"**The plan failed** for {', '.join(f'`{n}`' for n in failed)}: see the job log for the errors.", ""]
    tail = ["", f"Saved plan: `{saved}`; apply exactly this with `appc apply -e {env} {saved}`."] if saved else []
    return _fit("\n".join(head) + "\n", blocks, "\n".join(tail) + ("\n" if tail else ""), limit)


def _fit(text: str, blocks: list[str], end: str, limit: int) -> str:
    """`text`, as many of the unit `blocks` as fit in `limit` (the last one cut with its fence
    closed, then a note that the details are cut), and `end`."""
    note = "\n**The details are cut here** to fit a GitHub comment; `appc plan --json` (or the job log) has the whole plan.\n"
    for i, block in enumerate(blocks):
        if len(text) + len(block) + 1 + len(end) + len(note) > limit:
            room = limit - len(text) - len(end) - len(note) - 40
            if room > 200:  # a cut block keeps its own fence closed
                fence = block.split("\n")[2].removesuffix("diff")
                cut = block[:room].rsplit("\n", 1)[0]
                text += ("\n" if i else "") + cut + f"\n{fence}\n\n</details>\n"
            text += note
            break
        text += "\n" + block if i else block
    return text + end
