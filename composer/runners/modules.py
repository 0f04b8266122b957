"""Fetching remote modules with Terraform's own installer, into the module cache; `appc lock`.

Each remote source is fetched by `terraform get` in a scratch root of its own (a root
that only calls that module), so a failure names its source. Terraform resolves the
registry protocol, git refs, `//subdir` and version constraints; Composer then reads
`.terraform/modules/modules.json` for where the module landed and which version it
resolved to (the commit of a git source is read with `git rev-parse`), copies the
package's Terraform files into the content-addressed cache and records the digest.
A final `terraform init -backend=false` over all locked modules gives Terraform's
own `.terraform.lock.hcl`, whose provider versions and hashes go into composer.lock.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from composer.catalog.cache import OFFLINE_HINT, ModuleRequest, lock_source, lock_version
from composer.catalog.lock import Lock, LockedModule, LockedProvider
from composer.catalog.modules import ModuleSource, read_package
from composer.catalog.sources import GIT, REGISTRY
from composer.diagnostics import Diagnostic, DiagnosticError
from composer.runners.terraform import terraform_binary, terraform_environment

FETCH_TIMEOUT = 600.0


@dataclass(frozen=True)
class Fetched:
    module: ModuleSource
    resolved: str | None


def _run(args: list[str], cwd: Path, what: str) -> str:
    exe = terraform_binary()
    if exe is None:
        raise DiagnosticError([Diagnostic(f"cannot {what}: terraform is not on PATH", "install Terraform >= 1.11")])
    env = terraform_environment(cwd)
    try:
        proc = subprocess.run(
            [exe, *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=FETCH_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise DiagnosticError(
            [Diagnostic(f"cannot {what}: terraform took longer than {FETCH_TIMEOUT:.0f}s", OFFLINE_HINT)]
        ) from None
    if proc.returncode != 0:
        raise DiagnosticError(
            [Diagnostic(f"cannot {what}", f"{_terraform_reason(proc.stderr + proc.stdout)}; {OFFLINE_HINT}")]
        )
    return proc.stdout


def _terraform_reason(text: str) -> str:
    """Terraform's own error lines, without box drawing and blank lines."""
    lines = [ln.strip("│╷╵ \t") for ln in text.splitlines()]
    lines = [ln for ln in lines if ln]
    start = next((i for i, ln in enumerate(lines) if ln.startswith("Error:")), 0)
    return " ".join(lines[start : start + 6])[:800] or "terraform failed without a message"


def _scratch_root(directory: Path, calls: dict[str, dict]) -> None:
    doc = {"//": "scratch root written by appc lock", "module": calls}
    (directory / "main.tf.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")


def fetch_remote(req: ModuleRequest, pin: str | None = None) -> Fetched:
    """Fetch one remote module with `terraform get` (pin: an exact registry version)."""
    address = req.address
    call: dict = {"source": address.source}
    if address.kind == REGISTRY:
        call["version"] = f"= {pin}" if pin else req.version
    with tempfile.TemporaryDirectory(prefix="appc-fetch-") as tmp:
        root = Path(tmp)
        _scratch_root(root, {"m": call})
        _run(["get", "-no-color"], root, f"fetch module {address.source}")
        records = json.loads((root / ".terraform" / "modules" / "modules.json").read_text(encoding="utf-8")).get(
            "Modules", []
        )
        record = next((r for r in records if r.get("Key") == "m"), None)
        if record is None:
            raise DiagnosticError(
                [Diagnostic(f"cannot fetch module {address.source}", "terraform get recorded no module")]
            )
        _refuse_nested_remote(address.source, records)
        entry = Path(os.path.normpath(root / str(record.get("Dir", ""))))
        if root / ".terraform" / "modules" not in entry.parents:
            raise DiagnosticError(
                [
                    Diagnostic(
                        f"cannot fetch module {address.source}",
                        f"terraform recorded it outside its module directory ({record.get('Dir')!r})",
                    )
                ]
            )
        package = _package_root(entry, address.subdir)
        resolved = record.get("Version") or None
        if address.kind == GIT:
            resolved = _git_commit(package)
        module = read_package(entry, req.name, package)
        return Fetched(module, resolved)


