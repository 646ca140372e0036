#!/usr/bin/python
# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Ask the operator to run this object's playbook again after a while."""

from __future__ import annotations

DOCUMENTATION = r"""
module: requeue_after
short_description: Ask the dpf-hcp-operator to reconcile this host's object again later
version_added: "0.1.0"
description:
  - Returns C(requeue_after); the operator reads it from the run's events and queues the
    object (the inventory host) again after that many seconds.
  - In a finalizer run it also means that the teardown is not done yet; the finalizer stays
    until a run ends without asking to be requeued.
  - Outside the operator it only reports the wish.
options:
  seconds:
    description: Seconds to wait before the next run.
    type: float
    required: true
  reason:
    description: Why, for the operator's log.
    type: str
    default: ""
attributes:
  check_mode:
    support: full
    description: Only reads, so it runs the same in check mode.
author:
  - dpf_hcp.provisioner contributors (@dpf-hcp)
"""

EXAMPLES = r"""
- name: Come back while the HostedCluster is still being deleted
  dpf_hcp.provisioner.requeue_after:
    seconds: 2
    reason: HostedCluster still exists
"""

RETURN = r"""
requeue_after:
  description: The seconds given.
  returned: always
  type: float
"""

from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.args import run_module

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "seconds": {"type": "float", "required": True},
    "reason": {"type": "str", "default": ""},
}


def execute(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    if params["seconds"] < 0:
        raise ValueError("seconds must not be negative")
    return {"changed": False, "requeue_after": params["seconds"], "reason": params["reason"]}


def main() -> None:
    run_module(ARGUMENT_SPEC, execute)


if __name__ == "__main__":
    main()
