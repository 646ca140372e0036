"""Peers on loopback that play a hosted API server or an ignition endpoint gone bad: silent after
accepting a connection, or dripping a TLS handshake, a status line, headers, a body or a watch
stream one byte at a time, each byte well inside urllib3's per-read timeout (issue 22)."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator

DRIP = 0.3  # seconds between two bytes: far inside any per-read timeout
GUARD = 20.0  # how long the peer keeps it up; a caller still waiting then had no deadline


def drip(conn: socket.socket, data: bytes, stop: threading.Event) -> None:
    for i in range(len(data)):
        if stop.wait(DRIP):
            return
        conn.sendall(data[i : i + 1])


BEHAVIOURS: dict[str, Callable[[socket.socket, threading.Event], None]] = {
    "silent": lambda conn, stop: stop.wait(GUARD),
    "status-line": lambda conn, stop: drip(conn, b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 200, stop),
    "headers": lambda conn, stop: drip(conn, b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 100, stop),
    "body": lambda conn, stop: (
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"),
        drip(conn, b" " * 1000, stop),
    ),
    # a body without a length, which ends when the connection does: the cut must not read as its end
    "body-to-eof": lambda conn, stop: (
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n"),
        drip(conn, b" " * 1000, stop),
    ),
    # a chunked watch stream that sends nothing but blank lines, never an event nor its end
    "watch": lambda conn, stop: (
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"),
        drip(conn, b"1\r\n\n\r\n" * 200, stop),
    ),
    # a TLS record header promising 16 KiB, then the record a byte at a time
    "tls-handshake": lambda conn, stop: drip(conn, b"\x16\x03\x03\x40\x00" + b"\x02" * 1000, stop),
}


@contextlib.contextmanager
def hostile_peer(behaviour: str, tls: ssl.SSLContext | None = None) -> Iterator[int]:
    """A listener on loopback that treats each connection as ``behaviour`` says; yields its port.
    With ``tls`` (a server context) it first completes a TLS handshake, as the API server whose
    certificate it holds would, and behaves so inside the TLS stream."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    conns: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _peer = listener.accept()
            except OSError:
                return
            conns.append(conn)
            conn.settimeout(1.0)
            if tls is not None:
                try:
                    conn = tls.wrap_socket(conn, server_side=True)
                except OSError:
                    continue
                conns.append(conn)
            with contextlib.suppress(OSError):
                conn.recv(65536)  # the request (or the ClientHello)

            def act(c: socket.socket = conn) -> None:
                with contextlib.suppress(OSError):
                    BEHAVIOURS[behaviour](c, stop)

            threading.Thread(target=act, daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()
        for conn in conns:
            conn.close()
