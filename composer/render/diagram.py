"""Diagrams of the apply graph: Mermaid and Graphviz dot (pure text)."""

from __future__ import annotations

from composer.graph import Graph
from composer.resolve import Resolved

_EDGE_STYLE = {"connection": "connects", "reference": "references", "dependsOn": "dependsOn"}


def _label(resolved: Resolved, name: str) -> str:
    c = resolved.require(name)
    traits = ", ".join(t.name for t in c.traits)
    impl = c.implementation.name
    text = f"{name}\n{c.type} ({impl})"
    return text + (f"\n[{traits}]" if traits else "")


def mermaid(resolved: Resolved, graph: Graph) -> str:
    lines = ["flowchart LR"]
    for name in graph.order:
        c = resolved.require(name)
        label = _label(resolved, name).replace("\n", "<br/>").replace('"', "#quot;")
        shape = ('[("', '")]') if c.is_resource else ('["', '"]')
        lines.append(f"  {_id(name)}{shape[0]}{label}{shape[1]}")
    for e in graph.edges:
        lines.append(f"  {_id(e.dependency)} -->|{_EDGE_STYLE[e.reason]}| {_id(e.dependent)}")
    return "\n".join(lines) + "\n"


def dot(resolved: Resolved, graph: Graph) -> str:
    lines = [f'digraph "{resolved.name}" {{', "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=11];']
    for name in graph.order:
        c = resolved.require(name)
        label = _label(resolved, name).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        shape = "cylinder" if c.is_resource else "box"
        lines.append(f'  "{name}" [label="{label}", shape={shape}];')
    for e in graph.edges:
        style = ", style=dashed" if e.reason == "dependsOn" else ""
        lines.append(f'  "{e.dependency}" -> "{e.dependent}" [label="{_EDGE_STYLE[e.reason]}"{style}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _id(name: str) -> str:
    return "n_" + name.replace("-", "_")
