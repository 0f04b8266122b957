"""Resolve: apply the catalog and the environment to an application.

Pure: takes loaded models and the catalog, returns `Resolved` or raises one
DiagnosticError listing every problem. Here overrides are merged, parameters are
checked against each definition's schema (defaults filled in), traits are matched to
their definitions, the implementation of each type is chosen for the environment, and
the Terraform module inputs of definitions are evaluated in the template sandbox.
User data is never evaluated as a template: only definition authors write templates.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from composer.catalog import Catalog, ComponentType, ImplEntry
from composer.catalog import schema as jschema
from composer.catalog.sources import ModuleAddress
from composer.catalog.sources import contained_path as _contained
from composer.diagnostics import Collector, Diagnostic, FieldPath
from composer.model import refs
from composer.model.app import Application, Component
from composer.model.definitions import OutputSpec, TraitDefinition
from composer.model.environment import Environment
from composer.model.source import SourceMap
from composer.plugins import ComponentUse, EnvironmentCheckRequest
from composer.resolve_modules import ModuleInputs

PHYSICAL_NAME_MAX = 40


@dataclass(frozen=True)
class ResolvedTrait:
    name: str
    definition: TraitDefinition
    parameters: dict[str, Any]
    path: FieldPath


@dataclass(frozen=True)
class ResolvedComponent:
    name: str
    type: str
    category: str  # workload | resource
    path: FieldPath  # where the component sits in app.yaml
    parameters: dict[str, Any]
    traits: tuple[ResolvedTrait, ...]
    connections: tuple[str, ...]
    depends_on: tuple[str, ...]
    outputs: dict[str, OutputSpec]  # what it provides, in contract order
    implementation: ImplEntry
    physical_name: str
    module_path: Path | None = None  # a local module's directory
    module_name: str | None = None
    module_inputs: dict[str, Any] = field(default_factory=dict)
    module_address: ModuleAddress | None = None  # the source as written, classified
    module_base: Path | None = None  # what a local package may span (the definition's directory)
    cloud_provider: str | None = None  # the environment's cloud.provider

    @property
    def provider(self) -> str | None:
        """The provider plugin that serves this unit (configures its Terraform provider, reads
        its secret store entry, reports its cloud status): the implementation's own, or the
        environment's cloud for an implementation written for `any` provider (or Kubernetes)."""
        own = self.implementation.implementation.provider
        return own if own not in ("any", "kubernetes") else self.cloud_provider

    @property
    def is_resource(self) -> bool:
        return self.category == "resource"

    @property
    def is_terraform(self) -> bool:
        i = self.implementation.implementation
        return i.terraform is not None or i.builtin == "terraform-module"


@dataclass(frozen=True)
class Resolved:
    app: Application
    environment: Environment
    components: tuple[ResolvedComponent, ...]
    source: SourceMap
    env_source: SourceMap | None = None
    app_dir: Path = Path(".")

    @property
    def name(self) -> str:
        return self.app.name

    @cached_property
    def _by_name(self) -> dict[str, ResolvedComponent]:
        index: dict[str, ResolvedComponent] = {}
        for c in self.components:
            index.setdefault(c.name, c)  # the first one wins, as a linear scan would
        return index

    def component(self, name: str) -> ResolvedComponent | None:
        return self._by_name.get(name)

    @cached_property
    def _app_components(self) -> dict[str, Component]:
        index: dict[str, Component] = {}
        for c in self.app.spec.components:
            index.setdefault(c.name, c)  # the first one wins, as `Application.component` does
        return index

    def app_component(self, name: str) -> Component | None:
        """The component `name` as the app declares it: `app.component(name)` by an index (render
        asks it of every unit; the scan made 10,000 components cost 12 s)."""
        return self._app_components.get(name)

    def require(self, name: str) -> ResolvedComponent:
        """The component `name`, for a name this model gave out (the graph's order and edges)."""
        return self._by_name[name]


def physical_name(app: str, env: str, component: str) -> str:
    """<app>-<env>-<component>, shortened with a hash when cloud name limits would bite."""
    full = f"{app}-{env}-{component}"
    if len(full) <= PHYSICAL_NAME_MAX:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return full[: PHYSICAL_NAME_MAX - 9].rstrip("-") + "-" + digest


