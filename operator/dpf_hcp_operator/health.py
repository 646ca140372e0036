"""/healthz and /readyz (and /metrics when served on the same port).

Any pod on the network reaches these ports, so a client gets little: each connection is served
by a thread for at most ``REQUEST_SECONDS`` (a socket timeout of ``READ_SECONDS`` per read, and a
timer that shuts the socket when the whole exchange takes longer, so a client dripping a byte at
a time is cut too), one request per connection, and at most ``MAX_CONNECTIONS`` at once: a new
connection beyond that shuts the oldest one, so the kubelet's probe always gets in and idle
clients never pile up threads (each costs memory and a PID in the pod).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections import OrderedDict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

READ_SECONDS = 2.0
REQUEST_SECONDS = 5.0
MAX_CONNECTIONS = 32


class BoundedServer(ThreadingHTTPServer):
    """A thread per connection, under a whole-exchange deadline, the oldest shut beyond the cap."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]):
        super().__init__(address, handler)
        self._lock = threading.Lock()
        self._open: OrderedDict[int, socket.socket] = OrderedDict()
        self._timers: dict[int, threading.Timer] = {}

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            while len(self._open) >= MAX_CONNECTIONS:
                _, oldest = self._open.popitem(last=False)
                _shut(oldest)
            self._open[id(request)] = request
            timer = threading.Timer(REQUEST_SECONDS, _shut, (request,))
            timer.daemon = True
            self._timers[id(request)] = timer  # cancelled when the exchange ends (shutdown_request)
        timer.start()
        request.settimeout(READ_SECONDS)
        try:
            super().process_request(request, client_address)
        except Exception:
            self._forget(request)
            raise

    def shutdown_request(self, request: Any) -> None:
        self._forget(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client that went away or was cut: nothing to report

    def _forget(self, request: Any) -> None:
        with self._lock:
            self._open.pop(id(request), None)
            timer = self._timers.pop(id(request), None)
        if timer is not None:
            timer.cancel()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def serve(
    address: str, checks: dict[str, Callable[[], tuple[bool, str]]], with_metrics: bool = False
) -> ThreadingHTTPServer:
    """Serve ``checks`` (path -> check) on ``host:port``; a check returns (ok, detail)."""

    class Handler(BaseHTTPRequestHandler):
        timeout = READ_SECONDS

        def do_GET(self) -> None:
            self.close_connection = True  # one request per connection
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
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    host, _, port = address.rpartition(":")
    server = BoundedServer((host or "0.0.0.0", int(port)), Handler)  # noqa: S104 - probes come from the kubelet
    threading.Thread(target=server.serve_forever, name=f"http-{port}", daemon=True).start()
    return server
