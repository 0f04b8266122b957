"""Render: resolved application + graph -> the files of a render tree.

Pure and deterministic: the same inputs give the same bytes. The tree is

    render.json                       units, their kind, files and dependencies
    terraform/<component>/main.tf.json
    modules/<name>-<hash12>/...        module sources, referenced by content hash
    kubernetes/<component>.yaml

Rendering needs no output values: workloads read bound values from connection Secrets.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import yaml

from composer.catalog import ModuleSource
from composer.diagnostics import Collector, Diagnostic, Severity
from composer.graph import Graph
from composer.plugins import PluginRegistry
from composer.render import promotion
from composer.render.bindings import Bindings, bind
from composer.render.kubernetes import render_workload
from composer.render.terraform import render_root
from composer.resolve import Resolved

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dump(_Dumper):  # type: ignore[misc, valid-type]
    """Multi-line text as literal blocks (|), the way people write it in manifests."""


def _str(dumper, value: str):
    style = (
        "|"
        if "\n" in value and not value.startswith((" ", "\n")) and all(c == "\n" or c.isprintable() for c in value)
        else None
    )
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dump.add_representer(str, _str)

MARKER = "render.json"


@dataclass(frozen=True)
class Unit:
    name: str
    kind: str  # terraform | kubernetes
    files: tuple[str, ...]
    depends_on: tuple[str, ...]


@dataclass
class Rendered:
    files: dict[str, bytes] = field(default_factory=dict)
    units: list[Unit] = field(default_factory=list)
    manifests: dict[str, list[dict]] = field(default_factory=dict)  # component -> objects
    warnings: list[Diagnostic] = field(default_factory=list)  # e.g. a container without limits
    bindings: Bindings | None = None  # what feeds what, built once (composer/render/bindings.py)


def dump_yaml(docs: list[dict]) -> bytes:
    return yaml.dump_all(
        docs,
        Dumper=_Dump,
        sort_keys=False,
        default_flow_style=False,
        explicit_start=True,
        width=1 << 16,
        allow_unicode=True,
    ).encode()


def render(resolved: Resolved, graph: Graph, registry: PluginRegistry, modules: Mapping[str, ModuleSource]) -> Rendered:
    """`modules` maps a component name to the module source its root calls."""
    bindings = bind(resolved, graph)
    out = Rendered(bindings=bindings)
    diags = Collector()
    diags.extend(promotion.refusals(resolved, out.warnings))
    for name in graph.order:
        c = resolved.require(name)
        deps = graph.dependencies(name)
        if c.is_terraform:
            module = modules[name]
            path = f"terraform/{name}/main.tf.json"
            out.files[path] = render_root(resolved, c, module, registry, bindings)
            for rel, data in module.files:
                out.files[f"modules/{module.dirname}/{rel}"] = data
            out.units.append(Unit(name, "terraform", (path,), deps))
        else:
            objects, found = render_workload(resolved, bindings, c)
            errors = [d for d in found if d.severity is Severity.ERROR]
            out.warnings.extend(d for d in found if d.severity is not Severity.ERROR)
            if errors:
                diags.extend(errors)
                continue
            path = f"kubernetes/{name}.yaml"
            out.files[path] = dump_yaml(objects)
            out.manifests[name] = objects
            out.units.append(Unit(name, "kubernetes", (path,), deps))
    diags.extend(promotion.collisions(resolved, out.manifests))
    diags.raise_if_errors()
    index = {
        "app": resolved.name,
        "environment": resolved.environment.name,
        "units": [
            {"name": u.name, "kind": u.kind, "files": list(u.files), "dependsOn": list(u.depends_on)} for u in out.units
        ],
    }
    out.files[MARKER] = (json.dumps(index, indent=2) + "\n").encode()
    out.files = dict(sorted(out.files.items()))
    return out


__all__ = ["Rendered", "Unit", "render", "dump_yaml", "Diagnostic"]
