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
  - kubernetes.core.k8s_auth_options
options:
  definition:
    description:
      - One object, or a list of objects, each with apiVersion, kind and metadata.name
        (and metadata.namespace for namespaced kinds).
    type: raw
    required: true
  missing_kinds:
    description:
      - What to do when the API server does not serve an object's kind (its CRD is not installed).
      - C(fail) fails the task; C(skip) skips those objects and lists them in RV(missing_kinds).
    type: str
    choices: [fail, skip]
    default: fail
  missing_namespaces:
    description:
      - What to do when an object's namespace does not exist.
      - C(fail) fails the task; C(skip) skips those objects and lists the namespaces in RV(missing_namespaces).
    type: str
    choices: [fail, skip]
    default: fail
  create_only:
    description:
      - Fields written only when an object is created, each a dotted path through mappings
        (C(spec.capabilities)). When the object exists, each keeps the value it has there, or
        stays unset when it has none, whatever the definition says.
      - For fields the API makes immutable, or that must not change on a live object, so a
        definition that gains them later does not touch objects made before.
    type: list
    elements: str
    default: []
  set_once:
    description:
      - Fields written when an object has none, each a dotted path through mappings
        (C(spec.secretEncryption)). A value already there, whoever set it, is kept as it is.
      - For settings an administrator may take over later (a rotated key, say) that the
        definition must not put back.
    type: list
    elements: str
    default: []
  admission_refusals:
    description:
      - What to do when an admission webhook refuses an object (the API server answers
        C(admission webhook "..." denied the request)).
      - C(fail) fails the task; C(report) skips that object and lists the refusals in RV(refused).
    type: str
    choices: [fail, report]
    default: fail
attributes:
  check_mode:
    support: full
    description: Writes become server-side dry runs or are skipped; the result tells what would change.
  diff_mode:
    support: full
    description: Shows each changed object before and after, as YAML; Secrets are never shown.
author:
  - dpf_hcp.provisioner contributors (@dpf-hcp)
"""

EXAMPLES = r"""
- name: Apply the HostedCluster
  dpf_hcp.provisioner.k8s_apply:
    definition: "{{ lookup('ansible.builtin.template', 'hostedcluster.yaml.j2') | ansible.builtin.from_yaml }}"

- name: Apply it, with its capabilities set only when it is created
  dpf_hcp.provisioner.k8s_apply:
    definition: "{{ lookup('ansible.builtin.template', 'hostedcluster.yaml.j2') | ansible.builtin.from_yaml }}"
    create_only:
      - spec.capabilities
"""

RETURN = r"""
missing_namespaces:
  description: Namespaces that do not exist, whose objects were skipped.
  returned: always
  type: list
  elements: str
refused:
  description: With I(admission_refusals=report), C(<kind> <namespace>/<name>) and the API server's
    message for each object an admission webhook refused.
  returned: always
  type: list
  elements: str
missing_kinds:
  description: apiVersion/kind of the objects skipped because the server does not serve their kind.
  returned: always
  type: list
  elements: str
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

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.apply import apply_all
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.args import (
    client_from_params,
    run_module,
    with_auth,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import check_owned

ARGUMENT_SPEC = with_auth(
    {
        "definition": {"type": "raw", "required": True},
        "missing_kinds": {"type": "str", "choices": ["fail", "skip"], "default": "fail"},
        "missing_namespaces": {"type": "str", "choices": ["fail", "skip"], "default": "fail"},
        "admission_refusals": {"type": "str", "choices": ["fail", "report"], "default": "fail"},
        "create_only": {"type": "list", "elements": "str", "default": []},
        "set_once": {"type": "list", "elements": "str", "default": []},
    }
)


def execute(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    definition = params["definition"]
    objects = definition if isinstance(definition, list) else [definition]
    for obj in objects:
        if not isinstance(obj, dict) or not {"apiVersion", "kind", "metadata"} <= set(obj):
            raise ValueError("definition: every object needs apiVersion, kind and metadata")
    return apply_all(
        client_from_params(params),
        objects,
        check_mode,
        missing_kinds=params["missing_kinds"],
        missing_namespaces=params["missing_namespaces"],
        admission_refusals=params["admission_refusals"],
        adopt=check_owned,  # an object labelled as a provisioner's is never taken over from another
        create_only=tuple(_path("create_only", p) for p in params["create_only"]),
        set_once=tuple(_path("set_once", p) for p in params["set_once"]),
    )


def _path(option: str, value: str) -> str:
    """A dotted path of mapping keys, or ValueError naming the option and the fix."""
    parts = value.split(".")
    if not value or any(not p for p in parts):
        raise ValueError(f"{option}: {value!r} is not a dotted path of keys (e.g. spec.capabilities)")
    return value


def main() -> None:
    run_module(ARGUMENT_SPEC, execute)


if __name__ == "__main__":
    main()
