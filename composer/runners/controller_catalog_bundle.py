"""An Environment's platform catalog from a signed bundle (`spec.catalog.bundle`): the bundle
bytes are read from a Secret key in the Environment's namespace or from a file under the
controller's `--catalog-bundle-dir` (a mounted volume), verified like `appc verify --key`
against the controller's trusted keys (`--catalog-key`) only, and its definitions and the
local modules they call are unpacked into the Application's project directory for the child
`appc` run (`--catalog DIR`). An unsigned, tampered or foreign-signed bundle, or a controller
with no trusted key, is refused with the reason: there is no fallback to an unverified
catalog (docs/controller.md)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from composer import safefs
from composer.bundle.manifest import safe_path
from composer.diagnostics import Diagnostic, DiagnosticError

UNPACKED = "catalog-bundle"  # below the Application's project directory
MARKER = ".appc-catalog-bundle"  # proves the unpacked tree is ours to replace
DOWNLOADED = ".catalog.bundle"  # the Secret's bytes, while they are verified
MAX_SECRET_BUNDLE_BYTES = 1024 * 1024  # a Secret holds at most 1 MiB
CATALOG_KINDS = ("definition", "module")
BUNDLE_KEY = "catalog.bundle"  # the Secret key when the reference names none


@dataclass(frozen=True)
class BundleRef:
    """`spec.catalog.bundle` of an Environment: a key of a Secret of its namespace, or a plain
    relative path under the controller's catalog bundle directory."""

    secret: str | None = None
    key: str = BUNDLE_KEY
    path: str | None = None


def _shown(ref: BundleRef, namespace: str) -> str:
    return f"Secret {namespace}/{ref.secret} key {ref.key!r}" if ref.secret else f"file {ref.path!r}"


@dataclass(frozen=True)
class CatalogBundle:
    """The unpacked catalog (a definitions directory) and the bundle's digest and signer, or why
    the bundle was refused (never both)."""

    definitions: Path | None = None
    digest: str | None = None
    signer: str | None = None
    problem: str | None = None


@dataclass(frozen=True)
class BundleTrust:
    """What the controller trusts: public keys (PEM, from `appc keygen`) and where file
    references are read from. An Environment can name a bundle, never a key."""

    keys: tuple[Path, ...] = ()
    directory: Path | None = None


SecretReader = Callable[[str, str], Any]  # (namespace, name) -> V1Secret


def read_catalog_bundle(
    trust: BundleTrust, read_secret: SecretReader, namespace: str, ref: BundleRef, project: Path
) -> CatalogBundle:
    """Fetch, verify and unpack; a problem names the reference and the first failed check."""
    where = _shown(ref, namespace)
    if not trust.keys:
        return CatalogBundle(
            problem=f"the catalog bundle {where} is refused: the controller trusts no catalog key "
            "(start it with --catalog-key PEM); an unverified catalog is never used"
        )
    archive, fetched = _fetch(trust, read_secret, namespace, ref, project)
    if archive is None:
        return CatalogBundle(problem=f"the catalog bundle {where} {fetched}")
    try:
        return _verify_and_unpack(trust, archive, project)
    except DiagnosticError as exc:
        first = exc.diagnostics[0] if exc.diagnostics else None
        why = f"{first.summary}: {first.detail}" if first and first.detail else (first.summary if first else str(exc))
        return CatalogBundle(problem=f"the catalog bundle {where} is refused: {why}")
    finally:
        if fetched == DOWNLOADED:
            safefs.remove_file(project, DOWNLOADED)


def _fetch(
    trust: BundleTrust, read_secret: SecretReader, namespace: str, ref: BundleRef, project: Path
) -> tuple[Path | None, str]:
    """(the archive's path, DOWNLOADED when it was written here) or (None, why not)."""
    if ref.path is not None:
        if trust.directory is None:
            return None, "cannot be read: the controller has no --catalog-bundle-dir"
        if not safe_path(ref.path):
            return None, "is refused: the path must be plain and relative (no '..', no leading '/')"
        return trust.directory / ref.path, ""
    assert ref.secret is not None
    from kubernetes.client.exceptions import ApiException

    try:
        secret = read_secret(namespace, ref.secret)
    except ApiException as exc:
        if exc.status == 404:
            return None, "does not exist"
        return None, f"could not be read: {exc.status} {exc.reason}"
    encoded = (secret.data or {}).get(ref.key)
    if encoded is None:
        return None, f"is missing (keys: {', '.join(sorted(secret.data or {})) or 'none'})"
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None, "is not base64"
    if len(data) > MAX_SECRET_BUNDLE_BYTES:
        return None, f"is over {MAX_SECRET_BUNDLE_BYTES} bytes"
    safefs.write_file(project, DOWNLOADED, data, mode=safefs.PRIVATE_FILE)
    return project / DOWNLOADED, DOWNLOADED


def _verify_and_unpack(trust: BundleTrust, archive: Path, project: Path) -> CatalogBundle:
    from composer.runners.bundle_install import verify
    from composer.runners.bundles import open_bundle

    opened = open_bundle(archive)
    try:
        verified = verify(opened, list(trust.keys), require_signature=True)
        files = [f for f in opened.layout.files if f.kind in CATALOG_KINDS]
        if not any(f.kind == "definition" for f in files):
            raise DiagnosticError([Diagnostic("the bundle holds no definitions", "bundle a project with definitions/")])
        safefs.remove_owned_tree(project, UNPACKED, MARKER)
        safefs.private_dir(project, UNPACKED)
        safefs.write_file(project, f"{UNPACKED}/{MARKER}", verified.digest.encode(), mode=safefs.PRIVATE_FILE)
        for f in files:
            data = opened.read(f.path)
            assert data is not None  # listed in the verified layout
            safefs.write_file(project, f"{UNPACKED}/{f.path}", data, mode=safefs.PRIVATE_FILE)
        return CatalogBundle(project / UNPACKED / "definitions", verified.digest, verified.signer)
    finally:
        opened.cleanup()


def last_unpacked(project: Path) -> Path | None:
    """The catalog a previous reconcile unpacked (a destroy whose bundle is gone uses it)."""
    marker = safefs.read_file(project, f"{UNPACKED}/{MARKER}") if (project / UNPACKED).is_dir() else None
    return project / UNPACKED / "definitions" if marker else None
