# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""A DPFHCPProvisioner's status: HostedCluster conditions mirrored, Ready and phase computed."""

from __future__ import annotations

from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s import query
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.conditions import Condition, condition, find
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.conditions import (
    BLUEFIELD_IMAGE_RESOLVED,
    CLUSTER_TYPE_VALID,
    CONTROL_PLANE_ROLLED_OUT,
    CONTROL_PLANE_ROLLING_OUT,
    DPUCLUSTER_IN_USE,
    DPUCLUSTER_MISSING,
    ETCD_RECOVERY_ACTIVE,
    HOSTED_CLUSTER_AVAILABLE,
    HOSTED_CLUSTER_DEGRADED,
    HOSTED_CLUSTER_PROGRESSING,
    INITIAL_INSTALL,
    READY,
    SECRETS_VALID,
    SPEC_VALID,
    STEP_CONDITIONS,
    STEP_NOT_REPORTED,
    UPGRADE_ALLOWED,
    UPGRADING,
    WAITING_REASONS,
)

# HyperShift's condition type -> ours. Only the first three are renamed.
MIRRORED: dict[str, str] = {
    "Available": HOSTED_CLUSTER_AVAILABLE,
    "Progressing": HOSTED_CLUSTER_PROGRESSING,
    "Degraded": HOSTED_CLUSTER_DEGRADED,
    "InfrastructureReady": "InfrastructureReady",
    "KubeAPIServerAvailable": "KubeAPIServerAvailable",
    "EtcdAvailable": "EtcdAvailable",
    "ValidReleaseInfo": "ValidReleaseInfo",
    "ValidReleaseImage": "ValidReleaseImage",
    "IgnitionEndpointAvailable": "IgnitionEndpointAvailable",
    "IgnitionServerValidReleaseInfo": "IgnitionServerValidReleaseInfo",
    ETCD_RECOVERY_ACTIVE: ETCD_RECOVERY_ACTIVE,
    "HostedClusterRestoredFromBackup": "HostedClusterRestoredFromBackup",
    "DataPlaneConnectionAvailable": "DataPlaneConnectionAvailable",
}
# HyperShift's conditions it sets only when there is something to say: absent, ours says what that means.
# EtcdRecoveryActive appears once an etcd recovery job ran (openshift/hypershift
# hypershift-operator/controllers/hostedcluster/etcd_recovery.go, setEtcdRecoveryCondition).
# IgnitionServerValidReleaseInfo is set on the HostedControlPlane by the ignition server and is not
# among the conditions HyperShift copies to the HostedCluster (ignition-server/controllers/
# local_ignitionprovider.go; hostedcluster_controller.go, "Copy conditions from hostedcontrolplane").
ABSENT_MEANS: dict[str, tuple[str, str, str]] = {
    ETCD_RECOVERY_ACTIVE: (
        "False",
        "NoRecoveryRun",
        "HyperShift has run no etcd recovery (it reports EtcdRecoveryActive once one runs)",
    ),
    "IgnitionServerValidReleaseInfo": (
        "Unknown",
        "OnlyOnHostedControlPlane",
        "HyperShift reports IgnitionServerValidReleaseInfo on the HostedControlPlane, not on the HostedCluster;"
        " IgnitionEndpointAvailable and IgnitionConfigured tell whether ignition is served",
    ),
}
RESTORED_FROM_BACKUP = "HostedClusterRestoredFromBackup"
# A condition's polarity: most are good when True; these are good when False (True means
# something is wrong, or under way rather than done).
GOOD_WHEN_FALSE = frozenset(
    {
        DPUCLUSTER_MISSING,
        DPUCLUSTER_IN_USE,
        HOSTED_CLUSTER_DEGRADED,
        HOSTED_CLUSTER_PROGRESSING,
        UPGRADING,
        ETCD_RECOVERY_ACTIVE,
    }
)
# HyperShift reports HostedClusterRestoredFromBackup Unknown unless a restore ran, and False
# while a recovery is in progress (openshift/hypershift, "Copy conditions from hostedcontrolplane").
GOOD_WHEN_UNKNOWN = frozenset({RESTORED_FROM_BACKUP})
GOOD, BAD, UNKNOWN = "good", "bad", "unknown"
# The input's checks: when one has reported, it must have this status for Ready.
VALIDATION_PASS = {
    SPEC_VALID: "True",
    SECRETS_VALID: "True",
    BLUEFIELD_IMAGE_RESOLVED: "True",
    DPUCLUSTER_MISSING: "False",
    CLUSTER_TYPE_VALID: "True",
    DPUCLUSTER_IN_USE: "False",
    UPGRADE_ALLOWED: "True",
}

