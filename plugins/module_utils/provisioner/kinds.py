# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""The kinds a provisioner reads and writes beyond Kubernetes' own (its own, HyperShift's, DPF's,
MetalLB's), and the labels on every object it creates."""

from __future__ import annotations

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
)

# Labels on every object the provisioner creates: ownerReferences cannot cross namespaces.
LABEL_NAME = "dpfhcpprovisioner.dpu.hcp.io/name"
LABEL_NAMESPACE = "dpfhcpprovisioner.dpu.hcp.io/namespace"
