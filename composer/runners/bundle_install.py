"""Installing from a bundle: verification, the project inside it, the facts `appc check` needs,
and (re-exported from composer/runners/provenance.py) the state store that records provenance.

`verify` checks, in this order, and names the first file that fails: the archive's framing and
every blob's digest (composer/runners/bundles.py, while unpacking); the signature, when keys are
given or the environment demands one (`policies.requireSignedBundles`), against those keys only;
every file against the signed Statement (none added, none removed, none changed); and
composer.lock against the module packages in the bundle. A bundle's project compiles from the
unpacked copy with every module mandatory in the lock, read from the bundle's own
`modules/` (never the user's cache), and Terraform installs providers from the bundle's
`providers/` mirror only. The installer's `environments/<ENV>.yaml` beside the archive, when
present, wins over the bundle's (the installer owns policies and targets).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from composer import safefs
from composer.bundle import requirements as reqs
from composer.bundle.inventory import Provenance, stamp_manifests
from composer.bundle.layout import is_bundle  # noqa: F401 (re-exported)
from composer.bundle.statement import envelope_key_ids, load_public, open_envelope, subject_digests
from composer.catalog.cache import ModuleResolver
from composer.catalog.lock import read_lock
from composer.catalog.modules import read_package
from composer.diagnostics import Diagnostic, DiagnosticError
from composer.model.environment import Environment
from composer.model.loader import load_environment
from composer.plugins import PluginRegistry
from composer.project import Compiled, Project, compile_project, open_project
from composer.runners.bundles import Opened, terraform_version, this_platform
from composer.runners.provenance import RecordingStore, recording, source_provenance  # noqa: F401 (re-exported)
from composer.state.model import InstalledFrom

BUNDLE_SUFFIXES = (".bundle", ".tar", ".oci.tar")


def _fail(opened: Opened, what: str, detail: str) -> DiagnosticError:
    return DiagnosticError([Diagnostic(what, detail, file=str(opened.archive))])


@dataclass(frozen=True)
class Verification:
    digest: str
    signer: str | None  # key id, when a signature was checked
    files: int
    signed: bool


def read_keys(paths: list[Path]) -> list[Any]:
    return [load_public(p.read_bytes() if p.is_file() else b"", str(p)) for p in paths]


def verify(opened: Opened, key_paths: list[Path], require_signature: bool) -> Verification:
    layout = opened.layout
    signer = None
    if key_paths or require_signature:
        keys = read_keys(key_paths)
        if not opened.envelopes:
            raise _fail(
                opened, "the bundle is not signed", "a signature is required; sign it with `appc bundle --sign KEY`"
            )
        verified = None
        for envelope in opened.envelopes.values():
            verified = open_envelope(envelope, keys)
            if verified:
                break
        if verified is None:
            claimed = sorted({k for e in opened.envelopes.values() for k in envelope_key_ids(e)})
            raise _fail(
                opened,
                f"the signature is by an unknown key ({', '.join(claimed) or 'none'})",
                "it verifies with none of the trusted keys given",
            )
        signer = verified.key_id
        _check_statement(opened, subject_digests(verified.statement))
    _check_lock(opened)
    return Verification(layout.digest, signer, len(layout.files), bool(opened.envelopes))


def _check_statement(opened: Opened, subjects: dict[str, str]) -> None:
    layout = opened.layout
    if layout.name not in subjects:
        raise _fail(
            opened, f"index.json was altered: it names the bundle {layout.name!r}", "the signed statement names another"
        )
    if subjects.get(layout.name) != layout.digest:
        raise _fail(
            opened,
            "the signed statement is about another bundle",
            f"signed {subjects.get(layout.name)}, this is {layout.digest}",
        )
    listed = {f.path: f.digest for f in layout.files}
    signed = {k: v for k, v in subjects.items() if k != layout.name}
    for path in sorted(set(listed) | set(signed)):
        if path not in signed:
            raise _fail(opened, f"file {path} was added after signing", "the signature does not cover it")
        if path not in listed:
            raise _fail(
                opened, f"file {path} was removed after signing", "the signature covers a file the bundle lacks"
            )
        if listed[path] != signed[path]:
            raise _fail(
                opened, f"file {path} differs from the signed one", f"signed {signed[path]}, found {listed[path]}"
            )


def _check_lock(opened: Opened) -> None:
    lock = read_lock(opened.root / "composer.lock")
    if lock is None:
        raise _fail(opened, "composer.lock is missing", "every bundle carries its lock")
    for m in lock.modules:
        remote = (opened.root / "modules" / m.hex).is_dir()
        place = opened.root / "modules" / m.hex / m.entry if remote else opened.root / m.source
        if not place.is_dir():
            raise _fail(opened, f"module {m.source} of composer.lock is not in the bundle", "it was removed")
        base = opened.root / "modules" / m.hex if remote else None
        package = read_package(place, "module", base or _package_root(place, m.entry))
        if package.digest != m.hex:
            raise _fail(
                opened,
                f"module {m.source} does not match composer.lock",
                f"locked {m.digest}, bundled sha256:{package.digest}",
            )


def _package_root(place: Path, entry: str) -> Path:
    for _ in [p for p in entry.split("/") if p]:
        place = place.parent
    return place


# -- the project inside ------------------------------------------------------------------------------


def bundle_project(opened: Opened, env_name: str | None) -> Project:
    """The unpacked project; the installer's environment file beside the archive wins."""
    app_files = [f.path for f in opened.layout.files if f.kind == "app"]
    if not app_files:
        raise _fail(opened, "the bundle holds no application", "it is not a Composer bundle")
    home = opened.archive.absolute().parent
    if env_name:
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$", env_name):
            raise DiagnosticError(
                [Diagnostic(f"-e {env_name!r} is not an environment name", "letters, digits, '-', '_', '.'")]
            )
        own = home / "environments" / f"{env_name}.yaml"
        if own.is_file() and not own.is_symlink():
            data = safefs.read_path(own)
            safefs.write_file(opened.root, f"environments/{env_name}.yaml", data, mode=safefs.PRIVATE_FILE)
    return dataclasses.replace(open_project(opened.root / app_files[0]), home=home)


