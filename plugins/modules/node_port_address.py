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
    node ports answer. This returns the first of I(preferred) that is set, else an address of
    the first Ready management cluster Node (by name), else fails with what to set.
  - Of that Node's addresses it takes the ExternalDNS, then the ExternalIP, then the InternalIP,
    as the upstream operator and HyperShift's CLI do. An address HyperShift would refuse (not an
    IP address or a dotted DNS name, an IPv6 zone) or that names no reachable machine (loopback,
    unspecified, multicast, link-local, IPv4-mapped, localhost) is passed over, since a node's status
    is its kubelet's to write.
  - HyperShift makes the address immutable; the hosted_cluster role writes it when the
    HostedCluster is created only.
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

import ipaddress
import re
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
        address = node_address(status.get("addresses"))
        if ready and address:
            return {"changed": False, "address": address, "source": f"node/{node['metadata']['name']}"}
    raise ValueError(
        "NodePort publishing needs a management cluster address and no Ready Node with an "
        "address was found: set spec.virtualIP (LoadBalancer publishing) or the role variable "
        "hosted_cluster_node_port_address"
    )


# The upstream operator's order (rh-ecosystem-edge/dpf-hcp-provisioner-operator
# internal/controller/hostedcluster/hostedcluster.go, detectNodeAddress), as HyperShift's CLI
# (GetAPIServerAddressByNode).
ADDRESS_ORDER = ("ExternalDNS", "ExternalIP", "InternalIP")


def node_address(addresses: Any) -> str | None:
    """The Node's address NodePorts are reached at: ExternalDNS, then ExternalIP, then InternalIP;
    only a well-formed IP address or DNS name (a node's status is written by its kubelet)."""
    entries = [a for a in addresses if isinstance(a, dict)] if isinstance(addresses, list) else []
    for kind in ADDRESS_ORDER:
        for entry in entries:
            value = entry.get("address")
            if entry.get("type") == kind and isinstance(value, str) and _reachable(value):
                return value
    return None


# What HyperShift's CRD takes in servicePublishingStrategy.nodePort.address (its CEL rule, in
# openshift/hypershift api/hypershift/v1beta1/hostedcluster_types.go, NodePortPublishingStrategy).
_HOSTNAME = re.compile(r"(([a-zA-Z0-9][-a-zA-Z0-9]*\.)+[a-zA-Z]{2,}|localhost)")
_IPV4 = re.compile(r"((\d{1,3}\.){3}\d{1,3})")
_IPV6 = re.compile(
    r"(([0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,7}:|([0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}"
    r"|([0-9a-fA-F]{1,4}:){1,5}(:[0-9a-fA-F]{1,4}){1,2}|([0-9a-fA-F]{1,4}:){1,4}(:[0-9a-fA-F]{1,4}){1,3}"
    r"|([0-9a-fA-F]{1,4}:){1,3}(:[0-9a-fA-F]{1,4}){1,4}|([0-9a-fA-F]{1,4}:){1,2}(:[0-9a-fA-F]{1,4}){1,5}"
    r"|[0-9a-fA-F]{1,4}:((:[0-9a-fA-F]{1,4}){1,6})|:((:[0-9a-fA-F]{1,4}){1,7}|:))"
)


def _reachable(value: str) -> bool:
    """An address HyperShift takes that other machines can reach: its CRD's forms (no IPv6 zone, no
    single-label name), and never this machine's own, unspecified, multicast, link-local or
    IPv4-mapped addresses, nor localhost."""
    if not 0 < len(value) <= 253:
        return False
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return value != "localhost" and _HOSTNAME.fullmatch(value) is not None
    if not (_IPV4.fullmatch(value) or _IPV6.fullmatch(value)):
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return not (mapped or ip.is_loopback or ip.is_unspecified or ip.is_multicast or ip.is_link_local)


def main() -> None:
    run_module(ARGUMENT_SPEC, execute)


if __name__ == "__main__":
    main()
