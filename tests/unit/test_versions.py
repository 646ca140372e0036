"""ControlPlaneRolledOut and DataPlaneRolledOut from HyperShift's two version statuses, Ready gated
on the control plane at the desired release, and what -o wide shows. Pure logic; the stand-in
that publishes these statuses is tested in test_standin_hypershift.py, the whole path in
tests/integration/test_lifecycle.py."""

from __future__ import annotations

from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.conditions import condition, find
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import status as st
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import versions
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.conditions import STEP_CONDITIONS

TAGGED = "quay.io/openshift-release-dev/ocp-release:4.19.1-x86_64"
DIGEST = "quay.io/openshift-release-dev/ocp-release@sha256:" + "b" * 64
STEPS_DONE = [condition(step, True, "Done", "") for step in STEP_CONDITIONS]  # every step of a run succeeded


def hc(image: str = TAGGED, cp: list[dict[str, Any]] | None = None, cv: list[dict[str, Any]] | None = None) -> dict:
    status: dict[str, Any] = {}
    if cp is not None:
        status["controlPlaneVersion"] = {"desired": {"image": DIGEST, "version": "4.19.1"}, "history": cp}
    if cv is not None:
        status["version"] = {"desired": {"image": DIGEST, "version": "4.19.1"}, "history": cv}
    return {"metadata": {"namespace": "t", "name": "hcp"}, "spec": {"release": {"image": image}}, "status": status}


def entry(version: str, state: str, image: str = DIGEST) -> dict[str, Any]:
    return {"version": version, "state": state, "image": image, "startedTime": "2026-12-03T10:00:00Z"}


def by_type(hosted_cluster: dict | None) -> dict[str, tuple[str, str, str]]:
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in versions.conditions(hosted_cluster)}


def test_completed_at_the_desired_release_is_true_by_version_though_hypershift_records_a_digest():
    found = by_type(
        hc(cp=[entry("4.19.1", "Completed"), entry("4.19.0", "Completed")], cv=[entry("4.19.1", "Partial")])
    )
    assert found["ControlPlaneRolledOut"] == ("True", "Completed", "The control plane completed 4.19.1")
    status, reason, message = found["DataPlaneRolledOut"]
    assert (status, reason) == ("False", "Partial")
    assert "4.19.1" in message and "DPUs joined" in message


def test_a_rollout_under_way_or_not_yet_started_is_false_and_says_which():
    found = by_type(hc(cp=[entry("4.19.1", "Partial"), entry("4.19.0", "Completed")]))
    assert found["ControlPlaneRolledOut"][:2] == ("False", "Partial")
    assert "since 2026-12-03T10:00:00Z" in found["ControlPlaneRolledOut"][2]
    found = by_type(hc(cp=[entry("4.19.0", "Completed")]))  # HyperShift has not taken the new release yet
    assert found["ControlPlaneRolledOut"][:2] == ("False", "NotStarted")
    assert "has not started 4.19.1" in found["ControlPlaneRolledOut"][2]


def test_an_image_by_digest_matches_only_the_same_image():
    assert by_type(hc(image=DIGEST, cp=[entry("4.19.1", "Completed")]))["ControlPlaneRolledOut"][0] == "True"
    other = DIGEST.replace("b" * 64, "c" * 64)
    assert by_type(hc(image=other, cp=[entry("4.19.1", "Completed")]))["ControlPlaneRolledOut"][1] == "NotStarted"


def test_nothing_reported_is_unknown_and_does_not_hold_ready_back():
    found = by_type(hc())
    assert found["ControlPlaneRolledOut"][:2] == ("Unknown", "NotReported")
    assert by_type(None)["DataPlaneRolledOut"] == ("Unknown", "NotReported", "The HostedCluster does not exist yet")
    conditions = [condition("HostedClusterAvailable", True, "AsExpected", ""), *STEPS_DONE, *versions.conditions(hc())]
    assert st.compute_ready(conditions, True)["status"] == "True"


def test_ready_waits_for_the_control_plane_at_the_desired_release():
    available = condition("HostedClusterAvailable", True, "AsExpected", "")
    rolling = versions.conditions(hc(cp=[entry("4.19.1", "Partial"), entry("4.19.0", "Completed")]))
    ready = st.compute_ready([available, *STEPS_DONE, *rolling], True)
    assert (ready["status"], ready["reason"]) == ("False", "ControlPlaneRollingOut")
    assert ready["message"].startswith("ControlPlaneRolledOut: The control plane is rolling out 4.19.1")
    done = versions.conditions(hc(cp=[entry("4.19.1", "Completed")], cv=[entry("4.19.1", "Partial")]))
    assert st.compute_ready([available, *STEPS_DONE, *done], True)["status"] == "True"  # the DPUs join after Ready
    assert find(done, "DataPlaneRolledOut")["status"] == "False"


def test_hostile_history_is_bounded_data():
    huge = "9" * 5000
    found = by_type(hc(cp=[{"version": huge, "state": {"x": 1}, "image": ["a"], "startedTime": None}, "junk"]))
    status, reason, message = found["ControlPlaneRolledOut"]
    assert (status, reason) == ("False", "NotStarted")
    assert len(message) < 400
    assert by_type(hc(cp=["junk"]))["ControlPlaneRolledOut"][:2] == ("Unknown", "NotReported")
    shown = versions.fields(hc(cp=[entry(huge, "Partial")]))
    assert len(shown["controlPlane"]["version"]) == versions.SHOWN


def test_wide_output_fields():
    assert versions.fields(None) == {}
    assert versions.fields(hc(cp=[entry("4.19.1", "Partial")], cv=[entry("4.19.0", "Completed")])) == {
        "controlPlane": {"version": "4.19.1", "state": "Partial"},
        "dataPlane": {"version": "4.19.0", "state": "Completed"},
    }


def test_the_newest_entry_is_the_first_whatever_it_is():
    """A history whose first item is junk has no newest entry we can read: nothing older stands in."""
    found = by_type(hc(cp=["x", entry("4.19.1", "Completed")]))
    assert found["ControlPlaneRolledOut"][:2] == ("Unknown", "NotReported")


def test_a_tag_beside_a_digest_matches_by_the_digest():
    tagged = "quay.io/openshift-release-dev/ocp-release:4.19.1-x86_64@sha256:" + "b" * 64
    assert by_type(hc(image=tagged, cp=[entry("4.19.1", "Completed")]))["ControlPlaneRolledOut"][0] == "True"
    lying = "quay.io/openshift-release-dev/ocp-release:4.19.1-x86_64@sha256:" + "c" * 64
    assert by_type(hc(image=lying, cp=[entry("4.19.1", "Completed")]))["ControlPlaneRolledOut"][1] == "NotStarted"


def test_the_upgrade_condition_cuts_what_hypershift_reports():
    huge = "4.19.1-" + "x" * 100_000
    upgrading = st.upgrade_condition(hc(cv=[entry(huge, "Partial"), entry(huge, "Completed")]))
    assert upgrading["status"] == "True" and len(upgrading["message"]) < 300


def test_wide_output_fields_leave_out_what_hypershift_left_empty():
    """An empty string would reach the API server as null and fail the whole status write."""
    garbage = hc(cv=[{"state": "Partial", "image": "%%% not an image"}], cp=[{"version": "", "state": ""}])
    assert versions.fields(garbage) == {"dataPlane": {"state": "Partial"}}