def bundle_resolver(root: Path) -> ModuleResolver:
    return ModuleResolver(root, read_lock(root / "composer.lock"), root / "modules", locked=True)


def use_bundle_providers(root: Path) -> None:
    """Terraform in this process installs providers from the bundle's mirror, and only there."""
    os.environ["COMPOSER_PROVIDER_MIRROR"] = str(root / "providers")


def required_keys(opened: Opened, project: Project, env_name: str | None) -> list[Path]:
    """The keys `policies.requireSignedBundles` names, relative to the environment file the
    installer wrote (beside the archive), else to the bundle's own."""
    env = project.environment(env_name)
    own = opened.archive.absolute().parent / "environments" / env.path.name
    base = own.parent if own.is_file() else env.path.parent
    return [(base / k) for k in env.model.spec.policies.require_signed_bundles]


def compile_bundle(
    opened: Opened, env_name: str | None, registry: PluginRegistry, verification: Verification
) -> Compiled:
    project = bundle_project(opened, env_name)
    _refuse_other_platform(opened)
    compiled = compile_project(project, env_name, registry, modules=bundle_resolver(opened.root))
    provenance = Provenance(verification.digest, f"bundle:{opened.layout.name}", verification.signer)
    return dataclasses.replace(
        compiled,
        rendered=stamp_manifests(compiled.rendered, provenance),
        provenance=InstalledFrom(
            bundle_digest=verification.digest, source=provenance.source, signer=verification.signer
        ),
    )


def bundle_requirements(opened: Opened) -> reqs.Requirements:
    data = opened.read("requirements.json")
    if data is None:
        raise _fail(opened, "requirements.json is missing", "it is not a Composer bundle")
    return reqs.Requirements.from_json(json.loads(data))


