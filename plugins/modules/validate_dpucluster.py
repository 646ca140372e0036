#!/usr/bin/python
# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Check the DPUCluster a DPFHCPProvisioner points at."""

from __future__ import annotations

DOCUMENTATION = r"""
module: validate_dpucluster
short_description: Check that a DPFHCPProvisioner's DPUCluster exists, is supported and is its alone
version_added: "0.1.0"
description:
  - Reads the DPUCluster named by C(spec.dpuClusterRef) and every DPFHCPProvisioner in the cluster
    (or in each of O(watch_namespaces)).
  - Returns the conditions C(DPUClusterMissing), C(ClusterTypeValid) and C(DPUClusterInUse).
  - A DPUCluster of type C(kamaji) is not supported. When two provisioners reference one
    DPUCluster, the older keeps it and the newer is refused.
  - A DPUCluster that disappears after the provisioner had used it is reported as
    C(DPUClusterDeleted); the hosted cluster is kept.
  - A DPUCluster in a namespace outside O(watch_namespaces) is reported as C(DPUClusterNotWatched).
  - Reads only, so check mode behaves the same.
options:
  watch_namespaces:
    description:
      - The namespaces the operator watches (its RBAC covers only those); provisioners are listed in
        each of them rather than cluster-wide. Unset or empty, every namespace.
      - Defaults to the environment variable E(WATCH_NAMESPACE) (comma-separated), which the operator sets.
    type: list
    elements: str
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - dpf_hcp.provisioner.provisioner
attributes:
  check_mode:
    support: full
    description: Only reads, so it runs the same in check mode.
author:
  - dpf_hcp.provisioner contributors (@dpf-hcp)
"""

EXAMPLES = r"""
- name: Check the referenced DPUCluster
  dpf_hcp.provisioner.validate_dpucluster:
    provisioner: "{{ dpfhcp_provisioner }}"
  register: dpucluster_check
"""

RETURN = r"""
ok:
  description: Whether the DPUCluster exists, is of a supported type and is not used by another provisioner.
  returned: always
  type: bool
conditions:
  description: DPUClusterMissing, ClusterTypeValid and DPUClusterInUse.
  returned: always
  type: list
  elements: dict
dpucluster:
  description: The DPUCluster's namespace, name and type, when it exists.
  returned: always
  type: dict
"""

from typing import Any

from ansible.module_utils.basic import env_fallback

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.args import (
    client_from_params,
    run_module,
    with_auth,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import scope
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.args import (
    PROVISIONER_ARG_SPEC,
    provisioner_identity,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import DPU_CLUSTER, PROVISIONER
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.validation import check_dpucluster

ARGUMENT_SPEC = with_auth(
    {
        **PROVISIONER_ARG_SPEC,
        "watch_namespaces": {"type": "list", "elements": "str", "fallback": (env_fallback, [scope.ENV])},
    }
)


def execute(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    provisioner = params["provisioner"]
    provisioner_identity(provisioner)
    ref = (provisioner.get("spec") or {}).get("dpuClusterRef") or {}
    if not ref.get("name") or not ref.get("namespace"):
        raise ValueError("spec.dpuClusterRef needs name and namespace")
    watch = scope.parse(params.get("watch_namespaces"))
    unreachable = scope.dpucluster_check(provisioner, watch)
    if unreachable is not None:  # its RBAC does not reach there: say so rather than fail on a 403
        return {"changed": False, "ok": False, "conditions": unreachable.conditions, "dpucluster": {}}
    client = client_from_params(params)
    dpucluster = client.get_or_none(DPU_CLUSTER, ref["name"], ref["namespace"])
    try:
        others = scope.list_items(client, PROVISIONER, watch)
    except ApiError as exc:
        if not exc.not_found:
            raise
        others = []  # the CRD is not installed, so no provisioner holds the DPUCluster (a one-off run)
    status = provisioner.get("status") or {}
    previously_seen = bool(status.get("hostedClusterRef"))
    check = check_dpucluster(provisioner, dpucluster, others, previously_seen=previously_seen)
    summary = {}
    if dpucluster:
        summary = {
            "namespace": ref["namespace"],
            "name": ref["name"],
            "type": (dpucluster.get("spec") or {}).get("type"),
        }
    return {"changed": False, "ok": check.ok, "conditions": check.conditions, "dpucluster": summary}


def main() -> None:
    run_module(ARGUMENT_SPEC, execute)


if __name__ == "__main__":
    main()
