"""A project on disk and the compile pipeline: load → resolve → graph → render.

A project is an app.yaml with `environments/<name>.yaml` and optional
`definitions/` beside it. This module reads those files (and the module sources
the chosen implementations call), then runs the pure stages. Everything that
commands share before plan/apply lives here, so the CLI stays thin.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from composer.catalog import Catalog, ModuleSource
from composer.catalog.cache import ModuleRequest, ModuleResolver, module_cache_dir, ships_with_appc
from composer.catalog.checks import declared_output_problems, implementation_diagnostics, input_problems, policy_message
from composer.catalog.lock import lock_path, read_lock
from composer.catalog.modules import module_interface
from composer.catalog.policy import check_module
from composer.catalog.sources import AddressError, parse_address
from composer.catalog.sources import contained_path as _contained
from composer.diagnostics import Diagnostic, DiagnosticError
from composer.engine.publishing import publish_problems
from composer.graph import Graph, build_graph
from composer.model.app import Application
from composer.model.environment import Environment
from composer.model.loader import Loaded, load_application_files, load_environment
from composer.plugins import BaseProvider, PluginRegistry, PreflightRequest
from composer.render import Rendered, render
from composer.resolve import Resolved, ResolvedComponent, resolve
from composer.state.model import InstalledFrom

DEFAULT_ENVIRONMENT = "default"


@dataclass(frozen=True)
class Project:
    app_file: Path
    app: Loaded[Application]
    home: Path | None = None  # a bundle's: where its state and GitOps output live (beside the archive)

    @property
    def root(self) -> Path:
        return self.app_file.parent.absolute()

    @property
    def workdir(self) -> Path:
        """Where state (.composer/) and relative output directories live: the project root, or
        for a bundle (unpacked into a temporary directory) the directory holding the archive."""
        return self.home or self.root

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

    def environment_path(self, name: str) -> Path:
        """The file of environment `name`: `<name>.yaml`, else `<name>.yml` when only that exists."""
        path = self.environments_dir / f"{name}.yaml"
        other = self.environments_dir / f"{name}.yml"
        return other if not path.exists() and other.exists() else path

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
                raise DiagnosticError(
                    [
                        Diagnostic(
                            "which environment?",
                            f"pass -e ENV; environments: {', '.join(names)}",
                            file=str(self.environments_dir),
                        )
                    ]
                )
        path = self.environment_path(name)
        if not path.exists():
            close = difflib.get_close_matches(name, names, n=1)
            hint = (f"did you mean {close[0]!r}? " if close else "") + (
                f"environments: {', '.join(names)}" if names else f"there is no {self.environments_dir}/ directory"
            )
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


def open_project(app_file: Path | Sequence[Path]) -> Project:
    """One app file, or several Score files (the first one's directory is the project's)."""
    files = [app_file] if isinstance(app_file, Path) else list(app_file)
    return Project(files[0], load_application_files(files))


@dataclass(frozen=True)
class Compiled:
    project: Project
    resolved: Resolved
    graph: Graph
    rendered: Rendered
    modules: dict[str, ModuleSource]
    warnings: tuple[Diagnostic, ...] = ()  # e.g. the environment's namespace wins over the app's
    allow_outside_project: bool = False  # may state.path / kubernetes.directory leave the project?
    provenance: InstalledFrom | None = None  # installing from a bundle: recorded on every applied unit


def module_request(c: ResolvedComponent) -> ModuleRequest | None:
    """What a Terraform unit's module is, for the lock and cache (None: nothing to load)."""
    if not c.is_terraform or c.module_address is None:
        return None
    impl = c.implementation.implementation
    if impl.builtin == "terraform-module":
        return ModuleRequest(
            c.module_address,
            c.parameters.get("version"),
            c.module_path,
            c.module_base,
            c.module_name or "module",
            "app",
        )
    version = impl.terraform.version if impl.terraform else None
    return ModuleRequest(
        c.module_address, version, c.module_path, c.module_base, c.module_name or "module", c.implementation.origin
    )


