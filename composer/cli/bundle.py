"""CLI commands for bundles: `appc keygen`, `bundle`, `verify`, `check`, `inventory`, and the
hook that lets `plan`/`apply`/`render -f BUNDLE` compile from a verified bundle.

Each command parses flags and hands over to composer/runners/bundler.py (building),
composer/runners/bundles.py (the archive) and composer/runners/bundle_install.py
(verification, the project inside, check facts, provenance in state).
"""

from __future__ import annotations

import atexit
import json
from pathlib import Path
from typing import Any

import typer

from composer.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    CatalogOpt,
    EnvOpt,
    Exit,
    FileOpt,
    JsonOpt,
    app,
    command,
    registry,
)
from composer.diagnostics import Diagnostic, DiagnosticError, Severity
from composer.safefs import read_path

KeyOpt = typer.Option(
    [], "--key", envvar="COMPOSER_BUNDLE_KEY", help="Trusted public key (PEM from appc keygen); repeatable."
)


@app.command()
def keygen(
    out: Path = typer.Option(
        ..., "-o", "--out", envvar="COMPOSER_KEYGEN_OUT", help="PREFIX: writes PREFIX (private, 0600) and PREFIX.pub."
    ),
    json_mode: bool = JsonOpt,
) -> None:
    """Make an Ed25519 key pair for signing bundles."""
    from composer import safefs
    from composer.bundle.statement import key_id, load_public, new_key

    with command("keygen", json_mode) as view:
        private, public = new_key()
        safefs.write_private(out, private)
        safefs.write_path(Path(f"{out}.pub"), public)
        kid = key_id(load_public(public, f"{out}.pub"))
        view.event("key", private=str(out), public=f"{out}.pub", key_id=kid)
        view.info(f"wrote {out} (private, keep it secret) and {out}.pub; key id {kid}")
        view.summary(True, EXIT_OK, key_id=kid)


@app.command()
def bundle(
    file: list[Path] = FileOpt,
    env: str | None = EnvOpt,
    out: Path = typer.Option(..., "-o", "--out", envvar="COMPOSER_BUNDLE_OUT", help="The bundle archive to write."),
    all_environments: bool = typer.Option(
        False, "--all-environments", envvar="COMPOSER_ALL_ENVIRONMENTS", help="Bundle every environment of the project."
    ),
    sign: Path | None = typer.Option(
        None, "--sign", envvar="COMPOSER_BUNDLE_SIGN", help="Private key (appc keygen) to sign the bundle with."
    ),
    platform: list[str] = typer.Option(
        [],
        "--platform",
        envvar="COMPOSER_BUNDLE_PLATFORM",
        help="OS_ARCH of the provider binaries to include (default: this machine's); repeatable.",
    ),
    catalog: list[Path] = CatalogOpt,
    json_mode: bool = JsonOpt,
) -> None:
    """Write a signed, self-contained OCI image layout archive of the application (docs/packaging.md)."""
    from composer.bundle.statement import Source, statement
    from composer.bundle.statement import sign as sign_statement
    from composer.project import open_project
    from composer.runners.bundler import builder_id, bundle_annotations, collect
    from composer.runners.bundles import this_platform, write_bundle
    from composer.runners.provenance import source_of

    with command("bundle", json_mode) as view:
        project = open_project(file)
        names = _environments(project, env, all_environments)
        key = _signing_key(sign)
        plan = collect(project, names, registry(), platform or [this_platform()], catalog)
        view.diagnostics([Diagnostic(w.summary, w.detail, severity=Severity.WARNING) for w in plan.warnings])
        uri, commit, dirty = source_of(project.root)
        name = project.app.model.metadata.name
        params: dict[str, Any] = {"app": name, "environments": names}

        def signer(digest: str, files: Any) -> Any:
            return sign_statement(statement(digest, name, files, Source(uri, commit, dirty), builder_id(), params), key)

        written = write_bundle(out, plan.inputs, name, bundle_annotations(project, names), signer if key else None)
        signed = key is not None
        view.event(
            "bundle", path=str(out), digest=written.digest, files=len(written.files), bytes=written.size, signed=signed
        )
        view.info(
            f"wrote {out}: {len(written.files)} files, {written.size} bytes, digest {written.digest}"
            + (" (signed)" if key else "")
        )
        view.summary(True, EXIT_OK, digest=written.digest, files=len(written.files), signed=key is not None)


def _environments(project: Any, env: str | None, all_environments: bool) -> list[str]:
    names = project.environment_names() if all_environments else [env or project.environment(None).model.metadata.name]
    if not names:
        raise DiagnosticError([Diagnostic("no environments to bundle", f"add one under {project.environments_dir}")])
    return list(names)


def _signing_key(sign: Path | None) -> Any:
    from composer.bundle.statement import load_private

    if sign is None:
        return None
    key = load_private(read_path(sign), str(sign)) if sign.is_file() else None
    if key is None:
        raise DiagnosticError(
            [Diagnostic(f"cannot read the signing key {sign}", "make one with `appc keygen -o PREFIX`")]
        )
    return key


@app.command()
def verify(
    bundle_file: Path = typer.Argument(..., help="The bundle archive."),
    key: list[Path] = KeyOpt,
    json_mode: bool = JsonOpt,
) -> None:
    """Check a bundle: its signature (with --key), every file's digest against the signed statement, and the lock."""
    from composer.runners.bundle_install import verify as verify_bundle
    from composer.runners.bundles import open_bundle

    with command("verify", json_mode) as view:
        opened = open_bundle(bundle_file)
        try:
            result = verify_bundle(opened, key, require_signature=bool(key))
        finally:
            opened.cleanup()
        view.event("verified", digest=result.digest, signer=result.signer, files=result.files, signed=result.signed)
        how = (
            f"signed by {result.signer}"
            if result.signer
            else ("signed, signature not checked (no --key)" if result.signed else "unsigned")
        )
        view.info(
            f"[green]✓[/green] {bundle_file}: {result.files} files match, lock matches, {how}; digest {result.digest}"
        )
        view.summary(True, EXIT_OK, digest=result.digest, signer=result.signer)


