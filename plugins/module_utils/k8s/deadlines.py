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
import stat
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
    """One exchange's deadline, and the sockets it uses."""

    __slots__ = ("deadline", "expired", "finished", "seconds", "sockets")

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.expired = False
        self.finished = False
        self.sockets: list[SocketId] = []


class Budget:
    """Time a series of exchanges with one peer may take in all (e.g. one approval pass in a hosted
    cluster): a peer that answers each request just inside its own deadline holds the caller no
    longer than this. Shared by the clients of that peer; each exchange gets what is left."""

    __slots__ = ("seconds", "until")

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.until = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self.until - time.monotonic())


SocketId = tuple[int, int, int]  # descriptor, device, inode: one open socket


def socket_id(sock: socket.socket) -> SocketId:
    fd = sock.fileno()
    st = os.fstat(fd)
    return fd, st.st_dev, st.st_ino


class _Reaper:
    """One thread per process that shuts down the sockets of exchanges past their deadline.

    Sockets are shut down under the lock that ``finish`` and ``release`` take: once an exchange
    is finished, or a socket released to a pool, the reaper never touches that socket again."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._forget()
        os.register_at_fork(after_in_child=self._forget)  # an Ansible worker: the thread is not here

    def _forget(self) -> None:
        self._started_lock = threading.Lock()
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Exchange]] = []
        self._seq = itertools.count()
        self._started = False

    def _ensure(self) -> None:
        if self._started:
            return
        with self._started_lock:
            if not self._started:
                threading.Thread(
                    target=self._run, args=(self._cond, self._heap), name="http-deadlines", daemon=True
                ).start()
                self._started = True

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

    def cut(self, exchange: Exchange) -> None:
        """End ``exchange`` now, as at its deadline (its sockets shut down), unless it is over."""
        with self._cond:
            if not exchange.finished:
                exchange.expired = True
                for entry in exchange.sockets:
                    _shutdown(entry)

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
        """The current thread's exchange (if any) uses ``sock``; shut down at once if it is past its deadline."""
        exchange = getattr(self._local, "exchange", None)
        if exchange is None or sock is None:
            return
        with contextlib.suppress(OSError):
            entry = socket_id(sock)
            with self._cond:
                if entry not in exchange.sockets:
                    exchange.sockets.append(entry)
                if exchange.expired:
                    _shutdown(entry)

    def release(self, sock: socket.socket | None) -> bool:
        """``sock`` goes back to a pool: no longer this thread's exchange's. True when the exchange
        is already past its deadline (the socket was shut down: the caller closes it)."""
        exchange = getattr(self._local, "exchange", None)
        if exchange is None or sock is None:
            return False
        with self._cond:
            with contextlib.suppress(OSError, ValueError):
                exchange.sockets.remove(socket_id(sock))
            return exchange.expired

    @staticmethod
    def _run(cond: threading.Condition, heap: list[tuple[float, int, Exchange]]) -> None:
        while True:
            with cond:
                now = time.monotonic()
                while heap and (heap[0][2].finished or heap[0][0] <= now):
                    exchange = heapq.heappop(heap)[2]
                    if not exchange.finished:
                        exchange.expired = True
                        for entry in exchange.sockets:
                            _shutdown(entry)
                cond.wait(None if not heap else heap[0][0] - now)


def _shutdown(entry: SocketId) -> None:
    """Shut down the socket open as the entry's descriptor if it is still that socket; never raises."""
    fd, device, inode = entry
    try:
        dup = os.dup(fd)
    except OSError:
        return
    try:
        st = os.fstat(dup)
        if stat.S_ISSOCK(st.st_mode) and (st.st_dev, st.st_ino) == (device, inode):
            with socket.socket(fileno=dup) as sock:
                dup = -1
                sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        if dup >= 0:
            os.close(dup)


REAPER = _Reaper()
within = REAPER.within


class Abort:
    """Ends, from another thread, the exchanges begun under it: an informer's watch of a hosted
    cluster that is dropped (its provisioner deleted) would otherwise hold its thread and its
    connection until the server ends it, minutes later. Their sockets are shut down as at a
    deadline; an exchange begun after ``abort`` is cut at once."""

    __slots__ = ("_lock", "_open", "aborted")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: set[Exchange] = set()
        self.aborted = False

    def add(self, exchange: Exchange) -> None:
        with self._lock:
            if self.aborted:
                REAPER.cut(exchange)
            else:
                self._open.add(exchange)

    def discard(self, exchange: Exchange) -> None:
        with self._lock:
            self._open.discard(exchange)

    def abort(self) -> None:
        with self._lock:
            self.aborted = True
            for exchange in self._open:
                REAPER.cut(exchange)
            self._open.clear()


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

    class _Releasing:
        """A pool that takes a connection back only once the reaper has let go of its socket."""

        def _put_conn(self, conn: Any) -> None:
            if conn is not None and REAPER.release(conn.sock):
                conn.close()  # shut down at its deadline: the pool connects anew next time
            super()._put_conn(conn)  # type: ignore[misc]

    class _HTTPConnectionPool(_Releasing, HTTPConnectionPool):
        ConnectionCls = _HTTPConnection

    class _HTTPSConnectionPool(_Releasing, HTTPSConnectionPool):
        ConnectionCls = _HTTPSConnection


def with_deadlines(manager: urllib3.PoolManager) -> urllib3.PoolManager:
    """Make ``manager``'s connections ones that ``within`` can bound as a whole (its pools are
    made on first use, from these classes); returns it."""
    manager.pool_classes_by_scheme = {"http": _HTTPConnectionPool, "https": _HTTPSConnectionPool}
    return manager


def pool_manager(**kwargs: Any) -> urllib3.PoolManager:
    """A urllib3 PoolManager whose requests ``within`` can bound as a whole."""
    return with_deadlines(urllib3.PoolManager(**kwargs))