SHOWN = 100  # characters of a version, image or ConfigMap key from the API put in a message or field

PHASE_PENDING = "Pending"
PHASE_PROVISIONING = "Provisioning"
PHASE_READY = "Ready"
PHASE_FAILED = "Failed"
PHASE_DELETING = "Deleting"
PHASE_UPGRADING = "Upgrading"


def mirror_hosted_cluster(hosted_cluster: dict[str, Any] | None) -> list[Condition]:
    """Our copies of the HostedCluster's conditions; Unknown for those it does not report yet."""
    reported = {}
    for c in query.items(hosted_cluster, "status.conditions"):
        if isinstance(c, dict) and c.get("type") in MIRRORED:
            reported[c["type"]] = c
    out = []
    for theirs, ours in MIRRORED.items():
        c = reported.get(theirs)
        status = c.get("status") if c else None
        if c is None and hosted_cluster and theirs in ABSENT_MEANS:
            out.append(condition(ours, *ABSENT_MEANS[theirs]))
            continue
        if status not in ("True", "False", "Unknown"):
            out.append(
                condition(
                    ours,
                    None,
                    "NotReported",
                    f"HostedCluster has not reported {theirs} yet"
                    if hosted_cluster
                    else "The HostedCluster does not exist yet",
                )
            )
            continue
        reason = str(c.get("reason") or "AsExpected")
        reason = reason if reason.isidentifier() else "Reported"
        out.append(condition(ours, status, reason, str(c.get("message") or "")[:2000]))
    return out


def upgrade_condition(hosted_cluster: dict[str, Any] | None) -> Condition | None:
    """HostedClusterUpgrading from the HostedCluster's own word, never by comparing images: HyperShift
    records the release by digest once the hosted CVO reports, while the spec names a tag.

    No Completed history entry: the first install, not an upgrade. Then an upgrade is under way
    while HyperShift says Progressing (spec.release.image is not yet the desired release:
    hostedcluster_controller.go, isProgressing) or the newest history entry is Partial (the CVO
    rolls it out: hcpstatus.go, from the hosted ClusterVersion).
    """
    if hosted_cluster is None:
        return None
    status = hosted_cluster.get("status") or {}
    history = query.items(status, "version.history")
    completed = [h for h in history if h.get("state") == "Completed"]
    if not completed:
        return condition(UPGRADING, False, INITIAL_INSTALL, "The hosted cluster has not completed an install yet")
    progressing = find(status.get("conditions"), "Progressing")
    top = history[0]
    if top.get("state") == "Completed" and not (progressing and progressing.get("status") == "True"):
        return condition(UPGRADING, False, "AtDesiredVersion", f"The hosted cluster runs {_release_named(top)}")
    desired = query.text(hosted_cluster, "spec.release.image")
    target = desired if top.get("state") == "Completed" else (str(top.get("version") or "") or desired)
    return condition(
        UPGRADING,
        True,
        "UpgradeInProgress",
        f"Upgrading from {_release_named(completed[0])} to {target[:SHOWN]}",
    )


def _release_named(entry: dict[str, Any]) -> str:
    """A history entry's version, else its image, cut to SHOWN (HyperShift's CRD bounds neither)."""
    return str(entry.get("version") or entry.get("image") or "")[:SHOWN]


# Reasons that are bad whatever the status: a recovery job that failed "requires manual
# intervention" (openshift/hypershift hypershift-operator/controllers/hostedcluster/etcd_recovery.go,
# setEtcdRecoveryCondition: False, EtcdRecoveryJobFailed).
BAD_REASONS = frozenset({"EtcdRecoveryJobFailed"})


def health(c: Condition) -> str:
    """Whether ``c`` says things are well (GOOD), not (BAD), or nothing yet (UNKNOWN), by its polarity."""
    status = c.get("status")
    if c.get("reason") in BAD_REASONS:
        return BAD
    if c.get("type") in GOOD_WHEN_UNKNOWN:
        return BAD if status == "False" else GOOD
    if status not in ("True", "False"):
        return UNKNOWN
    good = "False" if c.get("type") in GOOD_WHEN_FALSE else "True"
    return GOOD if status == good else BAD


def validation_failures(conditions: list[Condition]) -> list[Condition]:
    return [c for c in conditions if c["type"] in VALIDATION_PASS and c["status"] != VALIDATION_PASS[c["type"]]]


