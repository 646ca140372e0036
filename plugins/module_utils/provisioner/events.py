# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""The Events a DPFHCPProvisioner's status changes deserve, so `kubectl describe` tells its story.

Events are for what a person acts on: the phase, Ready, a step that fails and its recovery, the
cleanup (and, from the CSR approver, each CSR approved or not). The HostedCluster's conditions
that the status mirrors get none of their own: the phase and Ready say what they add up to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.conditions import Condition, find
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.events import NORMAL, WARNING, record_once
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import status as st
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.conditions import (
    CLEANUP,
    CLEANUP_IN_PROGRESS,
    CONTROL_PLANE_ROLLING_OUT,
    CSR_AUTO_APPROVAL,
    HOSTED_CLUSTER_HEALTHY,
    READY,
    STEP_CONDITIONS,
    UPGRADING,
    VALIDATION_CONDITIONS,
    WAITING_REASONS,
)

# The steps whose failure (and recovery) is told: the input's checks, then what the roles do.
STEPS = (*VALIDATION_CONDITIONS, *STEP_CONDITIONS, CSR_AUTO_APPROVAL, CLEANUP)
# Reasons of a step that is on its way, not failing: CLEANUP_IN_PROGRESS is the cleanup's.
WAITING = WAITING_REASONS | {CLEANUP_IN_PROGRESS}


@dataclass(frozen=True)
class Notice:
    """An Event to record: ``key`` names what it tells, unique within one status write."""

    type: str
    reason: str
    message: str
    key: str


def _failing(c: Condition | None) -> bool:
    return bool(c) and st.health(c) == st.BAD and c["reason"] not in WAITING


def _phase_message(new: dict[str, Any], ready: Condition | None) -> str:
    phase = new.get("phase")
    if phase == st.PHASE_DELETING:
        return "The provisioner is being deleted; what it created is torn down in order (see HostedClusterCleanup)"
    if phase == st.PHASE_UPGRADING and (upgrade := find(new.get("conditions"), UPGRADING)):
        return upgrade["message"]
    return f"{ready['reason']}: {ready['message']}" if ready else ""


def notices(old: dict[str, Any] | None, new: dict[str, Any]) -> list[Notice]:
    """The Events a status change from ``old`` to ``new`` deserves, each typed by whether things are well.

    - the phase, when it changes: Warning when it becomes Failed or Ready is lost, else Normal;
    - Ready, when it turns True or stops being True while the phase stays (e.g. during an upgrade);
      Ready lost while the control plane rolls out the desired release (an upgrade) is Normal;
    - a step that starts failing (bad by its polarity, for a reason that is not "on its way"), or
      fails for a new reason: Warning naming the fix, unless the phase's Event already says it;
      and its recovery once it no longer fails: Normal;
    - the cleanup: its failure as a step's (CleanupFailed, Warning), its success (CleanupSucceeded, Normal);
    - the hosted cluster's health: Normal when it turns True (HostedClusterHealthy), Warning when it was
      True and turns False (the operators are unstable on every install until the DPUs joined: no Warning).
    """
    old = old or {}
    before = old.get("conditions") or []
    after = new.get("conditions") or []
    out = []
    ready_was, ready = find(before, READY), find(after, READY)
    ready_lost = bool(ready_was and ready_was["status"] == "True" and (not ready or ready["status"] != "True"))
    ready_gained = bool(ready and ready["status"] == "True" and ready_was and ready_was["status"] != "True")
    deleting = new.get("phase") == st.PHASE_DELETING
    # Ready lost while the control plane rolls out the release the user asked for: expected, no Warning.
    rolling = bool(ready and ready["reason"] == CONTROL_PLANE_ROLLING_OUT)
    phase_told = ""
    if new.get("phase") != old.get("phase"):
        phase_told = _phase_message(new, ready)
        bad = new.get("phase") == st.PHASE_FAILED or (ready_lost and not deleting and not rolling)
        out.append(
            Notice(
                WARNING if bad else NORMAL,
                str(new.get("phase")),
                f"Phase {old.get('phase') or 'none'} -> {new.get('phase')}: {phase_told}",
                "phase",
            )
        )
    elif ready and not deleting and (ready_lost or ready_gained):
        out.append(
            Notice(
                WARNING if ready_lost and not rolling else NORMAL,
                ready["reason"],
                f"Ready={ready['status']}: {ready['message']}",
                "ready",
            )
        )
    for type_ in STEPS:
        c, was = find(after, type_), find(before, type_)
        if c is None:
            continue
        if _failing(c) and not (_failing(was) and was["reason"] == c["reason"]):
            if phase_told.endswith(f"{type_}: {c['message']}"):
                continue  # the phase's Event names this failure and its fix
            reason = f"Cleanup{c['reason']}" if type_ == CLEANUP else c["reason"]
            out.append(Notice(WARNING, reason, f"{type_}={c['status']}: {c['message']}", type_))
        elif _failing(was) and not _failing(c):
            reason = f"Cleanup{c['reason']}" if type_ == CLEANUP else c["reason"]
            message = f"{type_} recovered from {was['reason']}: {c['message']}"
            out.append(Notice(NORMAL, reason, message, type_))
        elif type_ == CLEANUP and st.health(c) == st.GOOD and not (was and st.health(was) == st.GOOD):
            out.append(Notice(NORMAL, f"Cleanup{c['reason']}", f"{type_}: {c['message']}", type_))
    healthy, healthy_was = find(after, HOSTED_CLUSTER_HEALTHY), find(before, HOSTED_CLUSTER_HEALTHY)
    if healthy and not deleting:
        was_true = bool(healthy_was and healthy_was["status"] == "True")
        if healthy["status"] == "True" and not was_true:
            out.append(Notice(NORMAL, HOSTED_CLUSTER_HEALTHY, healthy["message"], HOSTED_CLUSTER_HEALTHY))
        elif healthy["status"] == "False" and was_true:
            message = f"{HOSTED_CLUSTER_HEALTHY}=False: {healthy['message']}"
            out.append(Notice(WARNING, healthy["reason"], message, HOSTED_CLUSTER_HEALTHY))
    return out


def record_notices(client: KubeClient, obj: dict[str, Any], told: list[Notice], written: str) -> None:
    """Record each notice of the status write ``written`` (its resourceVersion) once: an Event's name
    derives from the write and what it tells, so the same transition is never told twice."""
    for notice in told:
        record_once(client, obj, notice.type, notice.reason, notice.message, key=f"status/{written}/{notice.key}")
