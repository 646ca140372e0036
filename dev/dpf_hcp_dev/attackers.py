"""Hostile clients of the admission webhook, as any pod on the cluster network can be: idle TCP
connections, a client that finishes the TLS handshake and then says nothing, and a slow-drip
client that sends its request a byte a second. Each reconnects as soon as the server cuts it
(an attacker keeps the pressure on) and records how long the server let it stay.

Used by the fault test (tests/faults/test_webhook_attack.py) and by `make bench` (figure (f))."""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

REQUEST_HEAD = (
    b"POST /validate-dpfhcpprovisioner HTTP/1.1\r\n"
    b"Host: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\n"
    b"Content-Length: 100000\r\n"
    b"\r\n"
)


@dataclass
class Cut:
    """How long one hostile connection lived before the server closed it."""

    kind: str
    seconds: float


@dataclass
class Attack:
    """``idle`` raw TCP connections, ``silent`` TLS clients and ``drips`` slow-drip clients against
    127.0.0.1:``port``, kept up until the context ends."""

    port: int
    ca: Path
    idle: int = 100
    silent: int = 1
    drips: int = 1
    drip_interval: float = 1.0
    cuts: list[Cut] = field(default_factory=list)
    open_idle: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> Attack:
        self._threads = [threading.Thread(target=self._idle, name="attack-idle", daemon=True)]
        self._threads += [
            threading.Thread(target=self._tls, args=("silent", 0.0), name=f"attack-silent-{i}", daemon=True)
            for i in range(self.silent)
        ]
        self._threads += [
            threading.Thread(target=self._tls, args=("drip", self.drip_interval), name=f"attack-drip-{i}", daemon=True)
            for i in range(self.drips)
        ]
        for t in self._threads:
            t.start()
        deadline = time.monotonic() + 10
        while self.open_idle < self.idle and time.monotonic() < deadline:  # the pressure is on before we measure
            time.sleep(0.05)
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)

    def cut(self, kind: str) -> list[float]:
        with self._lock:
            return [c.seconds for c in self.cuts if c.kind == kind]

    def _record(self, kind: str, seconds: float) -> None:
        with self._lock:
            self.cuts.append(Cut(kind, seconds))

    def _connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def _idle(self) -> None:
        """Hold ``idle`` connections that never send a byte; open a new one for each the server closes."""
        held: dict[socket.socket, float] = {}
        try:
            while not self._stop.is_set():
                while len(held) < self.idle and not self._stop.is_set():
                    try:
                        held[self._connect()] = time.monotonic()
                    except OSError:
                        self._stop.wait(0.1)
                        break
                self.open_idle = len(held)
                readable, _, _ = select.select(list(held), [], [], 0.2)
                for s in readable:  # readable and idle: the server closed it (or sent an alert)
                    data = b""
                    with contextlib.suppress(OSError):
                        data = s.recv(1024)
                    if not data:
                        self._record("idle", time.monotonic() - held.pop(s))
                        s.close()
        finally:
            for s in held:
                s.close()

    def _tls(self, kind: str, interval: float) -> None:
        """A TLS client that completes the handshake, then sends nothing (``interval`` 0) or the request
        one byte per ``interval`` seconds; reconnects when cut."""
        context = ssl.create_default_context(cafile=str(self.ca))
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                with self._connect() as raw, context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                    tls.settimeout(interval or 0.2)
                    sent = 0
                    while not self._stop.is_set():
                        if interval and sent < len(REQUEST_HEAD):
                            tls.sendall(REQUEST_HEAD[sent : sent + 1])
                            sent += 1
                        try:
                            if not tls.recv(1024):
                                break  # closed by the server
                        except (TimeoutError, ssl.SSLWantReadError):
                            pass
            except (OSError, ssl.SSLError):
                pass
            if not self._stop.is_set():
                self._record(kind, time.monotonic() - started)
                self._stop.wait(0.1)
