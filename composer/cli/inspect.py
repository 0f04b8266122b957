"""Commands over the model and its render, which touch no environment: `appc validate`,
`render`, `graph` and `schema`.
"""

from __future__ import annotations

import json
from pathlib import Path

from composer.cli.common import (
    EXIT_OK,
    CatalogOpt,
    FileOpt,
    LockedOpt,
    ProjectOptions,
    app,
    command,
    compile_for,
    open_files,
    option,
    project_catalog_dirs,
    project_command,
    registry,
    render_notes,
)
from composer.cli.views import Record, View
from composer.diagnostics import Diagnostic, DiagnosticError


@project_command(app, outside=False)
def validate(view: View, project: ProjectOptions) -> None:
    """Check the application (and definitions, environments) up to rendering. Writes nothing."""
    from composer.project import compile_project

    opened = open_files(project.files)
    names: list[str | None] = [project.env] if project.env else [*opened.environment_names()] or [None]
    reg = registry()
    cat = opened.catalog(reg, list(project.catalogs))
    errors: list[Diagnostic] = []
    checked = []
    for name in names:
        try:
            compiled = compile_project(opened, name, reg, project.catalogs, catalog=cat, locked=project.locked)
            view.diagnostics(compiled.warnings)
            checked.append((compiled.resolved.environment.name, len(compiled.rendered.units)))
            render_notes(view, compiled)
        except DiagnosticError as exc:
            errors.extend(d for d in exc.diagnostics if d not in errors)
    if errors:
        raise DiagnosticError(errors)
    files = ", ".join(map(str, project.files))
    for name, units in checked:
        text = f"[green]✓[/green] {files} is valid for environment [bold]{name}[/bold] ({units} units)"
        view.fact("validated", text, environment=name, units=units)
    view.summary(True, EXIT_OK, environments=[n for n, _ in checked])


@project_command(app, outside=False)
def render(
    view: View,
    project: ProjectOptions,
    out: Path = option(..., "-o", "--out", env="OUT", help="Directory to write the render tree to."),
) -> None:
    """Render Terraform roots and Kubernetes manifests into a directory (deterministic)."""
    from composer.runners.files import write_tree

    compiled = compile_for(project)
    write_tree(compiled.rendered.files, out)
    units = compiled.rendered.units
    records = [
        Record(dict(unit=u.name, kind=u.kind, files=list(u.files)), [u.name, u.kind, ", ".join(u.files)]) for u in units
    ]
    view.records("rendered", None, ["unit", "kind", "file"], records)
    app_env = f"{compiled.resolved.name}/{compiled.resolved.environment.name}"
    view.info(f"[green]✓[/green] rendered {len(units)} units for {app_env} into {out}")
    view.summary(True, EXIT_OK, files=len(compiled.rendered.files), out=str(out))


@project_command(app, outside=False, json=False)
def graph(
    view: View,
    project: ProjectOptions,
    format: str = option("mermaid", "--format", env="FORMAT", help="mermaid | dot | svg"),
) -> None:
    """Draw the components, their connections and traits."""
    from composer.render import diagram
    from composer.runners.graphviz import to_svg

    if format not in ("mermaid", "dot", "svg"):
        raise DiagnosticError([Diagnostic(f"unknown format {format!r}", "expected mermaid, dot or svg")])
    compiled = compile_for(project)
    if format == "mermaid":
        view.text(diagram.mermaid(compiled.resolved, compiled.graph))
        return
    text = diagram.dot(compiled.resolved, compiled.graph)
    if format == "svg":
        text = to_svg(text)
    view.text(text)


@app.command()
def schema(
    out: Path = option(..., "-o", "--out", env="OUT", help="Directory for the JSON Schema files."),
    file: list[Path] = FileOpt,
    catalog: list[Path] = CatalogOpt,
    locked: bool = LockedOpt,
) -> None:
    """Write JSON Schemas for app, environment and definition files (editor completion)."""
    from composer.catalog import Catalog
    from composer.model.schema import schemas
    from composer.safefs import write_path

    with command("schema", False) as view:
        cat = Catalog.build(registry(), project_catalog_dirs(file, catalog))
        docs = schemas(
            [(n, t.schema) for n, t in sorted(cat.components.items())],
            [(n, t.schema) for n, t in sorted(cat.traits.items())],
        )
        for name, doc in docs.items():
            text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
            write_path(out / name, text.encode())  # never through a planted link
        view.info(f"[green]✓[/green] wrote {len(docs)} schemas to {out}")
