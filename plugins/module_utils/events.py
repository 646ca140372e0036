# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Kubernetes Events about a DPFHCPProvisioner, so `kubectl describe` tells its story."""

from __future__ import annotations

import hashlib
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.conditions import now_rfc3339
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.kube import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.resources import EVENT

COMPONENT = "dpf-hcp-provisioner"


def record(client: KubeClient, obj: dict[str, Any], event_type: str, reason: str, message: str) -> None:
    """Create an Event on ``obj`` (a core/v1 Event, readable by every kubectl)."""
    meta = obj["metadata"]
    stamp = now_rfc3339()
    digest = hashlib.sha256(f"{meta['uid']}{reason}{message}{stamp}".encode()).hexdigest()[:10]
    client.create(
        EVENT,
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{digest}", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": obj["apiVersion"],
                "kind": obj["kind"],
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta["uid"],
                "resourceVersion": meta.get("resourceVersion", ""),
            },
            "reason": reason,
            "message": message[:1024],
            "type": event_type,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        },
    )


def record_once(client: KubeClient, obj: dict[str, Any], event_type: str, reason: str, message: str, key: str) -> bool:
    """Record an Event only the first time for ``key`` (its name derives from it); False if already there."""
    meta = obj["metadata"]
    digest = hashlib.sha256((meta["uid"] + key).encode()).hexdigest()[:16]
    name = f"{meta['name']}.{digest}"
    stamp = now_rfc3339()
    try:
        client.create(
            EVENT,
            {
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
            },
        )
    except ApiError as exc:
        if exc.conflict:
            return False
        raise
    return True
