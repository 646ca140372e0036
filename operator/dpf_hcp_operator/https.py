"""An HTTP(S) server that stays up under idle, slow and hostile clients: the admission webhook's
(JSON POSTs over TLS; issue 15) and the probe and metrics ports' (GETs, plain, one per connection).

One thread runs a selector: it accepts, runs each TLS handshake without blocking, and reads each
request into its connection's buffer. Only a complete request goes to a worker of a small pool,
which computes the answer and writes what the socket takes at once without blocking; the loop
writes the rest when the socket is writable, and only then reads the connection's next request
(keep-alive). An idle, slow or never-reading connection therefore costs a file descriptor and its
buffers, never a thread nor a worker, and every connection lives under deadlines (``Limits``):

- the TLS handshake within ``handshake_seconds`` of the accept;
- each whole request (head and body) within ``request_seconds`` of the handshake, or of its first
  byte on a kept-alive connection: a client that drips a byte a second is cut, not just one whose
  single read stalls;
- between requests, ``idle_seconds``: longer than the 90 s IdleConnTimeout of the API server's
  webhook client (Go's http.DefaultTransport's, set by kubernetes
  staging/src/k8s.io/apimachinery/pkg/util/net/http.go SetOldTransportDefaults), so the client
  closes an idle connection first and a POST never meets a closing socket;
- the answer written within ``write_seconds``; one whose unsent part is over ``max_unsent_bytes``
  when the socket takes no more is closed at once.

A peer (an address) holds at most ``max_connections_per_peer``: its next connection evicts its
stalest one. At ``max_connections`` a new connection evicts the stalest of the peer holding most.
Any connection may be evicted except one handed to a worker, in this order: those never answered
that were opened ``fresh_seconds`` ago or earlier (the oldest first); then answered ones whose
current phase (request begun, or idle since the answer) began that long ago, the stalest first;
then the younger ones, never answered first. Dripping bytes does not make a connection younger,
an idle or slow client goes before a kept-alive connection in use, and a connection just opened
goes before an answered one only when no older candidate is left. A body is at most
``max_body_bytes``; one larger than ``large_body_bytes`` needs
one of ``large_bodies`` slots (none free: 503), so open connections can hold at most
max_connections x large_body_bytes + large_bodies x max_body_bytes of buffers.

HTTP/1.1 only as much as the API server and the kubelet speak it: the server's one method; for POST
a Content-Length (no chunked bodies) and ``application/json``; keep-alive unless ``Connection:
close`` (never with ``idle_seconds`` 0); anything else gets a 4xx or 5xx with a JSON
``{"error": ...}`` and the connection is closed.
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
    max_unsent_bytes: int = 256 * 1024  # a webhook answer is well under 64 KiB: uid and names are cut
    max_connections: int = 256
    # Half the limit: one address cannot fill it; with 16 accepts a turn, a connection just opened
    # outlives 8 turns of the fastest churn from its own address (the API server may share it).
    max_connections_per_peer: int = 128
    accepts_per_turn: int = 16
    fresh_seconds: float = 1.0
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


# A route: the request body -> (HTTP status, a JSON answer or (Content-Type, bytes)).
Answer = dict[str, Any] | tuple[str, bytes]
Route = Callable[[bytes], tuple[int, Answer]]

HANDSHAKE, READING, IDLE, BUSY, WRITING = "handshake", "reading", "idle", "busy", "writing"


@dataclass(eq=False)
class Connection:
    sock: socket.socket
    peer: str
    since: float  # when the current phase began: accepted, request begun, answered
    state: str = HANDSHAKE
    deadline: float = 0.0
    unsent: bytes = b""  # the rest of an answer the socket has not taken yet
    keep: bool = False  # after the answer is written
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
    """Serve ``routes`` (path -> Route, ``method`` only) on ``host:port``, with TLS from ``context``
    (plain HTTP without one); ``metered``: counted in the dpfhcp_webhook_* metrics."""

    def __init__(
        self,
        address: tuple[str, int],
        context: ssl.SSLContext | None,
        routes: dict[str, Route],
        limits: Limits | None = None,
        name: str = "webhook",
        method: str = "POST",
        metered: bool = True,
    ):
        self.context, self.routes, self.limits = context, routes, limits or Limits()
        self.name, self.method, self.metered = name, method, metered
        self.listener = socket.create_server(address, backlog=1024)
        self.listener.setblocking(False)
        self.server_address = self.listener.getsockname()
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self.selector.register(self._wake_r, selectors.EVENT_READ)
        self.connections: set[Connection] = set()
        self._per_peer: Counter[str] = Counter()
        self._returned: SimpleQueue[tuple[Connection, bool, bytes]] = SimpleQueue()
        self._large_in_use = 0
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(self.limits.workers, thread_name_prefix=f"{name}-worker")
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

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
                # Asleep until a connection's deadline, a socket's readiness or a wake (a worker giving
                # a connection back, the shutdown): an idle server costs no CPU.
                due = min((c.deadline for c in self.connections if c.state != BUSY), default=None)
                for key, _ in self.selector.select(None if due is None else max(0.0, due - time.monotonic())):
                    try:
                        if key.fileobj is self.listener:
                            self._accept()
                        elif key.fileobj is self._wake_r:
                            with contextlib.suppress(OSError):
                                self._wake_r.recv(4096)
                        elif key.data in self.connections:
                            self._progress(key.data)
                    except Exception as exc:  # the loop serves everyone: it must outlive any one connection
                        log(LOG, logging.ERROR, f"{self.name} connection failed", error=repr(exc)[:500])
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
        for _ in range(self.limits.accepts_per_turn):  # then the connections already open get their turn
            try:
                raw, peer = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of file descriptors, for one: the others keep being served
                log(LOG, logging.WARNING, f"{self.name} accept failed", error=str(exc))
                return
            address = str(peer[0])
            if self._per_peer[address] >= self.limits.max_connections_per_peer:
                room = self._evict(address)
            else:
                room = len(self.connections) < self.limits.max_connections or self._evict(None)
            if not room:
                self._count_closed("full")
                raw.close()
                continue
            raw.setblocking(False)
            now = time.monotonic()
            if self.context is None:
                sock: socket.socket = raw
                conn = Connection(sock, address, now, READING, now + self.limits.request_seconds)
            else:
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                try:
                    sock = self.context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
                except (OSError, ssl.SSLError):
                    raw.close()
                    continue
                conn = Connection(sock, address, now, deadline=now + self.limits.handshake_seconds)
            self.connections.add(conn)
            self._per_peer[address] += 1
            self.selector.register(sock, selectors.EVENT_READ, conn)
            if self.metered:
                metrics.WEBHOOK_CONNECTIONS.set(len(self.connections))
            self._progress(conn)

    def _evict(self, peer: str | None) -> bool:
        """Make room: the stalest connection no worker holds, of ``peer`` or else of the peer holding
        most connections. Runs only at a limit: the scan costs nothing per request."""
        candidates = [c for c in self.connections if c.state != BUSY and (peer is None or c.peer == peer)]
        if not candidates:
            return False
        if peer is None:
            busiest = max({c.peer for c in candidates}, key=lambda p: self._per_peer[p])
            candidates = [c for c in candidates if c.peer == busiest]
        settled = time.monotonic() - self.limits.fresh_seconds

        def order(c: Connection) -> tuple[int, float]:
            if c.since <= settled:
                return (1 if c.served else 0), c.since
            return (3 if c.served else 2), c.since

        self._close(min(candidates, key=order), "evicted")
        return True

    def _count_closed(self, reason: str) -> None:
        if self.metered:
            metrics.WEBHOOK_CONNECTIONS_CLOSED.labels(reason).inc()

    def _expire(self) -> None:
        now = time.monotonic()
        for conn in [c for c in self.connections if c.state != BUSY and c.deadline <= now]:
            self._close(conn, f"deadline-{conn.state}")

    def _take_back(self) -> None:
        """Connections a worker has answered: the rest of the answer to write, or closed, or back
        for their next request."""
        while True:
            try:
                conn, keep, unsent = self._returned.get_nowait()
            except Empty:
                return
            if conn.large:
                conn.large = False
                self._large_in_use -= 1
            if unsent:
                if len(unsent) > self.limits.max_unsent_bytes:
                    self._close(conn, "unsent")
                    continue
                conn.state, conn.deadline = WRITING, time.monotonic() + self.limits.write_seconds
                conn.unsent, conn.keep = unsent, keep
                self.selector.register(conn.sock, selectors.EVENT_WRITE, conn)
                conn.events = selectors.EVENT_WRITE
                continue
            self._written(conn, keep, registered=False)

    def _written(self, conn: Connection, keep: bool, registered: bool) -> None:
        """The whole answer is out: closed, or back for the next request."""
        conn.served += 1
        if not keep or self._stop.is_set():
            self._close(conn, "done")
            return
        conn.head, conn.since = None, time.monotonic()
        if conn.buffer:  # a pipelined request has begun: its whole-request deadline runs
            conn.state, conn.deadline = READING, conn.since + self.limits.request_seconds
        else:
            conn.state, conn.deadline = IDLE, conn.since + self.limits.idle_seconds
        if registered:
            self._want(conn, selectors.EVENT_READ)
        else:
            self.selector.register(conn.sock, selectors.EVENT_READ, conn)
            conn.events = selectors.EVENT_READ
        self._progress(conn)  # a pipelined request may be buffered already

    def _close(self, conn: Connection, reason: str) -> None:
        if conn not in self.connections:
            return
        self.connections.discard(conn)
        self._per_peer[conn.peer] -= 1
        if not self._per_peer[conn.peer]:
            del self._per_peer[conn.peer]
        if conn.state != BUSY:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(conn.sock)
        with contextlib.suppress(OSError):
            conn.sock.close()
        if conn.large:
            conn.large = False
            self._large_in_use -= 1
        if self.metered:
            metrics.WEBHOOK_CONNECTIONS.set(len(self.connections))
        if reason != "done":
            self._count_closed(reason)

    def _want(self, conn: Connection, events: int) -> None:
        if conn.events != events:
            self.selector.modify(conn.sock, events, conn)
            conn.events = events

    # -- one connection's progress (on the loop thread) -------------------------------------------
    def _progress(self, conn: Connection) -> None:
        try:
            if conn.state == WRITING:
                self._write(conn)
                return
            if conn.state == HANDSHAKE:
                assert isinstance(conn.sock, ssl.SSLSocket)
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
            except (ssl.SSLWantReadError, BlockingIOError):
                return
            except ssl.SSLWantWriteError:
                self._want(conn, selectors.EVENT_WRITE)
                return
            if not chunk:
                self._close(conn, "done")  # the client closed it
                return
            if conn.state == IDLE:  # the first byte of the next request: its whole-request deadline starts
                conn.since = time.monotonic()
                conn.state, conn.deadline = READING, conn.since + self.limits.request_seconds
            conn.buffer += chunk

    def _write(self, conn: Connection) -> None:
        """More of an answer, as much as the socket takes now (on the loop thread)."""
        try:
            sent = conn.sock.send(conn.unsent)
        except (ssl.SSLWantWriteError, BlockingIOError):
            return
        except ssl.SSLWantReadError:
            self._want(conn, selectors.EVENT_READ)
            return
        self._want(conn, selectors.EVENT_WRITE)
        conn.unsent = conn.unsent[sent:]
        if not conn.unsent:
            self._written(conn, conn.keep, registered=True)

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
        if method != self.method:
            raise RefusedError(405, f"{method[:16]!r}: only {self.method} is served")
        if path not in self.routes:
            raise RefusedError(404, f"nothing is served at {path[:200]!r}; {self.method} {', '.join(self.routes)}")
        if "transfer-encoding" in headers:
            raise RefusedError(501, "Transfer-Encoding is not accepted: send the body with a Content-Length")
        lengths = headers.get("content-length") or (["0"] if self.method == "GET" else [])
        if not lengths:
            raise RefusedError(411, "Content-Length is required")
        if len(lengths) != 1 or not lengths[0].isdigit() or not lengths[0].isascii():
            raise RefusedError(400, "Content-Length must be given once, as a decimal number")
        length = int(lengths[0])
        if length > self.limits.max_body_bytes:
            raise RefusedError(413, f"the body ({length} bytes) must be at most {self.limits.max_body_bytes} bytes")
        if self.method == "POST":
            media = (headers.get("content-type") or [""])[0].split(";")[0].strip().lower()
            if media != "application/json":
                raise RefusedError(415, f"Content-Type {media[:64]!r}: send application/json")
        connection = {t.strip().lower() for v in headers.get("connection", []) for t in v.split(",")}
        keep = "close" not in connection and version == "HTTP/1.1" and self.limits.idle_seconds > 0
        return path, length, keep

    def _dispatch(self, job: Job) -> None:
        conn = job.conn
        self.selector.unregister(conn.sock)
        conn.state = BUSY
        self._pool.submit(self._answer, job)

    # -- on a worker -----------------------------------------------------------------------------
    def _answer(self, job: Job) -> None:
        """Compute the answer and write what the socket takes now, never waiting: the loop writes
        the rest (the socket is non-blocking, and the loop does not touch it until handed back)."""
        conn, keep = job.conn, job.keep
        answer: Answer
        if job.refused is not None:
            status, answer, keep = job.refused.status, {"error": str(job.refused)}, False
        else:
            assert job.route is not None
            try:
                status, answer = job.route(job.body)
            except Exception as exc:  # one bad request must not take the worker down
                log(LOG, logging.ERROR, f"{self.name} route failed", error=repr(exc)[:500])
                status, answer, keep = 500, {"error": "internal error"}, False
        ctype, payload = ("application/json", json.dumps(answer).encode()) if isinstance(answer, dict) else answer
        head = (
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
            f"Content-Type: {ctype}\r\n"
            f"Content-Length: {len(payload)}\r\n" + ("" if keep else "Connection: close\r\n") + "\r\n"
        )
        data = head.encode() + payload
        try:
            unsent = data[conn.sock.send(data) :]
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
            unsent = data  # TLS: offered again whole, as OpenSSL expects after WANT_WRITE
        except (OSError, ssl.SSLError):
            unsent, keep = b"", False
        self._returned.put((conn, keep, unsent))
        self._wake()


def serve(
    address: str,
    context: ssl.SSLContext | None,
    routes: dict[str, Route],
    limits: Limits | None = None,
    **options: Any,
) -> Server:
    host, _, port = address.rpartition(":")
    return Server((host or "0.0.0.0", int(port)), context, routes, limits, **options).start()  # noqa: S104