def project_module_requests(project: Project, catalog: Catalog) -> list[ModuleRequest]:
    """Every module the project's platform definitions and terraform-module components call
    (all implementations, whichever environment picks them): what `appc lock` records."""
    reqs: list[ModuleRequest] = []
    errors: list[Diagnostic] = []

    def add(
        source: str, version: str | None, base: Path, origin: str, prefix: str, where: Diagnostic | None = None
    ) -> None:
        try:
            address = parse_address(source, version)
        except AddressError as exc:
            errors.append(Diagnostic(f"unusable module source {source!r}", str(exc), file=origin))
            return
        path = None
        if not address.remote:
            path = _contained(base, source)
            if path is None or not path.is_dir():
                errors.append(Diagnostic(f"module directory not found: {source}", f"relative to {base}", file=origin))
                return
        reqs.append(ModuleRequest(address, version, path, base, f"{prefix}-{address.leaf}", origin))

    for ctype in sorted(catalog.components.values(), key=lambda t: t.name):
        for _, entry in sorted(ctype.implementations.items()):
            tf = entry.implementation.terraform
            if tf is not None and not ships_with_appc(entry.origin):
                add(tf.module, tf.version, entry.base_dir or project.root, entry.origin, "platform")
    for comp in project.app.model.spec.components:
        props = comp.properties or {}
        if comp.type == "terraform-module" and isinstance(props.get("source"), str):
            version = props.get("version") if isinstance(props.get("version"), str) else None
            add(props["source"], version, project.root, "app", "local")
    if errors:
        raise DiagnosticError(errors)
    return reqs


def module_resolver(project: Project, locked: bool = False) -> ModuleResolver:
    return ModuleResolver(project.root, read_lock(lock_path(project.root)), module_cache_dir(), locked)


def load_modules(
    resolved: Resolved, modules: ModuleResolver, catalog: Catalog | None = None
) -> dict[str, ModuleSource]:
    """The module package of every Terraform unit (each source once), through the lock,
    checked against what the unit passes and expects (composer/catalog/checks.py)."""
    cache: dict[tuple, ModuleSource] = {}
    out: dict[str, ModuleSource] = {}
    errors: list[Diagnostic] = []
    for c in resolved.components:
        req = module_request(c)
        if req is None:
            continue
        key = (req.address, req.version, req.path, req.name)
        if key not in cache:
            try:
                cache[key] = modules.module(req)
            except DiagnosticError as exc:
                errors.extend(
                    resolved.source.diagnostic(c.path + ("type",), d.summary, d.detail, address=c.name)
                    for d in exc.diagnostics
                )
                continue
        out[c.name] = cache[key]
        errors.extend(e for e in interface_diagnostics(resolved, c, req, cache[key], catalog) if e not in errors)
    if errors:
        raise DiagnosticError(errors)
    return out


def interface_diagnostics(
    resolved: Resolved, c: ResolvedComponent, req: ModuleRequest, module: ModuleSource, catalog: Catalog | None
) -> list[Diagnostic]:
    """Interface checks the catalog could not make at load: a terraform-module component's
    inputs and outputs (at its app.yaml line), and a definition's remote module (at the
    definition's line, once the lock brought the module)."""
    if req.origin == "app":
        try:
            iface = module_interface(module)
        except DiagnosticError as exc:
            return [
                resolved.source.diagnostic(
                    c.path + ("properties", "source"),
                    f"component {c.name}: the module does not parse: {d.summary}",
                    d.detail,
                    address=c.name,
                )
                for d in exc.diagnostics
            ]
        props = ("properties",)
        problems = input_problems(
            c.parameters.get("inputs", {}), (), iface, props + ("inputs",)
        ) + declared_output_problems(c.parameters.get("outputs", {}), iface, props + ("outputs",))
        return [
            resolved.source.diagnostic(c.path + sub, f"component {c.name}: {summary}", detail, address=c.name)
            for sub, summary, detail in problems
        ]
    ctype = catalog.component(c.type) if catalog else None
    tf = c.implementation.implementation.terraform
    if (
        not req.address.remote
        or ctype is None
        or ctype.source is None
        or tf is None
        or c.implementation.origin != ctype.origin
    ):
        return []
    outputs = ctype.definition.spec.outputs
    return implementation_diagnostics(module, tf, outputs, ctype.source.diagnostic, c.type, c.implementation.name)


def provider_problems(env: Loaded[Environment], registry: PluginRegistry, app: Application) -> None:
    """A cloud whose secret store is not configured (e.g. Azure without keyVaultId), said once at
    the environment's cloud line instead of once per component at template evaluation."""
    cloud = env.model.spec.cloud
    plugin = registry.get(cloud.provider) if cloud else None
    if plugin is None or not app.spec.components:
        return
    problems = list(plugin.secret_store_problems(PreflightRequest(env.model)))
    if problems and type(plugin).secret_store_problems is not BaseProvider.secret_store_problems:
        raise DiagnosticError([env.source.diagnostic(("spec", "cloud"), p.summary, p.detail) for p in problems])


