"""The appc command line: parse flags, call the pipeline or engine, hand results to a view.

Every flag also reads a COMPOSER_* environment variable, for CI. Exit codes follow
DESIGN.md: 0 ok, 1 invalid input, 2 changes present, 3 apply failed, 4 lock held,
70 internal error (a short report, never a bare traceback).
"""

from __future__ import annotations

import json
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import typer
import yaml

from composer import __version__
from composer.cli.views import View
from composer.diagnostics import Diagnostic, DiagnosticError
from composer.plugins import PluginRegistry

EXIT_OK, EXIT_INVALID, EXIT_CHANGES, EXIT_APPLY_FAILED, EXIT_LOCKED, EXIT_INTERNAL = 0, 1, 2, 3, 4, 70

app = typer.Typer(
    name="appc",
    help="Composer: one application model -> Terraform for the cloud, Kubernetes for the workloads.",
    no_args_is_help=True,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)
def_app = typer.Typer(help="Inspect and check component and trait definitions.", no_args_is_help=True)
env_app = typer.Typer(help="List and show environments.", no_args_is_help=True)
app.add_typer(def_app, name="def")
app.add_typer(env_app, name="env")

FileOpt = typer.Option(Path("app.yaml"), "-f", "--file", envvar="COMPOSER_FILE", help="Application file.")
EnvOpt = typer.Option(None, "-e", "--env", envvar="COMPOSER_ENV", help="Environment name (environments/<ENV>.yaml).")
JsonOpt = typer.Option(False, "--json", envvar="COMPOSER_JSON", help="One JSON event per line on stdout.")
CatalogOpt = typer.Option([], "--catalog", envvar="COMPOSER_CATALOG", help="Extra directory of platform definitions (repeatable).")


class Exit(Exception):
    def __init__(self, code: int):
        self.code = code


def registry() -> PluginRegistry:
    return PluginRegistry.discover()


@contextmanager
def command(name: str, json_mode: bool) -> Iterator[View]:
    """Run a command body: diagnostics -> exit 1, bugs -> exit 70 with a short report."""
    view = View(json_mode, name)
    try:
        yield view
    except DiagnosticError as exc:
        view.diagnostics(exc.diagnostics)
        view.summary(False, EXIT_INVALID)
        raise typer.Exit(EXIT_INVALID)
    except Exit as exc:
        raise typer.Exit(exc.code)
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        view.err.print("interrupted")
        raise typer.Exit(130)
    except Exception as exc:  # a bug: say so briefly and usefully
        tb = traceback.extract_tb(exc.__traceback__)
        where = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"
        report = f"internal error: {type(exc).__name__} at {where}: {exc}"
        if json_mode:
            view.event("internal_error", error=type(exc).__name__, where=where, message=str(exc)[:500])
            view.summary(False, EXIT_INTERNAL)
        else:
            view.err.print(f"[red]{report[:800]}[/red]\nThis is a bug in appc {__version__}. Please report it with the command you ran; set APPC_DEBUG=1 for the full traceback.")
        if _debug():
            traceback.print_exc()
        raise typer.Exit(EXIT_INTERNAL)


def _debug() -> bool:
    import os

    return os.environ.get("APPC_DEBUG") == "1"


def _compile(file: Path, env: Optional[str], catalog: list[Path]):
    from composer.project import compile_project, open_project

    project = open_project(file)
    return compile_project(project, env, registry(), catalog)


@app.command()
def validate(file: Path = FileOpt, env: Optional[str] = EnvOpt, catalog: list[Path] = CatalogOpt, json_mode: bool = JsonOpt) -> None:
    """Check the application (and definitions, environments) up to rendering. Writes nothing."""
    from composer.project import compile_project, open_project

    with command("validate", json_mode) as view:
        project = open_project(file)
        names = [env] if env else (project.environment_names() or [None])
        reg = registry()
        cat = project.catalog(reg, catalog)
        errors: list[Diagnostic] = []
        checked = []
        for name in names:
            try:
                compiled = compile_project(project, name, reg, catalog, catalog=cat)
                checked.append((compiled.resolved.environment.name, len(compiled.rendered.units)))
            except DiagnosticError as exc:
                errors.extend(d for d in exc.diagnostics if d not in errors)
        if errors:
            raise DiagnosticError(errors)
        for name, units in checked:
            view.event("validated", environment=name, units=units)
            view.info(f"[green]✓[/green] {file} is valid for environment [bold]{name}[/bold] ({units} units)")
        view.summary(True, EXIT_OK, environments=[n for n, _ in checked])


