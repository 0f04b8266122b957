"""Client failures translated into diagnostics, at the edge: the server URL when it is
unreachable, verb and resource on 403 (and Pod Security refusals), component and field on
422 and on a typed-patch error, the other field manager on 409. For a Secret the server's
message is left out, as it may quote a value."""

from __future__ import annotations

import re
from dataclasses import dataclass

from composer.diagnostics import Diagnostic
from composer.runners.kube.client import ApiError, Unreachable
from composer.runners.kube.guards import typed_patch_diagnostic
from composer.runners.kube.resources import Resource


@dataclass(frozen=True)
class Failure:
    """What was being done when the client failed, and where."""

    context: str
    namespace: str
    server: str
    timeout: float
    component: str | None
    verb: str
    what: str  # names the object: "Deployment shop/api"
    resource: Resource | None = None
    secret: bool = False

    @property
    def where(self) -> str:
        return f"context {self.context}"


def translate(exc: Exception, f: Failure) -> Diagnostic:
    """The diagnostic for one failed request."""
    if isinstance(exc, Unreachable):
        return Diagnostic(
            f"cannot reach the Kubernetes API server at {exc.server} ({exc.cause})",
            f"{f.where}: while trying to {f.verb} {f.what}. Check that the cluster is running and that the kubeconfig's server address is right; nothing further was applied.",
            address=f.component,
        )
    assert isinstance(exc, ApiError)
    if exc.typed_patch:
        problems = (
            exc.typed_patch if not f.secret else [p.split(": ", 1)[0] + ": not accepted" for p in exc.typed_patch]
        )
        return typed_patch_diagnostic(f.component, f.what, problems)
    return _refused(exc, f) or _conflict_or_invalid(exc, f) or _other(exc, f)


def _server_said(exc: ApiError, f: Failure) -> str:
    return "" if f.secret else f" The API server said: {exc.message}"


def _refused(exc: ApiError, f: Failure) -> Diagnostic | None:
    """401 and 403: credentials, RBAC, Pod Security, a namespace being deleted."""
    if exc.namespace_terminating:
        return Diagnostic(
            f"namespace {f.namespace} is being terminated in {f.where}",
            f"it was deleted and the cluster is still emptying it; appc waited up to {f.timeout:g}s for it to go. Wait until it is gone (or raise --timeout) and apply again.",
            address=f.component,
        )
    if exc.status == 401:
        return Diagnostic(
            f"the API server at {f.server} rejected the credentials of {f.where}",
            "log in again or refresh the kubeconfig credentials",
            address=f.component,
        )
    if exc.status == 403 and "violates PodSecurity" in exc.message:
        return Diagnostic(
            f"{f.what} is refused by the Pod Security admission of namespace {f.namespace}",
            f"{f.where}: {exc.message}. Relax the named fields with the security trait, or apply to a namespace whose pod-security.kubernetes.io/enforce level allows them.",
            address=f.component,
        )
    if exc.status == 403:
        res = f.resource.qualified if f.resource else f.what
        scope = f'in namespace "{f.namespace}"' if f.resource is None or f.resource.namespaced else "at cluster scope"
        return Diagnostic(
            f"forbidden: cannot {f.verb} {res} {scope} ({f.what})",
            f"{f.where}: the credentials lack RBAC permission to {f.verb} {res}; grant it with a Role/ClusterRole.{_server_said(exc, f)}",
            address=f.component,
        )
    return None


def _conflict_or_invalid(exc: ApiError, f: Failure) -> Diagnostic | None:
    """409 from another field manager, 422 with the fields the server named."""
    causes = exc.causes
    if exc.status == 409 and any(c.get("type") == "FieldManagerConflict" for c in causes):
        found = (re.search(r'conflict with "([^"]+)"', c.get("message", "")) for c in causes)
        managers = sorted({m.group(1) for m in found if m})
        fields = sorted({c.get("field", "") for c in causes if c.get("field")})
        return Diagnostic(
            f"{f.what} has fields owned by another field manager: {', '.join(managers) or 'unknown'}",
            f"conflicting field{'s' if len(fields) != 1 else ''}: {', '.join(fields)}. Another tool ({', '.join(managers)}) set {'them' if len(fields) != 1 else 'it'} to a different value. "
            "Remove the field from that tool, or run `appc apply --force-conflicts` to take ownership (field manager appc).",
            address=f.component,
        )
    if exc.status != 422:
        return None
    if causes:
        parts = [
            f"{c.get('field') or '?'}: {c.get('reason', 'invalid') if f.secret else c.get('message', c.get('reason', 'invalid'))}"
            for c in causes
        ]
        fields = sorted({str(c.get("field")) for c in causes if c.get("field")})
    else:
        parts, fields = ([] if f.secret else [exc.message]), []
    return Diagnostic(
        f"component {f.component}: {f.what} is invalid" + (f" (field {', '.join(fields)})" if fields else ""),
        "; ".join(parts) + ". Fix the component's properties or traits.",
        address=f.component,
    )


def _other(exc: ApiError, f: Failure) -> Diagnostic:
    if exc.status == 404 and "namespaces" in exc.message and "not found" in exc.message:
        return Diagnostic(
            f"namespace {f.namespace} does not exist in {f.where}",
            f"it could not be created or read; create it or grant permission to.{_server_said(exc, f)}",
            address=f.component,
        )
    return Diagnostic(
        f"cannot {f.verb} {f.what}: {exc.status} {exc.reason}", f"{f.where}.{_server_said(exc, f)}", address=f.component
    )
