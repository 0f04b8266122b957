"""CLI commands for platform teams' modules: `appc lock`, `appc def scaffold`, `appc def test`.

Registered on the typer apps of composer.cli.common when composer.cli.app imports this module; each
command parses flags and hands over to composer/runners/modules.py (fetching, the lock),
composer/catalog/scaffold.py and composer/deftest.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from composer.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    CatalogOpt,
    Exit,
    FileOpt,
    JsonOpt,
    LockedOpt,
    app,
    command,
    def_app,
    option,
    registry,
)
from composer.diagnostics import Diagnostic, DiagnosticError


@app.command()
def lock(
    file: list[Path] = FileOpt,
    upgrade: bool = option(
        False,
        "--upgrade",
        env="UPGRADE",
        help="Move modules and providers to the newest versions their constraints allow.",
    ),
    catalog: list[Path] = CatalogOpt,
    locked: bool = LockedOpt,
    json_mode: bool = JsonOpt,
) -> None:
    """Fetch every module the definitions use and write composer.lock (versions, commits, digests, provider hashes)."""
    from composer.catalog.cache import module_cache_dir
    from composer.catalog.lock import lock_diff, lock_path, read_lock
    from composer.project import open_project, project_module_requests
    from composer.runners.modules import lock_modules, write_lock

    with command("lock", json_mode) as view:
        project = open_project(file)
        path = lock_path(project.root)
        previous = read_lock(path)
        requests = project_module_requests(project, project.catalog(registry(), catalog))
        result = lock_modules(requests, project.root, module_cache_dir(), previous, upgrade)
        changes = lock_diff(previous, result.lock)
        frozen = locked or bool(os.environ.get("CI"))
        for line in changes:
            view.event("lock_change", change=line)
        if changes and frozen:
            raise DiagnosticError(
                [
                    Diagnostic(
                        f"{path.name} is out of date",
                        "; ".join(changes)
                        + ". --locked (or CI) refuses to change the lock: run `appc lock` and commit the result",
                        file=str(path),
                    )
                ]
            )
        if changes or previous is None:
            write_lock(path, result.lock)
        for m in result.lock.modules:
            view.event("locked", source=m.source, version=m.version, resolved=m.resolved, digest=m.digest)
        view.table(
            f"{path}",
            ["module", "requested", "resolved", "digest"],
            [[m.source, m.version or "", m.resolved or "local", m.digest[:19] + "…"] for m in result.lock.modules],
        )
        view.info(
            f"[green]✓[/green] {len(result.lock.modules)} modules ({result.fetched} fetched, {result.local} local), {len(result.lock.providers)} providers; "
            + (f"{len(changes)} changes written" if changes else "no changes")
        )
        view.summary(
            True, EXIT_OK, modules=len(result.lock.modules), providers=len(result.lock.providers), changes=len(changes)
        )


@def_app.command("scaffold")
def def_scaffold(
    source: str = typer.Argument(
        ...,
        help="Module source: a directory, git::URL?ref=TAG, or a registry address NS/NAME/PROVIDER (with --version).",
    ),
    name: str | None = option(
        None, "--name", env="DEF_NAME", help="The component type to define (default: the module's name)."
    ),
    version: str | None = option(
        None, "--version", env="MODULE_VERSION", help="Version constraint of a registry source, e.g. '~> 4.11'."
    ),
    out: Path | None = option(
        None, "-o", "--out", env="OUT", help="Write the definition to this file (it must not exist) instead of stdout."
    ),
    json_mode: bool = JsonOpt,
) -> None:
    """Write a starting ComponentDefinition from a module: parameters from its variables, the contract from its outputs."""
    from composer.safefs import write_path

    with command("def scaffold", json_mode) as view:
        type_name, text = _scaffold(source, name, version, out)
        if out is None:
            if json_mode:
                view.event("definition", name=type_name, text=text)
            else:
                view.text(text)
        else:
            if os.path.lexists(out):
                raise DiagnosticError(
                    [Diagnostic(f"{out} exists", "scaffold never overwrites a file; choose a new name or remove it")]
                )
            write_path(out, text.encode())
            view.info(
                f"[green]✓[/green] wrote {out}: now trim it (parameters app teams choose, fixed inputs, contract keys mapped under outputs), then `appc def validate {out}`"
            )
        view.summary(True, EXIT_OK, name=type_name)


def _scaffold(source: str, name: str | None, version: str | None, out: Path | None) -> tuple[str, str]:
    """(component type name, definition YAML) for the module at `source`; a local module is
    named relative to where the definition will be written."""
    from composer.catalog.cache import ModuleRequest
    from composer.catalog.modules import module_interface, read_package
    from composer.catalog.scaffold import scaffold_yaml
    from composer.catalog.sources import AddressError, parse_address
    from composer.runners.modules import fetch_remote

    try:
        address = parse_address(source, version)
    except AddressError as exc:
        raise DiagnosticError([Diagnostic("unusable module source", str(exc))]) from None
    type_name = name or address.leaf.lower().replace("_", "-")
    if address.remote:
        module = fetch_remote(ModuleRequest(address, version, None, None, "scaffold", "def scaffold")).module
        written = source
    else:
        path = Path(source).absolute()
        module = read_package(path, "scaffold", path.parent)
        rel = os.path.relpath(path, (out.absolute().parent if out else Path.cwd()))
        written = rel if rel.startswith("..") else f"./{rel}"
    return type_name, scaffold_yaml(module_interface(module), type_name, written, version)


@def_app.command("test")
def def_test(
    directory: Path = typer.Argument(
        Path("definitions"), help="The catalog directory; its test cases are in DIR/tests/<case>/."
    ),
    update: bool = option(
        False, "--update", env="UPDATE", help="Write the rendered files as the cases' expected files."
    ),
    json_mode: bool = JsonOpt,
) -> None:
    """Run a catalog's definition tests: render each case, compare with its expected files and assertions."""
    from composer.deftest import find_cases, run_case

    with command("def test", json_mode) as view:
        cases = find_cases(directory)
        if not cases:
            raise DiagnosticError(
                [
                    Diagnostic(
                        f"no test cases under {directory / 'tests'}",
                        "a case is a directory with app.yaml, environments/ and expected files (record them with `appc def test --update`) or assertions.yaml",
                    )
                ]
            )
        reg = registry()
        results = [r for case in cases for r in run_case(case, directory, reg, update)]
        rows = []
        for r in results:
            view.event("case", case=r.name, environment=r.environment, ok=r.ok, failures=r.failures, updated=r.updated)
            rows.append(
                [
                    r.name,
                    r.environment,
                    "ok" if r.ok else "FAILED",
                    f"{r.updated} files written" if update else "; ".join(f.splitlines()[0] for f in r.failures),
                ]
            )
        view.table(f"definition tests in {directory}", ["case", "environment", "", "detail"], rows)
        for r in results:
            for f in r.failures:
                if "\n" in f and not json_mode:
                    view.text(f"{r.name}/{r.environment}: {f}")
        failed = [r for r in results if not r.ok]
        view.info(
            ("[red]" if failed else "[green]")
            + f"{len(results) - len(failed)} of {len(results)} cases passed"
            + ("[/red]" if failed else "[/green]")
        )
        view.summary(not failed, EXIT_INVALID if failed else EXIT_OK, cases=len(results), failed=len(failed))
        if failed:
            raise Exit(EXIT_INVALID)
