"""`appc def list`, `def show` and `def validate`: the platform definitions as a catalog sees them.

The checks of `def validate` live in the catalog (composer/catalog/validate.py); this module
parses flags and hands the findings to the view.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
import yaml

from composer.cli.common import (
    EXIT_OK,
    CatalogOpt,
    FileOpt,
    JsonOpt,
    command,
    def_app,
    project_catalog_dirs,
    registry,
)
from composer.cli.views import Record
from composer.diagnostics import Diagnostic, DiagnosticError

if TYPE_CHECKING:
    from composer.catalog import Catalog


def _catalog(file: list[Path], catalog: list[Path]) -> Catalog:
    from composer.catalog import Catalog

    return Catalog.build(registry(), project_catalog_dirs(file, catalog))


def _definition_records(cat: Catalog) -> list[Record]:
    """A record per component type and per trait, in name order (component types first)."""
    records = []
    for name, t in sorted(cat.components.items()):
        impls = ", ".join(f"{n} ({e.implementation.provider})" for n, e in sorted(t.implementations.items()))
        fields: dict[str, Any] = dict(
            kind="ComponentDefinition",
            name=name,
            category=t.category,
            implementations=sorted(t.implementations),
            origin=t.origin,
            outputs=list(t.definition.spec.outputs),
        )
        records.append(Record(fields, ["component", name, t.category, impls, t.origin]))
    for name, tr in sorted(cat.traits.items()):
        applies = ", ".join(tr.definition.spec.applies_to) or "all workloads"
        fields = dict(
            kind="TraitDefinition", name=name, appliesTo=list(tr.definition.spec.applies_to), origin=tr.origin
        )
        records.append(Record(fields, ["trait", name, applies, "", tr.origin]))
    return records


@def_app.command("list")
def def_list(file: list[Path] = FileOpt, catalog: list[Path] = CatalogOpt, json_mode: bool = JsonOpt) -> None:
    """List component types and traits with their implementations and origin."""
    with command("def list", json_mode) as view:
        records = _definition_records(_catalog(file, catalog))
        columns = ["kind", "name", "category / applies to", "implementations", "origin"]
        view.records("definition", None, columns, records)
        view.summary(True, EXIT_OK, definitions=len(records))


def _definition_document(entry: Any) -> dict[str, Any]:
    """A definition as `def show` prints it: defaults left out, implementations spelled out."""
    doc: dict[str, Any] = entry.definition.model_dump(by_alias=True, exclude_defaults=True, mode="json")
    doc["spec"].get("parameters", {}).pop("$defs", None)
    if hasattr(entry, "implementations"):
        doc["spec"]["implementations"] = {
            n: e.implementation.model_dump(by_alias=True, exclude_defaults=True, mode="json")
            for n, e in sorted(entry.implementations.items())
        }
    return doc


@def_app.command("show")
def def_show(
    name: str, file: list[Path] = FileOpt, catalog: list[Path] = CatalogOpt, json_mode: bool = JsonOpt
) -> None:
    """Show one definition: parameters, outputs, implementations."""
    with command("def show", json_mode) as view:
        cat = _catalog(file, catalog)
        entry = cat.component(name) or cat.trait(name)
        if entry is None:
            known = sorted([*cat.components, *cat.traits])
            close = difflib.get_close_matches(name, known, n=1)
            hint = (f"did you mean {close[0]!r}? " if close else "") + f"known: {', '.join(known)}"
            raise DiagnosticError([Diagnostic(f"no definition named {name!r}", hint)])
        doc = _definition_document(entry)
        text = f"# origin: {entry.origin}\n" + yaml.safe_dump(doc, sort_keys=False, width=120)
        view.document("definition", {"origin": entry.origin, **doc}, text)


@def_app.command("validate")
def def_validate(files: list[Path] = typer.Argument(..., help="Definition files."), json_mode: bool = JsonOpt) -> None:
    """Check definition files: structure, parameter schemas and template syntax."""
    from composer.catalog.validate import validate_definition_files

    with command("def validate", json_mode) as view:
        found = validate_definition_files(files)
        if found.errors:
            raise DiagnosticError(found.errors)
        view.info(f"[green]✓[/green] {found.count} definitions are valid")
        view.summary(True, EXIT_OK, definitions=found.count)
