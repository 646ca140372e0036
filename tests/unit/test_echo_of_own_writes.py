"""The operator skips the echo of its own writes, and only that: ProvisionerDependencies.expected_after
against caches fed as watches would feed them (no API server: the informers are never started)."""

from __future__ import annotations

from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.resources import (
    LABEL_NAME,
    LABEL_NAMESPACE,
    PROVISIONER,
)
from dpf_hcp_operator.dependencies import ProvisionerDependencies
from dpf_hcp_operator.informers import Informer

OWNER = {LABEL_NAME: "hcp", LABEL_NAMESPACE: "team"}


def _obj(kind: str, name: str, rv: str, labels: dict[str, str] | None = None, namespace: str = "team") -> dict:
    return {"kind": kind, "metadata": {"name": name, "namespace": namespace, "resourceVersion": rv, "labels": labels}}


def _write(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    return {
        "kind": obj["kind"],
        "namespace": meta["namespace"],
        "name": meta["name"],
        "resourceVersion": meta["resourceVersion"],
        "labels": meta["labels"] or {},
    }


def _setup() -> tuple[ProvisionerDependencies, dict[str, Any]]:
    provisioners = Informer(None, PROVISIONER)  # type: ignore[arg-type]
    deps = ProvisionerDependencies(None, "dpf-hcp-provisioner-system", provisioners, lambda _key: None)  # type: ignore[arg-type]
    cr = {
        "metadata": {"name": "hcp", "namespace": "team", "uid": "u1", "generation": 1, "resourceVersion": "1"},
        "spec": {
            "dpuClusterRef": {"name": "dpus", "namespace": "team"},
            "pullSecretRef": {"name": "pull"},
            "sshKeySecretRef": {"name": "ssh"},
        },
    }
    provisioners._apply("ADDED", cr)
    deps.secrets._apply("ADDED", _obj("Secret", "pull", "2"))
    deps.dpuclusters._apply("ADDED", _obj("DPUCluster", "dpus", "3"))
    return deps, cr


def test_the_echo_of_a_run_matches_what_was_expected() -> None:
    deps, cr = _setup()
    before = deps.fingerprint(cr)
    hosted_cluster = _obj("HostedCluster", "hcp", "10", OWNER)
    dpucluster = _obj("DPUCluster", "dpus", "11")
    event = _obj("Event", "hcp.1", "12")  # written, but nothing the fingerprint follows
    expected = deps.expected_after(cr, before, [_write(o) for o in (hosted_cluster, dpucluster, event)], [])
    assert expected != before
    deps.hosted_clusters._apply("ADDED", hosted_cluster)
    assert deps.fingerprint(cr) != expected  # the cache has not seen every write yet: not skipped
    deps.dpuclusters._apply("MODIFIED", dpucluster)
    assert deps.fingerprint(cr) == expected  # the echo: skipped


def test_deleting_what_the_run_made_is_a_change() -> None:
    deps, cr = _setup()
    before = deps.fingerprint(cr)
    config_map = _obj("ConfigMap", "bfcfg-dpus.cfg", "20", OWNER)
    expected = deps.expected_after(cr, before, [_write(config_map)], [])
    deps.owned_configmaps._apply("ADDED", config_map)
    assert deps.fingerprint(cr) == expected
    deps.owned_configmaps._apply("DELETED", config_map)
    assert deps.fingerprint(cr) == before  # the world before the run ...
    assert deps.fingerprint(cr) != expected  # ... is not what the run left: run again


def test_someone_elses_write_after_ours_is_a_change() -> None:
    deps, cr = _setup()
    before = deps.fingerprint(cr)
    hosted_cluster = _obj("HostedCluster", "hcp", "10", OWNER)
    expected = deps.expected_after(cr, before, [_write(hosted_cluster)], [])
    deps.hosted_clusters._apply("ADDED", hosted_cluster)
    assert deps.fingerprint(cr) == expected
    deps.hosted_clusters._apply("MODIFIED", _obj("HostedCluster", "hcp", "13", OWNER))  # HyperShift's status
    assert deps.fingerprint(cr) != expected


def test_writes_to_objects_of_other_provisioners_are_not_expected() -> None:
    deps, cr = _setup()
    before = deps.fingerprint(cr)
    theirs = _obj("HostedCluster", "other", "30", {LABEL_NAME: "other", LABEL_NAMESPACE: "team"})
    assert deps.expected_after(cr, before, [_write(theirs)], []) == before


def test_a_change_by_someone_else_during_the_run_is_not_hidden_by_a_later_write_of_ours() -> None:
    """DPUCluster edited (rv 6) while the run validates and then patches it (rv 7): the run's
    write hides the edit from the fingerprint, so what was seen during the run decides."""
    deps, cr = _setup()
    before = deps.fingerprint(cr)
    key = ("team", "hcp")
    deps.track([key])
    deps.dpuclusters._apply("MODIFIED", _obj("DPUCluster", "dpus", "6"))  # someone else
    ours = _obj("DPUCluster", "dpus", "7")
    deps.dpuclusters._apply("MODIFIED", ours)  # the run's patch
    seen = deps.untrack(key)
    assert ("DPUCluster", "team", "dpus", "6") in seen
    assert deps.expected_after(cr, before, [_write(ours)], seen) is None  # run again
    assert deps.expected_after(cr, before, [_write(ours)], [c for c in seen if c[3] == "7"]) is not None
    assert deps.untrack(key) == []  # no longer recorded


def test_a_deletion_during_the_run_is_never_taken_for_our_write() -> None:
    deps, cr = _setup()
    before = deps.fingerprint(cr)
    config_map = _obj("ConfigMap", "bfcfg-dpus.cfg", "20", OWNER)
    deps.track([("team", "hcp")])
    deps.owned_configmaps._apply("ADDED", config_map)
    deps.owned_configmaps._apply("DELETED", config_map)
    seen = deps.untrack(("team", "hcp"))
    assert ("ConfigMap", "team", "bfcfg-dpus.cfg", None) in seen
    assert deps.expected_after(cr, before, [_write(config_map)], seen) is None
