#!/usr/bin/python
# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Report the hosted cluster's health from its ClusterVersion and ClusterOperators."""

from __future__ import annotations

DOCUMENTATION = r"""
module: hosted_cluster_health
short_description: Report a DPFHCPProvisioner's hosted cluster health from its ClusterVersion and ClusterOperators
version_added: "0.1.0"
description:
  - Reaches the hosted cluster through the kubeconfig HyperShift published for the HostedCluster this
    provisioner owns (checked as M(dpf_hcp.provisioner.csr_approve) checks it), under the same
    approver identity (created or repaired as M(dpf_hcp.provisioner.csr_approve) does it), and lists
    the ClusterVersion and the ClusterOperators (C(config.openshift.io/v1)). Writes nothing there.
  - Returns the C(HostedClusterHealthy) condition. It is C(True) (reason C(Stable)) when the ClusterVersion
    C(version) is Available and not Failing and every ClusterOperator is Available, not Progressing and
    not Degraded, what C(oc adm wait-for-stable-cluster) waits for; a condition an operator does not
    report counts as not stable.
  - C(False) with reason C(ClusterVersionFailing), C(ClusterVersionNotAvailable) or C(OperatorsNotStable);
    the message names the first five unstable operators (by name) with the condition that says so, its
    reason and message, cut to a bounded length, and counts the rest.
  - C(Unknown) with reason C(NotReported) before the hosted cluster publishes them, C(HostedClusterUnreachable)
    when its API server does not answer, or the reason the hosted kubeconfig is not usable yet.
  - Everything read is data a hosted cluster's administrator can write; it is only ever shown as text.
  - M(dpf_hcp.provisioner.csr_approve) with I(report_health) reads the same in its own pass, on the same
    connection; the C(csr_approval) role does that. This module is for a playbook that wants the health
    alone (to wait until the hosted cluster settled, say).
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - dpf_hcp.provisioner.provisioner
attributes:
  check_mode:
    support: full
    description: Reads only; the approver identity's creation becomes a server-side dry run.
author:
  - dpf_hcp.provisioner contributors (@dpf-hcp)
"""

EXAMPLES = r"""
- name: Read the hosted cluster's health
  dpf_hcp.provisioner.hosted_cluster_health:
    provisioner: "{{ dpfhcp_provisioner }}"
  register: health

- name: Wait until every ClusterOperator of the hosted cluster is stable
  dpf_hcp.provisioner.hosted_cluster_health:
    provisioner: "{{ dpfhcp_provisioner }}"
  register: health
  until: health.healthy
  retries: 60
  delay: 30
"""

RETURN = r"""
healthy:
  description: Whether C(HostedClusterHealthy) is C(True).
  returned: always
  type: bool
conditions:
  description: The C(HostedClusterHealthy) condition.
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
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.args import (
    PROVISIONER_ARG_SPEC,
    provisioner_identity,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.csr.approver import health_pass

ARGUMENT_SPEC = with_auth(dict(PROVISIONER_ARG_SPEC))


def execute(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    provisioner_identity(params["provisioner"])
    found = health_pass(client_from_params(params), params["provisioner"], check_mode)
    return {"changed": False, "healthy": found["status"] == "True", "conditions": [found]}


def main() -> None:
    run_module(ARGUMENT_SPEC, execute)


if __name__ == "__main__":
    main()
