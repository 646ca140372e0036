# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Kubernetes Events (core/v1) about an object, each recorded once: its name derives from what
it tells, so telling it again is a conflict, not a second Event."""

from __future__ import annotations

import hashlib
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.conditions import now_rfc3339
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import EVENT

COMPONENT = "dpf-hcp-provisioner"
NORMAL, WARNING = "Normal", "Warning"


def _event(obj: dict[str, Any], name: str, event_type: str, reason: str, message: str) -> dict[str, Any]:
    """A core/v1 Event about ``obj`` (readable by every kubectl)."""
    meta = obj["metadata"]
    stamp = now_rfc3339()
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": meta["namespace"]},
        "involvedObject": {
            "apiVersion": obj["apiVersion"],
            "kind": obj["kind"],
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
        },
        "reason": reason,
        "message": message[:1024],
        "type": event_type,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


def _name(obj: dict[str, Any], seed: str, length: int) -> str:
    meta = obj["metadata"]
    return f"{meta['name']}.{hashlib.sha256((meta['uid'] + seed).encode()).hexdigest()[:length]}"


def _stored(obj: dict[str, Any]) -> bool:
    """Events need an object in the API; one built from variables (provision.yml) tells its story in the task output."""
    return bool(obj["metadata"].get("uid"))


def record_once(client: KubeClient, obj: dict[str, Any], event_type: str, reason: str, message: str, key: str) -> bool:
    """Record an Event only the first time for ``key`` (its name derives from it); False if already there."""
    if not _stored(obj):
        return False
    try:
        client.create(EVENT, _event(obj, _name(obj, key, 16), event_type, reason, message))
    except ApiError as exc:
        if exc.conflict:
            return False
        if exc.status == 403 and "being terminated" in str(exc):
            return False  # the namespace is going away, and the story with it: no reason to fail the run
        raise
    return True
