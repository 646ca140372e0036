#!/usr/bin/python
# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Pick the management cluster address that NodePort-published hosted services are reached at."""

from __future__ import annotations

DOCUMENTATION = r"""
module: node_port_address
short_description: Choose the address a NodePort-published hosted control plane is reached at
version_added: "0.1.0"
description:
  - HyperShift's NodePort publishing needs one address of the management cluster where the
    node ports answer. This returns the first of I(preferred) that is set, else the
    InternalIP of the first Ready management cluster Node (by name), else fails with what to set.
  - Reads only, so check mode behaves the same.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
options:
  preferred:
    description: Candidate addresses in order of preference; empty entries are skipped.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description: Only reads, so it runs the same in check mode.
author:
  - dpf_hcp.provisioner contributors (@dpf-hcp)
"""

EXAMPLES = r"""
- name: Choose the NodePort address
  dpf_hcp.provisioner.node_port_address:
    preferred:
      - "{{ hosted_cluster_node_port_address }}"
      - "{{ dpfhcp_provisioner.spec.virtualIP | default('') }}"
  register: address
"""

RETURN = r"""
address:
  description: The address chosen.
  returned: success
  type: str
source:
  description: preferred or node/<name>.
  returned: success
  type: str
"""

from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.args import (
    client_from_params,
    run_module,
    with_auth,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import NODE

ARGUMENT_SPEC = with_auth({"preferred": {"type": "list", "elements": "str", "default": []}})


def execute(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    for candidate in params["preferred"]:
        if candidate and candidate.strip():
            return {"changed": False, "address": candidate.strip(), "source": "preferred"}
    nodes = client_from_params(params).list(NODE).get("items") or []
    for node in sorted(nodes, key=lambda n: n["metadata"]["name"]):
        status = node.get("status") or {}
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        internal = [a["address"] for a in status.get("addresses") or [] if a.get("type") == "InternalIP"]
        if ready and internal:
            return {"changed": False, "address": internal[0], "source": f"node/{node['metadata']['name']}"}
    raise ValueError(
        "NodePort publishing needs a management cluster address and no Ready Node with an "
        "InternalIP was found: set spec.virtualIP (LoadBalancer publishing) or the role variable "
        "hosted_cluster_node_port_address"
    )


def main() -> None:
    run_module(ARGUMENT_SPEC, execute)


if __name__ == "__main__":
    main()
