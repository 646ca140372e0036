# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""MetalLB's rules that touch the provisioner's pool: address overlaps with other pools, and the
MetalLBConfigured condition.

MetalLB refuses a pool whose CIDR overlaps a CIDR of another pool (its webhook denies the write,
and a config that holds one anyway fails to load as a whole, for every pool): metallb/metallb
internal/config/config.go (poolsFor, parseCIDR, cidrsOverlap). The provisioner checks before it
writes, so a virtual IP inside someone else's pool is a condition that names both, not a run
that fails.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Union

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.conditions import Condition, condition
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.validation import shown

TYPE = "MetalLBConfigured"
# Pools and addresses read from the API are bounded: a namespace full of pools must not make a
# run slow or a message long (the rest is reported as a count).
MAX_POOLS = 2000
MAX_ADDRESSES_PER_POOL = 256
MAX_REPORTED = 3

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]  # noqa: UP007 - a runtime alias for older Pythons


def parse_addresses(entry: Any) -> list[Network]:
    """The networks one ``spec.addresses`` entry stands for: a CIDR (host bits allowed, as Go's
    net.ParseCIDR) or a ``first-last`` range, as MetalLB's parseCIDR reads them; nothing for an
    entry MetalLB itself would refuse."""
    if not isinstance(entry, str) or len(entry) > 100:
        return []
    text = entry.strip()
    try:
        if "-" in text:
            first, last = (ipaddress.ip_address(part.strip()) for part in text.split("-", 1))
            if first.version != last.version or first > last:
                return []
            return list(ipaddress.summarize_address_range(first, last))  # type: ignore[arg-type]
        if "/" not in text:
            return []
        return [ipaddress.ip_network(text, strict=False)]
    except ValueError:
        return []


def conflicts(pools: list[dict[str, Any]], vip: str, own_name: str) -> list[str]:
    """The other pools whose addresses hold ``vip``, each as ``"<pool>" (<address>)``."""
    try:
        address = ipaddress.ip_address(vip)
    except ValueError:
        return []
    found: list[str] = []
    for pool in pools[:MAX_POOLS]:
        name = (pool.get("metadata") or {}).get("name")
        if not isinstance(name, str) or name == own_name:
            continue
        entries = ((pool.get("spec") or {}).get("addresses")) or []
        if not isinstance(entries, list):
            continue
        for entry in entries[:MAX_ADDRESSES_PER_POOL]:
            if any(address in network for network in parse_addresses(entry)):
                found.append(f"{shown(name)} ({shown(entry)})")
                break
    return found


def configured_condition(
    *,
    needed: bool,
    vip: str,
    namespace: str,
    name: str,
    control_plane_namespace: str,
    recheck_seconds: float,
    missing_kinds: list[str] | None = None,
    missing_namespaces: list[str] | None = None,
    overlapping: list[str] | None = None,
) -> Condition:
    """The MetalLBConfigured condition for what the metallb role found and did."""
    again = f"Checked again every {recheck_seconds:g}s"
    if not needed:
        return condition(
            TYPE, True, "NotRequired", "The control plane is published through NodePorts; MetalLB is not used"
        )
    if not vip:
        return condition(
            TYPE,
            False,
            "VirtualIPRequired",
            "spec.exposeThroughLoadBalancer is true but spec.virtualIP is not set; set the virtual IP"
            " MetalLB should announce for the hosted API server",
        )
    if missing_kinds:
        return condition(
            TYPE,
            False,
            "MetalLBNotInstalled",
            f"The MetalLB CRDs ({', '.join(missing_kinds)}) are not installed on the management cluster;"
            f" install the MetalLB operator. {again}",
        )
    if missing_namespaces:
        return condition(
            TYPE,
            False,
            "MetalLBNamespaceMissing",
            f"Namespace {namespace} does not exist; set the MetalLB namespace (variable"
            f" dpfhcp_metallb_namespace, e.g. openshift-operators) to where the MetalLB operator runs. {again}",
        )
    if overlapping:
        more = f" and {len(overlapping) - MAX_REPORTED} more" if len(overlapping) > MAX_REPORTED else ""
        return condition(
            TYPE,
            False,
            "AddressPoolOverlap",
            f"spec.virtualIP {shown(vip)} is already in MetalLB's IPAddressPool "
            f"{', '.join(overlapping[:MAX_REPORTED])}{more} in namespace {namespace}, and MetalLB refuses pools"
            " whose addresses overlap; choose a virtual IP outside the other pools, or take it out of that pool."
            f" {again}",
        )
    return condition(
        TYPE,
        True,
        "Configured",
        f"IPAddressPool and L2Advertisement {namespace}/{name} announce {vip} for namespace {control_plane_namespace}",
    )
