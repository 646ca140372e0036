"""The CVO stand-in's operators: HyperShift's control-plane stubs stable at once, the payload operators
whose workloads run on workers unavailable until a worker is Ready, a disabled capability's operator
absent (dev/dpf_hcp_dev/standins/cvo.py cites the upstream files)."""

from __future__ import annotations

from dpf_hcp_dev.standins.cvo import ClusterVersionOperatorStandin, operator_conditions


def statuses(name: str, workers: bool, degraded: frozenset[str] = frozenset()) -> dict[str, str]:
    return {c["type"]: c["status"] for c in operator_conditions(name, workers, set(degraded))}


def test_control_plane_stubs_are_stable_without_workers():
    assert statuses("kube-apiserver", workers=False) == {
        "Available": "True",
        "Progressing": "False",
        "Degraded": "False",
        "Upgradeable": "True",
    }


def test_operators_with_workloads_on_workers_wait_for_one():
    assert statuses("dns", workers=False)["Available"] == "False"
    assert statuses("dns", workers=False)["Progressing"] == "True"
    assert statuses("dns", workers=True)["Available"] == "True"
    assert statuses("monitoring", workers=True, degraded=frozenset({"monitoring"}))["Degraded"] == "True"


def test_a_disabled_capability_has_no_operator():
    cvo = ClusterVersionOperatorStandin(None, None, None, None)  # type: ignore[arg-type]
    hc = {"spec": {"capabilities": {"disabled": ["Ingress", "Console", "ImageRegistry"]}}}
    names = cvo.expected(hc)
    assert "ingress" not in names and "console" not in names and "image-registry" not in names
    assert {"insights", "node-tuning", "dns", "kube-apiserver"} <= set(names)
    assert "ingress" in cvo.expected({"spec": {}})


def test_the_cluster_version_fails_on_an_unavailable_operator_and_on_a_degraded_one_once_installed():
    from dpf_hcp_dev.standins.cvo import _progress

    names = ["dns", "monitoring", "network"]
    progressing, failing = _progress("4.19.0", names, ["dns", "network"], [], initializing=True)
    assert (failing["status"], failing["reason"]) == ("True", "ClusterOperatorsNotAvailable")
    assert failing["message"] == "Cluster operators dns, network are not available"
    assert (progressing["status"], progressing["message"]) == (
        "True",
        "Unable to apply 4.19.0: some cluster operators are not available",
    )
    progressing, failing = _progress("4.19.0", names, [], ["monitoring"], initializing=True)
    assert failing["status"] == "False"  # while initializing, a Degraded operator is only reported
    progressing, failing = _progress("4.19.0", names, [], ["monitoring"], initializing=False)
    assert (failing["reason"], failing["message"]) == (
        "ClusterOperatorDegraded",
        "Cluster operator monitoring is degraded",
    )
    assert progressing["message"] == "Error while reconciling 4.19.0: the cluster operator monitoring is degraded"
    progressing, failing = _progress("4.19.0", names, [], [], initializing=False)
    assert (progressing["status"], progressing["message"], failing["status"]) == (
        "False",
        "Cluster version is 4.19.0",
        "False",
    )