@app.command()
def render(
    file: Path = FileOpt,
    env: Optional[str] = EnvOpt,
    out: Path = typer.Option(..., "-o", "--out", envvar="COMPOSER_OUT", help="Directory to write the render tree to."),
    catalog: list[Path] = CatalogOpt,
    json_mode: bool = JsonOpt,
) -> None:
    """Render Terraform roots and Kubernetes manifests into a directory (deterministic)."""
    from composer.runners.files import write_tree

    with command("render", json_mode) as view:
        compiled = _compile(file, env, catalog)
        write_tree(compiled.rendered.files, out)
        for u in compiled.rendered.units:
            view.event("rendered", unit=u.name, kind=u.kind, files=list(u.files))
        view.table(None, ["unit", "kind", "file"], [[u.name, u.kind, ", ".join(u.files)] for u in compiled.rendered.units])
        view.info(f"[green]✓[/green] rendered {len(compiled.rendered.units)} units for {compiled.resolved.name}/{compiled.resolved.environment.name} into {out}")
        view.summary(True, EXIT_OK, files=len(compiled.rendered.files), out=str(out))


@app.command()
def graph(
    file: Path = FileOpt,
    env: Optional[str] = EnvOpt,
    format: str = typer.Option("mermaid", "--format", envvar="COMPOSER_FORMAT", help="mermaid | dot | svg"),
    catalog: list[Path] = CatalogOpt,
) -> None:
    """Draw the components, their connections and traits."""
    from composer.render import diagram

    with command("graph", False) as view:
        if format not in ("mermaid", "dot", "svg"):
            raise DiagnosticError([Diagnostic(f"unknown format {format!r}", "expected mermaid, dot or svg")])
        compiled = _compile(file, env, catalog)
        if format == "mermaid":
            view.text(diagram.mermaid(compiled.resolved, compiled.graph))
        else:
            text = diagram.dot(compiled.resolved, compiled.graph)
            if format == "svg":
                from composer.runners.graphviz import to_svg

                text = to_svg(text)
            view.text(text)


@app.command()
def schema(
    out: Path = typer.Option(..., "-o", "--out", envvar="COMPOSER_OUT", help="Directory for the JSON Schema files."),
    file: Path = FileOpt,
    catalog: list[Path] = CatalogOpt,
) -> None:
    """Write JSON Schemas for app, environment and definition files (editor completion)."""
    from composer.catalog import Catalog
    from composer.model.schema import schemas

    with command("schema", False) as view:
        dirs = list(catalog)
        if (file.parent / "definitions").is_dir():
            dirs.insert(0, file.parent / "definitions")
        cat = Catalog.build(registry(), dirs)
        docs = schemas(
            [(n, t.schema) for n, t in sorted(cat.components.items())],
            [(n, t.schema) for n, t in sorted(cat.traits.items())],
        )
        out.mkdir(parents=True, exist_ok=True)
        for name, doc in docs.items():
            (out / name).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        view.info(f"[green]✓[/green] wrote {len(docs)} schemas to {out}")


# -- def ---------------------------------------------------------------------------


def _catalog(file: Path, catalog: list[Path]):
    from composer.catalog import Catalog

    dirs = list(catalog)
    if (file.parent / "definitions").is_dir():
        dirs.insert(0, file.parent / "definitions")
    return Catalog.build(registry(), dirs)


@def_app.command("list")
def def_list(file: Path = FileOpt, catalog: list[Path] = CatalogOpt, json_mode: bool = JsonOpt) -> None:
    """List component types and traits with their implementations and origin."""
    with command("def list", json_mode) as view:
        cat = _catalog(file, catalog)
        rows = []
        for name, t in sorted(cat.components.items()):
            impls = ", ".join(f"{n} ({e.implementation.provider})" for n, e in sorted(t.implementations.items()))
            rows.append(["component", name, t.category, impls, t.origin])
            view.event("definition", kind="ComponentDefinition", name=name, category=t.category, implementations=sorted(t.implementations), origin=t.origin, outputs=list(t.definition.spec.outputs))
        for name, t in sorted(cat.traits.items()):
            applies = ", ".join(t.definition.spec.applies_to) or "all workloads"
            rows.append(["trait", name, applies, "", t.origin])
            view.event("definition", kind="TraitDefinition", name=name, appliesTo=list(t.definition.spec.applies_to), origin=t.origin)
        view.table(None, ["kind", "name", "category / applies to", "implementations", "origin"], rows)
        view.summary(True, EXIT_OK, definitions=len(rows))


