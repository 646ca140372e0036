"""Imported at start-up by each Python process of a replica whose wall clock libfaketime moves
(fault_harness.skewed_clock puts this folder on PYTHONPATH). Debian bookworm's libfaketime 0.9.10
turns Python 3.11's time.sleep, clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) with the monotonic
clock left alone, into EINVAL (wolfcw/libfaketime issue #426, fixed after 0.9.10): sleep on
select's relative timeout instead. The wall clock stays skewed; only sleeping is mended."""

from __future__ import annotations

import select
import time


def _sleep(seconds: float) -> None:
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    select.select([], [], [], seconds)


time.sleep = _sleep