@app.command()
def check(
    bundle_file: Path = typer.Argument(..., help="The bundle archive."),
    env: str | None = EnvOpt,
    json_mode: bool = JsonOpt,
) -> None:
    """Check a bundle's requirements against a target environment, before anything is touched."""
    from composer.bundle.requirements import check_rows
    from composer.runners.bundle_install import bundle_requirements, gather_facts
    from composer.runners.bundles import open_bundle

    with command("check", json_mode) as view:
        opened = open_bundle(bundle_file)
        try:
            rows = check_rows(bundle_requirements(opened), gather_facts(opened, env, registry()))
        finally:
            opened.cleanup()
        for r in rows:
            view.event("requirement", requirement=r.requirement, required=r.required, found=r.found, ok=r.ok)
        view.table(
            f"requirements of {bundle_file}",
            ["requirement", "required", "found", "ok"],
            [[r.requirement, r.required, r.found, r.ok] for r in rows],
        )
        unmet = [r.requirement for r in rows if r.ok == "no"]
        if unmet:
            view.info(f"[red]unmet:[/red] {', '.join(unmet)}")
        view.summary(not unmet, EXIT_INVALID if unmet else EXIT_OK, unmet=unmet)
        raise Exit(EXIT_INVALID if unmet else EXIT_OK)


@app.command()
def inventory(
    file: list[Path] = FileOpt,
    env: str | None = EnvOpt,
    format: str = typer.Option("table", "--format", envvar="COMPOSER_INVENTORY_FORMAT", help="table | spdx-json"),
    json_mode: bool = JsonOpt,
) -> None:
    """What is installed in an environment, with where each unit came from (bundle digest, source, signer, time)."""
    from composer.bundle.inventory import spdx_document
    from composer.cli.wiring import open_store, state_dir
    from composer.render.terraform import state_key
    from composer.runners.bundle_install import cloud_resources

    with command("inventory", json_mode) as view:
        if format not in ("table", "spdx-json"):
            raise DiagnosticError([Diagnostic(f"unknown inventory format {format!r}", "expected table or spdx-json")])
        compiled = compile_input(file, env) or _compile_source(file, env)
        state = open_store(compiled, lambda _m: None).read()
        app, env_name = compiled.resolved.name, compiled.resolved.environment.name
        local = compiled.resolved.environment.spec.state.backend == "local"
        rows = inventory_rows(
            state, lambda unit: cloud_resources(state_dir(compiled), state_key(app, env_name, unit)) if local else []
        )
        name = f"{compiled.resolved.name}-{compiled.resolved.environment.name}"
        if format == "spdx-json":
            typer.echo(json.dumps(spdx_document(name, f"https://composer.dev/inventory/{name}", rows), indent=2))
            raise Exit(EXIT_OK)
        for row in rows:
            view.event("installed", **row)
        view.table(
            f"installed in {name}",
            ["component", "kind", "name", "bundle", "signer", "installed"],
            [
                [
                    r["component"],
                    r["kind"],
                    r["name"],
                    r["bundle_digest"] or r["source"] or "-",
                    r["signer"] or "-",
                    r["installed_at"] or "-",
                ]
                for r in rows
            ],
        )
        view.summary(True, EXIT_OK, items=len(rows))


def inventory_rows(state: Any, resources: Any = lambda unit: []) -> list[dict[str, Any]]:
    """One row per cloud resource (from the unit's Terraform state, when it is local) and per
    Kubernetes object, each with its unit's provenance."""
    rows: list[dict[str, Any]] = []
    if state is None:
        return rows
    for name, unit in sorted(state.units.items()):
        who = unit.installed
        base = {
            "component": name,
            "bundle_digest": who.bundle_digest if who else None,
            "source": who.source if who else None,
            "signer": who.signer if who else None,
            "installed_at": who.at if who else unit.updated_at,
        }
        if unit.kind == "terraform":
            found = resources(name) or [("terraform-root", name)]
            rows += [{**base, "kind": kind, "name": where} for kind, where in found]
        for target, items in sorted(state.inventory.items()):
            rows += [
                {
                    **base,
                    "kind": i.kind,
                    "name": f"{i.namespace + '/' if i.namespace else ''}{i.name}",
                    "target": target,
                }
                for i in items
                if i.component == name
            ]
    return rows


def _compile_source(file: list[Path], env: str | None) -> Any:
    from composer.cli.common import ProjectOptions, compile_for

    return compile_for(ProjectOptions(tuple(file), env))


def compile_input(file: list[Path], env: str | None) -> Any:
    """`-f BUNDLE`: verify, refuse what the environment's policy refuses, compile from a private
    unpacked copy. None when `file` is not a bundle (the caller compiles the project)."""
    from composer.bundle.layout import is_bundle

    if len(file) != 1 or not is_bundle(file[0]):
        return None
    from composer.runners.bundle_install import (
        bundle_project,
        compile_bundle,
        required_keys,
        use_bundle_providers,
    )
    from composer.runners.bundle_install import (
        verify as verify_bundle,
    )
    from composer.runners.bundles import open_bundle

    opened = open_bundle(file[0])
    atexit.register(opened.cleanup)
    keys = required_keys(opened, bundle_project(opened, env), env)
    verification = verify_bundle(opened, keys, require_signature=bool(keys))
    use_bundle_providers(opened.root)
    return compile_bundle(opened, env, registry(), verification)
