# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Filters for waiting on something that may take long: how long until the next look."""

from __future__ import annotations

from typing import Any


def backoff_seconds(elapsed: float, first: float = 2, cap: float = 300) -> float:
    """Seconds until the next look after ``elapsed`` seconds of waiting: ``first`` at the start, then
    doubling (``first`` * 2**k, the largest not above ``elapsed``), never more than ``cap``. Judged
    from the time waited alone, so a restarted operator picks up where the wait stood."""
    elapsed, first, cap = float(elapsed), float(first), float(cap)
    if first <= 0 or cap <= 0:
        raise ValueError(f"first ({first}) and cap ({cap}) must be positive")
    step = first
    while step * 2 <= elapsed and step * 2 <= cap:
        step *= 2
    return min(step, cap)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"backoff_seconds": backoff_seconds}
