# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""MetalLB's rules that touch the provisioner's pool: address overlaps with other pools, and the
MetalLBConfigured condition.

MetalLB refuses a pool whose CIDR overlaps a CIDR of another pool (its webhook denies the write,
and a config that holds one anyway fails to load as a whole, for every pool): metallb/metallb
internal/config/config.go (poolsFor, parseCIDR, cidrsOverlap). The provisioner checks before it
writes, so a virtual IP inside someone else's pool is a condition, not a run that fails; the
other pool is not named (it is another tenant's or the platform's).

Ranges are compared by their two ends, never summarised. An IPv4-mapped IPv6 spelling counts as
its IPv4 address either way: stricter than MetalLB, whose mask-length comparison
(cidrContainsCIDR) misses a mapped pool wider than one host, on purpose, since both spellings are
one host on the wire (and a mapped spec.virtualIP is refused at admission).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Union

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.conditions import Condition, condition
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.conditions import (
    METALLB_CONFIGURED,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.validation import shown

# How the operator hands its --manage-metallb to the metallb role ("true" or "false").
MANAGE_ENV = "DPFHCP_MANAGE_METALLB"

# Reasons of MetalLBConfigured that are looked at again every metallb_recheck_seconds: what
# changes them (MetalLB installed, its namespace made, another pool gone) is followed by nothing.
NOT_INSTALLED = "MetalLBNotInstalled"
NAMESPACE_MISSING = "MetalLBNamespaceMissing"
OVERLAP = "AddressPoolOverlap"
REFUSED = "MetalLBRefused"
RECHECK_REASONS = frozenset({NOT_INSTALLED, NAMESPACE_MISSING, OVERLAP, REFUSED})
# Pools and addresses read from the API are bounded: a namespace full of pools must not make a
# run slow or a message long (the rest is reported as a count).
MAX_POOLS = 2000
MAX_ADDRESSES_PER_POOL = 256
# MetalLB's refusal of an object outside its namespace (ipaddresspool_webhook.go, validateIPAddressPoolCreate).
NAMESPACE_REFUSAL = re.compile(r"denied the request: resource must be created in [a-z0-9-]{1,63} namespace$")

Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]  # noqa: UP007 - a runtime alias for older Pythons
MAPPED = ipaddress.ip_network("::ffff:0:0/96")


def parse_addresses(entry: Any) -> tuple[Address, Address] | None:
    """The first and last address one ``spec.addresses`` entry stands for: a CIDR (host bits
    allowed, as Go's net.ParseCIDR) or a ``first-last`` range, as MetalLB's ParseCIDR reads them;
    None for an entry MetalLB itself would refuse. A range is kept as its two ends (never
    summarised into networks: a wide IPv6 range would be hundreds)."""
    if not isinstance(entry, str) or len(entry) > 100:
        return None
    try:
        if "-" in entry:
            first, last = (_as_go_reads(ipaddress.ip_address(part.strip())) for part in entry.split("-", 1))
            if first.version != last.version or first > last:
                return None
            return first, last
        if "/" not in entry:
            return None
        network = ipaddress.ip_network(entry, strict=False)
        return network.network_address, network.broadcast_address
    except ValueError:
        return None


def _as_go_reads(address: Address) -> Address:
    """A range end as MetalLB's ParseCIDR takes it: an IPv4-mapped end is IPv4 (ipaddr.Summarize
    sees To4), so ``1.2.3.0-::ffff:1.2.3.255`` is an IPv4 range."""
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped if mapped is not None else address


def _forms(address: Address) -> list[Address]:
    """An address in both of its forms: IPv4 and IPv4-mapped IPv6 name the same host (Go's
    net.IP.To4, which MetalLB's overlap check uses, takes them as one)."""
    if isinstance(address, ipaddress.IPv4Address):
        return [address, ipaddress.IPv6Address(f"::ffff:{address}")]
    mapped = address.ipv4_mapped
    return [address] if mapped is None else [address, mapped]