def compile_project(
    project: Project,
    env_name: str | None,
    registry: PluginRegistry,
    catalog_dirs: Iterable[Path] = (),
    catalog: Catalog | None = None,
    locked: bool = False,
    modules: ModuleResolver | None = None,
    untrusted: bool = False,
) -> Compiled:
    """Resolve, graph and render the project for one environment. The cyclic garbage collector
    waits until the end: the stages allocate ~100k objects for 1,000 Kubernetes objects and leave
    a few hundred in cycles at most, and the collector would scan them ~30 times (~30 ms of a
    ~200 ms compile)."""
    from composer.model.source import gc_paused

    with gc_paused():
        return _compile(project, env_name, registry, catalog_dirs, catalog, locked, modules, untrusted)


def _compile(
    project: Project,
    env_name: str | None,
    registry: PluginRegistry,
    catalog_dirs: Iterable[Path],
    catalog: Catalog | None,
    locked: bool,
    modules: ModuleResolver | None,
    untrusted: bool,
) -> Compiled:
    from composer.model.placement import place

    if untrusted:
        refuse_unlocked_catalogs(project, catalog_dirs)
    env, warnings = place(project.app, project.environment(env_name))
    catalog = catalog or project.catalog(registry, catalog_dirs)
    provider_problems(env, registry, project.app.model)
    resolved = resolve(project.app.model, project.app.source, env.model, env.source, catalog, project.root)
    graph = build_graph(resolved)
    problems = publish_problems(resolved, registry)
    if problems:
        raise DiagnosticError(problems)
    packages = load_modules(resolved, modules or module_resolver(project, locked), catalog)
    enforce_module_policy(resolved, catalog, packages)
    rendered = render(resolved, graph, registry, packages)
    return Compiled(project, resolved, graph, rendered, packages, tuple(warnings))


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
        own = ctype if ctype is not None and impl.origin == ctype.origin and ctype.source is not None else None
        allow = env_allow | (set(own.definition.spec.policy.allow) if own else set())
        for v in check_module(module.files, allow):
            key = (impl.origin, module.digest, v)
            if key in seen:
                continue
            seen.add(key)
            where = f"policies.allow of environment {resolved.environment.name}" + (
                " or to policy.allow of this definition" if own else ""
            )
            summary, how = policy_message(module.name, v, where)
            if own and own.source:
                errors.append(
                    own.source.diagnostic(
                        ("spec", "implementations", impl.name, "terraform", "module"), summary, how, address=c.name
                    )
                )
            else:
                errors.append(
                    resolved.source.diagnostic(c.path + ("properties", "source"), summary, how, address=c.name)
                )
    if errors:
        raise DiagnosticError(errors)


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


PAUSE_ANNOTATION = "controller.core.oam.dev/pause"


def refuse_paused(compiled: Compiled) -> None:
    """KubeVela's pause annotation: apply changes nothing while it is "true"."""
    app = compiled.project.app
    if app.model.metadata.annotations.get(PAUSE_ANNOTATION) == "true":
        raise DiagnosticError(
            [
                app.source.diagnostic(
                    ("metadata", "annotations", PAUSE_ANNOTATION),
                    "the application is paused: apply changes nothing",
                    f'set {PAUSE_ANNOTATION}: "false" (or remove it) to apply again',
                )
            ]
        )


def held_units(compiled: Compiled, approved: Iterable[str]) -> tuple[set[str], list[str]]:
    """Units behind an approval gate not approved yet (and everything depending on them), and those gates."""
    gates = compiled.project.app.model.spec.gates
    approved = set(approved)
    unknown = sorted(approved - {g.name for g in gates})
    if unknown:
        names = ", ".join(g.name for g in gates) or "none"
        raise DiagnosticError(
            [
                Diagnostic(
                    f"--approve {unknown[0]}: the application has no approval gate of that name", f"gates: {names}"
                )
            ]
        )
    held: set[str] = set()
    waiting = []
    for gate in gates:
        if gate.name in approved:
            continue
        waiting.append(gate.name)
        stack = [c for c in gate.components if c in compiled.graph.order]
        while stack:
            name = stack.pop()
            if name not in held:
                held.add(name)
                stack.extend(compiled.graph.dependents(name))
    return held, waiting
