# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Filters that read Kubernetes objects and conditions for people: progress checks and reports."""

from __future__ import annotations

from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.conditions import find

# The conditions worth a glance, in this order, when an object has them.
HEADLINE = ("Ready", "Available", "Progressing", "Degraded")


def condition_status(obj: dict[str, Any] | None, type_: str) -> str:
    """``True``, ``False`` or ``Unknown`` for the object's condition of that type; empty when it has none."""
    found = find(((obj or {}).get("status") or {}).get("conditions"), type_)
    return str(found.get("status", "")) if found else ""


def condition_summary(conditions: list[dict[str, Any]]) -> str:
    """``Type=Status (Reason), ...`` for a list of conditions."""
    return ", ".join(f"{c.get('type')}={c.get('status')} ({c.get('reason', '')})" for c in conditions or [])


def describe_object(obj: dict[str, Any]) -> str:
    """``Kind namespace/name``, with its headline conditions when it has any."""
    meta = obj.get("metadata") or {}
    where = f"{meta['namespace']}/{meta.get('name', '')}" if meta.get("namespace") else meta.get("name", "")
    conditions = ((obj.get("status") or {}).get("conditions")) or []
    headline = [c for t in HEADLINE for c in conditions if c.get("type") == t]
    return f"{obj.get('kind', '')} {where}" + (f": {condition_summary(headline)}" if headline else "")


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "condition_status": condition_status,
            "condition_summary": condition_summary,
            "describe_object": describe_object,
        }
