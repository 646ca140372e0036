# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Kubernetes conditions: build them, merge them keeping lastTransitionTime honest."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

Condition = dict[str, Any]


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(type_: str, status: bool | str | None, reason: str, message: str) -> Condition:
    """A condition without times; status True/False/None maps to "True"/"False"/"Unknown"."""
    if isinstance(status, bool):
        status_text = "True" if status else "False"
    elif status is None:
        status_text = "Unknown"
    else:
        status_text = status
    if status_text not in ("True", "False", "Unknown"):
        raise ValueError(f"condition status must be True, False or Unknown, not {status!r}")
    return {"type": type_, "status": status_text, "reason": reason, "message": message}


def find(conditions: list[Condition] | None, type_: str) -> Condition | None:
    return next((c for c in conditions or [] if c.get("type") == type_), None)


def is_true(conditions: list[Condition] | None, type_: str) -> bool:
    found = find(conditions, type_)
    return bool(found and found.get("status") == "True")


def merge(
    existing: list[Condition] | None, updates: list[Condition], generation: int | None, now: str | None = None
) -> list[Condition]:
    """Existing conditions with ``updates`` applied, ordered by type.

    ``lastTransitionTime`` changes only when a condition's status changes;
    ``observedGeneration`` is the generation the update was computed from.
    """
    stamp = now  # the time is asked once, and only when a condition transitions
    by_type = {c["type"]: dict(c) for c in existing or [] if isinstance(c, dict) and c.get("type")}
    for upd in updates:
        old = by_type.get(upd["type"])
        new = {
            "type": upd["type"],
            "status": upd["status"],
            "reason": upd["reason"],
            "message": upd.get("message", ""),
        }
        if old and old.get("status") == new["status"] and old.get("lastTransitionTime"):
            new["lastTransitionTime"] = old["lastTransitionTime"]
        else:
            stamp = stamp or now_rfc3339()
            new["lastTransitionTime"] = upd.get("lastTransitionTime") or stamp
        if generation is not None:
            new["observedGeneration"] = generation
        by_type[upd["type"]] = new
    return [by_type[t] for t in sorted(by_type)]


def transitions(before: list[Condition] | None, after: list[Condition]) -> list[Condition]:
    """Conditions in ``after`` whose status or reason differ from ``before``.

    A condition that appears as Unknown is not a transition: nothing has happened yet.
    """
    old = {c.get("type"): c for c in before or []}
    out = []
    for c in after:
        o = old.get(c["type"])
        if o is None:
            if c["status"] != "Unknown":
                out.append(c)
        elif o.get("status") != c["status"] or o.get("reason") != c["reason"]:
            out.append(c)
    return out
