#!/usr/bin/python
# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Approve the CSRs of DPUs joining a provisioner's hosted cluster, and only theirs."""

from __future__ import annotations

DOCUMENTATION = r"""
module: csr_approve
short_description: Approve the kubelet CSRs of a DPFHCPProvisioner's joining DPUs, and only those
version_added: "0.1.0"
description:
  - Reaches the hosted cluster through the kubeconfig HyperShift published for the HostedCluster this
    provisioner owns (checked as M(dpf_hcp.provisioner.inject_kubeconfig) checks it), creates or
    repairs there the approver identity (ServiceAccount C(kube-system/dpf-hcp-csr-approver) and a
    ClusterRole that can only list and watch CSRs and Nodes and approve the two kubelet signers),
    and reads and approves with that ServiceAccount's short-lived token only.
  - Approves a pending CertificateSigningRequest only when it is a DPU kubelet's, requested the way
    a kubelet does, as strictly as OpenShift's cluster-machine-approver with the DPU in the Machine's
    place (the rules and their reasons are in the collection's README, "CSR approval").
  - The request must have one reading only, one canonical PEM block from its first byte with nothing
    after it but whitespace (what Go's pem.Decode, used by the API server and the signer, reads), a
    key of RSA 2048 bits or more, ECDSA P-256/P-384 or Ed25519, and a subject of exactly
    O=system:nodes and CN=system:node:<name>.
  - A bootstrap (client) CSR needs signer C(kubernetes.io/kube-apiserver-client-kubelet), the
    node-bootstrapper with exactly its groups, usages digital signature and client auth (key
    encipherment allowed), no SANs, a DPU of that name whose C(spec.cluster) names this DPUCluster,
    in phase C(DPU Cluster Config), no Node of that name at all, a CSR not older than its DPU,
    and no bootstrap CSR approved before for that DPU.
  - A serving CSR needs signer C(kubernetes.io/kubelet-serving), the node itself as requester, CN
    equal to it, DNS SANs only the node's name, IP SANs only addresses DPF recorded on the DPU
    (never the Node's own claims, the hosted cluster's service or pod networks, loopback, link-local,
    multicast or unspecified addresses), the Node present and the DPU joined.
  - A client renewal by the node itself is approved while its DPU and Node exist.
  - Nothing is approved while more CSRs are pending than DPUs + 100. CSRs older than
    I(max_age_seconds) are left alone.
  - Each approval is recorded as a C(CSRApproved) Event on the provisioner; what is not approved
    stays pending, and the reason is returned and recorded once as a C(CSRNotApproved) Warning.
  - A serving CSR that comes before its Node, or before DPF recorded the DPU's addresses (DPF
    writes them in phase C(Ready), after the kubelet asked), waits; that is recorded once as a
    Normal C(CSRPending) Event, and the CSR is decided again on the next pass.
  - Returns the C(CSRAutoApprovalActive) condition, and with I(report_health) the hosted cluster's
    C(HostedClusterHealthy), read on the same connection as M(dpf_hcp.provisioner.hosted_cluster_health)
    reads it.
  - In check mode reports what it would approve and changes nothing.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - dpf_hcp.provisioner.provisioner
options:
  max_age_seconds:
    description: CSRs older than this are not approved (a kubelet asks again).
    type: float
    default: 3600
  report_health:
    description:
      - Also read the hosted cluster's ClusterVersion and ClusterOperators and return C(health_conditions)
        (C(HostedClusterHealthy)), in the same pass.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Writes become server-side dry runs or are skipped; the result tells what would change.
author:
  - dpf_hcp.provisioner contributors (@dpf-hcp)
"""

EXAMPLES = r"""
- name: Approve the CSRs of joining DPUs
  dpf_hcp.provisioner.csr_approve:
    provisioner: "{{ dpfhcp_provisioner }}"
  register: approval
"""

RETURN = r"""
approved:
  description: CSRs approved (or that would be, in check mode), with the node and the reason.
  returned: always
  type: list
  elements: dict
refused:
  description:
    - Pending CSRs left pending, with the reason and a message.
    - C(waiting) is true where the CSR waits for its Node or for the DPU's recorded addresses
      rather than breaking a rule.
  returned: always
  type: list
  elements: dict
conditions:
  description: The CSRAutoApprovalActive condition.
  returned: always
  type: list
  elements: dict
health_conditions:
  description:
    - The HostedClusterHealthy condition (see M(dpf_hcp.provisioner.hosted_cluster_health)).
    - Empty without I(report_health).
  returned: always
  type: list
  elements: dict
"""

from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.args import (
    client_from_params,
    run_module,
    with_auth,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.libraries import require
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.args import (
    PROVISIONER_ARG_SPEC,
    provisioner_identity,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.csr import policy
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.csr.approver import approval_pass

ARGUMENT_SPEC = with_auth(
    {
        **PROVISIONER_ARG_SPEC,
        "max_age_seconds": {"type": "float", "default": 3600},
        "report_health": {"type": "bool", "default": False},
    }
)


def execute(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    provisioner_identity(params["provisioner"])
    require(policy.IMPORT_ERROR)
    result = approval_pass(
        client_from_params(params),
        params["provisioner"],
        check_mode,
        params["max_age_seconds"],
        params["report_health"],
    )
    return {
        "changed": bool(result.approved) or result.identity_changed,
        "approved": result.approved,
        "refused": result.refused,
        "conditions": [result.condition],
        "health_conditions": [result.health] if result.health else [],
    }


def main() -> None:
    run_module(ARGUMENT_SPEC, execute)


if __name__ == "__main__":
    main()
