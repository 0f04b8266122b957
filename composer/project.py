"""A project on disk and the compile pipeline: load → resolve → graph → render.

A project is an app.yaml with `environments/<name>.yaml` and optional
`definitions/` beside it. This module reads those files (and the module sources
the chosen implementations call), then runs the pure stages. Everything that
commands share before plan/apply lives here, so the CLI stays thin.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from composer.catalog import Catalog, ModuleSource, read_module
from composer.diagnostics import Diagnostic, DiagnosticError
from composer.graph import Graph, build_graph
from composer.model.app import Application
from composer.model.environment import Environment
from composer.model.loader import Loaded, load_application, load_environment
from composer.plugins import PluginRegistry
from composer.render import Rendered, render
from composer.resolve import Resolved, resolve

DEFAULT_ENVIRONMENT = "default"


@dataclass(frozen=True)
class Project:
    app_file: Path
    app: Loaded[Application]

    @property
    def root(self) -> Path:
        return self.app_file.parent.absolute()

    @property
    def environments_dir(self) -> Path:
        return self.root / "environments"

    @property
    def definitions_dir(self) -> Path:
        return self.root / "definitions"

    def environment_names(self) -> list[str]:
        d = self.environments_dir
        if not d.is_dir():
            return []
        return sorted(p.stem for p in d.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())

    def environment(self, name: str | None) -> Loaded[Environment]:
        names = self.environment_names()
        if name is None:
            if not names:
                env = Environment.model_validate({"kind": "Environment", "metadata": {"name": DEFAULT_ENVIRONMENT}})
                from composer.model.source import SourceMap

                return Loaded(env, SourceMap("<default environment>"), self.environments_dir / "default.yaml")
            if len(names) == 1:
                name = names[0]
            else:
                raise DiagnosticError([Diagnostic("which environment?", f"pass -e ENV; environments: {', '.join(names)}", file=str(self.environments_dir))])
        path = self.environments_dir / f"{name}.yaml"
        if not path.exists() and (self.environments_dir / f"{name}.yml").exists():
            path = self.environments_dir / f"{name}.yml"
        if not path.exists():
            close = difflib.get_close_matches(name, names, n=1)
            hint = (f"did you mean {close[0]!r}? " if close else "") + (f"environments: {', '.join(names)}" if names else f"there is no {self.environments_dir}/ directory")
            raise DiagnosticError([Diagnostic(f"unknown environment {name!r}", hint, file=str(self.environments_dir))])
        return load_environment(path, _display(path))

    def catalog(self, registry: PluginRegistry, extra_dirs: Iterable[Path] = ()) -> Catalog:
        dirs = [self.definitions_dir] if self.definitions_dir.is_dir() else []
        return Catalog.build(registry, [*dirs, *extra_dirs])


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def open_project(app_file: Path) -> Project:
    return Project(app_file, load_application(app_file, _display(app_file)))


@dataclass(frozen=True)
class Compiled:
    project: Project
    resolved: Resolved
    graph: Graph
    rendered: Rendered
    modules: dict[str, ModuleSource]
    allow_outside_project: bool = False  # may state.path / kubernetes.directory leave the project?


def load_modules(resolved: Resolved) -> dict[str, ModuleSource]:
    """Read the module source of every Terraform unit (each directory once)."""
    cache: dict[Path, ModuleSource] = {}
    out: dict[str, ModuleSource] = {}
    errors = []
    for c in resolved.components:
        if not c.is_terraform or c.module_path is None:
            continue
        if c.module_path not in cache:
            try:
                cache[c.module_path] = read_module(c.module_path, c.module_name or "module")
            except DiagnosticError as exc:
                errors.extend(resolved.source.diagnostic(c.path + ("type",), d.summary, d.detail, address=c.name) for d in exc.diagnostics)
                continue
        out[c.name] = cache[c.module_path]
    if errors:
        raise DiagnosticError(errors)
    return out


def compile_project(
    project: Project,
    env_name: str | None,
    registry: PluginRegistry,
    catalog_dirs: Iterable[Path] = (),
    catalog: Catalog | None = None,
) -> Compiled:
    env = project.environment(env_name)
    catalog = catalog or project.catalog(registry, catalog_dirs)
    resolved = resolve(project.app.model, project.app.source, env.model, env.source, catalog, project.root)
    graph = build_graph(resolved)
    modules = load_modules(resolved)
    rendered = render(resolved, graph, registry, modules)
    return Compiled(project, resolved, graph, rendered, modules)