def _refuse_nested_remote(source: str, records: list[dict]) -> None:
    for r in records:
        key = r.get("Key", "")
        if key.startswith("m.") and not str(r.get("Source", "")).startswith(("./", "../")):
            raise DiagnosticError(
                [
                    Diagnostic(
                        f"module {source} calls the remote module {r.get('Source')!r}",
                        "Terraform would fetch it again at every init, outside composer.lock; vendor that module, or make it a definition of its own",
                    )
                ]
            )


def _package_root(entry: Path, subdir: str) -> Path:
    root = entry
    for _ in [p for p in subdir.split("/") if p]:
        root = root.parent
    return root


def _git_commit(package: Path) -> str | None:
    git = shutil.which("git")
    if git is None or not (package / ".git").exists():
        return None
    proc = subprocess.run(
        [git, "-C", str(package), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def store(cache: Path, module: ModuleSource) -> Path:
    """Put a package into the content-addressed cache (atomically; an existing copy is kept
    only if it still hashes to its name)."""
    target = cache / module.digest
    if target.is_dir():
        try:
            if (
                read_package(target / module.entry if module.entry else target, module.name, target).digest
                == module.digest
            ):
                return target
        except DiagnosticError:
            pass
        shutil.rmtree(target)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".incoming-", dir=cache))
    for rel, data in module.files:
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    if module.entry:
        (tmp / module.entry).mkdir(parents=True, exist_ok=True)
    os.replace(tmp, target)
    return target


# -- appc lock -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LockResult:
    lock: Lock
    fetched: int  # remote packages fetched
    local: int  # local packages hashed


def lock_modules(
    requests: list[ModuleRequest], project_root: Path, cache: Path, previous: Lock | None, upgrade: bool
) -> LockResult:
    """Fetch and hash every module; without `upgrade`, locked versions stay (a git tag that
    moved is an error naming both commits)."""
    entries: dict[tuple[str, str | None], LockedModule] = {}
    errors: list[Diagnostic] = []
    fetched = local = 0
    for req in requests:
        source, version = lock_source(req.address, req.path, project_root), lock_version(req.address, req.version)
        if (source, version) in entries:
            continue
        old = previous.module(source, version) if previous and not upgrade else None
        try:
            if req.address.remote:
                got = fetch_remote(req, pin=old.resolved if old and req.address.kind == REGISTRY else None)
                if old and old.resolved and got.resolved and old.resolved != got.resolved:
                    raise DiagnosticError(
                        [
                            Diagnostic(
                                f"module {source}: ref {version!r} now resolves to {got.resolved}, composer.lock has {old.resolved}",
                                "the tag or branch was moved upstream; if that is intended, run `appc lock --upgrade` to record the new commit",
                            )
                        ]
                    )
                if old and old.resolved == got.resolved and old.hex != got.module.digest:
                    raise DiagnosticError(
                        [
                            Diagnostic(
                                f"module {source} {got.resolved or ''} changed upstream: locked {old.digest}, fetched sha256:{got.module.digest}".replace(
                                    "  ", " "
                                ),
                                "the same version now has other content; review it, then `appc lock --upgrade` records it",
                            )
                        ]
                    )
                store(cache, got.module)
                module, resolved = got.module, got.resolved
                fetched += 1
            else:
                assert req.path is not None
                module, resolved = read_package(req.path, req.name, req.base or req.path.parent), None
                local += 1
        except DiagnosticError as exc:
            errors.extend(
                Diagnostic(d.summary, d.detail, file=req.origin if "/" in req.origin else None) for d in exc.diagnostics
            )
            continue
        entries[(source, version)] = LockedModule(source, version, resolved, f"sha256:{module.digest}", module.entry)
    if errors:
        raise DiagnosticError(errors)
    modules = tuple(entries.values())
    providers = lock_providers(modules, requests, project_root, cache, previous if not upgrade else None)
    return LockResult(Lock(modules, providers), fetched, local)


