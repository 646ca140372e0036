# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""The argument the provisioner's modules share: the DPFHCPProvisioner object they act for."""

from __future__ import annotations

from typing import Any

PROVISIONER_ARG_SPEC: dict[str, dict[str, Any]] = {
    "provisioner": {"type": "dict", "required": True},
}


def provisioner_identity(provisioner: dict[str, Any]) -> tuple[str, str]:
    """(namespace, name) of a provisioner object given as a module argument."""
    meta = provisioner.get("metadata") or {}
    if not meta.get("name") or not meta.get("namespace"):
        raise ValueError("provisioner must be a DPFHCPProvisioner object with metadata.name and metadata.namespace")
    return meta["namespace"], meta["name"]
