"""Sealing a generated secret (a database password) in state until the cloud secret store holds it.

A password appc generates must be remembered *before* the first Terraform run that uses it: a
run that creates the database and then fails before the store entry is written would otherwise
generate a second password on the next run, which the database never received. State never
holds a secret value, so the value is kept sealed: AES-256-GCM under a key derived from the
state's key (state/keys.py: kept beside the state, never inside it), with the app, environment,
unit and input name as associated data, so a sealed value cannot be moved to another unit or
state. The seal is dropped from state once the store entry holds the value.

Pure: bytes in, bytes out (the `cryptography` package's AEAD, imported only when sealing or
opening: a no-op apply never pays for it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

_PREFIX = "aes256gcm:"
_NONCE_BYTES = 12


class Unsealable(ValueError):
    """A sealed value that does not open with this state's key (edited, moved or foreign)."""


def _seal_key(state_key: bytes) -> bytes:
    # A key of its own for sealing, so the state-signing key is never used as a cipher key.
    return hmac.new(state_key, b"appc-sealed-input\0", hashlib.sha256).digest()


def _context(app: str, env: str, unit: str, name: str) -> bytes:
    return "\0".join(("appc-sealed-input", app, env, unit, name)).encode()


def seal(state_key: bytes, value: str, app: str, env: str, unit: str, name: str) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # lazily: a no-op apply never seals

    nonce = os.urandom(_NONCE_BYTES)
    box = AESGCM(_seal_key(state_key)).encrypt(nonce, value.encode(), _context(app, env, unit, name))
    return _PREFIX + base64.b64encode(nonce + box).decode("ascii")


def unseal(state_key: bytes, sealed: str, app: str, env: str, unit: str, name: str) -> str:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not sealed.startswith(_PREFIX):
        raise Unsealable(f"sealed input {name} of {unit} has an unknown format")
    try:
        raw = base64.b64decode(sealed[len(_PREFIX) :], validate=True)
        opened = AESGCM(_seal_key(state_key)).decrypt(
            raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _context(app, env, unit, name)
        )
        return opened.decode()
    except (InvalidTag, ValueError, UnicodeDecodeError):
        raise Unsealable(f"sealed input {name} of {unit} does not open with this state's key") from None
