#!/usr/bin/python
# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Write a DPFHCPProvisioner's status: conditions, mirrored HostedCluster health, Ready, phase."""

from __future__ import annotations

DOCUMENTATION = r"""
module: provisioner_status
short_description: Update a DPFHCPProvisioner's status, only when it changes
version_added: "0.1.0"
description:
  - Merges the given conditions into the provisioner's status, keeping C(lastTransitionTime)
    unless a condition's status changes, and sets C(observedGeneration).
  - When I(hosted_cluster) is given, mirrors the HostedCluster's thirteen health conditions
    under the provisioner's names (HyperShift's C(Available) becomes C(HostedClusterAvailable), ...),
    only when that HostedCluster is this provisioner's (its labels and controller ownerReference);
    another's of the same name is not mirrored.
  - Sets C(hostedClusterRef) once the HostedCluster exists.
  - Sets C(ControlPlaneRolledOut) from the HostedCluster's C(status.controlPlaneVersion) and
    C(DataPlaneRolledOut) from its C(status.version) (the hosted ClusterVersion), each True once its
    newest history entry is the desired release and Completed, and C(status.versions) with each one's
    newest version and state. C(Ready) waits for the control plane to complete the desired release.
  - Sets C(HostedClusterUpgrading) from the HostedCluster's release and version history, True from
    a release change until the newest history entry is that release and Completed (phase Upgrading).
  - Computes C(Ready) and C(phase) (Pending, Provisioning, Ready, Failed, Deleting, Upgrading).
  - Writes through the status subresource only when something differs, and records Kubernetes
    Events for what a person acts on, typed by each condition's polarity (C(HostedClusterDegraded=False)
    is good). They are a new phase (Warning when Failed or Ready is lost), Ready gained or lost while the
    phase stays, a step that starts failing (Warning, its message names the fix) and its recovery,
    and the cleanup's failure and success. The mirrored HostedCluster conditions get no Event of their own.
  - Each Event is recorded once, under a name derived from the provisioner's UID, the status write's
    resourceVersion and what it tells.
  - In check mode reports what would change and writes nothing.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
options:
  provisioner:
    description:
      - The DPFHCPProvisioner as the run was given it. C(metadata.name) and C(metadata.namespace) name
        it (its status is read fresh).
      - Its C(metadata.generation), the spec the run acted on, is written as C(observedGeneration), so
        a spec edited during the run is not claimed as observed.
    type: dict
    required: true
  conditions:
    description: Conditions to set, each with type, status, reason and message.
    type: list
    elements: dict
    default: []
  hosted_cluster:
    description: The HostedCluster to mirror (C(namespace), C(name)); omit before it exists.
    type: dict
  fields:
    description: Further status fields to set, e.g. C(hostedClusterRef), C(blueFieldContainerImage).
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    description: Writes become server-side dry runs or are skipped; the result tells what would change.
author:
  - dpf_hcp.provisioner contributors (@dpf-hcp)
"""

EXAMPLES = r"""
- name: Publish the status
  dpf_hcp.provisioner.provisioner_status:
    provisioner: "{{ dpfhcp_provisioner }}"
    conditions: "{{ dpfhcp_conditions }}"
    hosted_cluster: {namespace: clusters, name: prod}
    fields:
      hostedClusterRef: {namespace: clusters, name: prod}
"""

RETURN = r"""
phase:
  description: The phase written.
  returned: always
  type: str
ready:
  description: Whether Ready is True.
  returned: always
  type: bool
transitions:
  description: Conditions whose status or reason changed.
  returned: always
  type: list
  elements: dict
events:
  description: The Events recorded (or that would be, in check mode), each with type, reason and message.
  returned: always
  type: list
  elements: dict
status:
  description: The status as written (or as it would be, in check mode).
  returned: always
  type: dict
"""

