#!/usr/bin/python
# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Copy keys of a Kubernetes secret into another secret without passing them through Ansible."""

from __future__ import annotations

DOCUMENTATION = r"""
module: copy_secret
short_description: Copy keys of one secret into another, the data never leaving the module
version_added: "0.1.0"
description:
  - Reads the source secret and creates or updates the destination with the chosen keys,
    labels and owner. The content is never returned, logged or shown in a diff.
  - The destination is written only when its data, type, labels or owner differ.
  - In check mode the write is a server-side dry run.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
options:
  source:
    description: The secret to copy from (C(namespace), C(name)).
    type: dict
    required: true
  dest:
    description: The secret to write (C(namespace), C(name)).
    type: dict
    required: true
  keys:
    description:
      - Keys to copy. A dict maps a source key to a destination key; a list keeps the names.
    type: raw
    required: true
  type:
    description: The destination secret's type.
    type: str
    default: Opaque
  labels:
    description: Labels on the destination secret.
    type: dict
    default: {}
  owner:
    description: An ownerReference for the destination (same namespace only).
    type: dict
attributes:
  check_mode:
    support: full
    description: Writes become server-side dry runs or are skipped; the result tells what would change.
author:
  - dpf_hcp.provisioner contributors (@dpf-hcp)
"""

EXAMPLES = r"""
- name: Copy the pull secret next to the HostedCluster
  dpf_hcp.provisioner.copy_secret:
    source: {namespace: clusters, name: my-pull-secret}
    dest: {namespace: clusters, name: prod-pull-secret}
    keys: [.dockerconfigjson]
    type: kubernetes.io/dockerconfigjson
  no_log: true
"""

RETURN = r"""
action:
  description: created, updated or unchanged.
  returned: always
  type: str
missing_keys:
  description: Keys the source lacks; nothing is written when any is missing.
  returned: always
  type: list
  elements: str
"""

from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.apply import apply
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.args import (
    client_from_params,
    run_module,
    with_auth,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import check_owned

ARGUMENT_SPEC = with_auth(
    {
        "source": {"type": "dict", "required": True},
        "dest": {"type": "dict", "required": True},
        "keys": {"type": "raw", "required": True, "no_log": False},
        "type": {"type": "str", "default": "Opaque"},
        "labels": {"type": "dict", "default": {}},
        "owner": {"type": "dict"},
    }
)


def execute(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    keys = params["keys"]
    mapping = dict(keys) if isinstance(keys, dict) else {k: k for k in keys}
    src, dst = params["source"], params["dest"]
    client = client_from_params(params)
    source = client.get(SECRET, src["name"], src["namespace"])
    data = source.get("data") or {}
    missing = sorted(k for k in mapping if k not in data)
    if missing:
        return {
            "changed": False,
            "action": "unchanged",
            "missing_keys": missing,
            "failed": True,
            "msg": f"secret {src['namespace']}/{src['name']} has no key(s) {missing}",
        }
    meta: dict[str, Any] = {"name": dst["name"], "namespace": dst["namespace"], "labels": params["labels"]}
    if params.get("owner"):
        meta["ownerReferences"] = [params["owner"]]
    desired = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "type": params["type"],
        "data": {dk: data[sk] for sk, dk in mapping.items()},
    }
    res = apply(client, desired, check_mode=check_mode, adopt=check_owned)
    return {"changed": res.changed, "action": res.action, "missing_keys": []}


def main() -> None:
    run_module(ARGUMENT_SPEC, execute)


if __name__ == "__main__":
    main()