def _refuse_other_platform(opened: Opened) -> None:
    req = bundle_requirements(opened)
    here = this_platform()
    if req.platforms and here not in req.platforms:
        raise _fail(
            opened,
            f"the bundle is for {', '.join(req.platforms)}, this machine is {here}",
            "build a bundle for this platform: appc bundle --platform " + here,
        )


def gather_facts(opened: Opened, env_name: str | None, registry: PluginRegistry) -> reqs.TargetFacts:
    """What `appc check` compares the requirements with; nothing is changed anywhere."""
    project = bundle_project(opened, env_name)
    env: Environment = project.environment(env_name).model
    catalog = project.catalog(registry)
    cloud = env.spec.cloud.provider if env.spec.cloud else None
    impls = {name: frozenset(t.implementations) for name, t in catalog.components.items()}
    problems: tuple[str, ...] = ()
    try:
        compile_project(project, env_name, registry, catalog=catalog, modules=bundle_resolver(opened.root))
    except DiagnosticError as exc:
        problems = tuple(d.summary for d in exc.diagnostics)
    providers: dict[str, list[str]] = {}
    plat = this_platform()
    for f in opened.layout.files:
        if f.kind == "provider":
            parts = f.path.split("/")  # providers/HOST/NS/TYPE/VERSION/OS_ARCH/file
            if len(parts) == 7 and parts[5] == plat and parts[4] not in providers.get("/".join(parts[1:4]), []):
                providers.setdefault("/".join(parts[1:4]), []).append(parts[4])
    return reqs.TargetFacts(
        cloud=cloud,
        region=env.spec.cloud.region if env.spec.cloud else None,
        platform=plat,
        terraform=terraform_version(),
        bundled_providers={k: tuple(v) for k, v in providers.items()},
        types=frozenset(catalog.components),
        traits=frozenset(catalog.traits),
        implementations=impls,
        compile_problems=problems,
        **_cluster(env),
    )


def _cluster(env: Environment) -> dict[str, Any]:
    """The cluster's version and API groups, read-only, when the environment names a context;
    unknown (unchecked) for GitOps directories or a cluster that cannot be reached."""
    context = env.spec.kubernetes.context
    if not context:
        return {"kubernetes": None, "apis": None}
    from composer.runners.kube.client import KubeClient
    from composer.runners.kube.kubeconfig import kubeconfig_path

    try:
        client = KubeClient.for_context(kubeconfig_path(), context, 1)
        version = client.request("GET", "/version") or {}
        groups = client.request("GET", "/apis") or {}
    except Exception:  # unreachable, refused, no kubeconfig: unchecked, never a crash
        return {"kubernetes": None, "apis": None}
    names = frozenset(str(g.get("name")) for g in groups.get("groups", []) if isinstance(g, dict))
    return {"kubernetes": str(version.get("gitVersion") or "") or None, "apis": names}


def load_env_model(path: Path) -> Environment:
    return load_environment(path, str(path)).model


def cloud_resources(state_dir: Path, key: str) -> list[tuple[str, str]]:
    """(resource type, address + id) of the managed resources in a unit's local Terraform state;
    empty when the backend is remote or the state unreadable. Only `id` is read, never values."""
    try:
        data = safefs.read_file(state_dir, f"tfstate/{key}")
        doc = json.loads(data) if data else {}
    except (DiagnosticError, ValueError):
        return []
    out = []
    for r in doc.get("resources", []) if isinstance(doc, dict) else []:
        if not isinstance(r, dict) or r.get("mode") != "managed":
            continue
        prefix = f"{r['module']}." if r.get("module") else ""
        for inst in r.get("instances") or []:
            ident = (inst.get("attributes") or {}).get("id") if isinstance(inst, dict) else None
            where = f"{prefix}{r.get('type')}.{r.get('name')}" + (f" ({ident})" if isinstance(ident, str) else "")
            out.append((str(r.get("type")), where))
    return out
