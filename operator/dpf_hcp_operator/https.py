"""An HTTPS server for JSON POSTs that stays up under idle, slow and hostile clients (the admission
webhook's; issue 15).

One thread runs a selector: it accepts, runs each TLS handshake without blocking, and reads each
request into its connection's buffer. Only a complete request goes to a worker of a small pool,
which answers it and hands the connection back for the next one (keep-alive). An idle or slow
connection therefore costs a file descriptor and its buffer, never a thread nor a worker, and
every connection lives under deadlines (``Limits``):

- the TLS handshake within ``handshake_seconds`` of the accept;
- each whole request (head and body) within ``request_seconds`` of the handshake, or of its first
  byte on a kept-alive connection: a client that drips a byte a second is cut, not just one whose
  single read stalls;
- between requests, ``idle_seconds``: longer than the 90 s IdleConnTimeout of the API server's
  webhook client (Go's http.DefaultTransport's, set by kubernetes
  staging/src/k8s.io/apimachinery/pkg/util/net/http.go SetOldTransportDefaults), so the client
  closes an idle connection first and a POST never meets a closing socket;
- the answer written within ``write_seconds``.

At ``max_connections`` a new connection evicts one that has not yet delivered a request (from the
peer holding most of those, its oldest), else the longest idle one; a connection being answered
is never evicted. A body is at most ``max_body_bytes``; one larger than ``large_body_bytes`` needs
one of ``large_bodies`` slots (none free: 503), so open connections can hold at most
max_connections x large_body_bytes + large_bodies x max_body_bytes of buffers.

HTTP/1.1 only as much as the API server speaks it: POST with a Content-Length (no chunked bodies),
``application/json``, keep-alive unless ``Connection: close``; anything else gets a 4xx or 5xx with
a JSON ``{"error": ...}`` and the connection is closed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import selectors
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http import HTTPStatus
from queue import Empty, SimpleQueue
from typing import Any

from dpf_hcp_operator import metrics
from dpf_hcp_operator.logs import log

LOG = logging.getLogger("dpf_hcp_operator.https")
MiB = 1024 * 1024

# TLS 1.2: ECDHE key exchange and AEAD ciphers only (TLS 1.3's suites are all of that kind).
CIPHERS_TLS12 = "ECDHE+AESGCM:ECDHE+CHACHA20"


@dataclass(frozen=True)
class Limits:
    handshake_seconds: float = 5.0
    request_seconds: float = 10.0
    idle_seconds: float = 120.0
    write_seconds: float = 10.0
    max_connections: int = 256
    max_head_bytes: int = 16 * 1024
    # An AdmissionReview carries object and oldObject, each at most the API server's 3 MiB request
    # body limit (MaxRequestBodyBytes, kubernetes staging/src/k8s.io/apiserver/pkg/server/config.go),
    # plus the request's own fields: 2 x 3 MiB + 1 MiB.
    max_body_bytes: int = 7 * MiB
    large_body_bytes: int = 256 * 1024  # a DPFHCPProvisioner's review is a few KiB
    large_bodies: int = 4
    workers: int = 8


def tls_context() -> ssl.SSLContext:
    """Server side: TLS 1.2 or newer, ECDHE + AEAD, no compression, no renegotiation, our cipher order."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(CIPHERS_TLS12)
    context.options |= (
        ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION | ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_SINGLE_ECDH_USE
    )
    return context


