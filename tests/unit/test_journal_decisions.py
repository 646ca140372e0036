"""What a step decided on, in the run's journal (plugins/module_utils/k8s/journal.py): the digests
a read of a registered kind records, and the mark ``decided_on`` puts on the read it concerns."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s import journal
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    HOSTED_KUBECONFIG_FIELDS,
    IGNITION_ENDPOINT,
)


def _hosted_cluster(rv: str, endpoint: Any) -> dict[str, Any]:
    meta = {"name": "hcp", "namespace": "team", "resourceVersion": rv, "generation": 1}
    return {"kind": "HostedCluster", "metadata": meta, "status": {"ignitionEndpoint": endpoint, "conditions": [rv]}}


def test_a_read_of_a_registered_kind_records_its_fields_digests_and_nothing_else_of_it() -> None:
    KubeClient.journal = []
    try:
        KubeClient._record("read", _hosted_cluster("10", "ign.example.com"))
        KubeClient._record("read", _hosted_cluster("11", "ign.example.com"))  # only the conditions differ
        KubeClient._record("read", _hosted_cluster("12", "other.example.com"))
        KubeClient._record("read", {"kind": "Secret", "metadata": {"name": "s", "resourceVersion": "1"}, "data": {}})
        first, second, third, secret = KubeClient.journal
    finally:
        KubeClient.journal = None
    assert set(first["fields"]) == {IGNITION_ENDPOINT, *HOSTED_KUBECONFIG_FIELDS}
    assert first["fields"] == second["fields"] != third["fields"]
    assert "ign.example.com" not in str(first)  # a digest, not the value
    assert "fields" not in secret  # no field of a Secret is registered: no digest of its data


def test_decided_on_marks_the_read_of_that_version() -> None:
    hc = _hosted_cluster("10", "ign.example.com")
    entries: list[dict[str, Any]] = [
        {"op": "read", "kind": "HostedCluster", "namespace": "team", "name": "hcp", "resourceVersion": "9"},
        {"op": "read", "kind": "HostedCluster", "namespace": "team", "name": "hcp", "resourceVersion": "10"},
        {"op": "write", "kind": "HostedCluster", "namespace": "team", "name": "hcp", "resourceVersion": "10"},
    ]
    journal.decided_on(entries, "HostedCluster", hc, (IGNITION_ENDPOINT,))
    assert [e.get("decided_on") for e in entries] == [None, [IGNITION_ENDPOINT], None]
    journal.decided_on(None, "HostedCluster", hc, (IGNITION_ENDPOINT,))  # no journal: a module outside a run
    journal.decided_on(entries, "HostedCluster", None, (IGNITION_ENDPOINT,))  # found absent: stays strict
    assert [e.get("decided_on") for e in entries] == [None, [IGNITION_ENDPOINT], None]


def test_a_field_the_reads_do_not_record_cannot_be_decided_on() -> None:
    """A step's mark must name fields every read of the kind records, or there is nothing to compare."""
    with pytest.raises(ValueError, match="not all recorded"):
        journal.decided_on([], "HostedCluster", _hosted_cluster("1", "x"), ("status.conditions",))
    with pytest.raises(ValueError, match="not all recorded"):  # none: the step would decide on nothing
        journal.decided_on([], "HostedCluster", _hosted_cluster("1", "x"), ())


def _secret(rv: str, uid: str = "u1") -> dict[str, Any]:
    return {
        "kind": "Secret",
        "metadata": {"name": "token-hcp-abc", "namespace": "cp", "uid": uid, "resourceVersion": rv},
    }


def test_same_outcome_marks_the_read_of_the_earlier_version_with_the_later_one_and_nothing_of_the_data() -> None:
    listed = {"op": "list", "kind": "Secret", "namespace": "cp", "name": "", "items": {"cp/token-hcp-abc": "5"}}
    journal_ = [
        listed,
        {"op": "read", "kind": "Secret", "namespace": "cp", "name": "token-hcp-abc", "resourceVersion": "6"},
        {"op": "read", "kind": "Secret", "namespace": "cp", "name": "token-hcp-abc", "resourceVersion": "7"},
    ]
    earlier, later = {**_secret("6"), "data": {"token": "dDE="}}, {**_secret("7"), "data": {"token": "dDE="}}
    journal.same_outcome(journal_, "Secret", earlier, later)
    assert journal_[1]["same_as"] == "7" and "same_as" not in journal_[2]
    assert "dDE=" not in str(journal_)
    journal.same_outcome(journal_, "Secret", _secret("5"), _secret("7"))  # a list's item: the list says it
    assert journal_[0]["same_as"] == {"cp/token-hcp-abc": "7"}
    journal.same_outcome(journal_, "Secret", _secret("7"), _secret("7"))  # the same version: nothing to say
    assert "same_as" not in journal_[2]
    journal.same_outcome(None, "Secret", earlier, later)  # no journal: nothing to mark
    with pytest.raises(ValueError, match="two versions of one object"):
        journal.same_outcome(journal_, "Secret", earlier, _secret("8", uid="u2"))  # made again: another object
