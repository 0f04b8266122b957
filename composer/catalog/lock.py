"""`composer.lock`: what exactly a project's definitions use.

Written by `appc lock` beside app.yaml, read by every command that renders:

    {"format": 1,
     "modules": [{"source": ..., "version": constraint|null, "resolved": version|commit|null,
                  "digest": "sha256:...", "entry": "subdir"}],
     "providers": {"registry.terraform.io/hashicorp/aws": {"version": ..., "constraints": ..., "hashes": [...]}}}

A module entry is keyed by its source as written (plus `version` for registry sources);
local sources are recorded relative to the project. The digest is the module package's
(composer/catalog/modules.py); provider versions and hashes come from the
`.terraform.lock.hcl` Terraform wrote while `appc lock` fetched. The file is read
strictly: a lock written by a newer format is refused, not guessed at.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from composer.diagnostics import Diagnostic, DiagnosticError

LOCK_FILE = "composer.lock"
FORMAT = 1
MAX_LOCK_BYTES = 4 * 1024 * 1024
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class LockedModule:
    source: str
    version: str | None  # requested: a registry constraint, or the git ref
    resolved: str | None  # the registry version or git commit it resolved to (null for local)
    digest: str  # sha256:<hex> of the package
    entry: str = ""

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.source, self.version)

    @property
    def hex(self) -> str:
        return self.digest.removeprefix("sha256:")


@dataclass(frozen=True)
class LockedProvider:
    version: str
    constraints: str = ""
    hashes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lock:
    modules: tuple[LockedModule, ...] = ()
    providers: dict[str, LockedProvider] = field(default_factory=dict)

    def module(self, source: str, version: str | None) -> LockedModule | None:
        for m in self.modules:
            if m.key == (source, version):
                return m
        return None

    def to_bytes(self) -> bytes:
        doc = {
            "//": "Written by `appc lock`: module sources with their resolved versions and digests, provider versions and hashes. Commit it; do not edit.",
            "format": FORMAT,
            "modules": [asdict(m) for m in sorted(self.modules, key=lambda m: (m.source, m.version or ""))],
            "providers": {k: {**asdict(v), "hashes": list(v.hashes)} for k, v in sorted(self.providers.items())},
        }
        return (json.dumps(doc, indent=2, sort_keys=False) + "\n").encode()


def lock_path(project_root: Path) -> Path:
    return project_root / LOCK_FILE


def read_lock(path: Path) -> Lock | None:
    """The lock at `path`, or None when there is none. Anything malformed is a diagnostic."""
    if not path.is_file():
        return None

    def bad(detail: str) -> DiagnosticError:
        return DiagnosticError(
            [
                Diagnostic(
                    f"{path.name} is not a valid lock file", f"{detail}; regenerate it with `appc lock`", file=str(path)
                )
            ]
        )

    data = path.read_bytes()
    if len(data) > MAX_LOCK_BYTES:
        raise bad(f"it is larger than {MAX_LOCK_BYTES // 1048576} MiB")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(f"not JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("format"), int):
        raise bad("no integer 'format'")
    if doc["format"] > FORMAT:
        raise DiagnosticError(
            [
                Diagnostic(
                    f"{path.name} was written by a newer appc (lock format {doc['format']}; this appc reads format {FORMAT})",
                    "upgrade appc, or regenerate the lock with this version: appc lock",
                    file=str(path),
                )
            ]
        )
    try:
        modules = tuple(_module(m) for m in doc.get("modules") or [])
        providers = {str(k): _provider(v) for k, v in (doc.get("providers") or {}).items()}
    except (TypeError, ValueError, KeyError) as exc:
        raise bad(str(exc)) from None
    return Lock(modules, providers)


def _opt_str(value: object, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{what} must be a string or null")
    return value


def _module(m: object) -> LockedModule:
    if not isinstance(m, dict) or not isinstance(m.get("source"), str):
        raise ValueError("each module needs a string 'source'")
    digest = m.get("digest")
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise ValueError(f"module {m['source']!r}: digest must be sha256:<64 hex digits>")
    entry = m.get("entry") or ""
    if not isinstance(entry, str) or entry.startswith("/") or ".." in entry.split("/"):
        raise ValueError(f"module {m['source']!r}: entry must be a relative path inside the package")
    return LockedModule(
        m["source"], _opt_str(m.get("version"), "version"), _opt_str(m.get("resolved"), "resolved"), digest, entry
    )


def _provider(v: object) -> LockedProvider:
    if not isinstance(v, dict) or not isinstance(v.get("version"), str):
        raise ValueError("each provider needs a string 'version'")
    hashes = v.get("hashes") or []
    if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
        raise ValueError("provider hashes must be a list of strings")
    return LockedProvider(v["version"], _opt_str(v.get("constraints"), "constraints") or "", tuple(hashes))


def lock_diff(old: Lock | None, new: Lock) -> list[str]:
    """What `new` changes compared to `old`, one line per module or provider."""
    lines = []
    before = {m.key: m for m in (old.modules if old else ())}
    after = {m.key: m for m in new.modules}
    for key in sorted(set(before) | set(after), key=lambda k: (k[0], k[1] or "")):
        a, b = before.get(key), after.get(key)
        label = key[0] + (f" ({key[1]})" if key[1] else "")
        if b is None:
            lines.append(f"- module {label}")
        elif a is None:
            lines.append(f"+ module {label}: {b.resolved or 'local'} {b.digest}")
        elif (a.resolved, a.digest, a.entry) != (b.resolved, b.digest, b.entry):
            lines.append(f"~ module {label}: {a.resolved or 'local'} {a.digest} -> {b.resolved or 'local'} {b.digest}")
    pa, pb = (old.providers if old else {}), new.providers
    for source in sorted(set(pa) | set(pb)):
        if pa.get(source) != pb.get(source):
            was, now = (p[source].version if source in p else "none" for p in (pa, pb))
            lines.append(f"~ provider {source}: {was} -> {now}")
    return lines
