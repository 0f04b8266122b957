"""`appc def validate`: check definition files on their own, before any application uses them.

Per definition: the parameter schema, the template syntax of manifests, inputs and trait
patches, each Terraform implementation's module (a usable address; a local one inside the
definition's directory and within the module policy) and the output contract. Reads the
definition files and their local modules; returns diagnostics, never raises for bad input.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from composer.catalog import contract_problems
from composer.catalog.checks import local_definition_diagnostics, policy_message
from composer.catalog.modules import read_module
from composer.catalog.policy import check_module
from composer.catalog.schema_validation import schema_problem
from composer.catalog.sources import AddressError, contained_path, parse_address
from composer.diagnostics import Diagnostic, DiagnosticError, FieldPath
from composer.model import refs
from composer.model.definitions import ComponentDefinition, Implementation
from composer.model.loader import Definition, Loaded, load_definitions
from composer.model.source import SourceMap
from composer.templates import check_syntax

ALLOW_WHERE = "policy.allow of this definition (or an environment's policies.allow)"


@dataclass
class DefinitionReport:
    """What `def validate` found: how many definitions it read and what is wrong with them."""

    count: int = 0
    errors: list[Diagnostic] = field(default_factory=list)


def validate_definition_files(files: Iterable[Path]) -> DefinitionReport:
    """Check every definition in `files`; a file that does not load adds its diagnostics."""
    report = DefinitionReport()
    for path in files:
        try:
            loaded = load_definitions(path)
        except DiagnosticError as exc:
            report.errors.extend(exc.diagnostics)
            continue
        for item in loaded:
            report.count += 1
            report.errors.extend(definition_problems(item, path.parent))
    return report


def definition_problems(item: Loaded[Definition], base: Path) -> list[Diagnostic]:
    """Everything wrong with one loaded definition whose file lies in `base`."""
    d = item.model
    errors: list[Diagnostic] = []
    problem = schema_problem(d.spec.parameters)
    if problem:
        path = ("spec", "parameters", *problem[0])
        errors.append(
            item.source.diagnostic(path, f"definition {d.name!r} has an invalid parameter schema", problem[1])
        )
    templates: list[tuple[FieldPath, str]] = []
    if isinstance(d, ComponentDefinition):
        for iname, impl in d.spec.implementations.items():
            base_path: FieldPath = ("spec", "implementations", iname)
            templates.extend(_implementation_templates(impl, base_path))
            errors.extend(_implementation_problems(item.source, d, iname, impl, base))
        tf_impls = {n: i.terraform for n, i in d.spec.implementations.items() if i.terraform is not None}
        errors.extend(
            local_definition_diagnostics(d.name, base, d.spec.outputs, tf_impls, item.source.diagnostic, remote=True)
        )
    else:
        templates.extend((("spec", k), getattr(d.spec, k)) for k in ("patch", "objects") if getattr(d.spec, k))
    for path, text in templates:
        syntax = check_syntax(text)
        if syntax:
            errors.append(item.source.diagnostic(path, "template syntax error", syntax))
    return errors


def _implementation_templates(impl: Implementation, base: FieldPath) -> list[tuple[FieldPath, str]]:
    """The template strings of one implementation: its manifests and its Terraform inputs."""
    out: list[tuple[FieldPath, str]] = []
    if impl.manifests:
        out.append((base + ("manifests", "template"), impl.manifests.template))
    if impl.terraform:
        out.extend(refs.walk_strings(impl.terraform.inputs, base + ("terraform", "inputs")))
    return out


def _implementation_problems(
    source: SourceMap, d: ComponentDefinition, iname: str, impl: Implementation, base: Path
) -> list[Diagnostic]:
    """One implementation's module and output contract. An unusable module address stops here:
    the contract of a module that cannot be named means nothing."""
    path: FieldPath = ("spec", "implementations", iname)
    errors: list[Diagnostic] = []
    if impl.terraform:
        module_path = path + ("terraform", "module")
        try:
            remote = parse_address(impl.terraform.module, impl.terraform.version).remote
        except AddressError as exc:
            return [source.diagnostic(module_path, "unusable module source", str(exc))]
        if not remote:  # a remote one is checked against its interface once `appc lock` fetched it
            errors.extend(_local_module_problems(source, module_path, base, impl.terraform.module, d))
    for sub, summary, detail in contract_problems(d.spec.outputs, impl):
        errors.append(source.diagnostic(path + sub, f"implementation {iname!r} {summary}", detail))
    return errors


def _local_module_problems(
    source: SourceMap, path: FieldPath, base: Path, rel: str, d: ComponentDefinition
) -> list[Diagnostic]:
    module = contained_path(base, rel)
    if module is None:
        return [
            source.diagnostic(
                path,
                "the module must be a directory inside the definition's directory",
                f"{rel!r} leaves {base}; no absolute paths or '..' out of it",
            )
        ]
    if not module.is_dir():
        return [source.diagnostic(path, f"module directory not found: {module}")]
    return module_policy_problems(source, path, module, d.spec.policy.allow)


def module_policy_problems(source: SourceMap, path: FieldPath, module: Path, allow: Iterable[str]) -> list[Diagnostic]:
    """The module policy over a definition's module, with the definition's own opt-ins."""
    try:
        files = read_module(module, module.name).files
    except DiagnosticError as exc:
        return [source.diagnostic(path, d.summary, d.detail) for d in exc.diagnostics]
    return [source.diagnostic(path, *policy_message(module.name, v, ALLOW_WHERE)) for v in check_module(files, allow)]
