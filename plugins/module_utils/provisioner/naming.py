# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Where a provisioner's objects live and what they are called: the one place for these rules.

Roles reach them through the filters, the operator imports them directly.
"""

from __future__ import annotations

import hashlib
from typing import Any


def _meta(provisioner: dict[str, Any]) -> dict[str, Any]:
    meta = (provisioner or {}).get("metadata") if isinstance(provisioner, dict) else None
    if not meta or not meta.get("name") or not meta.get("namespace"):
        raise ValueError("expected a DPFHCPProvisioner object with metadata.name and metadata.namespace")
    return meta


def hosted_cluster_ref(provisioner: dict[str, Any]) -> dict[str, str]:
    """The HostedCluster (and its NodePool) are named after the provisioner, in its namespace."""
    meta = _meta(provisioner)
    return {"namespace": meta["namespace"], "name": meta["name"]}


def control_plane_namespace(provisioner: dict[str, Any]) -> str:
    """HyperShift runs the hosted control plane in <hc-namespace>-<hc-name>, every '.' of the name read as
    '-': openshift/hypershift hypershift-operator/controllers/manifests/manifests.go
    (HostedControlPlaneNamespace: fmt.Sprintf("%s-%s", namespace, strings.ReplaceAll(name, ".", "-"))).
    Different provisioners can map to one namespace (t-x/x and t/x-x): the webhook refuses the second."""
    ref = hosted_cluster_ref(provisioner)
    return f"{ref['namespace']}-{ref['name'].replace('.', '-')}"


def node_pool_key(provisioner: dict[str, Any]) -> str:
    """The NodePool as HyperShift names it in annotations: <namespace>/<name> (client.ObjectKey.String())."""
    ref = hosted_cluster_ref(provisioner)
    return f"{ref['namespace']}/{ref['name']}"


def admin_kubeconfig_secret(provisioner: dict[str, Any]) -> str:
    """The secret HyperShift publishes the admin kubeconfig in (HostedCluster's namespace)."""
    return f"{hosted_cluster_ref(provisioner)['name']}-admin-kubeconfig"


def injected_kubeconfig_ref(provisioner: dict[str, Any]) -> dict[str, str]:
    """The kubeconfig secret given to DPF, in the DPUCluster's namespace."""
    ref = (provisioner.get("spec") or {}).get("dpuClusterRef") or {}
    return {"namespace": ref.get("namespace", ""), "name": f"{ref.get('name', '')}-admin-kubeconfig"}


def metallb_pool_name(provisioner: dict[str, Any]) -> str:
    """IPAddressPool and L2Advertisement name; MetalLB's namespace is shared, so both parts count."""
    meta = _meta(provisioner)
    return f"dpfhcp-{meta['namespace']}-{meta['name']}"


def exposes_load_balancer(spec: dict[str, Any]) -> bool:
    """LoadBalancer publishing: as asked, else when highly available or a virtual IP is given."""
    if spec.get("exposeThroughLoadBalancer") is not None:
        return bool(spec["exposeThroughLoadBalancer"])
    return spec.get("controlPlaneAvailabilityPolicy", "HighlyAvailable") == "HighlyAvailable" or bool(
        spec.get("virtualIP")
    )


def machineconfig_configmap_name(provisioner: dict[str, Any]) -> str:
    """The ConfigMap (key ``config``) holding the BlueField OS MachineConfig, named by NodePool.spec.config."""
    return f"{hosted_cluster_ref(provisioner)['name']}-bluefield-os"


def bfcfg_configmap_name(provisioner: dict[str, Any], namespace: str, bfb: str, flavor: str) -> str:
    """DPF's bf.cfg template ConfigMap for the provisioner's DPUs of one BFB and DPUFlavor (in
    ``namespace``): bfcfg-<namespace>-<name>-<digest of the three>. DPF selects it by label and
    annotations; the name only has to be unique, so the digest is long enough (128 bits) that no one
    who writes DPUs can find a second combination with a template's name (at most 6+63+1+63+1+32
    characters)."""
    ref = hosted_cluster_ref(provisioner)
    digest = hashlib.sha256("\0".join((namespace, bfb, flavor)).encode()).hexdigest()[:32]
    return f"bfcfg-{ref['namespace']}-{ref['name']}-{digest}"


def ignition_token_prefix(provisioner: dict[str, Any]) -> str:
    """HyperShift's NodePool token secrets, in the control plane namespace: token-<nodepool>-<hash>."""
    return f"token-{hosted_cluster_ref(provisioner)['name']}-"
