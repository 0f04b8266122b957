"""The OCI image layout of a bundle: which blob is which file.

One OCI image manifest (artifactType `application/vnd.composer.bundle.v1`) lists every file
of the bundle as a layer, in path order, with the file's path in the standard
`org.opencontainers.image.title` annotation (what `oras pull` names files by), its kind
(app, environment, definition, module, provider, lock, inventory, requirements) and its mode.
The config is the OCI empty descriptor. The bundle's digest is this manifest's digest.

A signature is a second manifest whose `subject` is the bundle manifest and whose one layer
is a DSSE envelope: the OCI referrers convention, so registries and `oras` carry it along.
index.json lists the bundle manifest first, then any signatures. JSON is written compactly
with sorted keys, so the same files always give the same digests.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from composer.bundle.layout import archive_error

LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
BUNDLE_TYPE = "application/vnd.composer.bundle.v1"
FILE_TYPE = "application/vnd.composer.bundle.file.v1"
DSSE_TYPE = "application/vnd.dsse.envelope.v1+json"
EMPTY = b"{}"
EMPTY_DIGEST = "sha256:" + hashlib.sha256(EMPTY).hexdigest()
EMPTY_DESCRIPTOR = {"mediaType": "application/vnd.oci.empty.v1+json", "digest": EMPTY_DIGEST, "size": 2}
TITLE = "org.opencontainers.image.title"
REF_NAME = "org.opencontainers.image.ref.name"
KIND = "dev.composer.kind"
MODE = "dev.composer.mode"
MAX_JSON_BYTES = 32 * 1024 * 1024

FileKind = Literal["app", "environment", "definition", "module", "provider", "lock", "inventory", "requirements"]
KINDS = ("app", "environment", "definition", "module", "provider", "lock", "inventory", "requirements")
_PATH = re.compile(r"^(?!/)(?!.*(^|/)\.\.?(/|$))[A-Za-z0-9._+@=,-]+(/[A-Za-z0-9._+@=,-]+)*$")


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def safe_path(path: str) -> bool:
    """A relative path with no `.`/`..` component, no absolute start, a plain character set."""
    return len(path) <= 400 and bool(_PATH.match(path))


@dataclass(frozen=True)
class BundleFile:
    path: str
    kind: FileKind
    digest: str  # sha256:<hex>
    size: int
    executable: bool = False

    def descriptor(self) -> dict[str, Any]:
        return {
            "mediaType": FILE_TYPE,
            "digest": self.digest,
            "size": self.size,
            "annotations": {TITLE: self.path, KIND: self.kind, MODE: "0755" if self.executable else "0644"},
        }


def bundle_manifest(files: list[BundleFile], annotations: dict[str, str]) -> bytes:
    ordered = sorted(files, key=lambda f: f.path)
    doc = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "artifactType": BUNDLE_TYPE,
        "config": EMPTY_DESCRIPTOR,
        "layers": [f.descriptor() for f in ordered],
        "annotations": dict(sorted(annotations.items())),
    }
    return canonical_json(doc)


def signature_manifest(bundle: bytes, envelope: bytes) -> bytes:
    doc = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "artifactType": DSSE_TYPE,
        "config": EMPTY_DESCRIPTOR,
        "layers": [{"mediaType": DSSE_TYPE, "digest": sha256(envelope), "size": len(envelope)}],
        "subject": {"mediaType": MANIFEST_TYPE, "digest": sha256(bundle), "size": len(bundle)},
    }
    return canonical_json(doc)


def index(bundle: bytes, name: str, signatures: list[bytes]) -> bytes:
    manifests = [
        {"mediaType": MANIFEST_TYPE, "artifactType": BUNDLE_TYPE, "digest": sha256(bundle), "size": len(bundle)}
        | {"annotations": {REF_NAME: name}}
    ]
    manifests += [
        {"mediaType": MANIFEST_TYPE, "artifactType": DSSE_TYPE, "digest": sha256(s), "size": len(s)} for s in signatures
    ]
    return canonical_json({"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": manifests})


# -- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """What index.json and the manifests say a bundle holds."""

    digest: str  # the bundle manifest's
    name: str
    files: tuple[BundleFile, ...]
    annotations: dict[str, str]
    envelopes: tuple[str, ...]  # blob digests of DSSE envelopes

    def file(self, path: str) -> BundleFile | None:
        return next((f for f in self.files if f.path == path), None)

    def blob_digests(self, manifests: dict[str, bytes]) -> set[str]:
        return {f.digest for f in self.files} | set(manifests) | set(self.envelopes) | {EMPTY_DIGEST}


def _json(data: bytes, what: str, archive: str) -> dict[str, Any]:
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise archive_error(archive, f"{what} is not JSON", "the bundle is corrupted") from None
    if not isinstance(doc, dict) or data != canonical_json(doc):
        raise archive_error(archive, f"{what} was altered", "it is not in the form appc writes")
    return doc


def parse_layout(index_bytes: bytes, blobs: dict[str, bytes], archive: str) -> Layout:
    """The bundle described by index.json; `blobs` holds the JSON blobs by digest."""
    doc = _json(index_bytes, "index.json", archive)
    entries = doc.get("manifests")
    if doc.get("mediaType") != INDEX_TYPE or not isinstance(entries, list) or not entries:
        raise archive_error(
            archive,
            "index.json was altered: it lists no Composer bundle",
            "this is not (or no longer) a Composer bundle",
        )
    first = entries[0]
    if not isinstance(first, dict) or first.get("artifactType") != BUNDLE_TYPE:
        raise archive_error(
            archive,
            "index.json was altered: it does not start with a Composer bundle",
            "this is not (or no longer) a Composer bundle",
        )
    digest = str(first.get("digest"))
    raw = _blob(blobs, digest, "the bundle manifest", archive)
    manifest = _json(raw, f"the bundle manifest {digest}", archive)
    files = tuple(_file(layer, archive) for layer in manifest.get("layers") or [])
    annotations = {str(k): str(v) for k, v in (manifest.get("annotations") or {}).items()}
    if bundle_manifest(list(files), annotations) != raw:
        raise archive_error(archive, f"the bundle manifest {digest} was altered", "it is not in the form appc writes")
    signatures = [
        _blob(blobs, str(e.get("digest")) if isinstance(e, dict) else "", "a signature manifest", archive)
        for e in entries[1:]
    ]
    envelopes = tuple(_envelope(sig, raw, blobs, archive) for sig in signatures)
    name = str((first.get("annotations") or {}).get(REF_NAME, ""))
    if index(raw, name, signatures) != index_bytes:
        raise archive_error(archive, "index.json was altered", "it is not the index appc writes for this bundle")
    return Layout(digest, name, files, annotations, envelopes)


def _blob(blobs: dict[str, bytes], digest: str, what: str, archive: str) -> bytes:
    if digest not in blobs:
        raise archive_error(
            archive, f"{what} ({digest}) is missing", "a file was removed from the bundle, or index.json was altered"
        )
    return blobs[digest]


def _file(layer: Any, archive: str) -> BundleFile:
    ann = layer.get("annotations") if isinstance(layer, dict) else None
    if not isinstance(ann, dict):
        raise archive_error(
            archive, "the bundle manifest was altered: a layer has no annotations", "the bundle is corrupted"
        )
    path, kind, digest, size = ann.get(TITLE), ann.get(KIND), layer.get("digest"), layer.get("size")
    if not isinstance(path, str) or not safe_path(path):
        raise archive_error(
            archive, f"the manifest was altered: it names an unsafe path {path!r}", "refusing to unpack it"
        )
    if kind not in KINDS or not isinstance(digest, str) or not re.match(r"^sha256:[0-9a-f]{64}$", digest):
        raise archive_error(archive, f"the manifest entry of {path} was altered", "the bundle is corrupted")
    if not isinstance(size, int) or size < 0 or ann.get(MODE) not in ("0644", "0755"):
        raise archive_error(archive, f"the manifest entry of {path} was altered", "the bundle is corrupted")
    return BundleFile(path, kind, digest, size, ann.get(MODE) == "0755")


def _envelope(signature: bytes, bundle: bytes, blobs: dict[str, bytes], archive: str) -> str:
    doc = _json(signature, f"the signature manifest {sha256(signature)}", archive)
    layers = doc.get("layers") or []
    envelope = str(layers[0].get("digest")) if len(layers) == 1 and isinstance(layers[0], dict) else ""
    if envelope not in blobs or signature_manifest(bundle, blobs[envelope]) != signature:
        raise archive_error(
            archive,
            f"the signature manifest {sha256(signature)} was altered",
            "it is not about this bundle, or its envelope is missing",
        )
    return envelope
