"""The apply graph: one unit per component, edges from connections, references and dependsOn.

Every reference is checked here against the output contract of its target, so a
typo in `${db.passwrd}` fails at validate, not at apply. A cycle is an error that
names the cycle. The order is deterministic: topological, ties broken by name.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from composer.diagnostics import Collector, FieldPath
from composer.model import refs
from composer.model.refs import OutputRef, Part
from composer.resolve import Resolved, ResolvedComponent

# why one unit waits for another: a `connections` entry, a ${ref} in its properties, or `dependsOn`
EdgeReason = Literal["connection", "reference", "dependsOn"]


@dataclass(frozen=True)
class Edge:
    dependency: str
    dependent: str
    reason: EdgeReason


@dataclass(frozen=True)
class Graph:
    order: tuple[str, ...]  # dependencies first
    edges: tuple[Edge, ...]
    refs: dict[str, tuple[tuple[FieldPath, OutputRef], ...]]  # per component, typed (secret known)
    # Per component: every text holding a reference, parsed once here into literal parts and typed
    # references (`$${` escapes left as written). Render reads these; it never parses `${` again.
    texts: Mapping[str, Mapping[str, tuple[Part, ...]]] = field(default_factory=dict)
    # Per component: the components it connects to, in the order the model declares them.
    connections: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @cached_property
    def _adjacency(self) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
        deps: dict[str, set[str]] = {}
        dependents: dict[str, set[str]] = {}
        for e in self.edges:
            deps.setdefault(e.dependent, set()).add(e.dependency)
            dependents.setdefault(e.dependency, set()).add(e.dependent)
        return deps, dependents

    def parts(self, component: str, text: str) -> tuple[Part, ...]:
        """`text` of `component` as literal parts and typed references; a text without one is one literal."""
        return self.texts.get(component, {}).get(text, (text,))

    def dependencies(self, name: str) -> tuple[str, ...]:
        return tuple(sorted(self._adjacency[0].get(name, ())))

    def dependents(self, name: str) -> tuple[str, ...]:
        return tuple(sorted(self._adjacency[1].get(name, ())))

    def levels(self) -> list[list[str]]:
        """Units grouped by depth: each level depends only on earlier ones."""
        depth: dict[str, int] = {}
        deps: dict[str, set[str]] = {n: set() for n in self.order}
        for e in self.edges:
            deps[e.dependent].add(e.dependency)
        for n in self.order:
            depth[n] = 1 + max((depth[d] for d in deps[n]), default=-1)
        out: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
        for n in self.order:
            out[depth[n]].append(n)
        return out


def _scan(c: ResolvedComponent) -> tuple[list[tuple[FieldPath, OutputRef]], dict[str, tuple[Part, ...]]]:
    """The one parse of a component's references: (path, reference) once each, and every text
    holding one split into parts."""
    sources = [(c.parameters, c.path + ("properties",))]
    sources += [(t.parameters, t.path + ("properties",)) for t in c.traits]
    if c.module_inputs and c.implementation.implementation.builtin != "terraform-module":
        # References can reach module inputs through definition templates.
        sources.append((c.module_inputs, c.path + ("properties",)))
    found: dict[tuple[FieldPath, OutputRef], None] = {}  # ordered, each once
    texts: dict[str, tuple[Part, ...]] = {}
    for value, base in sources:
        for path, text in refs.dollar_texts(value, base):
            parts = texts.get(text) or refs.split(text, unescape=False)
            typed = [p for p in parts if isinstance(p, OutputRef)]
            if typed:
                texts[text] = parts
            found.update(((path, r), None) for r in typed)
    return list(found), texts


def _typed(texts: dict[str, tuple[Part, ...]], good: list[tuple[FieldPath, OutputRef]]) -> dict[str, tuple[Part, ...]]:
    """The parsed texts with each reference replaced by its typed form (secret known)."""
    typed = {(r.component, r.key): r for _, r in good}
    return {
        text: tuple(typed.get((p.component, p.key), p) if isinstance(p, OutputRef) else p for p in parts)
        for text, parts in texts.items()
    }


class _Builder:
    """Collects the edges, typed references and diagnostics of one graph."""

    def __init__(self, resolved: Resolved) -> None:
        self.resolved = resolved
        self.src = resolved.source
        self.by_name = {c.name: c for c in resolved.components}
        self.diags = Collector()
        self.edges: set[Edge] = set()
        self.refs: dict[str, tuple[tuple[FieldPath, OutputRef], ...]] = {}
        self.texts: dict[str, Mapping[str, tuple[Part, ...]]] = {}
        self.connections: dict[str, tuple[str, ...]] = {}

    def missing(self, path: FieldPath, name: str, what: str, owner: str) -> None:
        known = ", ".join(sorted(self.by_name))
        self.diags.add(
            self.src.diagnostic(path, f"{what} names unknown component {name!r}", f"components: {known}", address=owner)
        )

    def connect(self, c: ResolvedComponent) -> None:
        targets = []
        for j, target in enumerate(c.connections):
            path = c.path + ("connections", j)
            t = self.by_name.get(target)
            if t is None:
                self.missing(path, target, "connection", c.name)
            elif target == c.name:
                self.diags.add(self.src.diagnostic(path, "a component cannot connect to itself", address=c.name))
            elif not t.outputs:
                self.diags.add(
                    self.src.diagnostic(
                        path,
                        f"cannot connect to {target!r}: type {t.type!r} declares no outputs",
                        "connect to resources (postgres, redis, bucket, ...) whose outputs become environment variables",
                        address=c.name,
                    )
                )
            else:
                self.edges.add(Edge(target, c.name, "connection"))
                targets.append(target)
        self.connections[c.name] = tuple(dict.fromkeys(targets))

    def depend(self, c: ResolvedComponent) -> None:
        for j, dep in enumerate(c.depends_on):
            path = c.path + ("dependsOn", j)
            if dep not in self.by_name:
                self.missing(path, dep, "dependsOn", c.name)
            elif dep == c.name:
                self.diags.add(self.src.diagnostic(path, "a component cannot depend on itself", address=c.name))
            else:
                self.edges.add(Edge(dep, c.name, "dependsOn"))

    def reference(self, c: ResolvedComponent) -> None:
        found, texts = _scan(c)
        good = []
        for path, ref in found:
            typed = self._typed_ref(c, path, ref)
            if typed is not None:
                good.append((path, typed))
                self.edges.add(Edge(ref.component, c.name, "reference"))
        self.refs[c.name] = tuple(good)
        self.texts[c.name] = _typed(texts, good)

    def _typed_ref(self, c: ResolvedComponent, path: FieldPath, ref: OutputRef) -> OutputRef | None:
        """The reference with its secrecy from the target's contract; None (and a diagnostic) if invalid."""
        t = self.by_name.get(ref.component)
        if t is None:
            self.missing(path, ref.component, f"reference {ref.text}", c.name)
            return None
        if ref.component == c.name:
            self.diags.add(
                self.src.diagnostic(path, f"reference {ref.text} points at its own component", address=c.name)
            )
            return None
        spec = t.outputs.get(ref.key)
        if spec is None:
            declared = ", ".join(t.outputs) or "none"
            self.diags.add(
                self.src.diagnostic(
                    path,
                    f"reference {ref.text}: {t.type} {ref.component!r} has no output {ref.key!r}",
                    f"declared outputs: {declared}",
                    address=c.name,
                )
            )
            return None
        return OutputRef(ref.component, ref.key, spec.secret)

    def order(self) -> list[str]:
        names = [c.name for c in self.resolved.components]
        order = _toposort(names, self.edges)
        if len(order) < len(names):
            cycle = _find_cycle([n for n in names if n not in set(order)], self.edges)
            self.diags.add(
                self.src.diagnostic(
                    self.by_name[cycle[0]].path + ("name",),
                    "dependency cycle: " + " → ".join(cycle + [cycle[0]]),
                    "break the cycle: remove one of these connections, references or dependsOn",
                    address=cycle[0],
                )
            )
            self.diags.raise_if_errors()
        return order


