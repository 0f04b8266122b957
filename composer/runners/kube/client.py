"""The Kubernetes API client of the cluster sink (composer/runners/kubernetes.py): one API
server as one kubeconfig context sees it, through the official `kubernetes` client.

It owns the request path: auth, the process-wide token bucket per server
(--kube-qps / --kube-burst, handed in as a `RateLimit`), bounded retries with backoff on 429 (Retry-After
honoured), 5xx and connection errors, and a deadline per request (--timeout); and discovery
(the static table of built-in kinds in resources.py, cached discovery for the rest).
Failures come out as `ApiError` (a Status) or `Unreachable`; the sink turns them into
diagnostics (errors.py).
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from composer.diagnostics import Diagnostic, DiagnosticError, MessageError
from composer.runners.kube.resources import APPLY_CONTENT_TYPE, BUILTIN_KINDS, Resource
from composer.runners.kube.transport import Answer, Request, TransportFailure, Wire, coalesce_writes

__all__ = ["APPLY_CONTENT_TYPE", "ApiError", "KubeClient", "RateLimit", "TokenBucket", "Unreachable"]
RETRY_STATUSES = (429, 500, 502, 503, 504)
DEFAULT_QPS = 300.0  # sustained; API Priority and Fairness answers 429 + Retry-After when a server wants less
DEFAULT_BURST = 1000
DEFAULT_ATTEMPTS = 5
MAX_RETRY_SLEEP = 10.0
REQUEST_TIMEOUT = (10.0, 60.0)  # connect, read
TYPED_PATCH = "failed to create typed patch object"

# -- the client: auth, rate limit, retries -----------------------------------------------------


class TokenBucket:
    """Client-side rate limit: `qps` tokens a second, at most `burst` saved up."""

    def __init__(self, qps: float, burst: int):
        self.qps = max(qps, 0.001)
        self.burst = max(int(burst), 1)
        self._tokens = float(self.burst)
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._at) * self.qps)
                self._at = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self.qps
            time.sleep(wait)


@dataclass(frozen=True)
class RateLimit:
    """The client-side rate limit of one API server: `qps` sustained, `burst` saved up
    (--kube-qps / --kube-burst; the CLI checks that both are positive)."""

    qps: float = DEFAULT_QPS
    burst: int = DEFAULT_BURST


DEFAULT_RATE = RateLimit()
_BUCKETS: dict[str, TokenBucket] = {}
_DISCOVERY: dict[tuple[str, str], dict[str, Resource] | None] = {}  # (server, apiVersion) -> kind -> Resource
_SHARED = threading.Lock()


def _bucket(server: str, rate: RateLimit) -> TokenBucket:
    """One bucket per API server for the process: targets on the same cluster share it."""
    qps, burst = rate.qps, rate.burst
    with _SHARED:
        b = _BUCKETS.get(server)
        if b is None or (b.qps, b.burst) != (qps, burst):
            b = _BUCKETS[server] = TokenBucket(qps, burst)
        return b


class ApiError(MessageError):
    """A Status the API server answered with (after retries)."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        details: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
    ):
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.details = dict(details or {})
        self.headers = dict(headers or {})

    @property
    def causes(self) -> list[dict]:
        return [c for c in self.details.get("causes") or [] if isinstance(c, dict)]

    @property
    def typed_patch(self) -> list[str]:
        """The schema errors of a server-side apply the server could not type ("failed to
        create typed patch object (...): PATH: problem"): an unknown field, a wrong type, a
        duplicate list key. The server answers 500 (kubernetes#122480; 400 once #139253 lands);
        sending it again cannot help. Empty for any other error."""
        if self.status not in (400, 500) or not self.message.startswith(TYPED_PATCH):
            return []
        rest = self.message[len(TYPED_PATCH) :]
        problems = (
            rest.partition("): ")[2] if rest.startswith(" (") else rest.lstrip(": ")
        )  # older servers name no object
        return [line.strip() for line in problems.splitlines() if line.strip()] or [self.message]

    @property
    def namespace_terminating(self) -> bool:
        """403 from the namespace lifecycle admission: the namespace is being deleted."""
        return self.status == 403 and (
            any(c.get("reason") == "NamespaceTerminating" for c in self.causes)
            or "because it is being terminated" in self.message
        )

    @property
    def retryable(self) -> bool:
        return self.status in RETRY_STATUSES and not self.typed_patch


