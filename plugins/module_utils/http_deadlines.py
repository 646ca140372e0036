# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Whole-exchange deadlines for HTTP over urllib3.

urllib3's timeouts bound each socket operation: a peer that sends one byte a little more often
than the read timeout (a TLS handshake, a status line, headers or a body, a byte at a time)
holds the caller for as long as it likes. Here a request made inside ``within(seconds)`` is
bounded as a whole: a single reaper thread shuts its socket down at the deadline, which ends
any read or write under way, and ``expired`` tells the caller why it failed.

The socket is marked from the moment TCP connects (before the TLS handshake) and, for a pooled
connection reused, when the request is sent. The reaper shuts a socket down only while the same
socket is still open (its inode is compared), never a later one given the same descriptor.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

try:
    import urllib3
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
except ImportError:  # kube.py reports the missing library when a client is needed
    urllib3 = None  # type: ignore[assignment]


class Exchange:
    """One exchange's deadline, and the sockets it used."""

    __slots__ = ("deadline", "expired", "finished", "seconds", "sockets")

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.expired = False
        self.finished = False
        self.sockets: list[tuple[int, int]] = []  # (descriptor, inode)


class _Reaper:
    """One thread per process that shuts down the sockets of exchanges past their deadline."""

    def __init__(self) -> None:
        self._pid = -1
        self._local = threading.local()

    def _ensure(self) -> None:
        if self._pid == os.getpid():
            return
        # First use, or a forked child (an Ansible worker): the parent's thread is not here.
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Exchange]] = []
        self._seq = itertools.count()
        threading.Thread(target=self._run, name="http-deadlines", daemon=True).start()

    def start(self, seconds: float) -> Exchange:
        """An exchange that must be over within ``seconds``; ``finish`` it when it is."""
        self._ensure()
        exchange = Exchange(seconds)
        with self._cond:
            heapq.heappush(self._heap, (exchange.deadline, next(self._seq), exchange))
            if self._heap[0][2] is exchange:
                self._cond.notify()
        return exchange

    def finish(self, exchange: Exchange) -> None:
        with self._cond:
            exchange.finished = True

    @contextlib.contextmanager
    def marking(self, exchange: Exchange) -> Iterator[Exchange]:
        """The sockets this thread connects or sends on meanwhile belong to ``exchange``."""
        outer = getattr(self._local, "exchange", None)
        self._local.exchange = exchange
        try:
            yield exchange
        finally:
            self._local.exchange = outer

    @contextlib.contextmanager
    def within(self, seconds: float) -> Iterator[Exchange]:
        """A request made in this block is over within ``seconds``, or its socket is shut down."""
        exchange = self.start(seconds)
        try:
            with self.marking(exchange):
                yield exchange
        finally:
            self.finish(exchange)

    def mark(self, sock: socket.socket | None) -> None:
        """The current thread's exchange (if any) uses ``sock``."""
        exchange = getattr(self._local, "exchange", None)
        if exchange is None or sock is None:
            return
        with contextlib.suppress(OSError):
            fd = sock.fileno()
            entry = (fd, os.fstat(fd).st_ino)
            with self._cond:
                if entry not in exchange.sockets:
                    exchange.sockets.append(entry)
                due = exchange.expired
            if due:
                _shutdown(*entry)

    def _run(self) -> None:
        cond, heap = self._cond, self._heap
        while True:
            with cond:
                now = time.monotonic()
                due: list[Exchange] = []
                while heap and (heap[0][2].finished or heap[0][0] <= now):
                    _, _, exchange = heapq.heappop(heap)
                    if not exchange.finished:
                        exchange.expired = True
                        due.append(exchange)
                if not due:
                    cond.wait(None if not heap else heap[0][0] - now)
                    continue
                doomed = [entry for exchange in due for entry in exchange.sockets]
            for entry in doomed:
                _shutdown(*entry)


def _shutdown(fd: int, inode: int) -> None:
    """Shut down the socket open as ``fd`` if it is still the one with ``inode``."""
    try:
        dup = os.dup(fd)
    except OSError:
        return
    try:
        if os.fstat(dup).st_ino == inode:
            with socket.socket(fileno=dup) as sock:
                dup = -1
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
    finally:
        if dup >= 0:
            os.close(dup)


REAPER = _Reaper()
within = REAPER.within


if urllib3 is not None:

    class _Marking:
        """A connection that tells the reaper of its socket as soon as TCP connects."""

        sock: Any

        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()  # type: ignore[misc]
            REAPER.mark(sock)
            return sock

        def request(self, *args: Any, **kwargs: Any) -> None:
            REAPER.mark(self.sock)  # a pooled connection, reused
            super().request(*args, **kwargs)  # type: ignore[misc]

    class _HTTPConnection(_Marking, HTTPConnection):
        pass

    class _HTTPSConnection(_Marking, HTTPSConnection):
        pass

    class _HTTPConnectionPool(HTTPConnectionPool):
        ConnectionCls = _HTTPConnection

    class _HTTPSConnectionPool(HTTPSConnectionPool):
        ConnectionCls = _HTTPSConnection


def pool_manager(**kwargs: Any) -> urllib3.PoolManager:
    """A urllib3 PoolManager whose requests ``within`` can bound as a whole."""
    manager = urllib3.PoolManager(**kwargs)
    manager.pool_classes_by_scheme = {"http": _HTTPConnectionPool, "https": _HTTPSConnectionPool}
    return manager
