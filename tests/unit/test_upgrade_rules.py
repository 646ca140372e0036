"""Before an upgrade starts: no new release while the previous upgrade still rolls out, and no
spec.machineOSURL left naming another release's BlueField image; each refusal names the field and
the fix. Pure logic; the webhook and the validate role are tested on the real API server in
tests/integration/test_upgrade_checks.py."""

from __future__ import annotations

from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import upgrade

R0 = "quay.io/openshift-release-dev/ocp-release:4.19.0-x86_64"
R1 = "quay.io/openshift-release-dev/ocp-release:4.19.1-x86_64"
R2 = "quay.io/openshift-release-dev/ocp-release:4.19.2-x86_64"
DIGEST = "quay.io/openshift-release-dev/ocp-release@sha256:" + "a" * 64
MAP = {
    "data": {
        "4.19.0": "quay.io/bf/rhcos:4.19.0",
        "4.19.1": "quay.io/bf/rhcos:4.19.1",
        "4.19.2": "quay.io/bf/rhcos:4.19.2",
    }
}


def entry(version: str, state: str) -> dict[str, Any]:
    return {"version": version, "state": state, "image": DIGEST, "startedTime": "2026-12-03T10:00:00Z"}


def hc(release: str, cv: list, cp: list | None = None, progressing: str = "False") -> dict[str, Any]:
    status: dict[str, Any] = {
        "version": {"history": cv},
        "conditions": [{"type": "Progressing", "status": progressing}],
    }
    if cp is not None:
        status["controlPlaneVersion"] = {"history": cp}
    return {"metadata": {"namespace": "t", "name": "hcp"}, "spec": {"release": {"image": release}}, "status": status}


DONE = hc(R0, [entry("4.19.0", "Completed")], [entry("4.19.0", "Completed")])
ROLLING = hc(R1, [entry("4.19.1", "Partial"), entry("4.19.0", "Completed")], [entry("4.19.1", "Partial")])
CP_DONE_CV_ROLLING = hc(R1, [entry("4.19.1", "Partial"), entry("4.19.0", "Completed")], [entry("4.19.1", "Completed")])
INSTALLING = hc(R0, [entry("4.19.0", "Partial")], [entry("4.19.0", "Partial")])


def reasons(target: str, cluster: dict | None, url: str = "", annotations: dict | None = None) -> list[str]:
    found = upgrade.check(target, cluster, url, MAP, annotations)
    (c,) = found.conditions
    assert c["type"] == "UpgradeAllowed"
    assert found.ok == (c["status"] == "True")
    return [c["reason"]] if c["status"] == "True" else [c["reason"], c["message"]]


def test_no_hosted_cluster_or_the_same_version_is_no_upgrade():
    assert reasons(R1, None) == ["NoUpgrade"]
    assert reasons(R1, ROLLING) == ["NoUpgrade"]  # the rollout under way is this release's
    mirror = "registry.example.com/ocp/release:4.19.1-x86_64"
    assert reasons(mirror, ROLLING) == ["NoUpgrade"]  # the same version from a mirror
    assert reasons(R1, DONE) == ["Allowed"]


def test_a_new_release_while_the_previous_upgrade_rolls_out_is_refused_naming_the_fix():
    for cluster in (ROLLING, CP_DONE_CV_ROLLING):
        reason, message = reasons(R2, cluster)
        assert reason == "PreviousUpgradeRolling"
        assert message.startswith("spec.ocpReleaseImage: the upgrade to 4.19.1 is still rolling out")
        assert "wait until HostedClusterUpgrading is False" in message
        assert upgrade.FORCE_ANNOTATION in message
    assert "provisioning.dpu.hcp.io/retarget-upgrade: '4.19.2' to retarget it to 4.19.2 anyway" in message
    assert reasons(R2, ROLLING, annotations={upgrade.FORCE_ANNOTATION: "4.19.2"}) == ["Allowed"]
    # It names the version it lets through: left on the object, it lets no later retarget through.
    for value in ("true", "4.19.1", "4.19.3", ""):
        assert reasons(R2, ROLLING, annotations={upgrade.FORCE_ANNOTATION: value})[0] == "PreviousUpgradeRolling"
    # HyperShift says Progressing (the new release seen, not yet taken): an upgrade under way too.
    seen = hc(R1, [entry("4.19.0", "Completed")], [entry("4.19.0", "Completed")], progressing="True")
    assert reasons(R2, seen)[0] == "PreviousUpgradeRolling"


def test_the_first_install_is_no_upgrade_and_may_be_replaced():
    """A release that never came up (DPUs not joined, or a bad release) must stay fixable."""
    assert reasons(R1, INSTALLING) == ["Allowed"]


