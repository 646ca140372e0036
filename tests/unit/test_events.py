"""Which status changes make which Events, of which type: the pure logic behind `kubectl describe`."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.conditions import condition, merge
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.events import NORMAL, WARNING
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import events
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.events import notices
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.status import (
    BAD,
    GOOD,
    MIRRORED,
    UNKNOWN,
    health,
)
from ansible_collections.dpf_hcp.provisioner.plugins.modules.provisioner_status import desired_status

VALID = [
    condition("SpecValid", True, "SpecValid", ""),
    condition("SecretsValid", True, "SecretsValid", "pull secret and SSH key secret are valid"),
    condition("BlueFieldImageResolved", True, "Resolved", ""),
    condition("DPUClusterMissing", False, "DPUClusterFound", ""),
    condition("ClusterTypeValid", True, "Static", ""),
    condition("DPUClusterInUse", False, "NotInUse", ""),
]
PULL_SECRET_MISSING = condition(
    "SecretsValid",
    False,
    "PullSecretNotFound",
    "spec.pullSecretRef.name: pull secret t/pull-secret not found; "
    "create it: kubectl create secret generic pull-secret",
)


def status(phase: str | None, *conds: dict[str, Any]) -> dict[str, Any]:
    return {"phase": phase, "conditions": merge([], list(conds), 1, now="2026-01-01T00:00:00Z")}


def told(old: dict[str, Any] | None, new: dict[str, Any]) -> list[tuple[str, str]]:
    return [(n.type, n.reason) for n in notices(old, new)]


@pytest.mark.parametrize(
    ("type_", "good_status"),
    [
        ("HostedClusterDegraded", "False"),
        ("HostedClusterProgressing", "False"),
        ("HostedClusterUpgrading", "False"),
        ("EtcdRecoveryActive", "False"),
        ("DPUClusterMissing", "False"),
        ("DPUClusterInUse", "False"),
        ("HostedClusterAvailable", "True"),
        ("EtcdAvailable", "True"),
        ("SecretsValid", "True"),
        ("KubeConfigInjected", "True"),
        ("HostedClusterCleanup", "True"),
        ("Ready", "True"),
    ],
)
def test_a_condition_is_good_or_bad_by_its_polarity(type_, good_status):
    bad_status = "True" if good_status == "False" else "False"
    assert health(condition(type_, good_status, "R", "")) == GOOD
    assert health(condition(type_, bad_status, "R", "")) == BAD
    assert health(condition(type_, None, "R", "")) == UNKNOWN


def test_restored_from_backup_is_good_when_unknown_and_bad_while_a_recovery_runs():
    assert health(condition("HostedClusterRestoredFromBackup", None, "StatusUnknown", "")) == GOOD
    assert health(condition("HostedClusterRestoredFromBackup", True, "Restored", "")) == GOOD
    assert health(condition("HostedClusterRestoredFromBackup", False, "RecoveryInProgress", "")) == BAD


def test_every_mirrored_condition_has_a_polarity_that_says_its_usual_value_is_good():
    usual = {ours: "True" for ours in MIRRORED.values()}
    usual |= {"HostedClusterDegraded": "False", "HostedClusterProgressing": "False", "EtcdRecoveryActive": "False"}
    usual["HostedClusterRestoredFromBackup"] = "Unknown"
    for type_, value in usual.items():
        assert health(condition(type_, value, "AsExpected", "")) == GOOD, type_


def test_a_new_phase_is_one_event_and_mirrored_conditions_make_none():
    provisioning = status(
        "Provisioning",
        *VALID,
        condition("Ready", False, "HostedClusterNotAvailable", "Waiting for the control plane"),
        condition("HostedClusterAvailable", False, "WaitingForAvailable", ""),
        condition("HostedClusterDegraded", True, "Installing", ""),  # bad by polarity, but mirrored
        condition("EtcdAvailable", False, "EtcdWaitingForQuorum", ""),
        condition("KubeConfigInjected", False, "WaitingForKubeconfig", "not yet"),
    )
    assert told(None, provisioning) == [(NORMAL, "Provisioning")]
    (notice,) = notices(None, provisioning)
    assert notice.message == "Phase none -> Provisioning: HostedClusterNotAvailable: Waiting for the control plane"


def test_a_clean_provisioning_tells_its_phases_and_nothing_else():
    """desired_status through a clean install, as HyperShift reports it: at most 8 Events, none Warning."""
    provisioner = {"metadata": {"name": "hcp", "namespace": "t", "generation": 1}}
    hc = {"metadata": {"name": "hcp", "namespace": "t"}, "spec": {"release": {"image": "r:4.19"}}, "status": {}}
    waiting = [
        condition("MetalLBConfigured", True, "Configured", ""),
        condition("IgnitionConfigured", False, "WaitingForIgnitionEndpoint", "not yet"),
        condition("KubeConfigInjected", False, "WaitingForKubeconfig", "not yet"),
        condition("CSRAutoApprovalActive", False, "WaitingForKubeconfig", "not yet"),
    ]
    done = [
        condition("MetalLBConfigured", True, "Configured", ""),
        condition("IgnitionConfigured", True, "MachineConfigApplied", ""),
        condition("KubeConfigInjected", True, "Injected", ""),
        condition("CSRAutoApprovalActive", True, "Active", ""),
    ]

    def reported(available: str, progressing: str, history: list[dict[str, str]]) -> dict[str, Any]:
        conds = [
            {"type": "Available", "status": available, "reason": "AsExpected", "message": ""},
            {"type": "Progressing", "status": progressing, "reason": "AsExpected", "message": ""},
            {"type": "Degraded", "status": "False", "reason": "AsExpected", "message": ""},
            {"type": "HostedClusterRestoredFromBackup", "status": "Unknown", "reason": "StatusUnknown"},
        ]
        return {**hc, "status": {"conditions": conds, "version": {"history": history}}}

    steps = [
        (None, waiting),
        (hc, waiting),
        (reported("False", "True", [{"image": "r:4.19", "state": "Partial"}]), waiting),
        (reported("True", "False", [{"image": "r:4.19", "state": "Partial"}]), waiting),
        (reported("True", "False", [{"image": "r:4.19", "state": "Partial"}]), done),
        (reported("True", "False", [{"image": "r:4.19", "state": "Completed"}]), done),
    ]
    current: dict[str, Any] = {**provisioner, "status": {}}
    all_told = []
    for hosted_cluster, step_conditions in steps:
        updates = [*VALID, *step_conditions]
        new = desired_status(current, updates, hosted_cluster, hosted_cluster is not None, {}, 1)
        all_told += told(current["status"], new)
        current = {**provisioner, "status": new}
    assert current["status"]["phase"] == "Ready"
    assert all_told == [(NORMAL, "Pending"), (NORMAL, "Provisioning"), (NORMAL, "Ready")]
    assert len(all_told) <= 8


def test_a_missing_pull_secret_is_one_warning_naming_the_fix_then_recovery_is_normal():
    ready = condition("Ready", False, "ValidationFailed", f"SecretsValid: {PULL_SECRET_MISSING['message']}")
    failed = status("Failed", *VALID, PULL_SECRET_MISSING, ready)
    (notice,) = notices(None, failed)
    assert (notice.type, notice.reason) == (WARNING, "Failed")
    assert "kubectl create secret generic pull-secret" in notice.message
    fixed = status(
        "Provisioning",
        *VALID,
        condition("Ready", False, "HostedClusterNotCreated", "The HostedCluster is being created"),
    )
    assert told(failed, fixed) == [(NORMAL, "Provisioning"), (NORMAL, "SecretsValid")]
    assert "SecretsValid recovered from PullSecretNotFound" in notices(failed, fixed)[1].message


def test_two_failing_steps_are_each_told_and_a_failure_that_stays_is_not_told_again():
    ready_says = f"SecretsValid: {PULL_SECRET_MISSING['message']}"
    in_use = condition("DPUClusterInUse", True, "InUse", "used by t/other; point spec.dpuClusterRef elsewhere")
    both = status(
        "Failed", *VALID, PULL_SECRET_MISSING, in_use, condition("Ready", False, "ValidationFailed", ready_says)
    )
    assert told(None, both) == [(WARNING, "Failed"), (WARNING, "InUse")]
    assert told(both, both) == []


def test_a_step_failing_while_provisioning_is_a_warning_and_its_new_reason_another():
    base = [*VALID, condition("Ready", False, "HostedClusterNotAvailable", "")]
    waiting = status("Provisioning", *base, condition("IgnitionConfigured", False, "WaitingForIgnitionPayload", ""))
    unreachable = status("Provisioning", *base, condition("IgnitionConfigured", False, "EndpointUnreachable", "x"))
    invalid = status("Provisioning", *base, condition("IgnitionConfigured", False, "InvalidIgnition", "y"))
    applied = status("Provisioning", *base, condition("IgnitionConfigured", True, "MachineConfigApplied", "z"))
    assert told(waiting, unreachable) == [(WARNING, "EndpointUnreachable")]
    assert told(unreachable, invalid) == [(WARNING, "InvalidIgnition")]
    assert told(invalid, applied) == [(NORMAL, "MachineConfigApplied")]
    assert told(waiting, applied) == []  # on its way, then done: nothing to act on


def test_losing_ready_is_a_warning_and_getting_it_back_normal():
    ready = status("Ready", *VALID, condition("Ready", True, "Ready", "every step succeeded"))
    degraded = status(
        "Failed",
        *VALID,
        condition("HostedClusterDegraded", True, "EtcdDown", "etcd down"),
        condition("Ready", False, "HostedClusterDegraded", "HostedCluster is degraded: etcd down"),
    )
    unavailable = status("Provisioning", *VALID, condition("Ready", False, "HostedClusterNotAvailable", "waiting"))
    assert told(ready, degraded) == [(WARNING, "Failed")]
    assert told(ready, unavailable) == [(WARNING, "Provisioning")]
    assert told(degraded, ready) == [(NORMAL, "Ready")]


def test_ready_during_an_upgrade_is_told_though_the_phase_stays():
    upgrading = condition("HostedClusterUpgrading", True, "UpgradeInProgress", "Upgrading from 4.18.0 to r:4.19")
    up_ready = status("Upgrading", *VALID, upgrading, condition("Ready", True, "Ready", ""))
    up_lost = status("Upgrading", *VALID, upgrading, condition("Ready", False, "HostedClusterNotAvailable", "waiting"))
    ready = status("Ready", *VALID, condition("Ready", True, "Ready", ""))
    (start,) = notices(ready, up_ready)
    assert (start.type, start.reason, start.message) == (
        NORMAL,
        "Upgrading",
        "Phase Ready -> Upgrading: Upgrading from 4.18.0 to r:4.19",
    )
    assert told(up_ready, up_lost) == [(WARNING, "HostedClusterNotAvailable")]
    assert told(up_lost, up_ready) == [(NORMAL, "Ready")]


def test_ready_held_back_by_the_control_planes_rollout_of_an_upgrade_is_no_warning():
    upgrading = condition("HostedClusterUpgrading", True, "UpgradeInProgress", "Upgrading from 4.18.0 to r:4.19")
    rolling = condition("Ready", False, "ControlPlaneRollingOut", "ControlPlaneRolledOut: rolling out 4.19.0")
    ready = status("Ready", *VALID, condition("Ready", True, "Ready", ""))
    up_rolling = status("Upgrading", *VALID, upgrading, rolling)
    up_ready = status("Upgrading", *VALID, upgrading, condition("Ready", True, "Ready", ""))
    assert told(ready, up_rolling) == [(NORMAL, "Upgrading")]
    assert told(up_ready, up_rolling) == [(NORMAL, "ControlPlaneRollingOut")]
    assert told(up_rolling, up_ready) == [(NORMAL, "Ready")]


def test_deletion_tells_its_start_its_failure_and_its_end():
    ready = status("Ready", *VALID, condition("Ready", True, "Ready", ""))
    cleanup = "HostedClusterCleanup"
    deleting = status(
        "Deleting", *VALID, condition("Ready", False, "X", ""), condition(cleanup, False, "InProgress", "waiting")
    )
    stuck = status("Deleting", *VALID, condition(cleanup, False, "Failed", "check the HyperShift operator"))
    gone = status("Deleting", *VALID, condition(cleanup, True, "Succeeded", "all deleted"))
    assert told(ready, deleting) == [(NORMAL, "Deleting")]  # Ready lost by deletion is no warning
    assert told(deleting, deleting) == []
    assert told(deleting, stuck) == [(WARNING, "CleanupFailed")]
    assert told(stuck, gone) == [(NORMAL, "CleanupSucceeded")]
    assert told(deleting, gone) == [(NORMAL, "CleanupSucceeded")]


class FakeClient:
    def __init__(self) -> None:
        self.created: dict[str, dict[str, Any]] = {}

    def create(self, _res: Any, body: dict[str, Any]) -> dict[str, Any]:
        name = body["metadata"]["name"]
        if name in self.created:
            raise ApiError(409, "AlreadyExists", name)
        self.created[name] = body
        return body


def test_each_notice_of_a_status_write_is_recorded_once_under_a_name_from_the_write():
    provisioner = {
        "apiVersion": "provisioning.dpu.hcp.io/v1alpha1",
        "kind": "DPFHCPProvisioner",
        "metadata": {"name": "hcp", "namespace": "t", "uid": "u-1"},
    }
    told_ = [events.Notice(WARNING, "Failed", "m", "phase"), events.Notice(WARNING, "InUse", "m", "DPUClusterInUse")]
    client = FakeClient()
    events.record_notices(client, provisioner, told_, "41")
    events.record_notices(client, provisioner, told_, "41")  # the same write again: no second Event
    assert len(client.created) == 2
    events.record_notices(client, provisioner, told_[:1], "42")  # a later write's own transition
    assert len(client.created) == 3
    assert all(name.startswith("hcp.") for name in client.created)
    assert {e["type"] for e in client.created.values()} == {WARNING}
    events.record_notices(client, {**provisioner, "metadata": {"name": "x", "namespace": "t"}}, told_, "43")
    assert len(client.created) == 3  # an object built from variables (no uid) has no Events
