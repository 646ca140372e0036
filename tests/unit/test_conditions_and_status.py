from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.conditions import condition, merge, transitions
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.status import (
    MIRRORED,
    compute_phase,
    compute_ready,
    mirror_hosted_cluster,
)
from ansible_collections.dpf_hcp.provisioner.plugins.modules.provisioner_status import desired_status

VALID = [
    condition("SecretsValid", True, "SecretsValid", ""),
    condition("BlueFieldImageResolved", True, "R", ""),
    condition("DPUClusterMissing", False, "Found", ""),
    condition("ClusterTypeValid", True, "S", ""),
    condition("DPUClusterInUse", False, "NotInUse", ""),
]
# Every step of a run reported and succeeded.
STEPS_DONE = [
    condition("MetalLBConfigured", True, "PoolApplied", ""),
    condition("IgnitionConfigured", True, "IgnitionConfigured", ""),
    condition("KubeConfigInjected", True, "KubeConfigInjected", ""),
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


def test_an_absent_etcd_recovery_condition_means_no_recovery_ran():
    """HyperShift sets EtcdRecoveryActive only once a recovery job runs (etcd_recovery.go)."""
    mirrored = {c["type"]: c for c in mirror_hosted_cluster({"status": {"conditions": []}})}
    assert (mirrored["EtcdRecoveryActive"]["status"], mirrored["EtcdRecoveryActive"]["reason"]) == (
        "False",
        "NoRecoveryRun",
    )
    assert mirrored["HostedClusterAvailable"]["reason"] == "NotReported"
    running = {"type": "EtcdRecoveryActive", "status": "True", "reason": "AsExpected", "message": "job"}
    mirrored = {c["type"]: c for c in mirror_hosted_cluster({"status": {"conditions": [running]}})}
    assert mirrored["EtcdRecoveryActive"]["status"] == "True"
    assert {c["type"]: c for c in mirror_hosted_cluster(None)}["EtcdRecoveryActive"]["status"] == "Unknown"


def test_ready_needs_valid_input_and_an_available_healthy_hosted_cluster():
    available = [
        *VALID,
        *STEPS_DONE,
        condition("HostedClusterAvailable", True, "AsExpected", ""),
        condition("HostedClusterDegraded", False, "AsExpected", ""),
    ]
    assert compute_ready(available, True)["status"] == "True"
    assert compute_ready(available, False)["reason"] == "HostedClusterNotCreated"
    down = [
        *VALID,
        condition("HostedClusterAvailable", False, "WaitingForAvailable", ""),
        condition("HostedClusterDegraded", True, "UnavailableReplicas", "etcd down"),
    ]
    assert compute_ready(down, True)["reason"] == "HostedClusterDegraded"
    # HyperShift says Degraded while any control-plane deployment rolls, and keeps Available True.
    rolling = [
        *VALID,
        *STEPS_DONE,
        condition("HostedClusterAvailable", True, "AsExpected", ""),
        condition("HostedClusterDegraded", True, "UnavailableReplicas", "kube-apiserver has 1 unavailable replica"),
    ]
    ready = compute_ready(rolling, True)
    assert ready["status"] == "True" and "1 unavailable replica" in ready["message"]
    invalid = [*available, condition("SecretsValid", False, "PullSecretNotFound", "no secret")]
    ready = compute_ready(invalid, True)
    assert (ready["status"], ready["reason"]) == ("False", "ValidationFailed")
    assert "no secret" in ready["message"]


def test_a_step_no_run_reached_holds_ready_back():
    """A run that stopped after the HostedCluster was made (its MachineConfig ConfigMap or NodePool
    refused) reported no IgnitionConfigured nor KubeConfigInjected: not Ready, however Available
    the control plane is."""
    stopped = [
        *VALID,
        STEPS_DONE[0],
        condition("HostedClusterAvailable", True, "AsExpected", ""),
        condition("HostedClusterDegraded", False, "AsExpected", ""),
    ]
    ready = compute_ready(stopped, True)
    assert (ready["status"], ready["reason"]) == ("False", "StepNotReported")
    # The first step the run did not complete, in the order a run goes.
    assert ready["message"].startswith("IgnitionConfigured: no run has completed this step"), ready
    ready = compute_ready([*stopped, STEPS_DONE[1]], True)
    assert ready["message"].startswith("KubeConfigInjected: no run has completed this step"), ready
    assert compute_ready([*stopped, *STEPS_DONE[1:]], True)["status"] == "True"
    # Something to act on: told before the control plane's own progress.
    coming = [*VALID, STEPS_DONE[0], condition("HostedClusterAvailable", False, "WaitingForAvailable", "")]
    assert compute_ready(coming, True)["reason"] == "StepNotReported"
    assert compute_ready([*coming, *STEPS_DONE[1:]], True)["reason"] == "HostedClusterNotAvailable"
    # A step that failed says so itself; before the HostedCluster, nothing is missing yet.
    failed = [*stopped, condition("IgnitionConfigured", False, "ImageMissing", "map the release")]
    assert compute_ready(failed, True)["reason"] == "ImageMissing"
    assert compute_ready(VALID, False)["reason"] == "HostedClusterNotCreated"


def test_steps_left_from_an_earlier_spec_hold_ready_back_until_a_run_completes_them():
    """A spec changed (an upgrade), and the run for it stopped after the HostedCluster (the new
    MachineConfig ConfigMap refused): the steps still say what a run did for the old spec."""
    provisioner = {"metadata": {"name": "hcp", "namespace": "t", "generation": 2}, "spec": {}}
    old_steps = [{**c, "observedGeneration": 1} for c in STEPS_DONE]
    current = {**provisioner, "status": {"conditions": [*VALID, *old_steps]}}
    hc = {
        "metadata": {"name": "hcp", "namespace": "t"},
        "status": {"conditions": [{"type": "Available", "status": "True", "reason": "AsExpected", "message": ""}]},
    }
    new = desired_status(current, [*VALID, STEPS_DONE[0]], hc, True, {}, 2)
    ready = next(c for c in new["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "StepNotReported"), ready
    assert ready["message"].startswith("IgnitionConfigured:"), ready
    done = desired_status({**provisioner, "status": new}, [*VALID, *STEPS_DONE], hc, True, {}, 2)
    assert next(c for c in done["conditions"] if c["type"] == "Ready")["status"] == "True"
    # Deleting raises the generation and runs no step: not held against the provisioner.
    deleting = {"metadata": {**provisioner["metadata"], "generation": 3, "deletionTimestamp": "2026-12-05T00:00:00Z"}}
    gone = desired_status({**deleting, "status": done}, [], hc, True, {}, 3)
    assert next(c for c in gone["conditions"] if c["type"] == "Ready")["reason"] != "StepNotReported"


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
    # The first install brings its deployments up unavailable: Degraded, and still Provisioning.
    installing = [*degraded, condition("HostedClusterUpgrading", False, "InitialInstall", "")]
    assert compute_phase(installing, False, True) == "Provisioning"
    installed = [*degraded, condition("HostedClusterUpgrading", False, "AtDesiredVersion", "")]
    assert compute_phase(installed, False, True) == "Failed"


def test_a_failed_step_explains_ready_before_waiting_for_availability():
    waiting = [
        *VALID,
        *STEPS_DONE[:2],
        condition("HostedClusterAvailable", False, "WaitingForAvailable", ""),
        condition("KubeConfigInjected", False, "WaitingForKubeconfig", "not yet"),
    ]
    assert compute_ready(waiting, True)["reason"] == "HostedClusterNotAvailable"
    broken = [
        *(c for c in waiting if c["type"] != "MetalLBConfigured"),
        condition("MetalLBConfigured", False, "MetalLBNotInstalled", "install MetalLB"),
    ]
    ready = compute_ready(broken, True)
    assert (ready["reason"], ready["message"]) == ("MetalLBNotInstalled", "MetalLBConfigured: install MetalLB")
    available = [
        *VALID,
        *STEPS_DONE[:2],
        condition("HostedClusterAvailable", True, "AsExpected", ""),
        condition("KubeConfigInjected", False, "WaitingForKubeconfig", "not yet"),
    ]
    assert compute_ready(available, True)["reason"] == "WaitingForKubeconfig"


def test_an_upgrade_is_read_from_hypershifts_word_not_from_comparing_images():
    """HyperShift's history names the release by digest once the hosted CVO reports; the spec by tag."""
    from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.status import upgrade_condition

    tag = "quay.io/openshift-release-dev/ocp-release:4.19.0-x86_64"
    digest = "quay.io/openshift-release-dev/ocp-release@sha256:" + "a" * 64

    def hc(history, progressing="False"):
        conditions = [{"type": "Progressing", "status": progressing, "reason": "AsExpected"}]
        return {
            "spec": {"release": {"image": tag}},
            "status": {"version": {"history": history}, "conditions": conditions},
        }

    installed = {"image": digest, "version": "4.19.0", "state": "Completed"}
    assert upgrade_condition(hc([installed]))["reason"] == "AtDesiredVersion"
    assert upgrade_condition(hc([installed], progressing="True"))["reason"] == "UpgradeInProgress"
    rolling = {"image": digest.replace("a", "b"), "version": "4.19.1", "state": "Partial"}
    found = upgrade_condition(hc([rolling, installed]))
    assert (found["status"], found["message"]) == ("True", "Upgrading from 4.19.0 to 4.19.1")


def test_upgrade_condition_follows_release_and_history():
    from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.status import upgrade_condition

    def hc(image, history, progressing=False):
        conditions = [{"type": "Progressing", "status": "True", "reason": "Progressing"}] if progressing else []
        return {
            "spec": {"release": {"image": image}},
            "status": {"version": {"history": history}, "conditions": conditions},
        }

    done = {"image": "r:4.18", "version": "4.18.0", "state": "Completed"}
    assert upgrade_condition(None) is None
    assert upgrade_condition(hc("r:4.18", []))["reason"] == "InitialInstall"
    installing = {"image": "r:4.18", "version": "4.18.0", "state": "Partial"}  # until workers join
    assert upgrade_condition(hc("r:4.18", [installing]))["reason"] == "InitialInstall"
    assert upgrade_condition(hc("r:4.18", [done]))["reason"] == "AtDesiredVersion"
    # The spec moved on; until HyperShift says Progressing, nothing is under way yet.
    assert upgrade_condition(hc("r:4.19", [done]))["reason"] == "AtDesiredVersion"
    started = upgrade_condition(hc("r:4.19", [done], progressing=True))
    assert (started["status"], started["reason"]) == ("True", "UpgradeInProgress")
    assert "from 4.18.0 to r:4.19" in started["message"]
    partial = {"image": "r:4.19", "version": "4.19.0", "state": "Partial"}
    assert upgrade_condition(hc("r:4.19", [partial, done]))["status"] == "True"
    assert upgrade_condition(hc("r:4.19", [{**partial, "state": "Completed"}, done]))["status"] == "False"
