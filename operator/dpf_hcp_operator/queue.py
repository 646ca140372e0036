"""A work queue in client-go's manner: one entry per key however many events, per-key
exponential backoff on failure, delayed re-adds, and a key never handed out twice at once. A
named queue reports client-go's workqueue_* metrics under its name."""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Hashable

from dpf_hcp_operator.metrics import WorkQueueMetrics


class WorkQueue:
    def __init__(self, base_delay: float = 0.5, max_delay: float = 300.0, name: str = ""):
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._cond = threading.Condition()
        self._ready: list[Hashable] = []  # FIFO of keys ready now
        self._queued: set[Hashable] = set()  # keys in _ready
        self._processing: set[Hashable] = set()
        self._dirty: set[Hashable] = set()  # added while processing: re-queue when done
        self._delayed: list[tuple[float, int, Hashable]] = []
        self._seq = 0
        self._failures: dict[Hashable, int] = {}
        self._shutdown = False
        self._metrics = WorkQueueMetrics(name) if name else None

    # -- adding -------------------------------------------------------------
    def add(self, key: Hashable) -> None:
        with self._cond:
            self._add(key)

    def _add(self, key: Hashable) -> None:
        """Under the lock: ``key`` waits (in _ready, or in _dirty while a worker has it)."""
        if key in self._processing:
            if key not in self._dirty:
                self._dirty.add(key)
                self._observe_add(key)
            return
        if key not in self._queued:
            self._queued.add(key)
            self._ready.append(key)
            self._observe_add(key)
            self._cond.notify()

    def _observe_add(self, key: Hashable) -> None:
        if self._metrics is not None:
            self._metrics.add(key)

    def add_after(self, key: Hashable, delay: float) -> None:
        if self._metrics is not None:
            self._metrics.retry()  # every delayed add, as client-go's AddAfter counts it
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            self._seq += 1
            heapq.heappush(self._delayed, (time.monotonic() + delay, self._seq, key))
            self._cond.notify()

    def add_rate_limited(self, key: Hashable) -> float:
        """Re-add after a failure: base * 2^failures, capped. Returns the delay."""
        with self._cond:
            n = self._failures.get(key, 0)
            self._failures[key] = n + 1
        delay = min(self.max_delay, self.base_delay * (2**n))
        self.add_after(key, delay)
        return delay

    def forget(self, key: Hashable) -> None:
        """The key succeeded: its backoff starts over."""
        with self._cond:
            self._failures.pop(key, None)

    def backing_off(self, key: Hashable) -> bool:
        """True while ``key`` waits out a delay (a failure's backoff or a requeue)."""
        now = time.monotonic()
        with self._cond:
            return any(k == key and due > now for due, _, k in self._delayed)

    def failures(self, key: Hashable) -> int:
        with self._cond:
            return self._failures.get(key, 0)

    # -- taking -------------------------------------------------------------
    def _promote_due(self) -> float | None:
        now = time.monotonic()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, key = heapq.heappop(self._delayed)
            self._add(key)
        return self._delayed[0][0] - now if self._delayed else None

    def get_batch(self, max_items: int, timeout: float | None = None, share: int = 1) -> list[Hashable]:
        """Up to ``max_items`` ready keys, marked as processing; [] on timeout or shutdown. With
        ``share`` workers taking from the queue, one takes no more than its share of what is ready,
        so a burst is split evenly across them rather than filling one batch after another."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                wait = self._promote_due()
                if self._ready or self._shutdown:
                    break
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return []
                    wait = left if wait is None else min(wait, left)
                self._cond.wait(wait)
            if self._shutdown:
                return []
            size = min(max_items, max(1, -(-len(self._ready) // max(1, share))))
            batch = self._ready[:size]
            del self._ready[:size]
            for key in batch:
                self._queued.discard(key)
                self._processing.add(key)
                if self._metrics is not None:
                    self._metrics.get(key)
            return batch

    def done(self, key: Hashable) -> None:
        with self._cond:
            self._processing.discard(key)
            if self._metrics is not None:
                self._metrics.done(key)
            if key in self._dirty:
                self._dirty.discard(key)
                if key not in self._queued:
                    self._queued.add(key)
                    self._ready.append(key)
                    self._cond.notify()

    def __len__(self) -> int:
        with self._cond:
            return len(self._ready) + len(self._delayed)

    def shutdown(self) -> None:
        with self._cond:
            self._shutdown = True
            self._cond.notify_all()
