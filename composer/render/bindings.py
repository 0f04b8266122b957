"""Bindings: how resource outputs reach their consumers, built once from the graph.

`bind(resolved, graph)` turns the graph's connection edges and typed references into
`Binding`s: which unit's which output key feeds which consumer (an env var of a workload,
a Terraform variable `ref_<component>_<key>` of a root, or a template's `connection_env`
value) and whether the value is secret. Render reads them and the texts the graph parsed;
nothing here parses `${` again.

Every output of a resource is bound into the Secret `<app>-<component>-conn`.
A connection gives the workload one env var per output, `<COMPONENT>_<KEY>`, as a
secretKeyRef. A reference in an env value (`${db.url}`) becomes a secretKeyRef when
it is the whole value, and Kubernetes' own `$(VAR)` expansion when it is embedded in
text (the var it expands is added first). The same `$(VAR)` form serves references
in cmd and args. No value is known at render time and none is needed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from composer.graph import Graph
from composer.model.refs import OutputRef, Part, env_name
from composer.resolve import Resolved

BINDINGS_HASH_ANNOTATION = "composer.dev/bindings-hash"

Consumer = Literal["env", "variable", "template"]  # env var, Terraform variable, template value
Via = Literal["connection", "reference"]  # the graph edge that made it


@dataclass(frozen=True)
class Binding:
    """One output of one unit feeding one consumer."""

    source: str  # the unit whose output it is
    key: str  # the output's contract key
    secret: bool
    consumer: str  # the unit that reads it
    kind: Consumer
    name: str  # the env var (connection_env entry) or Terraform variable it becomes
    via: Via

    @property
    def ref(self) -> OutputRef:
        return OutputRef(self.source, self.key, self.secret)


@dataclass(frozen=True)
class Bindings:
    """All bindings of a render, by consumer, and the texts the graph parsed."""

    graph: Graph
    by_consumer: Mapping[str, tuple[Binding, ...]]

    def of(self, consumer: str, kind: Consumer | None = None) -> tuple[Binding, ...]:
        return tuple(b for b in self.by_consumer.get(consumer, ()) if kind is None or b.kind == kind)

    def connections(self, consumer: str) -> tuple[Binding, ...]:
        """The bindings a component's `connections` make, in declared order (env or template)."""
        return tuple(b for b in self.of(consumer) if b.via == "connection")

    def parts(self, consumer: str, text: str) -> tuple[Part, ...]:
        return self.graph.parts(consumer, text)


def ref_variable(ref: OutputRef) -> str:
    """The Terraform variable of a consuming root that carries another unit's output."""
    return f"ref_{ref.component}_{ref.key}".replace("-", "_")


def bind(resolved: Resolved, graph: Graph) -> Bindings:
    """The bindings of every component, from the graph's connections and typed references."""
    out: dict[str, tuple[Binding, ...]] = {}
    for name in graph.order:
        c = resolved.component(name)
        if c is None:
            continue
        kind: Consumer = "template" if c.implementation.implementation.manifests is not None else "env"
        found: dict[tuple[Consumer, str], Binding] = {}
        for target in graph.connections.get(name, ()):
            t = resolved.component(target)
            for key, spec in (t.outputs if t is not None else {}).items():
                b = Binding(target, key, spec.secret, name, kind, env_name(target, key), "connection")
                found.setdefault((b.kind, b.name), b)
        for _, ref in graph.refs.get(name, ()):
            as_var = c.is_terraform
            b = Binding(
                ref.component,
                ref.key,
                ref.secret,
                name,
                "variable" if as_var else "env",
                ref_variable(ref) if as_var else ref.env_name,
                "reference",
            )
            found.setdefault((b.kind, b.name), b)
        out[name] = tuple(found.values())
    return Bindings(graph, out)


def secret_name(app: str, component: str) -> str:
    return f"{app}-{component}-conn"


def secret_key_ref(app: str, ref: OutputRef) -> dict:
    return {"valueFrom": {"secretKeyRef": {"name": secret_name(app, ref.component), "key": ref.key}}}


def bindings_hash(outputs_by_component: Mapping[str, Mapping[str, Any]]) -> str:
    """Digest of the bound values a workload sees; the engine stamps it on the pod template."""
    blob = json.dumps(outputs_by_component, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class EnvBuilder:
    """Builds a container's env list: connection vars first, so $(VAR) expansion finds them.

    Texts are split by the graph (`bindings.parts`); literal parts keep their `$${` escapes,
    which render undoes at the end."""

    def __init__(self, app: str, bindings: Bindings, component: str) -> None:
        self.app = app
        self.bindings = bindings
        self.component = component
        self.bound: dict[str, dict] = {}  # vars generated from references/connections
        self.own: dict[str, dict] = {}  # vars the user wrote

    def bind(self, ref: OutputRef) -> None:
        self.bound.setdefault(ref.env_name, {"name": ref.env_name, **secret_key_ref(self.app, ref)})

    def connect(self) -> None:
        """One env var per output of every connected component (its connection bindings)."""
        for b in self.bindings.connections(self.component):
            self.bind(b.ref)

    def expand(self, text: str) -> str:
        """Text with embedded references turned into $(VAR), each VAR bound first."""
        out = []
        for part in self.bindings.parts(self.component, text):
            if isinstance(part, OutputRef):
                self.bind(part)
                out.append(f"$({part.env_name})")
            else:
                out.append(part)
        return "".join(out)

    def set(self, name: str, value: Any) -> None:
        if isinstance(value, dict):  # {valueFrom: {...}} passes through
            self.own[name] = {"name": name, **value}
            return
        text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, bool) else str(value)
        parts = self.bindings.parts(self.component, text)
        if len(parts) == 1 and isinstance(parts[0], OutputRef):
            self.own[name] = {"name": name, **secret_key_ref(self.app, parts[0])}
        else:
            self.own[name] = {"name": name, "value": self.expand(text)}

    def entries(self) -> list[dict]:
        out = [v for k, v in self.bound.items() if k not in self.own]
        return out + list(self.own.values())
