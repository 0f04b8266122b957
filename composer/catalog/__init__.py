"""The catalog: every component type and trait an application may use.

It is assembled from three sources, later ones replacing earlier ones by name:
the built-in definitions (composer/catalog/builtin), provider plugins (which add
implementations of abstract types, and may add definitions), and platform
definitions from `definitions/` beside app.yaml and any `--catalog DIR`.
Definition schemas are checked here, once, and compiled validators are kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from composer.catalog import schema as jschema
from composer.catalog.checks import local_definition_diagnostics
from composer.catalog.modules import ModuleSource, read_module, read_package  # noqa: F401  (re-exported)
from composer.diagnostics import Diagnostic, DiagnosticError, FieldPath
from composer.model.definitions import ComponentDefinition, Implementation, OutputSpec, TraitDefinition
from composer.model.loader import load_definitions
from composer.model.source import SourceMap, load_shipped
from composer.plugins import PluginRegistry

BUILTIN_DIR = Path(__file__).parent / "builtin"


@dataclass(frozen=True)
class ImplEntry:
    name: str
    implementation: Implementation
    base_dir: Path | None
    origin: str


@dataclass
class ComponentType:
    definition: ComponentDefinition
    origin: str  # "builtin", "provider:aws", or the definition file
    base_dir: Path | None
    source: SourceMap | None
    implementations: dict[str, ImplEntry] = field(default_factory=dict)
    validator: Any = None

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def category(self) -> str:
        return self.definition.spec.category

    @property
    def schema(self) -> dict:
        return self.definition.spec.parameters


@dataclass
class TraitType:
    definition: TraitDefinition
    origin: str
    source: SourceMap | None
    validator: Any = None

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def schema(self) -> dict:
        return self.definition.spec.parameters


def contract_problems(outputs: dict[str, OutputSpec], impl: Implementation) -> list[tuple[FieldPath, str, str]]:
    """How an implementation disagrees with its type's output contract, as
    (path inside the implementation, summary, detail): `omits` may only name optional
    contract keys, and `outputs` may only map contract keys."""
    if impl.manifests is not None and impl.manifests.outputs:
        m = impl.manifests
        out: list[tuple[FieldPath, str, str]] = [
            (
                ("manifests", "outputs", k),
                f"gives {k!r}, which is not in the output contract",
                f"contract keys: {', '.join(outputs) or 'none'}",
            )
            for k in m.outputs
            if k not in outputs
        ]
        out += [
            (
                ("manifests", "outputs"),
                f"does not give {k!r}, which the contract requires",
                "add a template for it under manifests.outputs",
            )
            for k, spec in outputs.items()
            if k not in m.outputs and not spec.optional
        ]
        return out
    tf = impl.terraform
    if tf is None:
        return []
    out = []
    for i, key in enumerate(tf.omits):
        if key not in outputs:
            out.append(
                (
                    ("terraform", "omits", i),
                    f"omits {key!r}, which is not in the output contract",
                    f"contract keys: {', '.join(outputs) or 'none'}",
                )
            )
        elif not outputs[key].optional:
            out.append(
                (
                    ("terraform", "omits", i),
                    f"omits {key!r}, which the contract requires",
                    "only keys marked optional: true may be omitted",
                )
            )
    for key in tf.outputs:
        if key not in outputs:
            out.append(
                (
                    ("terraform", "outputs", key),
                    f"maps {key!r}, which is not in the output contract",
                    f"contract keys: {', '.join(outputs) or 'none'}",
                )
            )
    return out


def _builtin_defs() -> dict:
    return load_shipped((BUILTIN_DIR / "defs.yaml").read_text(encoding="utf-8"))


class Catalog:
    def __init__(self, registry: PluginRegistry) -> None:
        self.registry = registry
        self.components: dict[str, ComponentType] = {}
        self.traits: dict[str, TraitType] = {}

    # -- assembly -----------------------------------------------------------------
    @classmethod
    def build(cls, registry: PluginRegistry, definition_dirs: Iterable[Path] = ()) -> Catalog:
        cat = cls(registry)
        defs = _builtin_defs()
        for path in sorted(BUILTIN_DIR.glob("*.yaml")):
            if path.name == "defs.yaml":
                continue
            for loaded in load_definitions(path, f"<builtin>/{path.name}"):
                d = loaded.model
                params = {**d.spec.parameters, "$defs": defs}
                d = d.model_copy(update={"spec": d.spec.model_copy(update={"parameters": params})})
                cat._add(d, "builtin", None, None)
        for provider in registry.providers.values():
            for d in provider.definitions():
                cat._add(d, f"provider:{provider.name}", None, None)
            for offer in provider.offers():
                ctype = cat.components.get(offer.type)
                if ctype is not None:
                    ctype.implementations[offer.name] = ImplEntry(
                        offer.name, offer.implementation, offer.base_dir, f"provider:{provider.name}"
                    )
        errors: list[Diagnostic] = []
        for directory in definition_dirs:
            for path in sorted(list(directory.glob("*.yaml")) + list(directory.glob("*.yml"))):
                try:
                    for loaded in load_definitions(path):
                        cat._add(loaded.model, str(path), path.parent, loaded.source)
                except DiagnosticError as exc:
                    errors.extend(exc.diagnostics)
        errors.extend(cat._check())
        if errors:
            raise DiagnosticError(errors)
        return cat

    def _add(
        self, d: ComponentDefinition | TraitDefinition, origin: str, base: Path | None, source: SourceMap | None
    ) -> None:
        if isinstance(d, ComponentDefinition):
            impls = {n: ImplEntry(n, i, base, origin) for n, i in d.spec.implementations.items()}
            previous = self.components.get(d.name)
            if previous is not None and origin != "builtin":
                # A platform definition of a built-in type keeps the providers' implementations
                # unless it names its own with the same name.
                impls = {**previous.implementations, **impls}
            self.components[d.name] = ComponentType(d, origin, base, source, impls)
        else:
            self.traits[d.name] = TraitType(d, origin, source)

    def _check(self) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        entries: list[ComponentType | TraitType] = [*self.components.values(), *self.traits.values()]
        for entry in entries:
            # Checking a schema against the meta-schema costs ~40 ms; the built-in ones are
            # checked once by the test suite (tests/test_catalog.py), not on every run.
            problem = None if entry.origin == "builtin" else jschema.check_schema(entry.schema)
            if problem:
                where = entry.source
                path = ("spec", "parameters")
                if where is not None:
                    out.append(
                        where.diagnostic(path, f"definition {entry.name!r} has an invalid parameter schema", problem)
                    )
                else:
                    out.append(
                        Diagnostic(
                            f"definition {entry.name!r} has an invalid parameter schema",
                            problem,
                            file=entry.origin,
                            path=path,
                        )
                    )
                continue
            entry.validator = jschema.validator(entry.schema)
        for ctype in self.components.values():
            if ctype.source is not None and ctype.base_dir is not None:
                own = {
                    n: e.implementation.terraform
                    for n, e in ctype.implementations.items()
                    if e.origin == ctype.origin and e.implementation.terraform is not None
                }
                out.extend(
                    local_definition_diagnostics(
                        ctype.name, ctype.base_dir, ctype.definition.spec.outputs, own, ctype.source.diagnostic
                    )
                )
            for name, impl in sorted(ctype.implementations.items()):
                for sub, summary, detail in contract_problems(ctype.definition.spec.outputs, impl.implementation):
                    summary = f"implementation {name!r} of {ctype.name!r} {summary}"
                    if impl.origin == ctype.origin and ctype.source is not None:
                        out.append(ctype.source.diagnostic(("spec", "implementations", name) + sub, summary, detail))
                    else:
                        out.append(Diagnostic(summary, detail, file=impl.origin))
        return out

    # -- queries --------------------------------------------------------------------
    def component(self, name: str) -> ComponentType | None:
        return self.components.get(name)

    def trait(self, name: str) -> TraitType | None:
        return self.traits.get(name)
