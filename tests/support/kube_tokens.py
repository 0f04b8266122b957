"""The TokenRequest API of the Kubernetes API stand-in (`POST .../serviceaccounts/NAME/token`,
authentication.k8s.io/v1): a token for an existing ServiceAccount, with the audiences asked for
and an expiry of at least 10 minutes, as the API server answers it. The token is shaped like a
ServiceAccount JWT (header, claims, signature in base64url) but signed by nothing: no one here
verifies it (moto's AssumeRoleWithWebIdentity accepts any token)."""

from __future__ import annotations

import base64
import datetime
import json
import secrets
from collections.abc import Mapping
from typing import Any

MIN_SECONDS = 600
DEFAULT_SECONDS = 3600
ISSUER = "https://kubernetes.default.svc.cluster.local"


def _b64(value: Mapping[str, Any] | bytes) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def token_request(namespace: str, name: str, body: Mapping[str, Any], exists: bool) -> tuple[int, dict[str, Any]]:
    """(HTTP status, answer) for a TokenRequest of ServiceAccount namespace/name."""
    if not exists:
        return 404, _status(404, "NotFound", f'serviceaccounts "{name}" not found')
    spec = dict(body.get("spec") or {})
    seconds = int(spec.get("expirationSeconds") or DEFAULT_SECONDS)
    if seconds < MIN_SECONDS:
        message = f'TokenRequest.authentication.k8s.io "{name}" is invalid: spec.expirationSeconds: Invalid value: {seconds}: may not specify a duration less than 10 minutes'
        return 422, _status(422, "Invalid", message)
    audiences = [str(a) for a in spec.get("audiences") or []] or [ISSUER]
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    expires = now + datetime.timedelta(seconds=seconds)
    claims = {
        "aud": audiences,
        "exp": int(expires.timestamp()),
        "iat": int(now.timestamp()),
        "iss": ISSUER,
        "sub": f"system:serviceaccount:{namespace}:{name}",
    }
    token = ".".join((_b64({"alg": "RS256", "kid": "standin"}), _b64(claims), _b64(secrets.token_bytes(32))))
    answer = {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ")},
        "spec": {"audiences": audiences, "expirationSeconds": seconds, "boundObjectRef": spec.get("boundObjectRef")},
        "status": {"token": token, "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ")},
    }
    return 201, answer