class RefusedError(Exception):
    """A request answered with an error status; the connection is closed after it."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


# A route: the request body -> (HTTP status, JSON answer).
Route = Callable[[bytes], tuple[int, dict[str, Any]]]

HANDSHAKE, READING, IDLE, BUSY = "handshake", "reading", "idle", "busy"


@dataclass(eq=False)
class Connection:
    sock: ssl.SSLSocket
    peer: str
    accepted: float
    state: str = HANDSHAKE
    deadline: float = 0.0
    served: int = 0  # requests answered on this connection
    buffer: bytearray = field(default_factory=bytearray)
    head: tuple[str, int, bool] | None = None  # path, body length, keep-alive
    large: bool = False  # holds a large-body slot
    events: int = selectors.EVENT_READ


@dataclass
class Job:
    conn: Connection
    route: Route | None = None
    body: bytes = b""
    keep: bool = False
    refused: RefusedError | None = None


class Server:
    """Serve ``routes`` (path -> Route, POST only) on ``host:port`` with TLS from ``context``."""

    def __init__(
        self, address: tuple[str, int], context: ssl.SSLContext, routes: dict[str, Route], limits: Limits | None = None
    ):
        self.context, self.routes, self.limits = context, routes, limits or Limits()
        self.listener = socket.create_server(address, backlog=1024)
        self.listener.setblocking(False)
        self.server_address = self.listener.getsockname()
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self.selector.register(self._wake_r, selectors.EVENT_READ)
        self.connections: set[Connection] = set()
        self._returned: SimpleQueue[tuple[Connection, bool]] = SimpleQueue()
        self._large_in_use = 0
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(self.limits.workers, thread_name_prefix="webhook-worker")
        self._thread = threading.Thread(target=self._loop, name="webhook", daemon=True)

    def start(self) -> Server:
        self._thread.start()
        return self

    def shutdown(self) -> None:
        self._stop.set()
        self._wake()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- the loop ------------------------------------------------------------------------------
    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                timeout = min((c.deadline for c in self.connections if c.state != BUSY), default=now + 1.0) - now
                for key, _ in self.selector.select(max(0.0, min(timeout, 1.0))):
                    try:
                        if key.fileobj is self.listener:
                            self._accept()
                        elif key.fileobj is self._wake_r:
                            with contextlib.suppress(OSError):
                                self._wake_r.recv(4096)
                        elif key.data in self.connections:
                            self._progress(key.data)
                    except Exception as exc:  # the loop serves everyone: it must outlive any one connection
                        log(LOG, logging.ERROR, "webhook connection failed", error=repr(exc)[:500])
                        if key.data is not None:
                            self._close(key.data, "error")
                self._take_back()
                self._expire()
        finally:
            for conn in list(self.connections):
                self._close(conn, "shutdown")
            self.selector.close()
            self.listener.close()
            self._wake_r.close()
            self._wake_w.close()

    def _accept(self) -> None:
        for _ in range(64):  # then the connections already open get their turn
            try:
                raw, peer = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of file descriptors, for one: the others keep being served
                log(LOG, logging.WARNING, "webhook accept failed", error=str(exc))
                return
            if len(self.connections) >= self.limits.max_connections and not self._evict():
                metrics.WEBHOOK_CONNECTIONS_CLOSED.labels("full").inc()
                raw.close()
                continue
            raw.setblocking(False)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                sock = self.context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
            except (OSError, ssl.SSLError):
                raw.close()
                continue
            now = time.monotonic()
            conn = Connection(sock, str(peer[0]), now, deadline=now + self.limits.handshake_seconds)
            self.connections.add(conn)
            self.selector.register(sock, selectors.EVENT_READ, conn)
            metrics.WEBHOOK_CONNECTIONS.set(len(self.connections))
            self._progress(conn)

    def _evict(self) -> bool:
        """Make room: the oldest unproven connection of the peer with most of them, else the longest idle one."""
        unproven = [c for c in self.connections if c.state in (HANDSHAKE, READING) and not c.served]
        if unproven:
            busiest, _ = Counter(c.peer for c in unproven).most_common(1)[0]
            victim = min((c for c in unproven if c.peer == busiest), key=lambda c: c.accepted)
        else:
            idle = [c for c in self.connections if c.state == IDLE]
            if not idle:
                return False
            victim = min(idle, key=lambda c: c.deadline)
        self._close(victim, "evicted")
        return True

    def _expire(self) -> None:
        now = time.monotonic()
        for conn in [c for c in self.connections if c.state != BUSY and c.deadline <= now]:
            self._close(conn, f"deadline-{conn.state}")

    def _take_back(self) -> None:
        """Connections whose answer a worker has written: closed, or back for their next request."""
        while True:
            try:
                conn, keep = self._returned.get_nowait()
            except Empty:
                return
            if conn.large:
                conn.large = False
                self._large_in_use -= 1
            if not keep or self._stop.is_set():
                self._close(conn, "done")
                continue
            conn.sock.setblocking(False)
            conn.head = None
            if conn.buffer:  # a pipelined request has begun: its whole-request deadline runs
                conn.state, conn.deadline = READING, time.monotonic() + self.limits.request_seconds
            else:
                conn.state, conn.deadline = IDLE, time.monotonic() + self.limits.idle_seconds
            self.selector.register(conn.sock, selectors.EVENT_READ, conn)
            conn.events = selectors.EVENT_READ
            self._progress(conn)  # a pipelined request may be buffered already

    def _close(self, conn: Connection, reason: str) -> None:
        if conn not in self.connections:
            return
        self.connections.discard(conn)
        if conn.state != BUSY:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(conn.sock)
        with contextlib.suppress(OSError):
            conn.sock.close()
        if conn.large:
            conn.large = False
            self._large_in_use -= 1
        metrics.WEBHOOK_CONNECTIONS.set(len(self.connections))
        if reason != "done":
            metrics.WEBHOOK_CONNECTIONS_CLOSED.labels(reason).inc()

    def _want(self, conn: Connection, events: int) -> None:
        if conn.events != events:
            self.selector.modify(conn.sock, events, conn)
            conn.events = events

    # -- one connection's progress (on the loop thread) -------------------------------------------
    def _progress(self, conn: Connection) -> None:
        try:
            if conn.state == HANDSHAKE:
                try:
                    conn.sock.do_handshake()
                except ssl.SSLWantReadError:
                    self._want(conn, selectors.EVENT_READ)
                    return
                except ssl.SSLWantWriteError:
                    self._want(conn, selectors.EVENT_WRITE)
                    return
                self._want(conn, selectors.EVENT_READ)
                conn.state, conn.deadline = READING, time.monotonic() + self.limits.request_seconds
            self._read(conn)
        except (OSError, ssl.SSLError, ValueError, RuntimeError):
            self._close(conn, "error")

    def _read(self, conn: Connection) -> None:
        while True:
            job = self._parse(conn)
            if job is not None:
                self._dispatch(job)
                return
            try:
                chunk = conn.sock.recv(65536)
            except ssl.SSLWantReadError:
                return
            except ssl.SSLWantWriteError:
                self._want(conn, selectors.EVENT_WRITE)
                return
            if not chunk:
                self._close(conn, "done")  # the client closed it
                return
            if conn.state == IDLE:  # the first byte of the next request: its whole-request deadline starts
                conn.state, conn.deadline = READING, time.monotonic() + self.limits.request_seconds
            conn.buffer += chunk

    def _parse(self, conn: Connection) -> Job | None:
        """A job once the buffer holds a whole request (or a request to refuse), else None."""
        if not conn.buffer:
            return None
        try:
            if conn.head is None:
                end = conn.buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(conn.buffer) > self.limits.max_head_bytes:
                        raise RefusedError(431, f"the request head is longer than {self.limits.max_head_bytes} bytes")
                    return None
                if end > self.limits.max_head_bytes:
                    raise RefusedError(431, f"the request head is longer than {self.limits.max_head_bytes} bytes")
                conn.head = self._head(bytes(conn.buffer[:end]))
                del conn.buffer[: end + 4]
                if conn.head[1] > self.limits.large_body_bytes:
                    if self._large_in_use >= self.limits.large_bodies:
                        raise RefusedError(503, "too many large requests at once; try again")
                    self._large_in_use += 1
                    conn.large = True
            path, length, keep = conn.head
            if len(conn.buffer) < length:
                return None
            body = bytes(conn.buffer[:length])
            del conn.buffer[:length]
            return Job(conn, self.routes[path], body, keep)
        except RefusedError as refused:
            conn.buffer.clear()
            return Job(conn, refused=refused)

    def _head(self, head: bytes) -> tuple[str, int, bool]:
        """The request line and headers: (path, Content-Length, keep-alive), or RefusedError."""
        try:
            text = head.decode("ascii")
        except UnicodeDecodeError:
            raise RefusedError(400, "the request head is not ASCII") from None
        line, *lines = text.split("\r\n")
        if any(ch in text.replace("\r\n", "") for ch in "\r\n\0"):
            raise RefusedError(400, "a bare CR, LF or NUL in the request head")
        parts = line.split(" ")
        if len(parts) != 3 or parts[2] not in ("HTTP/1.1", "HTTP/1.0"):
            raise RefusedError(400, "not an HTTP/1.1 request line")
        method, target, version = parts
        headers: dict[str, list[str]] = {}
        for entry in lines:
            name, sep, value = entry.partition(":")
            if not sep or not name or name != name.strip() or not name.isascii() or " " in name:
                raise RefusedError(400, "a malformed header line")
            headers.setdefault(name.lower(), []).append(value.strip())
        path = target.split("?", 1)[0]
        if method != "POST":
            raise RefusedError(405, f"{method[:16]!r}: only POST is served")
        if path not in self.routes:
            raise RefusedError(404, f"nothing is served at {path[:200]!r}; POST to {', '.join(self.routes)}")
        if "transfer-encoding" in headers:
            raise RefusedError(501, "Transfer-Encoding is not accepted: send the body with a Content-Length")
        lengths = headers.get("content-length")
        if not lengths:
            raise RefusedError(411, "Content-Length is required")
        if len(lengths) != 1 or not lengths[0].isdigit() or not lengths[0].isascii():
            raise RefusedError(400, "Content-Length must be given once, as a decimal number")
        length = int(lengths[0])
        if length > self.limits.max_body_bytes:
            raise RefusedError(413, f"the body ({length} bytes) must be at most {self.limits.max_body_bytes} bytes")
        media = (headers.get("content-type") or [""])[0].split(";")[0].strip().lower()
        if media != "application/json":
            raise RefusedError(415, f"Content-Type {media[:64]!r}: send application/json")
        connection = {t.strip().lower() for v in headers.get("connection", []) for t in v.split(",")}
        keep = "close" not in connection and version == "HTTP/1.1"
        return path, length, keep

    def _dispatch(self, job: Job) -> None:
        conn = job.conn
        self.selector.unregister(conn.sock)
        conn.state = BUSY
        self._pool.submit(self._answer, job)

    # -- on a worker -----------------------------------------------------------------------------
    def _answer(self, job: Job) -> None:
        conn, keep = job.conn, job.keep
        if job.refused is not None:
            status, answer, keep = job.refused.status, {"error": str(job.refused)}, False
        else:
            assert job.route is not None
            try:
                status, answer = job.route(job.body)
            except Exception as exc:  # one bad request must not take the worker down
                log(LOG, logging.ERROR, "webhook route failed", error=repr(exc)[:500])
                status, answer, keep = 500, {"error": "internal error"}, False
        payload = json.dumps(answer).encode()
        head = (
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n" + ("" if keep else "Connection: close\r\n") + "\r\n"
        )
        try:
            conn.sock.settimeout(self.limits.write_seconds)
            conn.sock.sendall(head.encode() + payload)
            conn.served += 1
        except (OSError, ssl.SSLError):
            keep = False
        self._returned.put((conn, keep))
        self._wake()


def serve(address: str, context: ssl.SSLContext, routes: dict[str, Route], limits: Limits | None = None) -> Server:
    host, _, port = address.rpartition(":")
    return Server((host or "0.0.0.0", int(port)), context, routes, limits).start()  # noqa: S104 - behind a Service
