"""Bundles on disk: collecting a project's files and providers, writing the archive, and
reading a (possibly hostile) archive back into a private directory.

Writing streams every file (a provider binary is hundreds of MB) through composer/safefs.py.
Reading walks the tar stream with composer/bundle/layout.py's strict framing, hashes each blob
while writing it into a fresh 0700 temporary directory, refuses sizes over the limits before
reading them, and only then places files at the paths the manifest names (checked relative
paths, no links, O_EXCL). Every failure is a diagnostic naming the archive and the entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from composer import safefs
from composer.bundle import layout
from composer.bundle.manifest import (
    EMPTY,
    LAYOUT,
    BundleFile,
    FileKind,
    Layout,
    bundle_manifest,
    index,
    parse_layout,
    sha256,
    signature_manifest,
)
from composer.diagnostics import Diagnostic, DiagnosticError

CHUNK = 1 << 20
MAX_BUNDLE_ENV = "COMPOSER_BUNDLE_MAX_BYTES"
DEFAULT_MAX_BUNDLE = 4 * 1024**3
MAX_ENTRIES = 50_000
JSON_LIMIT = 32 * 1024 * 1024


def this_platform() -> str:
    machine = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64", "amd64": "amd64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    return f"{platform.system().lower()}_{machine}"


@dataclass(frozen=True)
class Input:
    """One file going into a bundle: from bytes, or streamed from a path."""

    path: str
    kind: FileKind
    data: bytes | None = None
    source: Path | None = None
    executable: bool = False

    def chunks(self) -> Iterator[bytes]:
        if self.data is not None:
            yield self.data
            return
        assert self.source is not None
        fd = os.open(self.source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk

    def described(self) -> BundleFile:
        h, size = hashlib.sha256(), 0
        for chunk in self.chunks():
            h.update(chunk)
            size += len(chunk)
        return BundleFile(self.path, self.kind, "sha256:" + h.hexdigest(), size, self.executable)


def provider_inputs(mirror: Path, addresses: dict[str, tuple[str, ...]], platforms: list[str]) -> list[Input]:
    """Every file of the wanted provider versions for `platforms` in a filesystem mirror
    (unpacked layout: HOST/NS/TYPE/VERSION/OS_ARCH/...); `addresses` maps an address to the
    versions wanted (empty: every version present)."""
    out = []
    for address, versions in sorted(addresses.items()):
        base = mirror / address
        if not base.is_dir():
            continue
        for vdir in sorted(p for p in base.iterdir() if p.is_dir() and not p.is_symlink()):
            if versions and vdir.name not in versions:
                continue
            for plat in platforms:
                pdir = vdir / plat
                if not pdir.is_dir() or pdir.is_symlink():
                    continue
                for f in sorted(pdir.iterdir()):
                    if f.is_file() and not f.is_symlink():
                        rel = f"providers/{address}/{vdir.name}/{plat}/{f.name}"
                        out.append(Input(rel, "provider", source=f, executable=os.access(f, os.X_OK)))
    return out


# -- writing -------------------------------------------------------------------------------------


@dataclass
class Written:
    digest: str
    files: list[BundleFile]
    size: int = 0


def write_bundle(
    out: Path,
    inputs: list[Input],
    name: str,
    annotations: dict[str, str],
    sign: SignFn | None = None,
) -> Written:
    """Write the archive at `out` (atomically); `sign(digest, files)` returns a DSSE envelope."""
    described = {i.path: (i, i.described()) for i in inputs}
    files = [d for _, d in sorted(described.values(), key=lambda x: x[1].path)]
    manifest = bundle_manifest(files, annotations)
    digest = sha256(manifest)
    signatures: list[bytes] = []
    blobs: dict[str, Input | bytes] = {}
    for item, d in described.values():
        blobs.setdefault(d.digest, item)
    blobs[sha256(manifest)] = manifest
    blobs[sha256(EMPTY)] = EMPTY
    if sign is not None:
        envelope = sign(digest, tuple(files))
        sig = signature_manifest(manifest, envelope)
        blobs[sha256(envelope)] = envelope
        blobs[sha256(sig)] = sig
        signatures.append(sig)
    entries: dict[str, Input | bytes] = {"oci-layout": LAYOUT, "index.json": index(manifest, name, signatures)}
    entries |= {f"blobs/sha256/{d.removeprefix('sha256:')}": b for d, b in blobs.items()}
    written = Written(digest, files)

    def stream() -> Iterator[bytes]:
        for entry in sorted(entries):
            item = entries[entry]
            size = len(item) if isinstance(item, bytes) else described[item.path][1].size
            yield layout.header(entry, size)
            yield from [item] if isinstance(item, bytes) else item.chunks()
            yield layout.padding(size)
            written.size += layout.BLOCK + size + len(layout.padding(size))
        yield layout.TRAILER

    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    safefs.write_stream(Path(os.path.realpath(out.parent)), out.name, stream())
    return written


SignFn = Callable[[str, tuple[BundleFile, ...]], bytes]


# -- reading -------------------------------------------------------------------------------------


@dataclass
class Opened:
    """A bundle read back and unpacked: its layout, where its files are, its envelopes."""

    archive: Path
    layout: Layout
    root: Path  # the private directory holding the files at their paths
    envelopes: dict[str, bytes] = field(default_factory=dict)

    def read(self, path: str) -> bytes | None:
        return safefs.read_file(self.root, path) if self.layout.file(path) else None

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _max_bytes() -> int:
    try:
        return int(os.environ.get(MAX_BUNDLE_ENV, DEFAULT_MAX_BUNDLE))
    except ValueError:
        return DEFAULT_MAX_BUNDLE


def _read_exact(f: BinaryIO, n: int) -> bytes:
    return f.read(n)


def open_bundle(archive: Path) -> Opened:
    """Read, check and unpack `archive` into a fresh private directory (the caller cleans up)."""
    shown = str(archive)
    try:
        fd = os.open(archive, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        raise DiagnosticError([Diagnostic(f"cannot read the bundle {shown}: {exc.strerror}", file=shown)]) from None
    root = Path(tempfile.mkdtemp(prefix="appc-bundle-"))
    try:
        with os.fdopen(fd, "rb") as f:
            if not os.path.isfile(f"/proc/self/fd/{f.fileno()}") and not Path(archive).is_file():
                raise layout.archive_error(shown, "is not a regular file", "give the path of a bundle archive")
            small = _read_blobs(f, root, shown)
        return _place(archive, root, small, shown)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def _read_blobs(f: BinaryIO, root: Path, shown: str) -> dict[str, bytes]:
    """Stream the entries into root/.blobs/<hex>; JSON-sized ones are also kept in memory."""
    safefs.private_dir(root, ".blobs")
    small: dict[str, bytes] = {}
    altered: list[str] = []  # blobs whose content does not match their name
    previous: str | None = None
    total, count, limit = 0, 0, _max_bytes()
    while True:
        entry = layout.parse_header(_read_exact(f, layout.BLOCK), previous, shown)
        if entry is None:
            layout.check_trailer(_read_exact(f, layout.BLOCK + 1), shown)
            _report_altered(small, shown, altered)
            return small
        count += 1
        total += entry.size
        if count > MAX_ENTRIES or total > limit:
            raise layout.archive_error(
                shown,
                f"the bundle is larger than the limit ({limit} bytes, {MAX_ENTRIES} entries)",
                f"raise {MAX_BUNDLE_ENV} if it is genuine",
            )
        data = _copy_entry(f, entry, root, shown, altered, keep=entry.size <= JSON_LIMIT)
        layout.check_padding(_read_exact(f, len(layout.padding(entry.size))), entry, shown)
        if data is not None:
            small[entry.name] = data
        previous = entry.name


def _copy_entry(
    f: BinaryIO, entry: layout.Entry, root: Path, shown: str, altered: list[str], keep: bool
) -> bytes | None:
    h = hashlib.sha256()
    kept: list[bytes] = []
    remaining = entry.size

    def chunks() -> Iterator[bytes]:
        nonlocal remaining
        while remaining:
            chunk = f.read(min(CHUNK, remaining))
            if not chunk:
                raise layout.archive_error(shown, "the archive is truncated", f"{entry.name} is cut short")
            remaining -= len(chunk)
            h.update(chunk)
            if keep:
                kept.append(chunk)
            yield chunk

    target = (
        entry.name.replace("blobs/sha256/", ".blobs/") if entry.name.startswith("blobs/") else f".blobs/{entry.name}"
    )
    safefs.write_stream(root, target, chunks(), mode=safefs.PRIVATE_FILE, sync=False)
    if entry.name.startswith("blobs/sha256/") and h.hexdigest() != entry.name.removeprefix("blobs/sha256/"):
        altered.append(entry.name)
    return b"".join(kept) if keep else None


def _report_altered(small: dict[str, bytes], shown: str, altered: list[str]) -> None:
    if not altered:
        return
    titles: dict[str, str] = {}
    for data in small.values():
        try:
            for layer in json.loads(data).get("layers", []):
                titles[layer["digest"].removeprefix("sha256:")] = layer.get("annotations", {}).get(
                    "org.opencontainers.image.title", ""
                )
        except (ValueError, AttributeError, TypeError, KeyError):
            continue
    first = altered[0].removeprefix("blobs/sha256/")
    what = f"file {titles[first]}" if titles.get(first) else f"{altered[0]} (a manifest or index blob)"
    raise layout.archive_error(
        shown, f"{what} was altered: its content does not match its digest", f"blob {altered[0]}"
    )


def _place(archive: Path, root: Path, small: dict[str, bytes], shown: str) -> Opened:
    if small.get("oci-layout") != LAYOUT:
        raise layout.archive_error(shown, "oci-layout is missing or altered", "this is not a Composer bundle")
    if "index.json" not in small:
        raise layout.archive_error(shown, "index.json is missing", "this is not a Composer bundle")
    blobs = {"sha256:" + k.removeprefix("blobs/sha256/"): v for k, v in small.items() if k.startswith("blobs/")}
    parsed = parse_layout(small["index.json"], blobs, shown)
    present = {"sha256:" + n for n in os.listdir(root / ".blobs") if len(n) == 64}
    allowed = parsed.blob_digests({}) | _manifest_digests(small["index.json"])
    for f in parsed.files:
        if f.digest not in present:
            raise layout.archive_error(
                shown, f"file {f.path} is missing ({f.digest})", "a file was removed from the bundle"
            )
    added = sorted(present - allowed)
    if added:
        raise layout.archive_error(
            shown, f"blob {added[0]} is not part of the bundle", "a file was added to the bundle"
        )
    seen: set[str] = set()
    uses = {f.digest: sum(g.digest == f.digest for g in parsed.files) for f in parsed.files}
    for f in parsed.files:
        if f.path in seen:
            raise layout.archive_error(shown, f"{f.path} is listed twice", "the bundle is corrupted")
        seen.add(f.path)
        blob = root / ".blobs" / f.digest.removeprefix("sha256:")
        if os.path.getsize(blob) != f.size:
            raise layout.archive_error(
                shown, f"the size of {f.path} does not match the manifest", "the bundle was altered"
            )
        uses[f.digest] -= 1
        _materialize(root, f, blob, last_use=uses[f.digest] == 0)
    envelopes = {d: blobs[d] for d in parsed.envelopes if d in blobs}
    return Opened(archive, parsed, root, envelopes)


def _manifest_digests(index_json: bytes) -> set[str]:
    return {str(m.get("digest")) for m in json.loads(index_json).get("manifests", []) if isinstance(m, dict)}


def _materialize(root: Path, f: BundleFile, blob: Path, last_use: bool) -> None:
    """Put a blob at its file's path: moved when no other file shares it (a provider binary
    is not copied twice), else copied. Everything here is in our own 0700 directory."""
    mode = 0o700 if f.executable else safefs.PRIVATE_FILE
    parent = f.path.rpartition("/")[0]
    if last_use:
        safefs.private_dir(root, parent)
        os.chmod(blob, mode)
        os.rename(blob, root / f.path)
        return

    def chunks() -> Iterator[bytes]:
        fd = os.open(blob, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as src:
            while chunk := src.read(CHUNK):
                yield chunk

    safefs.write_stream(root, f.path, chunks(), mode=mode, sync=False)


def terraform_version() -> str | None:
    from composer.runners.terraform import terraform_binary

    exe = terraform_binary()
    if exe is None:
        return None
    try:
        proc = subprocess.run(
            [exe, "version", "-json"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False
        )
        return str(json.loads(proc.stdout).get("terraform_version")) if proc.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
