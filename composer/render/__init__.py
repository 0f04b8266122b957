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

from composer.catalog import ModuleSource
from composer.diagnostics import Collector, Diagnostic, Severity
from composer.graph import Graph
from composer.plugins import PluginRegistry
from composer.render import promotion
from composer.render.bindings import Bindings, bind
from composer.render.files import RenderedFiles, dump_yaml
from composer.render.kubernetes import render_workload
from composer.render.terraform import render_root
from composer.resolve import Resolved

MARKER = "render.json"


@dataclass(frozen=True)
class Unit:
    name: str
    kind: str  # terraform | kubernetes
    files: tuple[str, ...]
    depends_on: tuple[str, ...]


@dataclass
class Rendered:
    files: RenderedFiles = field(default_factory=RenderedFiles)  # manifests dumped to YAML when read
    units: list[Unit] = field(default_factory=list)
    manifests: dict[str, list[dict]] = field(default_factory=dict)  # component -> objects
    warnings: list[Diagnostic] = field(default_factory=list)  # e.g. a container without limits
    bindings: Bindings | None = None  # what feeds what, built once (composer/render/bindings.py)


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
            out.files.add(path, render_root(resolved, c, module, registry, bindings))
            for rel, data in module.files:
                out.files.add(f"modules/{module.dirname}/{rel}", data)
            out.units.append(Unit(name, "terraform", (path,), deps))
        else:
            objects, found = render_workload(resolved, bindings, c)
            errors = [d for d in found if d.severity is Severity.ERROR]
            out.warnings.extend(d for d in found if d.severity is not Severity.ERROR)
            if errors:
                diags.extend(errors)
                continue
            path = f"kubernetes/{name}.yaml"
            out.files.add_objects(path, objects)
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
    out.files.add(MARKER, (json.dumps(index, indent=2) + "\n").encode())
    return out


__all__ = ["Rendered", "RenderedFiles", "Unit", "render", "dump_yaml", "Diagnostic"]
