"""Local stand-ins for the Google Cloud and Azure REST APIs that the gcp and azure providers call.

Why a fake: there is no GCP or Azure emulator here, and the real APIs are out of reach. The
providers' code talks to these stand-ins through the SDKs' own HTTP transports (the
resource-manager REST transport, azure-core's requests pipeline, google-auth's AuthorizedSession),
so only the far end of the wire is fake. The providers are pointed at them the way they would be
pointed anywhere: by their endpoint environment variables (COMPOSER_GCP_*_ENDPOINT,
COMPOSER_AZURE_*_ENDPOINT); no code of ours is patched.

The stand-ins serve HTTPS with a throw-away self-signed certificate (REQUESTS_CA_BUNDLE names it),
because azure-core refuses to send a bearer token over plain HTTP, as it should. They answer with
the shapes the public API references document: Resource Manager v3 `Project`, Cloud Storage JSON
API `Bucket`, Secret Manager `AccessSecretVersionResponse`, ARM `Subscription`/`ResourceGroup`/
generic resources, and Key Vault `SecretBundle`; errors use each API's error envelope
({"error": {"code", "message", "status"}} for Google, {"error": {"code", "message"}} for Azure).
Every request is logged, so tests can assert what was (not) sent.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import ssl
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "appc-test-standin")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "standin.crt", directory / "standin.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


Response = tuple[int, Any]  # (status, JSON body or None)


class Server:
    """An HTTPS server on 127.0.0.1 in a thread, dispatching to `app(Request) -> Response`."""

    def __init__(self, app: Callable[[Request], Response]):
        self.app = app
        self.requests: list[Request] = []
        self._dir = tempfile.TemporaryDirectory(prefix="appc-standin-")
        self.cert, key = self_signed_cert(Path(self._dir.name))
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                parts = urlsplit(self.path)
                req = Request(
                    self.command,
                    unquote(parts.path),
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                server.requests.append(req)
                status, payload = server.app(req)
                data = b"" if payload is None or self.command == "HEAD" else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._dir.cleanup()


# -- Google Cloud ---------------------------------------------------------------------------------


def _google_error(code: int, status: str, message: str) -> Response:
    return code, {"error": {"code": code, "message": message, "status": status}}


@dataclass
class GoogleCloud:
    """Projects (Resource Manager v3), buckets (Cloud Storage JSON API v1) and secrets (Secret Manager v1)."""

    projects: dict[str, str] = field(default_factory=dict)  # project id -> state (ACTIVE, DELETE_REQUESTED)
    denied: set[str] = field(default_factory=set)  # project ids the caller may not read (403)
    buckets: dict[str, dict] = field(default_factory=dict)
    secrets: dict[str, bytes] = field(default_factory=dict)  # projects/p/secrets/s -> latest payload
    secret_meta: dict[str, dict] = field(default_factory=dict)  # secrets created through the API -> their body
    assets: list[dict] = field(default_factory=list)  # Cloud Asset ResourceSearchResult documents
    max_page: int = 500  # the most results a search page holds, whatever pageSize asks

    def __call__(self, req: Request) -> Response:
        p = req.path
        if p.startswith("/v1/projects/") and p.endswith(":searchAllResources") and req.method == "GET":
            return self._search(p.removeprefix("/v1/projects/").removesuffix(":searchAllResources"), req)
        if p.startswith("/v3/projects/") and req.method == "GET":
            pid = p.removeprefix("/v3/projects/")
            if pid in self.denied or pid not in self.projects:
                # Google answers 403 for a project that does not exist too (no existence leak).
                return _google_error(
                    403,
                    "PERMISSION_DENIED",
                    f"Permission 'resourcemanager.projects.get' denied on resource '//cloudresourcemanager.googleapis.com/projects/{pid}' (or it may not exist).",
                )
            return 200, {
                "name": "projects/123456789012",
                "parent": "organizations/1",
                "projectId": pid,
                "state": self.projects[pid],
                "displayName": f"{pid} display",
                "etag": 'W/"1"',
            }
        if p.startswith("/storage/v1/b/") and req.method == "GET":
            name = p.removeprefix("/storage/v1/b/")
            if name not in self.buckets:
                return _google_error(404, "NOT_FOUND", "The specified bucket does not exist.")
            return 200, self.buckets[name]
        if p == "/storage/v1/b" and req.method == "POST":
            body = req.body or {}
            name = body.get("name")
            if name in self.buckets:
                return _google_error(
                    409,
                    "ALREADY_EXISTS",
                    "Your previous request to create the named bucket succeeded and you already own it.",
                )
            bucket = {
                **body,
                "kind": "storage#bucket",
                "id": name,
                "location": str(body.get("location", "US")).upper(),
                "projectNumber": "123456789012",
            }
            self.buckets[name] = bucket
            return 200, bucket
        if p.startswith("/v1/projects/") and p.endswith("/secrets") and req.method == "POST":  # create a secret
            sid = f"{p.removeprefix('/v1/')}/{(req.query.get('secretId') or [''])[0]}"
            if sid in self.secrets or sid in self.secret_meta:
                return _google_error(409, "ALREADY_EXISTS", f"Secret [{sid}] already exists.")
            self.secret_meta[sid] = dict(req.body or {})
            return 200, {"name": sid, **self.secret_meta[sid]}
        if p.startswith("/v1/projects/") and p.endswith(":addVersion") and req.method == "POST":
            sid = p.removeprefix("/v1/").removesuffix(":addVersion")
            if sid not in self.secret_meta:
                return _google_error(404, "NOT_FOUND", f"Secret [{sid}] not found.")
            self.secrets[sid] = base64.b64decode(((req.body or {}).get("payload") or {}).get("data") or "")
            return 200, {"name": f"{sid}/versions/1", "state": "ENABLED"}
        if p.startswith("/v1/projects/") and "/secrets/" in p and req.method == "DELETE":
            sid = p.removeprefix("/v1/")
            if sid not in self.secret_meta and sid not in self.secrets:
                return _google_error(404, "NOT_FOUND", f"Secret [{sid}] not found.")
            self.secret_meta.pop(sid, None)
            self.secrets.pop(sid, None)
            return 200, {}
        if p.startswith("/v1/projects/") and p.endswith("/versions/latest:access") and req.method == "GET":
            sid = p.removeprefix("/v1/").removesuffix("/versions/latest:access")
            if sid not in self.secrets:
                return _google_error(404, "NOT_FOUND", f"Secret [{sid}] not found or has no versions.")
            return 200, {"name": f"{sid}/versions/1", "payload": {"data": base64.b64encode(self.secrets[sid]).decode()}}
        return _google_error(404, "NOT_FOUND", f"no route for {req.method} {p}")

    def _search(self, project: str, req: Request) -> Response:
        """Cloud Asset searchAllResources, the `labels.KEY=VALUE AND ...` subset of its query
        language, paginated like the API: `pageSize` (default 100 here), `pageToken`/`nextPageToken`."""
        if project in self.denied:
            return _google_error(403, "PERMISSION_DENIED", "The caller does not have permission")
        query = (req.query.get("query") or [""])[0]
        wanted = dict(term.strip().removeprefix("labels.").split("=", 1) for term in query.split(" AND ") if term)
        found = [
            a
            for a in self.assets
            if a.get("project") in (project, f"projects/{project}")
            and all((a.get("labels") or {}).get(k) == v for k, v in wanted.items())
        ]
        size = min(int((req.query.get("pageSize") or ["100"])[0]), self.max_page)
        start = int((req.query.get("pageToken") or ["0"])[0])
        page = {"results": found[start : start + size]}
        return 200, page | ({"nextPageToken": str(start + size)} if start + size < len(found) else {})


# -- Azure ----------------------------------------------------------------------------------------


def _azure_error(code: int, error: str, message: str) -> Response:
    return code, {"error": {"code": error, "message": message}}


@dataclass
class Azure:
    """Subscriptions, resource groups and generic ARM resources (Resource Manager), Key Vault secrets."""

    subscriptions: dict[str, str] = field(default_factory=dict)  # id -> state (Enabled, Disabled, ...)
    denied: set[str] = field(default_factory=set)
    resources: dict[str, dict] = field(default_factory=dict)  # lower-cased ARM id -> resource
    vault_secrets: dict[str, str] = field(default_factory=dict)  # secret name -> value
    graph_down: bool = False  # Resource Graph answers 503
    max_page: int = 1000  # the most rows a Resource Graph page holds, whatever $top asks

    def __call__(self, req: Request) -> Response:
        if req.headers.get("authorization", "").lower() != "bearer test-token":
            return _azure_error(401, "InvalidAuthenticationToken", "The access token is invalid.")
        p = req.path.rstrip("/")
        if p == "/providers/Microsoft.ResourceGraph/resources" and req.method == "POST":
            return self._graph(req.body or {})
        if p.startswith("/secrets/") and req.method == "PUT":  # set: a new version
            name = p.removeprefix("/secrets/")
            self.vault_secrets[name] = str((req.body or {}).get("value", ""))
            return 200, {
                "value": self.vault_secrets[name],
                "id": f"https://vault.vault.azure.net/secrets/{name}/0124",
                "attributes": {"enabled": True},
            }
        if p.startswith("/secrets/") and req.method == "DELETE":
            name = p.removeprefix("/secrets/")
            if self.vault_secrets.pop(name, None) is None:
                return _azure_error(
                    404, "SecretNotFound", f"A secret with (name/id) {name} was not found in this key vault."
                )
            return 200, {"recoveryId": f"https://vault.vault.azure.net/deletedsecrets/{name}"}
        if p.startswith("/secrets/"):
            name = p.removeprefix("/secrets/").split("/")[0]
            if name not in self.vault_secrets:
                return _azure_error(
                    404, "SecretNotFound", f"A secret with (name/id) {name} was not found in this key vault."
                )
            return 200, {
                "value": self.vault_secrets[name],
                "id": f"https://vault.vault.azure.net/secrets/{name}/0123",
                "attributes": {"enabled": True},
            }
        parts = p.split("/")
        if len(parts) == 6 and parts[5] == "resources" and req.method == "GET":  # list a resource group's resources
            return self._list_group(p.removesuffix("/resources").lower(), req)
        if len(parts) == 3 and parts[1] == "subscriptions" and req.method == "GET":
            sub = parts[2]
            if sub in self.denied:
                return _azure_error(
                    403,
                    "AuthorizationFailed",
                    f"The client 'test' with object id 'test' does not have authorization to perform action 'Microsoft.Resources/subscriptions/read' over scope '/subscriptions/{sub}' or the scope is invalid.",
                )
            if sub not in self.subscriptions:
                return _azure_error(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")
            return 200, {
                "id": f"/subscriptions/{sub}",
                "subscriptionId": sub,
                "displayName": "Test subscription",
                "state": self.subscriptions[sub],
                "tenantId": "00000000-0000-0000-0000-00000000000t",
            }
        key = p.lower()
        if req.method in ("GET", "HEAD"):
            if key not in self.resources:
                kind = (
                    "ResourceGroupNotFound"
                    if "/resourcegroups/" in key and "/providers/" not in key
                    else "ResourceNotFound"
                )
                return _azure_error(404, kind, f"The resource '{p}' was not found.")
            return (204 if req.method == "HEAD" else 200), self.resources[key]
        if req.method == "PUT":
            body = dict(req.body or {})
            created = key not in self.resources
            props = dict(body.get("properties") or {})
            props["provisioningState"] = "Succeeded"
            resource = {**body, "id": p, "name": parts[-1], "properties": props}
            self.resources[key] = resource
            return (201 if created and "/providers/" not in key else 200), resource
        return _azure_error(405, "MethodNotAllowed", f"{req.method} {p}")

    def _graph(self, body: dict) -> Response:
        """Resource Graph `resources`: the `Resources | where tags['K'] == 'V' and ... | project id`
        subset of KQL, paginated with `$top` and `$skipToken` like the API."""
        import re

        if self.graph_down:
            return _azure_error(503, "ServiceUnavailable", "The service is unavailable.")
        subscriptions = [str(s) for s in body.get("subscriptions") or []]
        if any(s in self.denied for s in subscriptions):
            return _azure_error(403, "AuthorizationFailed", "The client does not have authorization to read resources.")
        wanted = dict(re.findall(r"tags\['([^']*)'\] == '([^']*)'", str(body.get("query", ""))))
        found = [
            {"id": r["id"]}
            for rid, r in sorted(self.resources.items())
            if "/providers/" in rid
            and rid.split("/")[2] in subscriptions
            and all((r.get("tags") or {}).get(k) == v for k, v in wanted.items())
        ]
        options = body.get("options") or {}
        size, start = min(int(options.get("$top") or 100), self.max_page), int(options.get("$skipToken") or 0)
        rows = found[start : start + size]
        page = {"totalRecords": len(found), "count": len(rows), "data": rows, "resultTruncated": "false"}
        return 200, page | ({"$skipToken": str(start + size)} if start + size < len(found) else {})

    def _list_group(self, group: str, req: Request) -> Response:
        """Resources - List By Resource Group, with the `tagName eq 'K' and tagValue eq 'V'` filter."""
        import re

        if group.split("/")[2] in self.denied:
            return _azure_error(403, "AuthorizationFailed", "The client does not have authorization to list resources.")
        filter_ = (req.query.get("$filter") or [""])[0]
        match = re.fullmatch(r"tagName eq '([^']*)' and tagValue eq '((?:[^']|'')*)'", filter_)
        key, value = (match.group(1), match.group(2).replace("''", "'")) if match else (None, None)
        expand = "provisioningState" in (req.query.get("$expand") or [""])[0]
        found = []
        for rid, r in self.resources.items():
            if not rid.startswith(group + "/providers/") or (key and (r.get("tags") or {}).get(key) != value):
                continue
            state = (r.get("properties") or {}).get("provisioningState")
            found.append(
                {k: v for k, v in r.items() if k != "properties"} | ({"provisioningState": state} if expand else {})
            )
        return 200, {"value": found}
