#!/usr/bin/python
# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Read Kubernetes objects by name or label selector."""

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_info
short_description: Read one object by name, or the objects of a kind matching a label selector
version_added: "0.1.0"
description:
  - Returns the named object, or every object of the kind matching I(label_selector) (all of
    them when neither is given), in I(namespace) or across namespaces.
  - A missing object, or a kind whose API is not installed, gives an empty list, so the module
    can be polled with C(until) while something is being created or deleted.
  - Secrets are returned without C(data) and C(stringData), so their content never reaches a result.
  - Runs in the Ansible controller through the action plugin of the same name.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - dpf_hcp.provisioner.k8s_selection
attributes:
  check_mode:
    support: full
    description: Only reads, so it runs the same in check mode.
author:
  - dpf_hcp.provisioner contributors (@dpf-hcp)
"""

EXAMPLES = r"""
- name: Wait until the HostedCluster is Available
  dpf_hcp.provisioner.k8s_info:
    api_version: hypershift.openshift.io/v1beta1
    kind: HostedCluster
    namespace: clusters
    name: prod
  register: hc
  until: >-
    hc.resources | map(attribute='status.conditions') | flatten
    | selectattr('type', '==', 'Available') | selectattr('status', '==', 'True') | list | length > 0
  retries: 60
  delay: 5
"""

RETURN = r"""
resources:
  description: The objects found (Secrets without their data).
  returned: always
  type: list
  elements: dict
api_found:
  description: False when the server does not serve the kind (its CRD is not installed).
  returned: always
  type: bool
"""

from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.args import (
    SELECTION_ARG_SPEC,
    client_from_params,
    run_module,
    selected_objects,
    with_auth,
)

ARGUMENT_SPEC = with_auth(SELECTION_ARG_SPEC)


def _without_content(obj: dict[str, Any]) -> dict[str, Any]:
    if obj.get("kind") != "Secret":
        return obj
    return {k: v for k, v in obj.items() if k not in ("data", "stringData")}


def execute(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    selected = selected_objects(client_from_params(params), params)
    if selected is None:
        return {"changed": False, "resources": [], "api_found": False}
    return {"changed": False, "resources": [_without_content(o) for o in selected[1]], "api_found": True}


def main() -> None:
    run_module(ARGUMENT_SPEC, execute)


if __name__ == "__main__":
    main()