def conflicts(pools: list[dict[str, Any]], vip: str, own_name: str) -> list[str]:
    """The other pools whose addresses hold ``vip`` (in either form), each as ``"<pool>" (<address>)``."""
    try:
        forms = _forms(ipaddress.ip_address(vip))
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
            span = parse_addresses(entry)
            if span and any(f.version == span[0].version and span[0] <= f <= span[1] for f in forms):
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
    refused: list[str] | None = None,
    managed: bool = True,
) -> Condition:
    """The MetalLBConfigured condition for what the metallb role found and did (``managed``:
    False when the installation leaves MetalLB to the platform)."""
    again = f"Checked again every {recheck_seconds:g}s"
    if needed and not managed:
        return condition(
            METALLB_CONFIGURED,
            True,
            "NotManaged",
            "MetalLB is left to the platform (the operator's --no-manage-metallb): announcing "
            f"{vip or 'the virtual IP'} for the hosted API server's LoadBalancer Service is the administrator's",
        )
    if not needed:
        return condition(
            METALLB_CONFIGURED,
            True,
            "NotRequired",
            "The control plane is published through NodePorts; MetalLB is not used",
        )
    if not vip:
        return condition(
            METALLB_CONFIGURED,
            False,
            "VirtualIPRequired",
            "spec.exposeThroughLoadBalancer is true but spec.virtualIP is not set; set the virtual IP"
            " MetalLB should announce for the hosted API server",
        )
    if missing_kinds:
        return condition(
            METALLB_CONFIGURED,
            False,
            NOT_INSTALLED,
            f"The MetalLB CRDs ({', '.join(missing_kinds)}) are not installed on the management cluster;"
            f" install the MetalLB operator. {again}",
        )
    if missing_namespaces:
        return condition(
            METALLB_CONFIGURED,
            False,
            NAMESPACE_MISSING,
            f"Namespace {namespace} does not exist; set the MetalLB namespace (variable"
            f" dpfhcp_metallb_namespace, e.g. openshift-operators) to where the MetalLB operator runs. {again}",
        )
    if overlapping:
        # Other pools are other tenants' and the platform's: their names and ranges are not told
        # to whoever reads this provisioner; MetalLB's administrator lists them.
        return condition(
            METALLB_CONFIGURED,
            False,
            OVERLAP,
            f"spec.virtualIP {shown(vip)} is inside {len(overlapping)} other MetalLB IPAddressPool(s) in namespace "
            f"{namespace}, and MetalLB refuses pools whose addresses overlap; choose a virtual IP outside "
            f"MetalLB's other pools (ask the cluster administrator which are free). {again}",
        )
    if refused:
        # MetalLB checks the new pool against every other pool, so its words may name them: only
        # its namespace refusal (nothing about other pools) is passed on.
        wrong_place = next((r for r in refused if NAMESPACE_REFUSAL.search(r)), None)
        said = f": {wrong_place.split(': ', 1)[-1][:300]}" if wrong_place else " (its message is about MetalLB's pools)"
        return condition(
            METALLB_CONFIGURED,
            False,
            REFUSED,
            f"MetalLB's admission webhook refused the IPAddressPool or L2Advertisement in {namespace}{said}. "
            "If MetalLB runs in another namespace, set the MetalLB namespace (variable dpfhcp_metallb_namespace) "
            f"to it; otherwise MetalLB's administrator sees why by checking its pools. {again}",
        )
    return condition(
        METALLB_CONFIGURED,
        True,
        "Configured",
        f"IPAddressPool and L2Advertisement {namespace}/{name} announce {vip} for namespace {control_plane_namespace}",
    )


def rechecks(configured: Condition) -> bool:
    """Whether a MetalLBConfigured condition is to be looked at again on the metallb role's timer."""
    return configured.get("reason") in RECHECK_REASONS
