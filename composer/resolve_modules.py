"""Resolve's part about Terraform modules: which module a unit calls (the built-in
`terraform-module` type's own, or its implementation's), where it lies (a local one must stay
inside its definition's or the app's directory), and its inputs, evaluated from the
definition's templates in the sandbox. Mixed into composer/resolve.py's resolver.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from composer.catalog import Catalog
from composer.catalog.sources import LOCAL, AddressError, ModuleAddress, parse_address
from composer.diagnostics import Collector, FieldPath, format_path
from composer.model.app import Application
from composer.model.environment import Environment
from composer.model.source import SourceMap
from composer.templates import TemplateFailure, evaluate

if TYPE_CHECKING:
    from composer.resolve import ResolvedComponent


class ModuleInputs:
    """Needs the resolver's app, env, catalog, app_dir, src, diags and `_contained`."""

    app: Application
    env: Environment
    catalog: Catalog
    app_dir: Path
    src: SourceMap
    diags: Collector

    def _type_error(self, path: FieldPath, summary: str, detail: str, component: str) -> None:
        """An error at the `type` field under `path` of the app file, about `component`."""
        self.diags.add(self.src.diagnostic(path + ("type",), summary, detail, address=component))

    def _contained(self, base: Path, rel: str) -> Path | None:
        raise NotImplementedError

    def _terraform(self, rc: ResolvedComponent, path: FieldPath) -> ResolvedComponent:
        """The module a Terraform unit calls, located, and its evaluated inputs."""
        impl = rc.implementation.implementation
        if impl.builtin == "terraform-module":
            return self._module_component(rc, path)
        if impl.terraform is None:
            return rc
        base = rc.implementation.base_dir or self.app_dir
        tf = impl.terraform
        located = self._locate(
            rc,
            path + ("type",),
            base,
            tf.module,
            tf.version,
            f"implementation {rc.implementation.name!r} names a module outside its definition directory",
            f"module {tf.module!r} (from {rc.implementation.origin})",
        )
        if located is None:
            return rc
        try:
            inputs = evaluate(tf.inputs, self._input_context(rc))
        except TemplateFailure as exc:
            self._type_error(
                path,
                f"implementation {rc.implementation.name!r} of {rc.type!r} failed to evaluate its module inputs",
                f"{exc}{exc.where} (in {self._input_site(rc, exc.path)})",
                rc.name,
            )
            return rc
        origin = rc.implementation.origin.removeprefix("provider:")
        return replace(
            rc,
            module_path=located.path,
            module_address=located.address,
            module_base=base,
            module_name=f"{origin if '/' not in origin else 'platform'}-{located.address.leaf}",
            module_inputs=inputs,
        )

    def _module_component(self, rc: ResolvedComponent, path: FieldPath) -> ResolvedComponent:
        """The built-in `terraform-module` type: the app's own module, next to app.yaml."""
        source = rc.parameters["source"]
        located = self._locate(
            rc,
            path + ("properties", "source"),
            self.app_dir,
            source,
            rc.parameters.get("version"),
            "module source must be a directory inside the application directory",
            f"{source!r} leaves {self.app_dir}; copy the module next to app.yaml",
        )
        if located is None:
            return rc
        return replace(
            rc,
            module_path=located.path,
            module_address=located.address,
            module_base=self.app_dir,
            module_name=f"local-{located.address.leaf}",
            module_inputs=rc.parameters.get("inputs", {}),
        )

    def _input_context(self, rc: ResolvedComponent) -> dict[str, Any]:
        """What a definition's module input templates see (docs/definitions.md)."""
        provider = self.catalog.registry.get(rc.implementation.implementation.provider)
        return {
            "app": self.app.name,
            "env": self.env.name,
            "component": rc.name,
            "name": rc.physical_name,
            "parameters": rc.parameters,
            "tags": {"app": self.app.name, "env": self.env.name, "component": rc.name, "managed-by": "appc"},
            "production": self.env.spec.tier == "production",  # the durable defaults (environment tier)
            "kms_key": self.env.spec.cloud.kms_key if self.env.spec.cloud else None,
            **(provider.template_context(self.env) if provider else {}),
        }

    def _locate(
        self,
        rc: ResolvedComponent,
        path: FieldPath,
        base: Path,
        source: str,
        version: str | None,
        outside: str,
        outside_detail: str,
    ) -> _Located | None:
        """Classify a module source; a local one must stay inside `base`."""
        try:
            address = parse_address(source, version)
        except AddressError as exc:
            self.diags.add(
                self.src.diagnostic(
                    path,
                    f"unusable module source for {rc.name}",
                    f"{exc} (from {rc.implementation.origin})",
                    address=rc.name,
                )
            )
            return None
        if address.kind != LOCAL:
            return _Located(address, None)
        module_path = self._contained(base, source)
        if module_path is None:
            self.diags.add(self.src.diagnostic(path, outside, outside_detail, address=rc.name))
            return None
        return _Located(address, module_path)

    def _input_site(self, rc: ResolvedComponent, inner: FieldPath) -> str:
        """Where a module input template sits: the definition file, its line, the field."""
        path = ("spec", "implementations", rc.implementation.name, "terraform", "inputs", *inner)
        ctype = self.catalog.components.get(rc.type)
        where = rc.implementation.origin
        pos = ctype.source.locate(path) if ctype and ctype.source and ctype.origin == where else None
        return f"{where}:{pos.line}, {format_path(path)}" if pos else where


@dataclass(frozen=True)
class _Located:
    address: ModuleAddress
    path: Path | None