def build_graph(resolved: Resolved) -> Graph:
    b = _Builder(resolved)
    for c in resolved.components:
        b.connect(c)
        b.depend(c)
        b.reference(c)
    b.diags.raise_if_errors()
    order = b.order()
    edges = tuple(sorted(b.edges, key=lambda e: (e.dependent, e.dependency, e.reason)))
    return Graph(tuple(order), edges, b.refs, b.texts, b.connections)


def _toposort(names: list[str], edges: set[Edge]) -> list[str]:
    indeg = {n: 0 for n in names}
    out_edges: dict[str, set[str]] = {n: set() for n in names}
    for e in edges:
        if e.dependent not in out_edges[e.dependency]:
            out_edges[e.dependency].add(e.dependent)
            indeg[e.dependent] += 1
    ready = [n for n in names if indeg[n] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        n = heapq.heappop(ready)
        order.append(n)
        for m in sorted(out_edges[n]):
            indeg[m] -= 1
            if indeg[m] == 0:
                heapq.heappush(ready, m)
    return order


def _find_cycle(stuck: list[str], edges: set[Edge]) -> list[str]:
    """A shortest-looking cycle among the nodes a topological sort could not place."""
    deps: dict[str, list[str]] = {n: [] for n in stuck}
    for e in sorted(edges, key=lambda e: (e.dependent, e.dependency)):
        if e.dependent in deps and e.dependency in deps:
            deps[e.dependent].append(e.dependency)
    start = sorted(stuck)[0]
    path = [start]
    index = {start: 0}
    node = start
    while True:
        node = deps[node][0]
        if node in index:
            cyc = path[index[node] :]
            cyc.reverse()  # show dependency → dependent
            k = cyc.index(min(cyc))
            return cyc[k:] + cyc[:k]
        index[node] = len(path)
        path.append(node)
