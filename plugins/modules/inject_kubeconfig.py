#!/usr/bin/python
# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Give the hosted cluster's kubeconfig to DPF."""

from __future__ import annotations

DOCUMENTATION = r"""
module: inject_kubeconfig
short_description: Hand a hosted cluster's kubeconfig to its DPUCluster
version_added: "0.1.0"
description:
  - Once the HostedCluster this provisioner owns publishes C(status.kubeconfig), copies that secret's
    C(kubeconfig) key into the secret C(<dpucluster>-admin-kubeconfig) in the DPUCluster's namespace
    under I(key), and sets C(DPUCluster.spec.kubeconfig) to it.
  - Only a kubeconfig with inline credentials for the server the HostedCluster publishes in
    C(status.controlPlaneEndpoint), its CA inline, is handed on; file paths, credential plugins and
    C(insecure-skip-tls-verify) are refused (C(KubeconfigRefused)), naming the field.
  - Keeps the copy in step when the source changes (drift is repaired on the next run).
  - DPF lets C(spec.kubeconfig) be set once; if it already names another secret, reports a
    C(KubeconfigConflict) and changes nothing.
  - Returns the C(KubeConfigInjected) condition; waiting is a condition, not a failure.
    The kubeconfig itself is never returned.
  - In check mode the writes are server-side dry runs.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - dpf_hcp.provisioner.provisioner
options:
  key:
    description: Key of the kubeconfig in the injected secret. DPF up to v25.4 reads C(admin.conf).
    type: str
    default: super-admin.conf
attributes:
  check_mode:
    support: full
    description: Writes become server-side dry runs or are skipped; the result tells what would change.
author:
  - dpf_hcp.provisioner contributors (@dpf-hcp)
"""

EXAMPLES = r"""
- name: Give the hosted cluster's kubeconfig to the DPUCluster
  dpf_hcp.provisioner.inject_kubeconfig:
    provisioner: "{{ dpfhcp_provisioner }}"
  no_log: true
  register: injection
"""

RETURN = r"""
conditions:
  description: The KubeConfigInjected condition.
  returned: always
  type: list
  elements: dict
secret_ref:
  description: Namespace and name of the injected secret, once injected.
  returned: always
  type: dict
actions:
  description: What was written (secret created or updated, DPUCluster spec.kubeconfig set).
  returned: always
  type: list
  elements: str
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
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kubeconfig_injection import inject

ARGUMENT_SPEC = with_auth(
    {**PROVISIONER_ARG_SPEC, "key": {"type": "str", "default": "super-admin.conf", "no_log": False}}
)


def execute(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    provisioner_identity(params["provisioner"])
    result = inject(client_from_params(params), params["provisioner"], params["key"], check_mode)
    return {
        "changed": result.changed,
        "conditions": [result.condition],
        "secret_ref": result.secret_ref or {},
        "actions": result.actions,
    }


def main() -> None:
    run_module(ARGUMENT_SPEC, execute)


if __name__ == "__main__":
    main()
