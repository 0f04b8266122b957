"""`appc bundle`: what goes into a bundle, gathered from a compiled project.

For each environment bundled, the project is compiled as `apply` would compile it (through
composer.lock and the module cache). The bundle then holds: the app file, those environment
files (as written: `${env:VAR}` references, never values), every definition file of
`definitions/`, the module packages Terraform units call (local ones at their project paths,
remote ones content-addressed under `modules/<sha256>/`, as in the module cache), composer.lock
(the project's; or, without one, a lock recording the modules used, so that an install is
checked against the same digests), the Terraform providers the modules require for the
target platforms from the local filesystem mirror, inventory.json and requirements.json.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from composer import __version__
from composer.bundle import requirements as reqs
from composer.bundle.inventory import ComponentEntry, component_inventory
from composer.bundle.manifest import canonical_json, safe_path, sha256
from composer.catalog.cache import lock_source, lock_version, ships_with_appc
from composer.catalog.lock import Lock, LockedModule, lock_path, read_lock
from composer.catalog.modules import provider_constraints
from composer.diagnostics import Diagnostic, DiagnosticError
from composer.model.loader import validate
from composer.model.source import load_documents
from composer.plugins import PluginRegistry
from composer.project import Compiled, Project, compile_project, module_request
from composer.runners.bundles import Input, provider_inputs
from composer.runners.terraform import find_provider_mirror

REQUIREMENTS_FILE = "requirements.yaml"
DEFAULT_HOST = "registry.terraform.io/hashicorp"


@dataclass
class Plan:
    """Everything `appc bundle` will write, and what it noticed on the way."""

    inputs: list[Input] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    requirements: reqs.Requirements | None = None
    inventory: dict[str, list[ComponentEntry]] = field(default_factory=dict)
    images: list[dict[str, object]] = field(default_factory=list)

    def add(self, item: Input) -> None:
        if not safe_path(item.path):
            raise DiagnosticError([Diagnostic(f"cannot bundle {item.path!r}: the path is not a plain relative path")])
        if all(i.path != item.path for i in self.inputs):
            self.inputs.append(item)


def _project_file(plan: Plan, project: Project, path: Path, kind: str) -> None:
    rel = Path(os.path.relpath(path.absolute(), project.root)).as_posix()
    if rel.startswith("../"):
        raise DiagnosticError([Diagnostic(f"cannot bundle {path}: it is outside the project {project.root}")])
    plan.add(Input(rel, kind, data=path.read_bytes()))  # type: ignore[arg-type]


def collect(
    project: Project, env_names: list[str], registry: PluginRegistry, platforms: list[str], catalog_dirs: list[Path]
) -> Plan:
    plan = Plan()
    _project_file(plan, project, project.app_file, "app")
    if project.definitions_dir.is_dir():
        for p in sorted(project.definitions_dir.rglob("*")):
            if p.suffix in (".yaml", ".yml") and p.is_file() and not p.is_symlink():
                _project_file(plan, project, p, "definition")
    parts = reqs.DerivedParts(cloud=None, platforms=platforms)
    used: dict[str, LockedModule] = {}
    for name in env_names:
        compiled = compile_project(project, name, registry, catalog_dirs)
        _project_file(plan, project, compiled.project.environment(name).path, "environment")
        _derive(parts, compiled, name)
        for item, locked in _modules(project, compiled):
            plan.add(item)
            if locked is not None:
                used[locked.source + "\0" + (locked.version or "")] = locked
        plan.inventory[name] = _inventory(plan, compiled)
        _images(plan, compiled)
    lock = read_lock(lock_path(project.root)) or Lock(tuple(used.values()))
    plan.add(Input("composer.lock", "lock", data=lock.to_bytes()))
    _providers(plan, parts, lock)
    derived = reqs.derive(parts)
    plan.requirements = reqs.merged(derived, _author(project))
    plan.add(Input("requirements.json", "requirements", data=canonical_json(plan.requirements.to_json())))
    doc = {
        "format": 1,
        "app": project.app.model.metadata.name,
        "environments": {e: [c.to_json() for c in rows] for e, rows in sorted(plan.inventory.items())},
        "images": plan.images,
    }
    plan.add(Input("inventory.json", "inventory", data=canonical_json(doc)))
    return plan


def _derive(parts: reqs.DerivedParts, compiled: Compiled, env_name: str) -> None:
    env = compiled.resolved.environment.spec
    if env.cloud is not None:
        if parts.cloud not in (None, env.cloud.provider):
            raise DiagnosticError(
                [
                    Diagnostic(
                        f"environments for several clouds ({parts.cloud}, {env.cloud.provider}) cannot share a bundle",
                        "bundle each cloud's environments separately",
                    )
                ]
            )
        parts.cloud = env.cloud.provider
    for c in compiled.resolved.components:
        parts.types.add(c.type)
        parts.traits.update(t.name for t in c.traits)
        if c.is_resource:
            parts.implementations[c.type] = c.implementation.name
    for module in compiled.modules.values():
        for local, constraints in provider_constraints(module).items():
            parts.providers.setdefault(f"{DEFAULT_HOST}/{local}", []).extend(constraints)
        from composer.bundle.inventory import resource_types

        parts.resource_types.update(resource_types(module))
    if env.kubernetes.directory and env.kubernetes.secret_store is not None:
        parts.gitops_secret_store = True


def _modules(project: Project, compiled: Compiled) -> list[tuple[Input, LockedModule | None]]:
    out: list[tuple[Input, LockedModule | None]] = []
    for c in compiled.resolved.components:
        req = module_request(c)
        module = compiled.modules.get(c.name)
        if req is None or module is None or ships_with_appc(req.origin):
            continue
        source, version = lock_source(req.address, req.path, project.root), lock_version(req.address, req.version)
        if req.address.remote:
            prefix = f"modules/{module.digest}"
        else:
            assert req.path is not None
            package = req.path.absolute()
            for _ in [p for p in module.entry.split("/") if p]:
                package = package.parent
            prefix = Path(os.path.relpath(package, project.root)).as_posix()
            if prefix.startswith(".."):
                raise DiagnosticError(
                    [
                        Diagnostic(
                            f"cannot bundle module {source}: it lies outside the project",
                            "move (vendor) it into the project",
                        )
                    ]
                )
        locked = LockedModule(source, version, None, f"sha256:{module.digest}", module.entry)
        for rel, data in module.files:
            out.append((Input(f"{prefix}/{rel}".removeprefix("./"), "module", data=data), locked))
    return out


def _inventory(plan: Plan, compiled: Compiled) -> list[ComponentEntry]:
    digests = {}
    for item in plan.inputs:
        if item.kind == "definition" and item.data is not None:
            digests[str(compiled.project.root / item.path)] = (item.path, sha256(item.data))
    comps = [(c.name, c.type, c.implementation.name, c.implementation.origin) for c in compiled.resolved.components]
    return component_inventory(comps, compiled.modules, compiled.rendered, _by_origin(digests))


def _by_origin(digests: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """Definition origins may be written relative to the working directory."""
    out = dict(digests)
    for full, value in digests.items():
        try:
            out[os.path.relpath(full)] = value
        except ValueError:
            pass
    return out


def _images(plan: Plan, compiled: Compiled) -> None:
    seen = {(i["component"], i["image"]) for i in plan.images}
    for component, objects in sorted(compiled.rendered.manifests.items()):
        for image in sorted(set(_container_images(objects))):
            if (component, image) in seen:
                continue
            pinned = "@sha256:" in image
            plan.images.append({"component": component, "image": image, "pinned": pinned})
            if not pinned:
                plan.warnings.append(
                    Diagnostic(
                        f"image {image} of {component} is not pinned to a digest",
                        "an installer may get other bytes than you tested; write it as NAME@sha256:DIGEST",
                    )
                )


def _container_images(node: object) -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "image" and isinstance(value, str):
                out.append(value)
            else:
                out.extend(_container_images(value))
    elif isinstance(node, list):
        for item in node:
            out.extend(_container_images(item))
    return out


def _providers(plan: Plan, parts: reqs.DerivedParts, lock: Lock) -> None:
    if not parts.providers:
        return
    mirror = find_provider_mirror()
    if mirror is None:
        raise DiagnosticError(
            [
                Diagnostic(
                    "no Terraform provider mirror to bundle providers from",
                    "set COMPOSER_PROVIDER_MIRROR to a filesystem mirror (terraform providers mirror DIR)",
                )
            ]
        )
    wanted: dict[str, tuple[str, ...]] = {
        a: ((lock.providers[a].version,) if a in lock.providers else ()) for a in parts.providers
    }
    found = provider_inputs(mirror, wanted, parts.platforms)
    for address in wanted:
        for platform in parts.platforms:
            if not any(i.path.startswith(f"providers/{address}/") and f"/{platform}/" in i.path for i in found):
                raise DiagnosticError(
                    [
                        Diagnostic(
                            f"provider {address} for {platform} is not in the mirror {mirror}",
                            "add it with `terraform providers mirror -platform=" + platform + " DIR`",
                        )
                    ]
                )
    for item in found:
        plan.add(item)


def _author(project: Project) -> reqs.AuthorRequirements:
    path = project.root / REQUIREMENTS_FILE
    if not path.is_file():
        return reqs.AuthorRequirements()
    docs = load_documents(path)
    if len(docs) != 1:
        raise DiagnosticError([Diagnostic(f"{REQUIREMENTS_FILE} must hold one document", file=str(path))])
    return validate(docs[0], reqs.RequirementsFile).spec


def builder_id() -> str:
    return f"https://composer.dev/appc@{__version__}"


def bundle_annotations(project: Project, env_names: list[str]) -> dict[str, str]:
    return {
        "dev.composer.app": project.app.model.metadata.name,
        "dev.composer.environments": ",".join(env_names),
        "org.opencontainers.image.title": project.app.model.metadata.name,
    }


def dumps(doc: object) -> str:
    return json.dumps(doc, indent=2, sort_keys=True)