def deep_merge(base: Any, patch: Any, *, by_name: bool = False) -> Any:
    """Mappings merge key by key; other values are replaced. With `by_name`, lists of
    mappings that all carry `name` merge item by item (like a strategic merge patch)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for k, v in patch.items():
            merged[k] = deep_merge(base[k], v, by_name=by_name) if k in base else copy.deepcopy(v)
        return merged
    if (
        by_name
        and isinstance(base, list)
        and isinstance(patch, list)
        and all(isinstance(x, dict) and "name" in x for x in base + patch)
    ):
        out = [dict(x) for x in base]
        index = {x["name"]: i for i, x in enumerate(out)}
        for item in patch:
            if item["name"] in index:
                out[index[item["name"]]] = deep_merge(out[index[item["name"]]], item, by_name=True)
            else:
                out.append(copy.deepcopy(item))
        return out
    return copy.deepcopy(patch)


HINT_CUTOFF = 0.8  # below it a "did you mean" misleads more than it helps (kservice -> service-account)


def _suggest(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1, cutoff=HINT_CUTOFF)
    return (f"did you mean {close[0]!r}? " if close else "") + f"known: {', '.join(sorted(options))}"


class _Resolver(ModuleInputs):
    def __init__(
        self,
        app: Application,
        source: SourceMap,
        env: Environment,
        env_source: SourceMap | None,
        catalog: Catalog,
        app_dir: Path,
    ):
        self.app = app
        self.src = source
        self.env = env
        self.env_src = env_source
        self.catalog = catalog
        self.app_dir = app_dir
        self.diags = Collector()
        self._paths: dict[tuple[Path, str], Path | None] = {}

    def _contained(self, base: Path, rel: str) -> Path | None:
        """`_contained`, once per (base, rel) in a run: every component of a type shares its module."""
        key = (base, rel)
        if key not in self._paths:
            self._paths[key] = _contained(base, rel)
        return self._paths[key]

    def env_diag(self, path: FieldPath, summary: str, detail: str = "") -> Diagnostic:
        if self.env_src is not None:
            return self.env_src.diagnostic(path, summary, detail)
        return Diagnostic(summary, detail, path=path)

    def run(self) -> Resolved:
        names = [c.name for c in self.app.spec.components]
        seen: dict[str, int] = {}
        for i, c in enumerate(self.app.spec.components):
            if c.name in seen:
                self.diags.add(
                    self.src.diagnostic(
                        ("spec", "components", i, "name"),
                        f"duplicate component name {c.name!r}",
                        f"also used by spec.components[{seen[c.name]}]",
                    )
                )
            else:
                seen[c.name] = i
        self._check_environment(names)
        out = []
        for i, c in enumerate(self.app.spec.components):
            r = self._component(i, c)
            if r is not None:
                out.append(r)
        self._check_environment_for(out)
        self.diags.raise_if_errors()
        return Resolved(self.app, self.env, tuple(out), self.src, self.env_src, self.app_dir)

    def _check_environment(self, names: list[str]) -> None:
        spec = self.env.spec
        for cname in spec.overrides:
            if cname not in names:
                self.diags.add(
                    self.env_diag(
                        ("spec", "overrides", cname),
                        f"override for unknown component {cname!r}",
                        _suggest(cname, names),
                    )
                )
        for tname, impl in spec.implementations.items():
            ctype = self.catalog.component(tname)
            if ctype is None:
                self.diags.add(
                    self.env_diag(
                        ("spec", "implementations", tname),
                        f"unknown type {tname!r}",
                        _suggest(tname, list(self.catalog.components)),
                    )
                )
            elif impl not in ctype.implementations:
                self.diags.add(
                    self.env_diag(
                        ("spec", "implementations", tname),
                        f"type {tname!r} has no implementation {impl!r}",
                        _suggest(impl, list(ctype.implementations)),
                    )
                )
        cloud = spec.cloud
        if cloud is not None and self.catalog.registry.get(cloud.provider) is None:
            self.diags.add(
                self.env_diag(
                    ("spec", "cloud", "provider"),
                    f"unknown cloud provider {cloud.provider!r}",
                    _suggest(cloud.provider, self.catalog.registry.names()),
                )
            )

    def _check_environment_for(self, components: list[ResolvedComponent]) -> None:
        """The cloud provider says what the environment lacks for the components it serves, e.g. a
        network for a database: reported at the environment field, before anything is rendered."""
        cloud = self.env.spec.cloud
        provider = self.catalog.registry.get(cloud.provider) if cloud else None
        check = getattr(provider, "check_environment", None)
        if provider is None or check is None:
            return
        uses = tuple(
            ComponentUse(c.name, c.type, c.implementation.name)
            for c in components
            if c.implementation.implementation.provider == provider.name
        )
        for problem in check(EnvironmentCheckRequest(self.env, uses)):
            diag = self.env_diag(problem.path, problem.summary, problem.detail)
            self.diags.add(diag if problem.component is None else replace(diag, address=problem.component))

    def _validate(
        self, validator: jschema.SchemaValidator, value: Any, base: FieldPath, what: str, address: str
    ) -> bool:
        ok = True
        for sub, msg in jschema.errors(validator, value):
            # key=True: an error about a property points at the property's own key line
            self.diags.add(self.src.diagnostic(base + tuple(sub), f"invalid {what}: {msg}", key=True, address=address))
            ok = False
        return ok

    def _component(self, i: int, c: Component) -> ResolvedComponent | None:
        path: FieldPath = ("spec", "components", i)
        ctype = self.catalog.component(c.type)
        if ctype is None:
            self._type_error(
                path, f"unknown component type {c.type!r}", _suggest(c.type, list(self.catalog.components)), c.name
            )
            return None
        override = self.env.spec.overrides.get(c.name)
        props = deep_merge(c.properties, override.properties) if override and override.properties else c.properties
        self._check_ref_syntax(props, path + ("properties",), c.name)
        params = jschema.apply_defaults(ctype.schema, props)
        ok = self._validate(ctype.validator, params, path + ("properties",), f"property of {c.type}", c.name)
        traits = self._traits(c, path)
        impl = self._implementation(c, ctype, override.implementation if override else None, path)
        if not ok or impl is None or traits is None:
            return None
        outputs = self._outputs(ctype, impl, params)
        rc = ResolvedComponent(
            name=c.name,
            type=c.type,
            category=ctype.category,
            path=path,
            parameters=params,
            traits=traits,
            connections=c.connections,
            depends_on=c.depends_on,
            outputs=outputs,
            implementation=impl,
            physical_name=physical_name(self.app.name, self.env.name, c.name),
            cloud_provider=self.env.spec.cloud.provider if self.env.spec.cloud else None,
        )
        if ctype.category == "resource":
            rc = self._terraform(rc, path)
        return rc

    def _check_ref_syntax(self, value: Any, base: FieldPath, address: str) -> None:
        for p, s in refs.dollar_texts(value, base):
            for bad in refs.malformed(s):
                self.diags.add(
                    self.src.diagnostic(
                        p,
                        f"malformed reference {bad}",
                        "write ${component.key} with a lowercase component name and key, or $${ for a literal '${'",
                        address=address,
                    )
                )

    def _traits(self, c: Component, path: FieldPath) -> tuple[ResolvedTrait, ...] | None:
        out = []
        ok = True
        seen: set[str] = set()
        for j, t in enumerate(c.traits):
            tpath = path + ("traits", j)
            ttype = self.catalog.trait(t.type)
            if ttype is None:
                self._type_error(
                    tpath, f"unknown trait {t.type!r}", _suggest(t.type, list(self.catalog.traits)), c.name
                )
                ok = False
                continue
            applies = ttype.definition.spec.applies_to
            ctype = self.catalog.component(c.type)
            if ctype is not None and (ctype.category != "workload" or (applies and c.type not in applies)):
                targets = ", ".join(applies) if applies else "workloads"
                self._type_error(
                    tpath, f"trait {t.type!r} does not apply to {c.type!r}", f"it applies to {targets}", c.name
                )
                ok = False
                continue
            if t.type in seen:
                self._type_error(tpath, f"trait {t.type!r} is given twice", "merge the two into one", c.name)
                ok = False
                continue
            seen.add(t.type)
            self._check_ref_syntax(t.properties, tpath + ("properties",), c.name)
            params = jschema.apply_defaults(ttype.schema, t.properties)
            if not self._validate(
                ttype.validator, params, tpath + ("properties",), f"property of trait {t.type}", c.name
            ):
                ok = False
                continue
            out.append(ResolvedTrait(t.type, ttype.definition, params, tpath))
        return tuple(out) if ok else None

    def _implementation(
        self, c: Component, ctype: ComponentType, chosen: str | None, path: FieldPath
    ) -> ImplEntry | None:
        impls = ctype.implementations
        chosen = chosen or self.env.spec.implementations.get(c.type)
        if chosen:
            if chosen in impls:
                return impls[chosen]
            self._type_error(
                path, f"type {c.type!r} has no implementation {chosen!r}", _suggest(chosen, list(impls)), c.name
            )
            return None
        cloud = self.env.spec.cloud.provider if self.env.spec.cloud else None
        for wanted in (cloud, "any", "kubernetes"):
            matches = [e for e in impls.values() if e.implementation.provider == wanted]
            if matches:
                defaults = [e for e in matches if e.implementation.default]
                return (defaults or matches)[0]
        where = f"cloud {cloud!r}" if cloud else "an environment without a cloud"
        avail = ", ".join(f"{n} ({e.implementation.provider})" for n, e in sorted(impls.items())) or "none"
        self._type_error(
            path,
            f"no implementation of {c.type!r} for {where}",
            f"available: {avail}; choose one in the environment: implementations: {{{c.type}: NAME}}",
            c.name,
        )
        return None

    def _outputs(self, ctype: ComponentType, impl: ImplEntry, params: dict[str, Any]) -> dict[str, OutputSpec]:
        if impl.implementation.builtin == "terraform-module":
            return {
                k: OutputSpec(secret=bool(v.get("secret")), description=v.get("description", ""))
                for k, v in params.get("outputs", {}).items()
            }
        i = impl.implementation
        if i.manifests is not None and ctype.category == "resource":  # served in-cluster: what its templates give
            return {k: v for k, v in ctype.definition.spec.outputs.items() if k in i.manifests.outputs}
        omits = set(i.terraform.omits) if i.terraform else set()
        return {k: v for k, v in ctype.definition.spec.outputs.items() if k not in omits}


def resolve(
    app: Application, source: SourceMap, env: Environment, env_source: SourceMap | None, catalog: Catalog, app_dir: Path
) -> Resolved:
    return _Resolver(app, source, env, env_source, catalog, app_dir).run()
