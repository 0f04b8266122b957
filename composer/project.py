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
from composer.catalog.policy import UNPARSEABLE, Violation, check_module
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
    untrusted: bool = False,
) -> Compiled:
    env = project.environment(env_name)
    if untrusted:
        refuse_unlocked_catalogs(project, catalog_dirs)
    catalog = catalog or project.catalog(registry, catalog_dirs)
    resolved = resolve(project.app.model, project.app.source, env.model, env.source, catalog, project.root)
    graph = build_graph(resolved)
    modules = load_modules(resolved)
    enforce_module_policy(resolved, catalog, modules)
    rendered = render(resolved, graph, registry, modules)
    return Compiled(project, resolved, graph, rendered, modules)


# -- trust: the module policy and locked catalogs (docs/security.md) --------------------------


def enforce_module_policy(resolved: Resolved, catalog: Catalog, modules: dict[str, ModuleSource]) -> None:
    """Check every module Composer will run against the module policy; violations are exit 1,
    reported at the definition's line (or the component's `source` for terraform-module).
    Modules shipped by provider plugins are not checked: a plugin is code Composer already runs."""
    errors: list[Diagnostic] = []
    seen: set[tuple] = set()
    env_allow = set(resolved.environment.spec.policies.allow)
    for c in resolved.components:
        module = modules.get(c.name)
        impl = c.implementation
        if module is None or impl.origin.startswith("provider:"):
            continue
        ctype = catalog.component(c.type)
        own = ctype is not None and impl.origin == ctype.origin and ctype.source is not None
        allow = env_allow | (set(ctype.definition.spec.policy.allow) if own else set())
        for v in check_module(module.files, allow):
            key = (impl.origin, module.digest, v)
            if key in seen:
                continue
            seen.add(key)
            where = f"policies.allow of environment {resolved.environment.name}" + (" or to policy.allow of this definition" if own else "")
            summary, how = policy_message(module.name, v, where)
            if own:
                errors.append(ctype.source.diagnostic(("spec", "implementations", impl.name, "terraform", "module"), summary, how, address=c.name))
            else:
                errors.append(resolved.source.diagnostic(c.path + ("properties", "source"), summary, how, address=c.name))
    if errors:
        raise DiagnosticError(errors)


def policy_message(module: str, v: Violation, allow_where: str) -> tuple[str, str]:
    """(summary, detail) of a module policy violation; `allow_where` says where to opt in."""
    at = f"{v.file}:{v.line}" if v.line else v.file
    how = " (no opt-in lifts this: make the file parse)" if v.rule == UNPARSEABLE else f"; to allow it, add {v.rule!r} to {allow_where}"
    return f"module {module} breaks the module policy ({v.rule}): {v.summary}", f"at {module}/{at}. Composer refuses it before Terraform runs{how}"


LOCK_FILE = "composer.lock"


def catalog_is_locked(directory: Path, project_root: Path) -> bool:
    """The lock interface `--untrusted` relies on: a composer.lock in the catalog directory, or
    (for a directory inside the project) in the project root. Issue 10's lock verifies the
    digests it records when modules are read; this only asks whether one covers the catalog."""
    directory = directory.absolute()
    if (directory / LOCK_FILE).is_file():
        return True
    return directory.is_relative_to(project_root) and (project_root / LOCK_FILE).is_file()


def refuse_unlocked_catalogs(project: Project, catalog_dirs: Iterable[Path]) -> None:
    """`--untrusted`: every platform catalog (definitions/, --catalog DIR) must be locked."""
    dirs = [project.definitions_dir] if project.definitions_dir.is_dir() else []
    errors = [
        Diagnostic(
            "refusing an unlocked platform catalog (--untrusted)",
            f"{d} has definitions but no {LOCK_FILE} covers it; with --untrusted (COMPOSER_UNTRUSTED=1) only locked "
            "catalogs run. Lock it from a trusted checkout (appc lock) and commit the lock",
            file=str(d),
        )
        for d in [*dirs, *catalog_dirs]
        if any(Path(d).glob("*.y*ml")) and not catalog_is_locked(Path(d), project.root)
    ]
    if errors:
        raise DiagnosticError(errors)
