"""The apply graph: one unit per component, edges from connections, references and dependsOn.

Every reference is checked here against the output contract of its target, so a
typo in `${db.passwrd}` fails at validate, not at apply. A cycle is an error that
names the cycle. The order is deterministic: topological, ties broken by name.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from composer.diagnostics import Collector, FieldPath
from composer.model import refs
from composer.model.refs import OutputRef
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

    @cached_property
    def _adjacency(self) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
        deps: dict[str, set[str]] = {}
        dependents: dict[str, set[str]] = {}
        for e in self.edges:
            deps.setdefault(e.dependent, set()).add(e.dependency)
            dependents.setdefault(e.dependency, set()).add(e.dependent)
        return deps, dependents

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


def _component_refs(c: ResolvedComponent) -> list[tuple[FieldPath, OutputRef]]:
    found = list(refs.find_refs(c.parameters, c.path + ("properties",)))
    for t in c.traits:
        found.extend(refs.find_refs(t.parameters, t.path + ("properties",)))
    if c.module_inputs and c.implementation.implementation.builtin != "terraform-module":
        # References can reach module inputs through definition templates.
        found.extend(refs.find_refs(c.module_inputs, c.path + ("properties",)))
    seen = set()
    unique = []
    for p, r in found:
        if (p, r) not in seen:
            seen.add((p, r))
            unique.append((p, r))
    return unique


def build_graph(resolved: Resolved) -> Graph:
    diags = Collector()
    src = resolved.source
    by_name = {c.name: c for c in resolved.components}
    edges: set[Edge] = set()
    typed: dict[str, tuple[tuple[FieldPath, OutputRef], ...]] = {}

    def missing(path: FieldPath, name: str, what: str, owner: str) -> None:
        known = ", ".join(sorted(by_name))
        diags.add(
            src.diagnostic(path, f"{what} names unknown component {name!r}", f"components: {known}", address=owner)
        )

    for c in resolved.components:
        for j, target in enumerate(c.connections):
            path = c.path + ("connections", j)
            t = by_name.get(target)
            if t is None:
                missing(path, target, "connection", c.name)
            elif target == c.name:
                diags.add(src.diagnostic(path, "a component cannot connect to itself", address=c.name))
            elif not t.outputs:
                diags.add(
                    src.diagnostic(
                        path,
                        f"cannot connect to {target!r}: type {t.type!r} declares no outputs",
                        "connect to resources (postgres, redis, bucket, ...) whose outputs become environment variables",
                        address=c.name,
                    )
                )
            else:
                edges.add(Edge(target, c.name, "connection"))
        for j, dep in enumerate(c.depends_on):
            path = c.path + ("dependsOn", j)
            if dep not in by_name:
                missing(path, dep, "dependsOn", c.name)
            elif dep == c.name:
                diags.add(src.diagnostic(path, "a component cannot depend on itself", address=c.name))
            else:
                edges.add(Edge(dep, c.name, "dependsOn"))
        good = []
        for path, ref in _component_refs(c):
            t = by_name.get(ref.component)
            if t is None:
                missing(path, ref.component, f"reference {ref.text}", c.name)
                continue
            if ref.component == c.name:
                diags.add(src.diagnostic(path, f"reference {ref.text} points at its own component", address=c.name))
                continue
            spec = t.outputs.get(ref.key)
            if spec is None:
                declared = ", ".join(t.outputs) or "none"
                diags.add(
                    src.diagnostic(
                        path,
                        f"reference {ref.text}: {t.type} {ref.component!r} has no output {ref.key!r}",
                        f"declared outputs: {declared}",
                        address=c.name,
                    )
                )
                continue
            good.append((path, OutputRef(ref.component, ref.key, spec.secret)))
            edges.add(Edge(ref.component, c.name, "reference"))
        typed[c.name] = tuple(good)
    diags.raise_if_errors()

    names = [c.name for c in resolved.components]
    order = _toposort(names, edges)
    if len(order) < len(names):
        cycle = _find_cycle([n for n in names if n not in set(order)], edges)
        first = by_name[cycle[0]]
        diags.add(
            src.diagnostic(
                first.path + ("name",),
                "dependency cycle: " + " → ".join(cycle + [cycle[0]]),
                "break the cycle: remove one of these connections, references or dependsOn",
                address=cycle[0],
            )
        )
        diags.raise_if_errors()
    return Graph(tuple(order), tuple(sorted(edges, key=lambda e: (e.dependent, e.dependency, e.reason))), typed)


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
