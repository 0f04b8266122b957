"""A loopback HTTP proxy that adds a fixed delay to every request, to approximate a real cloud's
latency in front of the emulator (bench/apply.py --latency-ms).

    python bench/latency_proxy.py --upstream http://127.0.0.1:5000 --delay-ms 50 --port-file PATH

Every request (method, path, headers, body) is forwarded unchanged to the upstream after the
delay, and the upstream's response is returned unchanged. Threaded: concurrent requests each
wait their own delay, as independent API calls to a distant endpoint would. Loopback only.
"""

from __future__ import annotations

import argparse
import http.client
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


def serve(upstream: str, delay_s: float, port_file: Path | None) -> None:
    target = urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            time.sleep(delay_s)
            conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port or 80, timeout=300)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            self.send_response(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            conn.close()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if port_file is not None:
        port_file.write_text(str(server.server_address[1]))
    server.serve_forever()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--delay-ms", type=float, default=50.0)
    ap.add_argument("--port-file", type=Path)
    args = ap.parse_args()
    serve(args.upstream, args.delay_ms / 1000.0, args.port_file)


if __name__ == "__main__":
    main()
