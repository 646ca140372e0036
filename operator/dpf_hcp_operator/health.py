"""/healthz and /readyz (and /metrics when served on the same port)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


def serve(
    address: str, checks: dict[str, Callable[[], tuple[bool, str]]], with_metrics: bool = False
) -> ThreadingHTTPServer:
    """Serve ``checks`` (path -> check) on ``host:port``; a check returns (ok, detail)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if with_metrics and path == "/metrics":
                body, status, ctype = generate_latest(), 200, CONTENT_TYPE_LATEST
            elif path in checks:
                ok, detail = checks[path]()
                body, status, ctype = (
                    (detail or ("ok" if ok else "failed")).encode(),
                    200 if ok else 500,
                    "text/plain",
                )
            else:
                body, status, ctype = b"not found", 404, "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    host, _, port = address.rpartition(":")
    server = ThreadingHTTPServer((host or "0.0.0.0", int(port)), Handler)  # noqa: S104 - probes come from the kubelet
    threading.Thread(target=server.serve_forever, name=f"http-{port}", daemon=True).start()
    return server
