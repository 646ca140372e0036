"""SIGTERM and SIGINT turned into the operator's stop, with no lock taken inside a signal handler.

Python runs a signal handler in the main thread, between two of its bytecodes. A handler that sets a
threading.Event takes the Event's lock; the main thread waits on that same Event every half second,
and when the signal lands while it holds the lock (entering or leaving the wait), the handler waits
for its own thread forever: a SIGTERM that never stops the operator, its Lease held until it
expires and the pod killed at its grace period. (The Python documentation warns against
synchronisation in signal handlers; python/cpython#126434 is the same deadlock with
multiprocessing's Event.) So the Python-level handler does nothing: the interpreter's C handler
writes the signal's number to a pipe (signal.set_wakeup_fd, as asyncio does), and a thread of its
own reads it, logs it and sets the stop."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

from dpf_hcp_operator.logs import log

LOG = logging.getLogger("dpf_hcp_operator")

STOPPING = (signal.SIGTERM, signal.SIGINT)


def _ignore(_signum: int, _frame: FrameType | None) -> None:
    """The Python-level handler: nothing (the wakeup pipe carries the signal)."""


def stop_on_signals(stop: threading.Event, signums: tuple[signal.Signals, ...] = STOPPING) -> Callable[[], None]:
    """From now on, each of ``signums`` sets ``stop`` (and is logged) from a thread of its own.
    Returns what puts the handlers and the wakeup descriptor back as they were. Outside the main
    thread (an operator run inside a test's thread) signals cannot be handled: nothing is changed."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    read, write = os.pipe()
    os.set_blocking(write, False)  # a full pipe drops a signal's byte, never blocks the C handler
    previous_fd = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    previous = {s: signal.signal(s, _ignore) for s in signums}
    wanted = {int(s) for s in signums}

    def relay() -> None:
        while True:
            try:
                received = os.read(read, 64)
            except OSError:
                return
            if not received:  # the write end closed: restored
                return
            for number in received:
                if number in wanted:
                    stop.set()  # first: a log handler that blocks must not hold the stop back
                    log(LOG, logging.INFO, "stopping", signal=signal.Signals(number).name)

    thread = threading.Thread(target=relay, name="signals", daemon=True)
    thread.start()

    restored: list[bool] = []

    def restore() -> None:
        """From the main thread; once (a second call does nothing)."""
        if restored:
            return
        restored.append(True)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(previous_fd)
        os.close(write)
        thread.join(timeout=5)
        if not thread.is_alive():  # else it still reads: its descriptor stays open (the process ends)
            with contextlib.suppress(OSError):
                os.close(read)

    return restore