def write_lock(path: Path, lock: Lock) -> None:
    """composer.lock, atomically: a temp file in the same directory, fsync, rename."""
    fd, tmp = tempfile.mkstemp(prefix=".composer.lock.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(lock.to_bytes())
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def lock_providers(
    modules: tuple[LockedModule, ...],
    requests: list[ModuleRequest],
    project_root: Path,
    cache: Path,
    previous: Lock | None,
) -> dict[str, LockedProvider]:
    """`terraform init -backend=false` over every locked module: Terraform's own provider lock."""
    if not modules:
        return {}
    with tempfile.TemporaryDirectory(prefix="appc-providers-") as tmp:
        root = Path(tmp)
        calls = {}
        remote = {lock_source(r.address, r.path, project_root) for r in requests if r.address.remote}
        for i, m in enumerate(sorted(modules, key=lambda m: (m.source, m.version or ""))):
            place = cache / m.hex / m.entry if m.source in remote else project_root / m.source
            calls[f"m{i}"] = {"source": _relative_source(place, root)}
        _scratch_root(root, calls)
        if previous and previous.providers:
            (root / ".terraform.lock.hcl").write_text(provider_lock_hcl(previous.providers), encoding="utf-8")
        _run(["init", "-backend=false", "-input=false", "-no-color"], root, "install the providers the modules require")
        text = (
            (root / ".terraform.lock.hcl").read_text(encoding="utf-8")
            if (root / ".terraform.lock.hcl").is_file()
            else ""
        )
    return parse_provider_lock(text)


def _relative_source(place: Path, root: Path) -> str:
    rel = os.path.relpath(place, root)
    return rel if rel.startswith("../") else f"./{rel}"


def parse_provider_lock(text: str) -> dict[str, LockedProvider]:
    """Terraform's .terraform.lock.hcl -> provider address: version, constraints, hashes."""
    from composer.catalog.hcl import _blocks, _unquote, parse_file

    if not text.strip():
        return {}
    doc = parse_file(".terraform.lock.hcl", text.encode())
    out = {}
    for address, body in _blocks(doc, "provider"):
        hashes = body.get("hashes") or []
        out[address] = LockedProvider(
            str(_unquote(body.get("version"))),
            str(_unquote(body.get("constraints")) or ""),
            tuple(sorted(str(_unquote(h)) for h in hashes)),
        )
    return dict(sorted(out.items()))


_SAFE = {
    "address": r"^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9_-]+/[a-z0-9_-]+$",
    "version": r"^[0-9A-Za-z.+-]+$",
    "constraints": r"^[0-9A-Za-z.,<>=~! +-]*$",
    "hash": r"^[a-z0-9]+:[A-Za-z0-9+/=_-]+$",
}


def provider_lock_hcl(providers: dict[str, LockedProvider]) -> str:
    """A .terraform.lock.hcl from composer.lock's providers. Every value is checked against
    its format first: lock data never becomes HCL syntax."""
    lines = ["# Written by appc from composer.lock", ""]
    for address, p in sorted(providers.items()):
        values = [
            ("address", address),
            ("version", p.version),
            ("constraints", p.constraints),
            *(("hash", h) for h in p.hashes),
        ]
        bad = [kind for kind, v in values if not re.match(_SAFE[kind], v)]
        if bad:
            raise DiagnosticError(
                [
                    Diagnostic(
                        f"composer.lock: provider {address!r} has a malformed {bad[0]}",
                        "regenerate the lock with `appc lock --upgrade`",
                    )
                ]
            )
        lines.append(f'provider "{address}" {{')
        lines.append(f'  version = "{p.version}"')
        if p.constraints:
            lines.append(f'  constraints = "{p.constraints}"')
        lines.append("  hashes = [")
        lines.extend(f'    "{h}",' for h in p.hashes)
        lines.append("  ]")
        lines.append("}")
        lines.append("")
    return "\n".join(lines)
