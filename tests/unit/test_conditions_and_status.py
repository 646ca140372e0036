from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.conditions import (
    condition,
    merge,
    transitions,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.status import (
    MIRRORED,
    compute_phase,
    compute_ready,
    mirror_hosted_cluster,
)

VALID = [
    condition("SecretsValid", True, "SecretsValid", ""),
    condition("BlueFieldImageResolved", True, "R", ""),
    condition("DPUClusterMissing", False, "Found", ""),
    condition("ClusterTypeValid", True, "S", ""),
    condition("DPUClusterInUse", False, "NotInUse", ""),
]


def test_last_transition_time_changes_only_with_status():
    first = merge([], [condition("A", True, "X", "m")], 1, now="2026-01-01T00:00:00Z")
    same = merge(first, [condition("A", True, "Y", "other message")], 2, now="2026-01-02T00:00:00Z")
    flipped = merge(same, [condition("A", False, "Z", "")], 3, now="2026-01-03T00:00:00Z")
    assert same[0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert same[0]["observedGeneration"] == 2
    assert flipped[0]["lastTransitionTime"] == "2026-01-03T00:00:00Z"


def test_transitions_ignore_first_unknown_and_unchanged():
    before = [condition("A", True, "X", "")]
    after = [
        condition("A", True, "X", "new text"),
        condition("B", None, "NotReported", ""),
        condition("C", False, "Bad", ""),
    ]
    assert [c["type"] for c in transitions(before, after)] == ["C"]


def test_all_thirteen_conditions_are_mirrored_under_our_names():
    hc = {
        "status": {
            "conditions": [{"type": t, "status": "True", "reason": "AsExpected", "message": "m"} for t in MIRRORED]
        }
    }
    mirrored = {c["type"]: c for c in mirror_hosted_cluster(hc)}
    assert len(mirrored) == 13
    assert mirrored["HostedClusterAvailable"]["status"] == "True"
    assert mirrored["HostedClusterDegraded"]["reason"] == "AsExpected"
    assert "Available" not in mirrored


def test_unreported_and_garbage_conditions_are_unknown():
    hc = {"status": {"conditions": [{"type": "Available", "status": "maybe"}, "junk"]}}
    mirrored = {c["type"]: c for c in mirror_hosted_cluster(hc)}
    assert mirrored["HostedClusterAvailable"]["status"] == "Unknown"


def test_ready_needs_valid_input_and_an_available_healthy_hosted_cluster():
    available = [
        *VALID,
        condition("HostedClusterAvailable", True, "AsExpected", ""),
        condition("HostedClusterDegraded", False, "AsExpected", ""),
    ]
    assert compute_ready(available, True)["status"] == "True"
    assert compute_ready(available, False)["reason"] == "HostedClusterNotCreated"
    degraded = [
        *VALID,
        condition("HostedClusterAvailable", True, "A", ""),
        condition("HostedClusterDegraded", True, "Broken", "etcd down"),
    ]
    assert compute_ready(degraded, True)["reason"] == "HostedClusterDegraded"
    invalid = [*available, condition("SecretsValid", False, "PullSecretNotFound", "no secret")]
    ready = compute_ready(invalid, True)
    assert (ready["status"], ready["reason"]) == ("False", "ValidationFailed")
    assert "no secret" in ready["message"]


def test_phase_follows_validation_creation_readiness_and_deletion():
    bad = [condition("SecretsValid", False, "PullSecretNotFound", "")]
    assert compute_phase(bad, False, False) == "Failed"
    assert compute_phase(VALID, False, False) == "Pending"
    assert compute_phase(VALID, False, True) == "Provisioning"
    ready = [*VALID, condition("Ready", True, "Ready", "")]
    assert compute_phase(ready, False, True) == "Ready"
    assert compute_phase(ready, True, True) == "Deleting"
    assert compute_phase(ready, False, True, upgrading=True) == "Upgrading"
    degraded = [*VALID, condition("HostedClusterDegraded", True, "X", "")]
    assert compute_phase(degraded, False, True) == "Failed"
