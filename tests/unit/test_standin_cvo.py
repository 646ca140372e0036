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
