"""Signatures: Ed25519 keys, the in-toto Statement (v1) about a bundle, DSSE envelopes.

The Statement's subjects are the bundle (its manifest digest) and every file in it (path and
sha256), so a verifier checks each file against what the signer saw. Its predicate is
SLSA-style provenance (`https://slsa.dev/provenance/v1`): the build type, the application and
environments bundled as external parameters, the source repository commit when there is one,
the builder (appc and its version), and the materials: every definition, module and provider
digest. Nothing in it depends on the clock, and Ed25519 signatures are deterministic, so a
signed bundle is as reproducible as an unsigned one.

A DSSE envelope signs the pre-authentication encoding of (payloadType, payload); its keyid is
`sha256:` of the raw 32-byte public key, which `appc keygen` and `appc verify` print.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from composer.bundle.manifest import BundleFile, canonical_json
from composer.diagnostics import Diagnostic, DiagnosticError

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PROVENANCE_TYPE = "https://slsa.dev/provenance/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
BUILD_TYPE = "https://composer.dev/bundle/v1"
MATERIAL_KINDS = ("definition", "module", "provider")


def new_key() -> tuple[bytes, bytes]:
    """(private PEM, public PEM) of a fresh Ed25519 key pair."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def _key_error(where: str, what: str) -> DiagnosticError:
    return DiagnosticError(
        [
            Diagnostic(
                f"{where} is not an Ed25519 {what} key", "make a key pair with `appc keygen -o PREFIX`", file=where
            )
        ]
    )


def load_private(data: bytes, where: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise _key_error(where, "private") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise _key_error(where, "private")
    return key


def load_public(data: bytes, where: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise _key_error(where, "public") from None
    if not isinstance(key, Ed25519PublicKey):
        raise _key_error(where, "public")
    return key


def key_id(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


@dataclass(frozen=True)
class Source:
    """Where the bundled project came from: a git repository's commit, when it is one."""

    uri: str | None
    commit: str | None
    dirty: bool = False


def _hex(digest: str) -> str:
    return digest.removeprefix("sha256:")


def statement(
    bundle_digest: str, name: str, files: tuple[BundleFile, ...], source: Source, builder: str, params: dict[str, Any]
) -> dict[str, Any]:
    subjects = [{"name": name, "digest": {"sha256": _hex(bundle_digest)}}]
    subjects += [{"name": f.path, "digest": {"sha256": _hex(f.digest)}} for f in files]
    materials: list[dict[str, Any]] = [
        {"name": f.path, "digest": {"sha256": _hex(f.digest)}, "annotations": {"kind": f.kind}}
        for f in files
        if f.kind in MATERIAL_KINDS
    ]
    if source.commit:
        materials.insert(0, {"uri": f"git+{source.uri or 'unknown'}", "digest": {"gitCommit": source.commit}})
    return {
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PROVENANCE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": params | {"sourceDirty": source.dirty},
                "resolvedDependencies": materials,
            },
            "runDetails": {"builder": {"id": builder}},
        },
    }


def sign(doc: dict[str, Any], key: Ed25519PrivateKey) -> bytes:
    payload = canonical_json(doc)
    signature = key.sign(pae(PAYLOAD_TYPE, payload))
    envelope = {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": key_id(key.public_key()), "sig": base64.b64encode(signature).decode()}],
    }
    return canonical_json(envelope)


@dataclass(frozen=True)
class Verified:
    key_id: str
    statement: dict[str, Any]


def open_envelope(envelope: bytes, keys: list[Ed25519PublicKey]) -> Verified | None:
    """The statement in `envelope` if one of `keys` signed it, else None (unknown signer)."""
    try:
        doc = json.loads(envelope)
        payload = base64.b64decode(doc["payload"], validate=True)
        sigs = [(s["keyid"], base64.b64decode(s["sig"], validate=True)) for s in doc["signatures"]]
        if doc["payloadType"] != PAYLOAD_TYPE:
            return None
    except (ValueError, KeyError, TypeError):
        return None
    for key in keys:
        for _, sig in sigs:
            try:
                key.verify(sig, pae(PAYLOAD_TYPE, payload))
            except InvalidSignature:
                continue
            return Verified(key_id(key), json.loads(payload))
    return None


def envelope_key_ids(envelope: bytes) -> list[str]:
    """The key ids an envelope claims (unverified: for naming an unknown signer)."""
    try:
        return [str(s.get("keyid")) for s in json.loads(envelope).get("signatures", [])]
    except (ValueError, AttributeError):
        return []


def subject_digests(doc: dict[str, Any]) -> dict[str, str]:
    """name -> sha256:<hex> of the Statement's subjects."""
    out = {}
    for s in doc.get("subject") or []:
        if isinstance(s, dict) and isinstance(s.get("digest"), dict) and isinstance(s["digest"].get("sha256"), str):
            out[str(s.get("name"))] = "sha256:" + s["digest"]["sha256"]
    return out
