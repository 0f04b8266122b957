"""A Terraform module registry stand-in on loopback, for `appc lock` tests (no internet here).

It speaks the module registry protocol Terraform's installer uses:

    GET <base>/<ns>/<name>/<provider>/versions            -> {"modules": [{"versions": [...]}]}
    GET <base>/<ns>/<name>/<provider>/<version>/download  -> 204, X-Terraform-Get: <archive URL>
    GET /archives/<ns>-<name>-<provider>-<version>.tar.gz -> the module package

Terraform finds it through a `host` block in its CLI config (`cli_config()`), which
replaces service discovery for that hostname; the base can then be plain http on
127.0.0.1. Packages are directories the test wrote; each is tarred when served.
"""

from __future__ import annotations

import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BASE = "/v1/modules/"


class ModuleRegistry:
    def __init__(self) -> None:
        self.packages: dict[tuple[str, str, str], dict[str, Path]] = {}
        self.requests: list[str] = []
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                registry.requests.append(self.path)
                registry._serve(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def publish(self, address: str, version: str, directory: Path) -> None:
        ns, name, provider = address.split("/")
        self.packages.setdefault((ns, name, provider), {})[version] = directory

    def cli_config(self, hostname: str, mirror_and_cache: str = "") -> str:
        """A Terraform CLI config that sends `hostname`'s module registry here."""
        return (
            mirror_and_cache
            + f'host "{hostname}" {{\n  services = {{\n    "modules.v1" = "{self.url}{BASE}"\n  }}\n}}\n'
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- protocol ------------------------------------------------------------------------------
    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?")[0]
        if path.startswith("/archives/") and path.endswith(".tar.gz"):
            return self._archive(h, path[len("/archives/") : -len(".tar.gz")])
        if not path.startswith(BASE):
            return self._send(h, 404, {"errors": ["not found"]})
        parts = path[len(BASE) :].strip("/").split("/")
        if len(parts) == 4 and parts[3] == "versions":
            versions = self.packages.get(tuple(parts[:3]))  # type: ignore[arg-type]
            if versions is None:
                return self._send(h, 404, {"errors": ["not found"]})
            return self._send(h, 200, {"modules": [{"versions": [{"version": v} for v in sorted(versions)]}]})
        if len(parts) == 5 and parts[4] == "download":
            versions = self.packages.get(tuple(parts[:3])) or {}  # type: ignore[arg-type]
            if parts[3] not in versions:
                return self._send(h, 404, {"errors": ["not found"]})
            h.send_response(204)
            h.send_header("X-Terraform-Get", f"{self.url}/archives/{'-'.join(parts[:4])}.tar.gz")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return None
        return self._send(h, 404, {"errors": ["not found"]})

    def _archive(self, h: BaseHTTPRequestHandler, key: str) -> None:
        for (ns, name, provider), versions in self.packages.items():
            for version, directory in versions.items():
                if key == f"{ns}-{name}-{provider}-{version}":
                    buf = io.BytesIO()
                    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
                        for p in sorted(directory.rglob("*")):
                            if p.is_file():
                                tar.add(p, arcname=p.relative_to(directory).as_posix())
                    data = buf.getvalue()
                    h.send_response(200)
                    h.send_header("Content-Type", "application/gzip")
                    h.send_header("Content-Length", str(len(data)))
                    h.end_headers()
                    h.wfile.write(data)
                    return
        self._send(h, 404, {"errors": ["not found"]})

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, code: int, doc: dict) -> None:
        body = json.dumps(doc).encode()
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
