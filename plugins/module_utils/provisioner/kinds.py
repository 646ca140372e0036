# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""The kinds a provisioner reads and writes beyond Kubernetes' own (its own, HyperShift's, DPF's,
MetalLB's), the labels on every object it creates, and the rule that it never takes over an
object it did not make (``check_owned``, what its applies pass as ``adopt``)."""

from __future__ import annotations

from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s import journal
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import Resource, register

PROVISIONER = Resource("provisioning.dpu.hcp.io", "v1alpha1", "dpfhcpprovisioners", "DPFHCPProvisioner")
HOSTED_CLUSTER = Resource("hypershift.openshift.io", "v1beta1", "hostedclusters", "HostedCluster")
NODE_POOL = Resource("hypershift.openshift.io", "v1beta1", "nodepools", "NodePool")
DPU_CLUSTER = Resource("provisioning.dpu.nvidia.com", "v1alpha1", "dpuclusters", "DPUCluster")
DPU = Resource("provisioning.dpu.nvidia.com", "v1alpha1", "dpus", "DPU")
DPU_FLAVOR = Resource("provisioning.dpu.nvidia.com", "v1alpha1", "dpuflavors", "DPUFlavor")
DPF_OPERATOR_CONFIG = Resource("operator.dpu.nvidia.com", "v1alpha1", "dpfoperatorconfigs", "DPFOperatorConfig")
IP_ADDRESS_POOL = Resource("metallb.io", "v1beta1", "ipaddresspools", "IPAddressPool")
L2_ADVERTISEMENT = Resource("metallb.io", "v1beta1", "l2advertisements", "L2Advertisement")
# In the hosted cluster: what OpenShift's cluster version operator publishes (openshift/api config/v1).
CLUSTER_VERSION = Resource("config.openshift.io", "v1", "clusterversions", "ClusterVersion", namespaced=False)
CLUSTER_OPERATOR = Resource("config.openshift.io", "v1", "clusteroperators", "ClusterOperator", namespaced=False)
CLUSTER_VERSION_NAME = "version"  # the one ClusterVersion the CVO reads and writes

register(
    PROVISIONER,
    HOSTED_CLUSTER,
    NODE_POOL,
    DPU_CLUSTER,
    DPU,
    DPU_FLAVOR,
    DPF_OPERATOR_CONFIG,
    IP_ADDRESS_POOL,
    L2_ADVERTISEMENT,
    CLUSTER_VERSION,
    CLUSTER_OPERATOR,
)

# Fields of these kinds a step decides on alone, recorded (as digests) with every read of one
# (k8s/journal.py), so that HyperShift's other status writes while a run is under way need no second
# run to confirm: the ignition step fetches the NodePool's ignition from status.ignitionEndpoint and
# reads nothing else of the HostedCluster (bfcfg.generate); the steps that use its kubeconfig (the
# injection, the CSR approval) read whether it is ours, where its API server is, which secret
# holds the kubeconfig, and its cluster and service networks (hosted_kubeconfig.read, and the CSR
# approval's check of the addresses a CSR asks for: csr/approver.py cluster_networks).
IGNITION_ENDPOINT = "status.ignitionEndpoint"
HOSTED_KUBECONFIG_FIELDS = (
    "metadata.uid",
    "metadata.labels",
    "metadata.ownerReferences",
    "spec.networking",
    "status.kubeconfig",
    "status.controlPlaneEndpoint",
)
journal.FIELDS[HOSTED_CLUSTER.kind] = (IGNITION_ENDPOINT, *HOSTED_KUBECONFIG_FIELDS)

# Labels on every object the provisioner creates: ownerReferences cannot cross namespaces.
LABEL_NAME = "dpfhcpprovisioner.dpu.hcp.io/name"
LABEL_NAMESPACE = "dpfhcpprovisioner.dpu.hcp.io/namespace"
OWNER_LABELS = (LABEL_NAMESPACE, LABEL_NAME)


class NotOwnedError(ValueError):
    """An object we would write exists and is another's: it carries no, or other, owner labels."""


def check_owned(desired: dict[str, Any], current: dict[str, Any]) -> None:
    """Refuse to take over ``current`` when ``desired`` is marked as a provisioner's (both owner
    labels) and ``current`` is not marked as the same provisioner's. Names we derive can be
    chosen by a tenant (a provisioner named like someone's HostedCluster, or two provisioners
    whose derived names meet): an apply must never adopt what it did not make."""
    want = (desired.get("metadata") or {}).get("labels") or {}
    if not all(label in want for label in OWNER_LABELS):
        return  # not an object a provisioner owns (e.g. a patch of someone else's object)
    have = (current.get("metadata") or {}).get("labels") or {}
    if all(have.get(label) == want[label] for label in OWNER_LABELS):
        return
    meta = current.get("metadata") or {}
    owner = "/".join(str(have.get(label, ""))[:63] for label in OWNER_LABELS)
    raise NotOwnedError(
        f"{current.get('kind') or desired.get('kind')} {meta.get('namespace', '')}/{meta.get('name')} exists and is "
        f"not this provisioner's ({'labelled for ' + owner if owner.strip('/') else 'no provisioner labels'}): "
        f"it is left untouched; delete or rename it, or give the provisioner another name or namespace"
    )
