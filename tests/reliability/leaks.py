"""The secret-leak scan: look for known secret values everywhere appc writes that a person
or a log collector may read.

    report = scan(secrets, texts={"stdout": r.out, "stderr": r.err}, paths=[root / ".composer", root / "out"])
    assert report.hits == [], report.describe()

Each secret is looked for as itself and in the encodings it would take on the way out:
base64 (Kubernetes Secret `data`) and JSON-escaped text. Files are read as bytes; nothing is
skipped for being binary, except Terraform's provider plugins under `.terraform/providers/`
(third-party executables of 700 MB). Compressed containers are opened: a zip file (a
Terraform plan) is searched member by member, and so is a zip carried as base64 in a JSON
string (the `tfplan` of a plan saved by `appc plan --out`). Terraform's own state files
(`*.tfstate`, `*.tfstate.backup`) are where a module's `sensitive` outputs live by design
(docs/security.md): pass `allow_tfstate=True` for units whose implementation keeps secrets in
Terraform outputs; their hits are then counted as `allowed`, not as leaks.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

PLUGIN_DIRS = (".terraform/providers",)
TFSTATE_SUFFIXES = (".tfstate", ".tfstate.backup")


def token_value(component: str) -> str:
    """The secret output of tests/support/projects.py's token module for `component`."""
    return hashlib.sha256(f"token-{component}-token".encode()).hexdigest()


def variants(secret: str) -> dict[str, bytes]:
    raw = secret.encode()
    out = {"raw": raw, "base64": base64.b64encode(raw), "json": json.dumps(secret)[1:-1].encode()}
    return {k: v for k, v in out.items() if len(v) >= 8}  # a short value would match by chance


@dataclass(frozen=True)
class Hit:
    where: str  # "stdout", or a file path
    variant: str  # raw | base64 | json
    secret_index: int


@dataclass
class Report:
    hits: list[Hit] = field(default_factory=list)
    allowed: list[Hit] = field(default_factory=list)  # Terraform state of units with output secrets
    texts: int = 0
    files: int = 0
    bytes: int = 0

    def describe(self) -> str:
        return "; ".join(f"secret #{h.secret_index} ({h.variant}) in {h.where}" for h in self.hits) or "no leaks"

    def add(self, other: Report) -> Report:
        return Report(
            self.hits + other.hits,
            self.allowed + other.allowed,
            self.texts + other.texts,
            self.files + other.files,
            self.bytes + other.bytes,
        )


def _files(paths: Iterable[Path]) -> Iterable[Path]:
    for root in paths:
        root = Path(root)
        if root.is_file():
            yield root
        elif root.is_dir():
            for p in sorted(root.rglob("*")):
                rel = p.as_posix()
                if any(f"/{d}/" in rel or rel.endswith(f"/{d}") for d in PLUGIN_DIRS):
                    continue
                if p.is_file() and not p.is_symlink():
                    yield p


def scan(
    secrets: Iterable[str], *, texts: Mapping[str, str] = {}, paths: Iterable[Path] = (), allow_tfstate: bool = False
) -> Report:
    wanted = [(i, name, needle) for i, s in enumerate(secrets) for name, needle in variants(s).items()]
    report = Report()
    for where, text in texts.items():
        report.texts += 1
        data = text.encode("utf-8", "surrogateescape")
        report.bytes += len(data)
        for i, name, needle in wanted:
            if needle in data:
                report.hits.append(Hit(where, name, i))
    for path in _files(paths):
        try:
            data = path.read_bytes()
        except OSError:
            continue  # removed while we looked (a run's temporary file)
        report.files += 1
        report.bytes += len(data)
        for where, blob in _opened(str(path), data):
            for i, name, needle in wanted:
                if needle in blob:
                    hit = Hit(where, name, i)
                    (report.allowed if allow_tfstate and path.name.endswith(TFSTATE_SUFFIXES) else report.hits).append(
                        hit
                    )
    return report


def _opened(where: str, data: bytes, depth: int = 0):
    """The bytes themselves, and what compressed containers inside them hold."""
    yield where, data
    if depth > 2:
        return
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for member in z.namelist():
                    yield from _opened(f"{where}!{member}", z.read(member), depth + 1)
        except (zipfile.BadZipFile, OSError, RuntimeError):
            pass
    elif data[:1] in (b"{", b"["):
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            return
        for key, text in _json_strings(doc):
            if len(text) > 64 and text.startswith("UEsDB"):  # base64 of a zip
                try:
                    blob = base64.b64decode(text, validate=True)
                except (binascii.Error, ValueError):
                    continue
                yield from _opened(f"{where}:{key}", blob, depth + 1)


def _json_strings(doc, path=""):
    if isinstance(doc, str):
        yield path, doc
    elif isinstance(doc, dict):
        for k, v in doc.items():
            yield from _json_strings(v, f"{path}.{k}")
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _json_strings(v, f"{path}[{i}]")