def compute_ready(conditions: list[Condition], hosted_cluster_exists: bool, generation: int | None = None) -> Condition:
    """Ready is True when the input is valid, the HostedCluster is Available and not Degraded, its
    control plane completed the desired release (when HyperShift reports controlPlaneVersion), and
    every step reported a condition for the spec of ``generation`` and succeeded. Every run that
    passes validation reports each step; one missing, or left from an earlier spec, is a run that
    stopped before it or in it (a write refused after the HostedCluster was made, say: the NodePool's
    MachineConfig ConfigMap, the NodePool itself). ``generation`` None: any generation counts (a
    provisioner being deleted, whose generation the deletion raised).

    When it is not, the reason is the most useful one: bad input, then a broken hosted cluster,
    a step that failed or that no run completed (something to act on), then what is still on its way.
    """
    failed = validation_failures(conditions)
    if failed:
        first = failed[0]
        return condition(READY, False, "ValidationFailed", f"{first['type']}: {first['message']}")
    if not hosted_cluster_exists:
        return condition(READY, False, "HostedClusterNotCreated", "The HostedCluster is being created")
    if _degraded_and_down(conditions):
        degraded = find(conditions, HOSTED_CLUSTER_DEGRADED) or {}
        return condition(READY, False, HOSTED_CLUSTER_DEGRADED, f"HostedCluster is degraded: {degraded.get('message')}")
    steps = [c for step in STEP_CONDITIONS if (c := find(conditions, step)) and c["status"] != "True"]
    broken = [c for c in steps if c["reason"] not in WAITING_REASONS]
    if broken:
        return condition(READY, False, broken[0]["reason"], f"{broken[0]['type']}: {broken[0]['message']}")
    missing = [step for step in STEP_CONDITIONS if not _reported(find(conditions, step), generation)]
    if missing:
        return condition(
            READY,
            False,
            STEP_NOT_REPORTED,
            f"{missing[0]}: no run has completed this step for the current spec (a run that fails is told"
            " in a ReconcileFailed Event)",
        )
    available = find(conditions, HOSTED_CLUSTER_AVAILABLE)
    if not available or available["status"] != "True":
        return condition(
            READY,
            False,
            "HostedClusterNotAvailable",
            "Waiting for the HostedCluster's control plane to become available",
        )
    rollout = find(conditions, CONTROL_PLANE_ROLLED_OUT)
    if rollout and rollout["status"] == "False":  # Unknown: a HyperShift that reports no controlPlaneVersion
        return condition(READY, False, CONTROL_PLANE_ROLLING_OUT, f"{CONTROL_PLANE_ROLLED_OUT}: {rollout['message']}")
    if steps:
        return condition(READY, False, steps[0]["reason"], f"{steps[0]['type']}: {steps[0]['message']}")
    degraded = find(conditions, HOSTED_CLUSTER_DEGRADED)
    if degraded and degraded["status"] == "True":  # replicas rolling while the control plane serves
        return condition(
            READY,
            True,
            "Ready",
            f"The hosted cluster is available and every step succeeded; HyperShift reports: {degraded['message']}",
        )
    return condition(READY, True, "Ready", "The hosted cluster is available and every step succeeded")


def _reported(step: Condition | None, generation: int | None) -> bool:
    """Whether a step's condition was reported for the spec of ``generation`` (any, when None)."""
    if step is None:
        return False
    seen = step.get("observedGeneration")
    return generation is None or not isinstance(seen, int) or seen >= generation


def _degraded_and_down(conditions: list[Condition]) -> bool:
    """Degraded and not Available. HyperShift copies Degraded from the hosted control plane, True
    while any of its deployments has unavailable replicas, rolling updates included, and keeps
    Available True once the control plane served (openshift/hypershift
    control-plane-operator/controllers/hostedcontrolplane/hostedcontrolplane_controller.go,
    reconcileDegradedStatus, reconcileAvailabilityAndReadyStatus): Degraded alone is no failure."""
    degraded = find(conditions, HOSTED_CLUSTER_DEGRADED)
    available = find(conditions, HOSTED_CLUSTER_AVAILABLE)
    return bool(degraded and degraded["status"] == "True" and not (available and available["status"] == "True"))


def compute_phase(
    conditions: list[Condition], deleting: bool, hosted_cluster_exists: bool, upgrading: bool = False
) -> str:
    if deleting:
        return PHASE_DELETING
    if validation_failures(conditions):
        return PHASE_FAILED
    ready = find(conditions, READY)
    if ready and ready["status"] == "True":
        return PHASE_UPGRADING if upgrading else PHASE_READY
    installing = find(conditions, UPGRADING)
    if _degraded_and_down(conditions) and not (installing and installing["reason"] == INITIAL_INSTALL):
        return PHASE_FAILED  # during the first install, deployments come up unavailable: Provisioning
    if upgrading:
        return PHASE_UPGRADING
    return PHASE_PROVISIONING if hosted_cluster_exists else PHASE_PENDING
