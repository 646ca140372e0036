# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""The namespaces the operator watches: all of them, or a list (the chart's ``watchNamespaces``).

With a list, the chart grants the operator Roles in those namespaces only, so every list and
watch must be made per namespace (a cluster-wide one is forbidden), and a provisioner, or a
DPUCluster it references, outside them is out of the operator's reach.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.conditions import condition
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import Resource
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.conditions import (
    CLUSTER_TYPE_VALID,
    DPUCLUSTER_IN_USE,
    DPUCLUSTER_MISSING,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.validation import Check

# operator-sdk's variable: comma-separated namespaces, empty for all.
ENV = "WATCH_NAMESPACE"
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

Scope = tuple[str, ...]  # empty: every namespace


def parse(value: str | Iterable[str] | None) -> Scope:
    """``a,b`` (or a list) as a scope; refuses anything that is not a namespace name."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    scope: list[str] = []
    for item in items:
        name = str(item).strip()
        if not name:
            continue
        if len(name) > 63 or not _LABEL.match(name):
            raise ValueError(
                f"watch namespaces: {name!r} is not a namespace name (lower-case letters, digits and '-', "
                "at most 63 characters); give a comma-separated list such as tenant-a,dpf-system, or nothing for all"
            )
        if name not in scope:
            scope.append(name)
    return tuple(scope)


def watched(namespace: str, scope: Scope) -> bool:
    return not scope or namespace in scope


def list_items(client: KubeClient, res: Resource, scope: Scope, **kw: Any) -> list[dict[str, Any]]:
    """Every ``res`` object the scope covers: one cluster-wide list, or one list per namespace."""
    if not scope:
        return client.list(res, None, **kw).get("items") or []
    return [o for ns in scope for o in client.list(res, ns, **kw).get("items") or []]


def problems(provisioner: dict[str, Any], scope: Scope) -> list[tuple[str, str]]:
    """(field, message) for each namespace of ``provisioner`` the operator does not watch."""
    if not scope:
        return []
    found = []
    listed = ", ".join(scope)
    meta, spec = (provisioner.get("metadata"), provisioner.get("spec")) if isinstance(provisioner, dict) else ({}, {})
    namespace = meta.get("namespace", "") if isinstance(meta, dict) else ""
    if not watched(namespace, scope):
        found.append(
            (
                "metadata.namespace",
                f"{namespace!r} is not watched by the operator (its namespaces: {listed}), so nothing would "
                "reconcile this provisioner; create it in one of those namespaces, or ask the operator's "
                "administrator to add this one to the chart's watchNamespaces",
            )
        )
    ref = spec.get("dpuClusterRef") if isinstance(spec, dict) else None
    other = ref.get("namespace") if isinstance(ref, dict) else None
    if other and isinstance(other, str) and not watched(other, scope):
        found.append(
            (
                "spec.dpuClusterRef.namespace",
                f"{other!r} is not watched by the operator (its namespaces: {listed}), so it may "
                "not read that DPUCluster nor hand it a kubeconfig; reference a DPUCluster in one of those "
                "namespaces, or ask the operator's administrator to add this one to the chart's watchNamespaces",
            )
        )
    return found


def dpucluster_check(provisioner: dict[str, Any], scope: Scope) -> Check | None:
    """The validate role's answer for a DPUCluster in a namespace the operator does not watch
    (the webhook refuses it with the same message); None when it is watched."""
    found = [message for field, message in problems(provisioner, scope) if field == "spec.dpuClusterRef.namespace"]
    if not found:
        return None
    unknown = "the DPUCluster is out of the operator's reach"
    return Check(
        [
            condition(DPUCLUSTER_MISSING, True, "DPUClusterNotWatched", f"spec.dpuClusterRef.namespace: {found[0]}"),
            condition(CLUSTER_TYPE_VALID, None, "DPUClusterNotWatched", f"Cannot check the type: {unknown}"),
            condition(DPUCLUSTER_IN_USE, None, "DPUClusterNotWatched", f"Cannot check who uses it: {unknown}"),
        ],
        False,
    )
