"""The compiled-model cache: what a no-op `appc apply` needs of the compiled model, kept beside
the state (`.composer/<env>.compiled.json`), so that an unchanged project skips compilation.

It is keyed by every input the compilation read, as composer/compile_inputs.py recorded them
(files, directory listings, stats, environment variables, the plugins' and libraries' files),
plus Composer's code digest, the interpreter, the working directory and the CLI options that
shape the result. It holds only what the no-op decision reads: per unit its kind, type,
dependencies and the digests of its rendered files and module (the unit hash is computed from
them with the state's upstream outputs, by the engine's own function), the cluster targets, and
for Terraform units the digests of the workspace's roots and module copies (which an apply
syncs first) and the environment file with a digest of the environment model, which the cloud
probe is given (read again from the file, checked against the digest; of its values only the
kubernetes and policies blocks are kept, which the app's placement fills in).

The file is untrusted, like everything under `.composer/`: it is signed with the state's key
(which is not in it), and anything unreadable, malformed, unsigned, stale or edited means
"compile normally". A cache is written only for what the fast path serves (composer/cli/
fastpath.py): Kubernetes units on clusters and Terraform units, local state, no sandbox
emulator, no gates, no warnings, and a record that is not blind. A remote state backend (s3) is
not served: its state, lock and signing key live in the bucket, so the cache would be signed
with a key another machine rotates, and boto3 plus S3 reads would cost the no-op what
compiling does.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from composer.compile_inputs import STATE_DIR, Inputs, code_digest, libraries_unchanged, library_marks

if TYPE_CHECKING:
    from composer.cli.common import ProjectOptions
    from composer.model.environment import Environment
    from composer.project import Compiled
    from composer.state.model import UnitKind

FORMAT = 2  # 2: Terraform units (their kind, the workspace's files, the environment file)
PURPOSE = "compiled-cache"


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
    kind: UnitKind
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
    workspace: dict[str, str]  # the roots and module copies an apply syncs: render path -> sha256
    environment_file: str  # read again for the cloud probe, which takes the environment model
    environment_digest: str  # sha256 of the compiled environment model's JSON
    placed: dict[str, Any]  # its kubernetes and policies blocks, as the app's placement left them

    @property
    def terraform(self) -> bool:
        return any(u.kind == "terraform" for u in self.units)


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
        and (env.spec.cloud is None or not env.spec.cloud.emulator)
    )


def environment_digest(environment: Environment) -> str:
    return hashlib.sha256(environment.model_dump_json().encode()).hexdigest()


def model_of(compiled: Compiled) -> dict[str, Any]:
    rendered = compiled.rendered
    units = {u.name: u for u in rendered.units}
    environment = compiled.resolved.environment
    return {
        "app": compiled.resolved.name,
        "environment": environment.name,
        "app_file": str(compiled.project.app_file),
        "environment_file": str(compiled.project.environment_path(environment.name)),
        "environment_digest": environment_digest(environment),
        "placed": {  # what composer/model/placement.py takes from the app into the environment
            "kubernetes": environment.spec.kubernetes.model_dump(mode="json", by_alias=True),
            "policies": environment.spec.policies.model_dump(mode="json", by_alias=True),
        },
        "workspace": {  # never a manifest: reading one dumps its YAML
            p: hashlib.sha256(data).hexdigest() for p, data in rendered.files.under("terraform/", "modules/").items()
        },
        "targets": [[t.context, t.namespace] for t in compiled.resolved.environment.spec.kubernetes.resolved_targets()],
        "units": [
            {
                "name": name,
                "kind": units[name].kind,
                "type": compiled.resolved.component(name).type,  # type: ignore[union-attr]
                "dependencies": sorted(compiled.graph.dependencies(name)),
                "files": [[p, rendered.files.digest(p).hex()] for p in units[name].files],
                "module": compiled.modules[name].digest if name in compiled.modules else None,
            }
            for name in compiled.graph.order
        ],
    }


@functools.cache
def code_digest_ahead() -> Callable[[], str]:
    """Composer's code digest, computed once per process on a thread while other work goes on
    (the no-op's checks, the apply's units): reading and hashing its ~250 files (~25 ms) mostly
    releases the interpreter lock, so neither waits for it (issue 13). Never start it inside
    `recording()`: a thread started there makes the record blind. Call the result for the digest
    (it waits, and raises what it raised)."""
    done: Future[str] = Future()

    def run() -> None:
        try:
            done.set_result(code_digest())
        except BaseException as exc:  # handed to the caller, who raises it
            done.set_exception(exc)

    threading.Thread(target=run, name="appc-code-digest", daemon=True).start()
    return done.result


def document(project: ProjectOptions, compiled: Compiled, inputs: Inputs) -> dict[str, Any] | None:
    """The cache document, unsigned; None when this compile may not be cached."""
    if inputs.blind or not cacheable(compiled) or not inputs.unchanged():  # changed while compiling: not this one
        return None
    return {
        "key": key_of(project),
        "code": code_digest_ahead()(),
        "libraries": library_marks(),
        "inputs": inputs.to_json(),
        "model": model_of(compiled),
    }


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _unit(doc: Any) -> CachedUnit | None:
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str) or not isinstance(doc.get("type"), str):
        return None
    kind = doc.get("kind")
    if kind not in ("terraform", "kubernetes"):
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
    return CachedUnit(
        doc["name"], kind, doc["type"], tuple(doc["dependencies"]), tuple((f[0], f[1]) for f in files), module
    )


def parse_model(doc: Any) -> CachedModel | None:
    """The model part, or None when any field is not what this version writes."""
    names = ("app", "environment", "app_file", "environment_file", "environment_digest")
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), str) for k in names):
        return None
    targets, units, workspace = doc.get("targets"), doc.get("units"), doc.get("workspace")
    if not isinstance(targets, list) or not isinstance(units, list) or not isinstance(workspace, dict):
        return None
    placed = doc.get("placed")
    if not isinstance(placed, dict) or not all(isinstance(placed.get(k), dict) for k in ("kubernetes", "policies")):
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in workspace.items()):
        return None
    if not all(
        isinstance(t, list) and len(t) == 2 and all(v is None or isinstance(v, str) for v in t) for t in targets
    ):
        return None
    parsed = [_unit(u) for u in units]
    kept = tuple(u for u in parsed if u is not None)
    if len(kept) != len(parsed):
        return None
    return CachedModel(
        doc["app"],
        doc["environment"],
        doc["app_file"],
        tuple((t[0], t[1]) for t in targets),
        kept,
        workspace,
        doc["environment_file"],
        doc["environment_digest"],
        placed,
    )


def still_valid(doc: Any, project: ProjectOptions) -> CachedModel | None:
    """The cached model when every key part and every recorded input is as it was; else None."""
    if not isinstance(doc, dict) or doc.get("key") != key_of(project):
        return None
    inputs = Inputs.from_json(doc.get("inputs"))
    libraries = doc.get("libraries")
    if inputs is None or not isinstance(libraries, dict) or not all(isinstance(v, str) for v in libraries.values()):
        return None
    if doc.get("code") != code_digest_ahead()() or not libraries_unchanged(libraries) or not inputs.unchanged():
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
    """`.composer` beside the app, vetted as the normal path vets it (cli/wiring.py state_dir):
    a link out of the project is refused (DiagnosticError)."""
    from composer.safefs import vetted_directory

    return vetted_directory(project.files[0].parent.absolute(), Path(STATE_DIR), f"state directory {STATE_DIR}")
