#!/usr/bin/python
# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Make Kubernetes objects look as given: create them, or server-side apply what differs."""

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_apply
short_description: Create or update Kubernetes objects, writing only what differs
version_added: "0.1.0"
description:
  - Creates each object that does not exist and server-side applies (field manager
    C(dpf-hcp-provisioner)) each one whose fields differ from the definition.
  - An object whose fields already match is not written, so a second run reports no change.
  - Objects larger than the client-side apply annotation allows, such as HostedCluster, are fine.
  - In check mode the same writes are sent as a server-side dry run, so the API server
    validates them and nothing is stored.
  - Runs in the Ansible controller through the action plugin of the same name.
extends_documentation_fragment:
  - dpf_hcp.provisioner.k8s_auth
options:
  definition:
    description:
      - One object, or a list of objects, each with apiVersion, kind and metadata.name
        (and metadata.namespace for namespaced kinds).
    type: raw
    required: true
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author:
  - dpf_hcp.provisioner contributors
"""

EXAMPLES = r"""
- name: Apply the HostedCluster
  dpf_hcp.provisioner.k8s_apply:
    definition: "{{ lookup('ansible.builtin.template', 'hostedcluster.yaml.j2') | ansible.builtin.from_yaml }}"
"""

RETURN = r"""
results:
  description: One entry per object, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    action:
      description: created, updated or unchanged.
      type: str
    kind:
      description: The object's kind.
      type: str
    name:
      description: The object's name.
      type: str
    namespace:
      description: The object's namespace, empty for cluster-scoped kinds.
      type: str
    uid:
      description: The object's uid (empty in check mode for a new object).
      type: str
"""

from typing import Any

import yaml

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.apply import (
    apply,
    strip_server_fields,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.module_args import (
    client_from_params,
    run_module,
    with_auth,
)

ARGUMENT_SPEC = with_auth({"definition": {"type": "raw", "required": True}})


def execute(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    definition = params["definition"]
    objects = definition if isinstance(definition, list) else [definition]
    for obj in objects:
        if not isinstance(obj, dict) or not {"apiVersion", "kind", "metadata"} <= set(obj):
            raise ValueError("definition: every object needs apiVersion, kind and metadata")
    client = client_from_params(params)
    results, diffs, changed = [], [], False
    for obj in objects:
        res = apply(client, obj, check_mode=check_mode)
        changed = changed or res.changed
        meta = res.object.get("metadata") or {}
        results.append(
            {
                "action": res.action,
                "kind": obj["kind"],
                "name": meta.get("name", ""),
                "namespace": meta.get("namespace", ""),
                "uid": meta.get("uid", ""),
            }
        )
        if res.changed and obj["kind"] != "Secret":
            header = f"{obj['kind']} {meta.get('namespace', '')}/{meta.get('name', '')}".replace(" /", " ")
            diffs.append(
                {
                    "before_header": header,
                    "after_header": header,
                    "before": _yaml(strip_server_fields(res.before)),
                    "after": _yaml(strip_server_fields(res.object)),
                }
            )
    return {"changed": changed, "results": results, "diff": diffs}


def _yaml(obj: dict[str, Any] | None) -> str:
    return "" if obj is None else yaml.safe_dump(obj, sort_keys=False)


def main() -> None:
    run_module(ARGUMENT_SPEC, execute)


if __name__ == "__main__":
    main()
