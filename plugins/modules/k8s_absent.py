#!/usr/bin/python
# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Delete Kubernetes objects by name or label, and tell which are still there."""

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_absent
short_description: Delete objects by name or label selector and report what remains
version_added: "0.1.0"
description:
  - Deletes the named object, or every object of the kind matching I(label_selector); one of
    the two is required.
  - Does not wait; returns the objects that still exist (for example while a finalizer of
    another controller runs), so the caller decides whether to come back later.
  - A kind whose API is not installed counts as absent.
  - In check mode the deletes are server-side dry runs.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - dpf_hcp.provisioner.k8s_selection
attributes:
  check_mode:
    support: full
    description: Writes become server-side dry runs or are skipped; the result tells what would change.
author:
  - dpf_hcp.provisioner contributors (@dpf-hcp)
"""

EXAMPLES = r"""
- name: Delete the HostedCluster
  dpf_hcp.provisioner.k8s_absent:
    api_version: hypershift.openshift.io/v1beta1
    kind: HostedCluster
    namespace: clusters
    name: prod
  register: hc_gone
"""

RETURN = r"""
deleted:
  description: Names deleted by this call.
  returned: always
  type: list
  elements: str
remaining:
  description: Names still present after the call (being deleted, or blocked by a finalizer).
  returned: always
  type: list
  elements: str
"""

from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.args import (
    SELECTION_ARG_SPEC,
    client_from_params,
    run_module,
    selected_objects,
    with_auth,
)

ARGUMENT_SPEC = with_auth(SELECTION_ARG_SPEC)


def execute(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    if not params.get("name") and not params.get("label_selector"):
        raise ValueError("give name or label_selector: k8s_absent does not delete every object of a kind")
    client = client_from_params(params)
    selected = selected_objects(client, params)
    if selected is None:  # the kind's API is not installed: nothing of it exists
        return {"changed": False, "deleted": [], "remaining": []}
    res, found = selected
    deleted, remaining = [], []
    for obj in found:
        meta = obj["metadata"]
        if not meta.get("deletionTimestamp"):
            client.delete(res, meta["name"], meta.get("namespace"), dry_run=check_mode)
            deleted.append(meta["name"])
        if client.get_or_none(res, meta["name"], meta.get("namespace")) is not None and not check_mode:
            remaining.append(meta["name"])
    return {"changed": bool(deleted), "deleted": deleted, "remaining": remaining}


def main() -> None:
    run_module(ARGUMENT_SPEC, execute)


if __name__ == "__main__":
    main()
