#!/usr/bin/python
# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Write a virtual IP's MetalLB IPAddressPool and L2Advertisement unless another pool holds it."""

from __future__ import annotations

DOCUMENTATION = r"""
module: metallb_pool
short_description: Apply a virtual IP's MetalLB pool and advertisement unless another MetalLB pool holds the address
version_added: "0.1.0"
description:
  - Applies I(definition), an IPAddressPool with one address (C(<ip>/32) or C(<ip>/128)) and
    the L2Advertisement for it, as M(dpf_hcp.provisioner.k8s_apply) does.
  - Before a new or changed pool is written, reads MetalLB's other pools in its namespace. MetalLB
    refuses a pool whose addresses overlap another's, and a configuration holding one stops
    MetalLB for every pool; so when another pool holds the address (a CIDR or a C(first-last)
    range; an IPv4-mapped IPv6 spelling counts as its IPv4 address) nothing is written and
    RV(overlapping) names those pools.
  - Checked on every run, also for a pool that exists. MetalLB's webhook checks and writes in two
    steps, so two pools created at once can both pass it, and then every run says so.
  - Kinds MetalLB has not installed, a namespace that does not exist, and refusals of MetalLB's
    admission webhook are reported in RV(missing_kinds), RV(missing_namespaces) and RV(refused),
    not as a failure.
  - Runs in the Ansible controller through the action plugin of the same name.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
options:
  definition:
    description:
      - The IPAddressPool (exactly one address in C(spec.addresses)) and the L2Advertisement.
    type: list
    elements: dict
    required: true
attributes:
  check_mode:
    support: full
    description: Reads as usual; writes become server-side dry runs.
  diff_mode:
    support: full
    description: Shows each changed object before and after, as YAML.
author:
  - dpf_hcp.provisioner contributors (@dpf-hcp)
"""

EXAMPLES = r"""
- name: Announce the control plane's virtual IP
  dpf_hcp.provisioner.metallb_pool:
    definition: "{{ lookup('ansible.builtin.template', 'metallb.yaml.j2') | ansible.builtin.from_yaml_all | list }}"
  register: pool
"""

RETURN = r"""
overlapping:
  description: The other pools holding the address, each as C("<pool>" (<address entry>)); nothing was written.
  returned: always
  type: list
  elements: str
results:
  description: What was done to each object, as M(dpf_hcp.provisioner.k8s_apply) returns it.
  returned: always
  type: list
  elements: dict
missing_kinds:
  description: apiVersion/kind of the objects skipped because MetalLB's CRDs are not installed.
  returned: always
  type: list
  elements: str
missing_namespaces:
  description: Namespaces that do not exist, whose objects were skipped.
  returned: always
  type: list
  elements: str
refused:
  description: C(<kind> <namespace>/<name>) and the API server's message for each object MetalLB's webhook refused.
  returned: always
  type: list
  elements: str
"""

from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.apply import apply_all
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.args import (
    client_from_params,
    run_module,
    with_auth,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import metallb
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import IP_ADDRESS_POOL, check_owned

ARGUMENT_SPEC = with_auth({"definition": {"type": "list", "elements": "dict", "required": True}})


def execute(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    objects = params["definition"]
    pools = [o for o in objects if o.get("kind") == "IPAddressPool"]
    if len(pools) != 1 or not all({"apiVersion", "kind", "metadata"} <= set(o) for o in objects):
        raise ValueError(
            "definition: one IPAddressPool (and its L2Advertisement), each with apiVersion, kind, metadata"
        )
    pool = pools[0]
    addresses = (pool.get("spec") or {}).get("addresses") or []
    if len(addresses) != 1 or "/" not in str(addresses[0]):
        raise ValueError(f"definition: the IPAddressPool needs exactly one address <ip>/<bits>, not {addresses!r}")
    name, namespace = pool["metadata"]["name"], pool["metadata"].get("namespace", "")
    client = client_from_params(params)
    try:
        others = client.list(IP_ADDRESS_POOL, namespace).get("items") or []
    except ApiError as exc:
        if not exc.not_found:
            raise
        others = []  # MetalLB is not installed: the apply says so
    overlapping = metallb.conflicts(others, str(addresses[0]).split("/", maxsplit=1)[0], name)
    out = apply_all(  # nothing to write while another pool holds the address
        client,
        [] if overlapping else objects,
        check_mode,
        missing_kinds="skip",
        missing_namespaces="skip",
        admission_refusals="report",
        adopt=check_owned,
    )
    return {**out, "overlapping": overlapping}


def main() -> None:
    run_module(ARGUMENT_SPEC, execute)


if __name__ == "__main__":
    main()