@def_app.command("show")
def def_show(name: str, file: Path = FileOpt, catalog: list[Path] = CatalogOpt, json_mode: bool = JsonOpt) -> None:
    """Show one definition: parameters, outputs, implementations."""
    import difflib

    with command("def show", json_mode) as view:
        cat = _catalog(file, catalog)
        entry = cat.component(name) or cat.trait(name)
        if entry is None:
            known = sorted([*cat.components, *cat.traits])
            close = difflib.get_close_matches(name, known, n=1)
            raise DiagnosticError([Diagnostic(f"no definition named {name!r}", (f"did you mean {close[0]!r}? " if close else "") + f"known: {', '.join(known)}")])
        doc = entry.definition.model_dump(by_alias=True, exclude_defaults=True, mode="json")
        doc["spec"].get("parameters", {}).pop("$defs", None)
        if hasattr(entry, "implementations"):
            doc["spec"]["implementations"] = {n: e.implementation.model_dump(by_alias=True, exclude_defaults=True, mode="json") for n, e in sorted(entry.implementations.items())}
        if json_mode:
            view.event("definition", origin=entry.origin, **doc)
            view.summary(True, EXIT_OK)
        else:
            view.text(f"# origin: {entry.origin}\n" + yaml.safe_dump(doc, sort_keys=False, width=120))


@def_app.command("validate")
def def_validate(files: list[Path] = typer.Argument(..., help="Definition files."), json_mode: bool = JsonOpt) -> None:
    """Check definition files: structure, parameter schemas and template syntax."""
    from composer.catalog import schema as jschema
    from composer.model.definitions import ComponentDefinition
    from composer.model.loader import load_definitions
    from composer.templates import check_syntax

    with command("def validate", json_mode) as view:
        errors: list[Diagnostic] = []
        count = 0
        for f in files:
            try:
                loaded = load_definitions(f)
            except DiagnosticError as exc:
                errors.extend(exc.diagnostics)
                continue
            for item in loaded:
                count += 1
                d = item.model
                problem = jschema.check_schema(d.spec.parameters)
                if problem:
                    errors.append(item.source.diagnostic(("spec", "parameters"), f"definition {d.name!r} has an invalid parameter schema", problem))
                templates = []
                if isinstance(d, ComponentDefinition):
                    for iname, impl in d.spec.implementations.items():
                        base = ("spec", "implementations", iname)
                        if impl.manifests:
                            templates.append((base + ("manifests", "template"), impl.manifests.template))
                        if impl.terraform:
                            templates.extend((base + ("terraform", "inputs", k), v) for k, v in impl.terraform.inputs.items() if isinstance(v, str))
                else:
                    templates.extend((("spec", k), getattr(d.spec, k)) for k in ("patch", "objects") if getattr(d.spec, k))
                for path, text in templates:
                    problem = check_syntax(text)
                    if problem:
                        errors.append(item.source.diagnostic(path, "template syntax error", problem))
        if errors:
            raise DiagnosticError(errors)
        view.info(f"[green]✓[/green] {count} definitions are valid")
        view.summary(True, EXIT_OK, definitions=count)


# -- env ---------------------------------------------------------------------------


@env_app.command("list")
def env_list(file: Path = FileOpt, json_mode: bool = JsonOpt) -> None:
    """List the environments of the application."""
    from composer.project import open_project

    with command("env list", json_mode) as view:
        project = open_project(file)
        rows = []
        for name in project.environment_names():
            e = project.environment(name).model.spec
            cloud = f"{e.cloud.provider} {e.cloud.region or ''}".strip() if e.cloud else "-"
            k = e.kubernetes
            target = f"dir:{k.directory}" if k.directory else ", ".join(f"{t.context or '(current)'}/{t.namespace or 'default'}" for t in k.resolved_targets())
            rows.append([name, cloud, target, e.state.backend])
            view.event("environment", name=name, cloud=cloud, kubernetes=target, state=e.state.backend)
        view.table(None, ["environment", "cloud", "kubernetes", "state"], rows)
        view.summary(True, EXIT_OK, environments=len(rows))


@env_app.command("show")
def env_show(name: str, file: Path = FileOpt, json_mode: bool = JsonOpt) -> None:
    """Show one environment as Composer reads it (defaults filled in)."""
    from composer.project import open_project

    with command("env show", json_mode) as view:
        env = open_project(file).environment(name).model
        doc = env.model_dump(by_alias=True, mode="json", exclude_none=True)
        if json_mode:
            view.event("environment", **doc)
            view.summary(True, EXIT_OK)
        else:
            view.text(yaml.safe_dump(doc, sort_keys=False))


@app.callback(invoke_without_command=True)
def _root(version: bool = typer.Option(False, "--version", help="Print the version and exit.")) -> None:
    if version:
        typer.echo(f"appc {__version__}")
        raise typer.Exit(0)


def run() -> None:
    from typer._click.exceptions import ClickException

    try:
        rv = app(prog_name="appc", standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except ClickException as exc:
        # click uses exit 2 for usage errors; DESIGN.md reserves 2 for "changes present".
        exc.show()
        sys.exit(EXIT_INVALID)
    sys.exit(rv if isinstance(rv, int) else 0)
