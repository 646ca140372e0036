#!/usr/bin/python
# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Check a DPFHCPProvisioner's pull secret and SSH key secret."""

from __future__ import annotations

DOCUMENTATION = r"""
module: validate_secrets
short_description: Check that a DPFHCPProvisioner's pull secret and SSH key secret are usable
version_added: "0.1.0"
description:
  - Reads the secrets named by C(spec.pullSecretRef) and C(spec.sshKeySecretRef) in the
    provisioner's namespace and checks that they carry non-empty C(.dockerconfigjson) and
    C(id_rsa.pub) keys.
  - Returns the C(SecretsValid) condition; a failed check is data, not a task failure.
  - Never returns secret content. Reads only, so check mode behaves the same.
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
- name: Check the pull secret and SSH key secret
  dpf_hcp.provisioner.validate_secrets:
    provisioner: "{{ dpfhcp_provisioner }}"
  register: secrets_check
"""

RETURN = r"""
ok:
  description: Whether both secrets are usable.
  returned: always
  type: bool
conditions:
  description: The SecretsValid condition (type, status, reason, message).
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
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.args import (
    PROVISIONER_ARG_SPEC,
    provisioner_identity,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.validation import check_secrets

ARGUMENT_SPEC = with_auth(PROVISIONER_ARG_SPEC)


def execute(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    provisioner = params["provisioner"]
    namespace = provisioner_identity(provisioner)[0]
    spec = provisioner.get("spec") or {}
    pull_name = (spec.get("pullSecretRef") or {}).get("name") or ""
    ssh_name = (spec.get("sshKeySecretRef") or {}).get("name") or ""
    client = client_from_params(params)
    pull = client.get_or_none(SECRET, pull_name, namespace) if pull_name else None
    ssh = client.get_or_none(SECRET, ssh_name, namespace) if ssh_name else None
    check = check_secrets(namespace, pull_name, pull, ssh_name, ssh)
    return {"changed": False, "ok": check.ok, "conditions": check.conditions}


def main() -> None:
    run_module(ARGUMENT_SPEC, execute)


if __name__ == "__main__":
    main()