class Unreachable(MessageError):
    """The API server did not answer (connection refused, TLS, timeout), after retries."""

    def __init__(self, server: str, cause: str):
        super().__init__(f"{server}: {cause}")
        self.server = server
        self.cause = cause


def _api_error(answer: Answer) -> ApiError:
    body = answer.data.decode("utf-8", "replace")
    try:
        status_doc = json.loads(body) if body else {}
    except ValueError:
        status_doc = {}
    if not isinstance(status_doc, dict):
        status_doc = {}
    headers = {str(k).lower(): str(v) for k, v in dict(answer.headers or {}).items()}
    return ApiError(
        int(answer.status or 0),
        str(status_doc.get("reason") or answer.reason or ""),
        str(status_doc.get("message") or answer.reason or ""),
        status_doc.get("details"),
        headers,
    )


def _retry_after(err: ApiError) -> float | None:
    raw = err.headers.get("retry-after")
    if raw is None:
        raw = err.details.get("retryAfterSeconds")
    try:
        return float(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


class KubeClient:
    """One API server, as one kubeconfig context sees it: JSON requests with auth, the
    process-wide token bucket of that server, bounded retries, and discovery."""

    def __init__(self, api_client: Any, context: str, attempts: int = DEFAULT_ATTEMPTS, rate: RateLimit = DEFAULT_RATE):
        self.api = api_client
        self.context = context
        self.server = api_client.configuration.host
        self.wire = Wire(api_client)
        self.limiter = _bucket(self.server, rate)
        self.attempts = max(1, attempts)
        self.requests = 0  # sent, retries included (approximate under threads; for diagnostics)
        self.timeout: float | None = None  # the run's --timeout: bounds one request, its retries included
        self._down: Unreachable | None = None  # once retries are exhausted, fail fast: one run, one verdict

    @classmethod
    def for_context(
        cls, kubeconfig: str | None, context: str | None, workers: int, rate: RateLimit = DEFAULT_RATE
    ) -> KubeClient:
        from composer.runners.kube.official import defer_initialisers

        defer_initialisers()  # ApiClient and the kubeconfig loader, without every API and model module
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException

        cfg = client.Configuration()
        try:
            if kubeconfig is None:
                config.load_incluster_config(client_configuration=cfg)
            else:
                config.load_kube_config(
                    config_file=kubeconfig, context=context, client_configuration=cfg, persist_config=False
                )
        except (ConfigException, OSError, ValueError) as exc:
            raise DiagnosticError(
                [
                    Diagnostic(
                        f"cannot load kubeconfig context {context!r}",
                        f"{exc} ({kubeconfig or 'in-cluster configuration'})",
                    )
                ]
            ) from None
        cfg.retries = False  # our own bounded retries, with backoff, below
        cfg.connection_pool_maxsize = max(workers + 2, 4)
        api = client.ApiClient(configuration=cfg)
        coalesce_writes(api.rest_client.pool_manager)
        return cls(api, context or "in-cluster", rate=rate)

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        attempts: int | None = None,
        warnings: list[str] | None = None,
        accept: str = "application/json",
    ) -> dict | None:
        """Send one request; retry 429, 5xx and connection errors with backoff; JSON back.
        The texts of the answer's Warning headers are added to `warnings` when given.
        Raises ApiError (a Status) or Unreachable."""
        from urllib3.exceptions import HTTPError, ReadTimeoutError

        if self._down is not None:
            raise Unreachable(self._down.server, self._down.cause)
        params = [
            (k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in (query or {}).items() if v is not None
        ]
        tries = attempts or self.attempts
        started = time.monotonic()
        for attempt in range(tries):
            limit = REQUEST_TIMEOUT
            if self.timeout is not None:  # a slow server: the whole request, retries included, within --timeout
                left = max(self.timeout - (time.monotonic() - started), 0.1)
                limit = (min(REQUEST_TIMEOUT[0], left), min(REQUEST_TIMEOUT[1], left))
            try:
                resp = self._send(method, path, params, body, (content_type, accept), limit)
            except TransportFailure as exc:  # TLS: sending it again cannot help
                raise Unreachable(self.server, exc.reason.splitlines()[0][:300]) from None
            except (HTTPError, OSError) as exc:
                pause = _backoff(attempt)
                if attempt + 1 < tries and (self.timeout is None or time.monotonic() - started + pause < self.timeout):
                    time.sleep(pause)
                    continue
                waited = REQUEST_TIMEOUT[1] if self.timeout is None else min(self.timeout, REQUEST_TIMEOUT[1])
                reason = (
                    f"no answer within {waited:g}s; raise --timeout if it is just slow"  # the budget, not what was left of it
                    if isinstance(exc, ReadTimeoutError)
                    else _reason(exc)
                )
                self._down = Unreachable(self.server, reason)
                raise Unreachable(self.server, reason) from None
            if not 200 <= resp.status <= 299:
                err = _api_error(resp)
                if err.retryable and attempt + 1 < tries:
                    time.sleep(min(_retry_after(err) or _backoff(attempt), MAX_RETRY_SLEEP))
                    continue
                raise err
            if warnings is not None:
                warnings += warning_texts(resp)
            return _json_body(resp.data)
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self,
        method: str,
        path: str,
        params: list[tuple[str, str]],
        body: Any,
        media: tuple[str, str],
        limit: tuple[float, float],
    ) -> Answer:
        """One attempt: auth headers, a token from the bucket, the request itself (transport.py).
        `media`: (Content-Type, Accept)."""
        headers = {"Accept": media[1], "Content-Type": media[0], "User-Agent": "appc"}
        auth_query: list = []
        self.api.update_params_for_auth(headers, auth_query, ["BearerToken"])
        self.limiter.acquire()
        self.requests += 1
        return self.wire.send(Request(method, path, params + auth_query, body, headers, limit))

    # -- discovery --------------------------------------------------------------------------
    def resource(
        self, api_version: str, kind: str, learned: Mapping[tuple[str, str], Resource] | None = None
    ) -> Resource | None:
        """How `kind` of `api_version` is served: the static table, a CRD of this batch,
        else discovery (one request per group-version, cached for the process)."""
        hit = BUILTIN_KINDS.get((api_version, kind))
        if hit is not None:
            return Resource(api_version, kind, hit[0], hit[1])
        if learned and (api_version, kind) in learned:
            return learned[(api_version, kind)]
        key = (self.server, api_version)
        with _SHARED:
            known = _DISCOVERY.get(key)
        if known is None or kind not in known:
            known = self._discover(api_version)
            with _SHARED:
                _DISCOVERY[key] = known
        return (known or {}).get(kind)

    def _discover(self, api_version: str) -> dict[str, Resource]:
        path = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
        try:
            doc = self.request("GET", path) or {}
        except ApiError as err:
            if err.status == 404:
                return {}
            raise
        out: dict[str, Resource] = {}
        for r in doc.get("resources") or []:
            if "/" in r.get("name", ""):
                continue  # a subresource
            out.setdefault(r["kind"], Resource(api_version, r["kind"], r["name"], bool(r.get("namespaced"))))
        return out


def warning_texts(resp: Any) -> list[str]:
    """The texts of an answer's Warning headers (`299 - "text"`, RFC 7234), unquoted."""
    headers = getattr(getattr(resp, "urllib3_response", resp), "headers", None)
    values = headers.getlist("Warning") if headers is not None and hasattr(headers, "getlist") else []
    out = []
    for value in values:
        m = re.fullmatch(r'\s*\d{3} +\S+ +"((?:[^"\\]|\\.)*)".*', value, re.DOTALL)
        out.append(re.sub(r"\\(.)", r"\1", m.group(1)) if m else value)
    return out


def _json_body(data: bytes | None) -> dict | None:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def _backoff(attempt: int) -> float:
    return min(0.2 * (2**attempt), MAX_RETRY_SLEEP) * (0.75 + random.random() / 2)


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "reason", None) or exc)
    m = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    if m:
        return m.group(1).strip()
    if "timed out" in text.lower():
        return "connection timed out"
    return text.splitlines()[0][:200] if text else type(exc).__name__
