# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Small pure functions the roles' templates use."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.release import (
    ReleaseImageError,
    ocp_version,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.resources import LABEL_NAME, LABEL_NAMESPACE


def _meta(provisioner: Any) -> dict[str, Any]:
    meta = (provisioner or {}).get("metadata") if isinstance(provisioner, dict) else None
    if not meta or not meta.get("name") or not meta.get("namespace"):
        raise AnsibleFilterError("expected a DPFHCPProvisioner object with metadata.name and metadata.namespace")
    return meta


def release_version(release_image: str) -> str:
    """The OCP version in a release image tag: ``...:4.19.0-ec.5-x86_64`` -> ``4.19.0-ec.5``."""
    try:
        return ocp_version(release_image)
    except ReleaseImageError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def provisioner_labels(provisioner: dict[str, Any]) -> dict[str, str]:
    """The labels that mark an object as created for this provisioner."""
    meta = _meta(provisioner)
    return {LABEL_NAME: meta["name"], LABEL_NAMESPACE: meta["namespace"]}


def owner_reference(provisioner: dict[str, Any]) -> dict[str, Any]:
    """An ownerReference to the provisioner (for objects in its namespace)."""
    meta = _meta(provisioner)
    if not meta.get("uid"):
        raise AnsibleFilterError("the provisioner has no metadata.uid; pass the object as read from the API")
    return {
        "apiVersion": provisioner.get("apiVersion", "provisioning.dpu.hcp.io/v1alpha1"),
        "kind": provisioner.get("kind", "DPFHCPProvisioner"),
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def hosted_cluster_ref(provisioner: dict[str, Any]) -> dict[str, str]:
    """Where the provisioner's HostedCluster (and NodePool) live: its namespace, its name."""
    meta = _meta(provisioner)
    return {"namespace": meta["namespace"], "name": meta["name"]}


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "release_version": release_version,
            "provisioner_labels": provisioner_labels,
            "owner_reference": owner_reference,
            "hosted_cluster_ref": hosted_cluster_ref,
        }