def test_machine_os_url_of_another_release_is_refused_and_the_targets_own_passes():
    reason, message = reasons(R1, DONE, url="quay.io/bf/rhcos:4.19.0")
    assert reason == "MachineOSURLOfAnotherRelease"
    assert message == (
        "spec.machineOSURL: is 'quay.io/bf/rhcos:4.19.0', the BlueField image mapped to OCP 4.19.0, not to 4.19.1; "
        "set spec.machineOSURL to the BlueField image for 4.19.1 ('quay.io/bf/rhcos:4.19.1' in the "
        "ocp-bluefield-images ConfigMap) or remove it so that the ConfigMap's image is used"
    )
    assert reasons(R1, DONE, url="quay.io/bf/rhcos:4.19.1") == ["Allowed"]
    # Not in the map, but naming the release before and not the target.
    reason, message = reasons(R1, DONE, url="registry.local/bf/custom-4.19.0:v2")
    assert (reason, "names OCP 4.19.0, the release before" in message) == ("MachineOSURLOfAnotherRelease", True)
    assert reasons(R1, DONE, url="registry.local/bf/custom:v2") == ["Allowed"]  # says nothing of a release
    assert reasons(R1, DONE, url="registry.local/bf/custom-4.19.0-to-4.19.1:v2") == ["Allowed"]
    assert reasons(R1, DONE, url="registry.local/bf/custom-4.19.01:v2") == ["Allowed"]  # another version


def test_one_image_mapped_to_two_releases_is_the_targets_too():
    shared = {"data": {"4.19.0": "quay.io/bf/rhcos:4.19", "4.19.1": "quay.io/bf/rhcos:4.19"}}
    assert upgrade.check(R1, DONE, "quay.io/bf/rhcos:4.19", shared).ok


def test_both_problems_are_named_at_once():
    reason, message = reasons(R2, ROLLING, url="quay.io/bf/rhcos:4.19.1")
    assert reason == "PreviousUpgradeRolling"
    assert "spec.ocpReleaseImage:" in message and "spec.machineOSURL:" in message


def test_hostile_status_and_values_are_bounded_data():
    junk = {"metadata": {}, "spec": {"release": {"image": R0}}, "status": {"version": "x", "controlPlaneVersion": [1]}}
    assert reasons(R1, junk) == ["Allowed"]
    huge = "quay.io/bf/" + "x" * 10_000 + ":4.19.0"
    reason, message = reasons(R1, DONE, url=huge)
    assert reason == "MachineOSURLOfAnotherRelease"
    assert len(message) < 600
    weird = {
        "data": {"4.19.0": 7, 8: "quay.io/bf/rhcos:4.19.0", "{{ lookup('pipe', 'id') }}": "quay.io/bf/rhcos:4.19.0"}
    }
    found = upgrade.check(R1, DONE, "quay.io/bf/rhcos:4.19.0", weird)
    assert not found.ok and "{{" in found.conditions[0]["message"]  # named as data, never evaluated
    assert upgrade.check(R1, hc(DIGEST, [entry("4.19.0", "Completed")]), "", MAP).ok  # a digest: no version


def test_right_after_the_spec_changed_the_upgrade_is_under_way_before_hypershift_says_so():
    """HyperShift pulls the new release before it reports Progressing: the control plane's newest
    entry is still the old release, Completed. The spec's release is the one under way."""
    just_set = hc(R1, [entry("4.19.0", "Completed")], [entry("4.19.0", "Completed")])
    assert upgrade.rolling_upgrade(just_set) == "4.19.1"
    assert reasons(R2, just_set)[0] == "PreviousUpgradeRolling"
    assert reasons(R1, just_set) == ["NoUpgrade"]


def test_a_tag_beside_a_digest_is_not_read_as_the_release():
    """quay.io/...:4.19.0@sha256:<another release> pulls the digest: the tag says nothing."""
    tagged_digest = R0 + "@sha256:" + "f" * 64
    assert not upgrade.same_release(R0, tagged_digest)
    assert upgrade.same_release(tagged_digest, "quay.io/openshift-release-dev/ocp-release@sha256:" + "f" * 64)
    assert reasons(tagged_digest, ROLLING)[0] == "PreviousUpgradeRolling"  # an upgrade, guarded
    assert reasons(tagged_digest, DONE) == ["Allowed"]


def test_a_machine_os_url_change_alone_is_checked_against_the_map():
    """The webhook checks a machineOSURL-only update too: no two-step way around the upgrade check."""
    assert upgrade.machine_os_url_problem("quay.io/bf/rhcos:4.19.0", R1, R1, MAP)
    assert upgrade.machine_os_url_problem("quay.io/bf/rhcos:4.19.1", R1, R1, MAP) is None
    assert upgrade.machine_os_url_problem("registry.local/bf/custom-4.19.0:v2", R1, R1, MAP) is None