from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s import conditions as conds
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.args import (
    client_from_params,
    run_module,
    with_auth,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import events, versions
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import status as st
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.args import (
    PROVISIONER_ARG_SPEC,
    provisioner_identity,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.conditions import READY
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.hosted_kubeconfig import owned
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import HOSTED_CLUSTER, PROVISIONER

ARGUMENT_SPEC = with_auth(
    {
        **PROVISIONER_ARG_SPEC,
        "conditions": {"type": "list", "elements": "dict", "default": []},
        "hosted_cluster": {"type": "dict"},
        "fields": {"type": "dict", "default": {}},
    }
)


def desired_status(
    current: dict[str, Any],
    updates: list[dict[str, Any]],
    hosted_cluster: dict[str, Any] | None,
    hc_known: bool,
    fields: dict[str, Any],
    generation: int | None,
) -> dict[str, Any]:
    """The status ``current`` should have, given this run's findings, which were made for the
    spec of ``generation`` (the provisioner as the run was given it). A user may have edited the
    spec since: then observedGeneration stays behind the generation, and the next run catches up,
    rather than claiming a spec nobody acted on."""
    old = current.get("status") or {}
    found = [conds.condition(u["type"], u["status"], u["reason"], u.get("message", "")) for u in updates]
    upgrading = False
    if hc_known:
        found += st.mirror_hosted_cluster(hosted_cluster)
        found += versions.conditions(hosted_cluster)
        upgrade = st.upgrade_condition(hosted_cluster)
        if upgrade is not None:
            found.append(upgrade)
            upgrading = upgrade["status"] == "True"
    merged = conds.merge(old.get("conditions"), found, generation)
    deleting = bool(current["metadata"].get("deletionTimestamp"))
    # Steps are judged against this run's spec; not while deleting (the deletion raised the generation).
    ready = st.compute_ready(merged, hosted_cluster is not None, None if deleting else generation)
    merged = conds.merge(merged, [ready], generation)
    new = {**old, **{k: v for k, v in fields.items() if v is not None}}
    if hosted_cluster is not None:
        hc_meta = hosted_cluster["metadata"]
        new["hostedClusterRef"] = {"namespace": hc_meta["namespace"], "name": hc_meta["name"]}
        new["versions"] = versions.fields(hosted_cluster)
    elif hc_known:
        new.pop("versions", None)  # the HostedCluster is gone: no rollout to show
    for k in [k for k, v in fields.items() if v is None]:
        new.pop(k, None)
    new.update(
        conditions=merged,
        observedGeneration=generation,
        phase=st.compute_phase(merged, deleting, hosted_cluster is not None, upgrading),
    )
    return new


def execute(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    namespace, name = provisioner_identity(params["provisioner"])
    client = client_from_params(params)
    for _attempt in range(5):
        current = client.get(PROVISIONER, name, namespace)
        hc_ref = params.get("hosted_cluster")
        hosted_cluster = client.get_or_none(HOSTED_CLUSTER, hc_ref["name"], hc_ref["namespace"]) if hc_ref else None
        if hosted_cluster is not None and owned(hosted_cluster, current):
            hosted_cluster = None  # someone else's of that name: its health is not ours to mirror
        old = current.get("status") or {}
        observed = (params["provisioner"].get("metadata") or {}).get("generation")
        new = desired_status(current, params["conditions"], hosted_cluster, bool(hc_ref), params["fields"], observed)
        changes = conds.transitions(old.get("conditions"), new["conditions"])
        told = events.notices(old, new)
        result = {
            "phase": new["phase"],
            "ready": conds.is_true(new["conditions"], READY),
            "transitions": changes,
            "events": [{"type": n.type, "reason": n.reason, "message": n.message} for n in told],
            "status": new,
        }
        if new == old:
            return {"changed": False, **result}
        if check_mode:
            return {"changed": True, **result}
        body = {**current, "status": new}
        try:
            written = client.replace(PROVISIONER, body, subresource="status")
        except ApiError as exc:
            if exc.conflict:
                continue
            raise
        version = (written.get("metadata") or {}).get("resourceVersion") or conds.now_rfc3339()
        events.record_notices(client, current, told, version)
        return {"changed": True, **result}
    raise ApiError(409, "Conflict", f"status of {namespace}/{name} kept changing under us; will retry")


def main() -> None:
    run_module(ARGUMENT_SPEC, execute)


if __name__ == "__main__":
    main()
