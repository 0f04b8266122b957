"""The state key: the secret that signs what Composer later trusts (docs/security.md).

Each environment's state has one random 256-bit key, created with the state's lineage and
kept beside the state (local: `.composer/<env>.key`, mode 0600; s3: its own object next to
the state object), never inside a document it signs. It signs:

- the state document (an HMAC over its canonical JSON, stored in the document as
  `signature`), so an edit by anyone who does not hold the key is refused;
- saved plans (`appc plan --out`), unless `COMPOSER_PLAN_KEY` gives a key of its own (a CI
  secret, so that write access to the state bucket is not enough to forge a plan);
- the digests of secret outputs in state (HMAC instead of a bare SHA-256), so a short
  password cannot be guessed offline from state.

This module is pure: bytes in, bytes out. The stores load and create the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
from typing import Any

PLAN_KEY_ENV = "COMPOSER_PLAN_KEY"
KEY_BYTES = 32
SIGNATURE_FIELD = "signature"
_PREFIX = "hmac-sha256:"


class BadKey(ValueError):
    """A key that cannot be used (wrong length or encoding). Never carries the key itself."""


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def encode_key(key: bytes) -> bytes:
    return base64.b64encode(key) + b"\n"


def decode_key(data: bytes | str) -> bytes:
    """A key as stored (base64 of 32 bytes) or given in COMPOSER_PLAN_KEY (base64 or hex,
    at least 32 bytes of key material)."""
    text = data.decode("ascii", "replace") if isinstance(data, bytes) else data
    text = text.strip()
    for decode in (lambda t: base64.b64decode(t, validate=True), bytes.fromhex):
        try:
            key = decode(text)
        except (binascii.Error, ValueError):
            continue
        if len(key) >= KEY_BYTES:
            return key
    raise BadKey(
        f"a key is at least {KEY_BYTES} bytes, given as base64 or hex (make one with: openssl rand -base64 32)"
    )


def plan_key_from_environment() -> bytes | None:
    value = os.environ.get(PLAN_KEY_ENV)
    return decode_key(value) if value else None


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(key: bytes, purpose: str, obj: dict) -> str:
    """The signature of a JSON document (without its own `signature` field). `purpose`
    ("state", "plan") keeps a signature of one kind of document from passing for another."""
    body = {k: v for k, v in obj.items() if k != SIGNATURE_FIELD}
    return signature(key, purpose, canonical(body))


def signature(key: bytes, purpose: str, canonical_text: bytes) -> str:
    """The signature of a document already in canonical JSON (without its `signature` field)."""
    return _PREFIX + hmac.new(key, purpose.encode() + b"\0" + canonical_text, hashlib.sha256).hexdigest()


def verify(key: bytes, purpose: str, obj: dict) -> bool:
    given = obj.get(SIGNATURE_FIELD)
    return isinstance(given, str) and hmac.compare_digest(given, sign(key, purpose, obj))


def keyed_digest(key: bytes, value: Any) -> str:
    """The digest of a secret value kept in state: equal values of one state compare equal,
    nothing can be guessed without the key, and two states never share a digest."""
    return _PREFIX + hmac.new(key, b"secret-output\0" + str(value).encode(), hashlib.sha256).hexdigest()
