"""The compiled-model cache: what a no-op `appc apply` needs of the compiled model, kept beside
the state (`.composer/<env>.compiled.json`), so that an unchanged project skips compilation.

It is keyed by every input the compilation read, as composer/compile_inputs.py recorded them
(files, directory listings, stats, environment variables, the plugins' and libraries' files),
plus Composer's code digest, the interpreter, the working directory and the CLI options that
shape the result. It holds only what the no-op decision reads: per unit its kind, type,
dependencies and the digests of its rendered files and module (the unit hash is computed from
them with the state's upstream outputs, by the engine's own function), and the cluster targets.

The file is untrusted, like everything under `.composer/`: it is signed with the state's key
(which is not in it), and anything unreadable, malformed, unsigned, stale or edited means
"compile normally". A cache is written only for what the fast path serves (composer/cli/
fastpath.py): Kubernetes units on clusters, local state, no gates, no warnings, and a record
that is not blind.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from composer.compile_inputs import Inputs, code_digest, libraries_unchanged, library_marks

if TYPE_CHECKING:
    from composer.cli.common import ProjectOptions
    from composer.project import Compiled

FORMAT = 1
PURPOSE = "compiled-cache"
STATE_DIR = ".composer"


def cache_name(env: str) -> str:
    return f"{env}.compiled.json"


def key_of(project: ProjectOptions) -> dict[str, Any]:
    """The CLI options that shape the compiled model, and where and with what it runs."""
    return {
        "format": FORMAT,
        "files": [os.path.abspath(f) for f in project.files],
        "env": project.env,
        "catalogs": [os.path.abspath(c) for c in project.catalogs],
        "locked": project.locked,
        "untrusted": project.untrusted,
        "allow_outside": project.allow_outside,
        "cwd": os.getcwd(),
        "python": sys.version,
        "executable": sys.executable,
    }


@dataclass(frozen=True)
class CachedUnit:
    name: str
    type: str
    dependencies: tuple[str, ...]
    files: tuple[tuple[str, str], ...]  # (path, sha256 of the rendered bytes), in the unit's order
    module: str | None


@dataclass(frozen=True)
class CachedModel:
    app: str
    environment: str
    app_file: str
    targets: tuple[tuple[str | None, str | None], ...]  # the environment's (context, namespace) as written
    units: tuple[CachedUnit, ...]  # in the graph's order


def cacheable(compiled: Compiled) -> bool:
    """Only what the fast path serves; anything else keeps compiling every time."""
    env = compiled.resolved.environment
    app = compiled.project.app
    return (
        compiled.project.home is None
        and compiled.provenance is None
        and not compiled.warnings
        and not app.warnings
        and not app.model.spec.gates
        and not app.model.metadata.annotations
        and env.spec.kubernetes.delivery == "cluster"
        and env.spec.state.backend == "local"
        and not env.spec.state.path
        and env.spec.cloud is None
        and all(not c.is_terraform for c in compiled.resolved.components)
    )


def model_of(compiled: Compiled) -> dict[str, Any]:
    rendered = compiled.rendered
    units = {u.name: u.files for u in rendered.units}
    return {
        "app": compiled.resolved.name,
        "environment": compiled.resolved.environment.name,
        "app_file": str(compiled.project.app_file),
        "targets": [[t.context, t.namespace] for t in compiled.resolved.environment.spec.kubernetes.resolved_targets()],
        "units": [
            {
                "name": name,
                "type": compiled.resolved.component(name).type,  # type: ignore[union-attr]
                "dependencies": sorted(compiled.graph.dependencies(name)),
                "files": [[p, rendered.files.digest(p).hex()] for p in units.get(name, ())],
                "module": compiled.modules[name].digest if name in compiled.modules else None,
            }
            for name in compiled.graph.order
        ],
    }


def document(project: ProjectOptions, compiled: Compiled, inputs: Inputs) -> dict[str, Any] | None:
    """The cache document, unsigned; None when this compile may not be cached."""
    if inputs.blind or not cacheable(compiled) or not inputs.unchanged():  # changed while compiling: not this one
        return None
    return {
        "key": key_of(project),
        "code": code_digest(),
        "libraries": library_marks(),
        "inputs": inputs.to_json(),
        "model": model_of(compiled),
    }


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _unit(doc: Any) -> CachedUnit | None:
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str) or not isinstance(doc.get("type"), str):
        return None
    files = doc.get("files")
    if (
        not _strings(doc.get("dependencies"))
        or not isinstance(files, list)
        or not all(_strings(f) and len(f) == 2 for f in files)
    ):
        return None
    module = doc.get("module")
    if module is not None and not isinstance(module, str):
        return None
    return CachedUnit(doc["name"], doc["type"], tuple(doc["dependencies"]), tuple((f[0], f[1]) for f in files), module)


def parse_model(doc: Any) -> CachedModel | None:
    """The model part, or None when any field is not what this version writes."""
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), str) for k in ("app", "environment", "app_file")):
        return None
    targets, units = doc.get("targets"), doc.get("units")
    if not isinstance(targets, list) or not isinstance(units, list):
        return None
    if not all(
        isinstance(t, list) and len(t) == 2 and all(v is None or isinstance(v, str) for v in t) for t in targets
    ):
        return None
    parsed = [_unit(u) for u in units]
    kept = tuple(u for u in parsed if u is not None)
    if len(kept) != len(parsed):
        return None
    return CachedModel(doc["app"], doc["environment"], doc["app_file"], tuple((t[0], t[1]) for t in targets), kept)


def still_valid(doc: Any, project: ProjectOptions) -> CachedModel | None:
    """The cached model when every key part and every recorded input is as it was; else None."""
    if not isinstance(doc, dict) or doc.get("key") != key_of(project):
        return None
    inputs = Inputs.from_json(doc.get("inputs"))
    libraries = doc.get("libraries")
    if inputs is None or not isinstance(libraries, dict) or not all(isinstance(v, str) for v in libraries.values()):
        return None
    if doc.get("code") != code_digest() or not libraries_unchanged(libraries) or not inputs.unchanged():
        return None
    return parse_model(doc.get("model"))


def encode(doc: dict[str, Any], key: bytes) -> bytes:
    from composer.state.keys import sign

    return json.dumps({**doc, "signature": sign(key, PURPOSE, doc)}, sort_keys=True).encode()


def decode(data: bytes | None, key: bytes) -> dict[str, Any] | None:
    """The signed document, or None (unreadable, not JSON, unsigned or signed with another key)."""
    from composer.state.keys import verify

    try:
        doc = json.loads(data) if data else None
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("signature"), str):
        return None
    body = {k: v for k, v in doc.items() if k != "signature"}
    return body if verify(key, PURPOSE, doc) else None


def save(project: ProjectOptions, compiled: Compiled, inputs: Inputs) -> bool:
    """Write the cache beside the state after a successful apply; False when not cached."""
    from composer.cli.wiring import state_dir
    from composer.safefs import remove_file, write_file
    from composer.state.local import LocalStore

    if project.env is None:
        return False
    directory = state_dir(compiled)
    doc = document(project, compiled, inputs)
    if doc is None:
        remove_file(directory, cache_name(project.env))  # a stale one must not outlive a change it missed
        return False
    key = LocalStore(directory, compiled.resolved.name, compiled.resolved.environment.name).signing_key()
    write_file(directory, cache_name(project.env), encode(doc, key))
    return True


def state_directory(project: ProjectOptions) -> Path:
    return project.files[0].parent.absolute() / STATE_DIR
