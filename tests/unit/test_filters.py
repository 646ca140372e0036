"""The collection's filters: pure functions over objects and conditions."""

from __future__ import annotations

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.filter.objects import (
    condition_status,
    condition_summary,
    describe_object,
)
from ansible_collections.dpf_hcp.provisioner.plugins.filter.provisioner import owner_references, spec_problems
from ansible_collections.dpf_hcp.provisioner.plugins.filter.waiting import backoff_seconds

HC = {
    "kind": "HostedCluster",
    "metadata": {"name": "hcp", "namespace": "t"},
    "status": {
        "conditions": [
            {"type": "Degraded", "status": "False", "reason": "AsExpected"},
            {"type": "EtcdAvailable", "status": "True", "reason": "QuorumAvailable"},
            {"type": "Available", "status": "True", "reason": "AsExpected"},
        ]
    },
}


def test_condition_status_reads_one_condition_and_tolerates_absence():
    assert condition_status(HC, "Available") == "True"
    assert condition_status(HC, "Progressing") == ""
    assert condition_status(None, "Available") == ""
    assert condition_status({"status": None}, "Available") == ""


def test_describe_object_names_it_with_headline_conditions_in_a_fixed_order():
    assert describe_object(HC) == "HostedCluster t/hcp: Available=True (AsExpected), Degraded=False (AsExpected)"
    assert describe_object({"kind": "Namespace", "metadata": {"name": "x"}}) == "Namespace x"


def test_condition_summary():
    assert condition_summary([{"type": "A", "status": "True", "reason": "R"}]) == "A=True (R)"
    assert condition_summary([]) == ""


def test_owner_references_only_for_a_stored_provisioner():
    stored = {"metadata": {"name": "p", "namespace": "n", "uid": "u-1"}}
    assert owner_references(stored) == [
        {
            "apiVersion": "provisioning.dpu.hcp.io/v1alpha1",
            "kind": "DPFHCPProvisioner",
            "name": "p",
            "uid": "u-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert owner_references({"metadata": {"name": "p", "namespace": "n"}}) == []  # built by provision.yml


def test_spec_problems_are_the_webhook_rules_one_line_per_field():
    spec = {
        "baseDomain": "clusters.example.com",
        "dpuClusterRef": {"name": "d", "namespace": "n"},
        "ocpReleaseImage": "quay.io/openshift-release-dev/ocp-release:4.19.0-ec.5-x86_64",
        "pullSecretRef": {"name": "p"},
        "sshKeySecretRef": {"name": "s"},
        "controlPlaneAvailabilityPolicy": "SingleReplica",
    }
    assert spec_problems(spec) == []
    problems = spec_problems({**spec, "controlPlaneAvailabilityPolicy": "HighlyAvailable"})
    assert len(problems) == 1 and problems[0].startswith("spec.virtualIP: ")
    assert spec_problems(None) == ["spec: is required"]


def test_backoff_doubles_with_the_time_waited_up_to_the_cap():
    gaps = [backoff_seconds(t, 2, 300) for t in (0, 3.9, 4, 7.9, 8, 45, 255, 256, 600, 1e9)]
    assert gaps == [2, 2, 4, 4, 8, 32, 128, 256, 256, 256]
    assert backoff_seconds(10_000, 2, 100) == 64  # doubling stops before passing the cap
    assert backoff_seconds(0, 500, 300) == 300  # the cap wins over the first gap
    looks, waited = 0, 0.0
    while waited < 600:  # ten minutes of a stuck deletion: a dozen looks, not 300
        waited += backoff_seconds(waited)
        looks += 1
    assert looks <= 12, looks
    with pytest.raises(ValueError, match="positive"):
        backoff_seconds(1, 0, 300)


def test_preload_callback_imports_every_plugin_module() -> None:
    import sys

    from ansible_collections.dpf_hcp.provisioner.plugins.callback.preload import preload

    names = preload()
    for expected in (
        "ansible_collections.dpf_hcp.provisioner.plugins.modules.k8s_apply",
        "ansible_collections.dpf_hcp.provisioner.plugins.action.in_controller",
        "ansible_collections.dpf_hcp.provisioner.plugins.filter.provisioner",
        "ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client",
    ):
        assert expected in names
        assert expected in sys.modules
