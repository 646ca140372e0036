"""The operator's SIGTERM and SIGINT: they stop it even when they land while the main thread holds
the stop Event's lock (it waits on that Event every half second). A handler that set the Event
itself waited for its own thread there forever: the operator never stopped, and kept its Lease
(a CI run of the leader-election fault test saw it). Real signals, delivered to this process."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from dpf_hcp_operator import signals


def told(caplog: pytest.LogCaptureFixture) -> list[object]:
    return [getattr(r, "fields", None) for r in caplog.records if r.getMessage() == "stopping"]


@pytest.mark.timeout(30)  # a handler that takes the lock hangs here; the timeout fails it
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_landing_while_the_stop_lock_is_held_stops_and_does_not_deadlock(signum, caplog):
    stop = threading.Event()
    restore = signals.stop_on_signals(stop)
    try:
        with caplog.at_level("INFO", logger="dpf_hcp_operator"):
            with stop._cond:  # as inside stop.wait(0.5), entering or leaving it
                os.kill(os.getpid(), signum)
                time.sleep(0.2)  # the Python-level handler runs here, in this thread, holding the lock
                assert not stop.is_set()
            assert stop.wait(5)
            deadline = time.monotonic() + 5
            while not told(caplog) and time.monotonic() < deadline:
                time.sleep(0.01)
        assert told(caplog) == [{"signal": signal.Signals(signum).name}]
    finally:
        restore()


def test_restore_puts_the_handlers_and_the_wakeup_descriptor_back():
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    restore = signals.stop_on_signals(threading.Event())
    assert signal.getsignal(signal.SIGTERM) is not before[0]
    restore()
    restore()  # a second call does nothing (it closed its pipe once, never a descriptor reused since)
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
    assert signal.set_wakeup_fd(-1) == -1  # none was left installed
    assert not any(t.name == "signals" and t.is_alive() for t in threading.enumerate())


def test_outside_the_main_thread_nothing_is_changed():
    before = signal.getsignal(signal.SIGTERM)
    done: list[object] = []
    thread = threading.Thread(target=lambda: done.append(signals.stop_on_signals(threading.Event())))
    thread.start()
    thread.join(5)
    assert signal.getsignal(signal.SIGTERM) is before
    done[0]()  # type: ignore[operator]
