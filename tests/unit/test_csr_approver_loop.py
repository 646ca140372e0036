"""The operator's CSR loop for one hosted cluster (csr_watcher.HostedWatch.pass_once), its
caches faked: what it approves, what it tells, and what it does not decide twice. The rules
themselves: test_csr_policy.py; through the real API servers: tests/integration/test_csr_approval.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.csr.policy import (
    BOOTSTRAPPER,
    BOOTSTRAPPER_GROUPS,
    CLIENT_SIGNER,
    Decision,
)
from dpf_hcp_dev.certificates import request_pem
from dpf_hcp_operator.csr_watcher import HostedWatch


def stamp(ago: float) -> str:
    """``ago`` seconds before now, when the test runs (not when it was collected: the whole suite
    runs for over an hour before the unit tests, longer than a pending CSR is decided on)."""
    return (datetime.now(UTC) - timedelta(seconds=ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


class Cache:
    def __init__(self, objs: list[dict[str, Any]]):
        self.objs = objs

    def items(self) -> list[dict[str, Any]]:
        return list(self.objs)


class Hosted:
    def __init__(self) -> None:
        self.approvals: list[str] = []

    def replace(self, _res: Any, body: dict[str, Any], subresource: str = "") -> dict[str, Any]:
        assert subresource == "approval"
        self.approvals.append(body["metadata"]["name"])
        return body


class Recorder:
    def __init__(self) -> None:
        self.told: list[tuple[str, str]] = []

    def put(self, _provisioner: dict[str, Any], csr: dict[str, Any], decision: Decision) -> None:
        self.told.append((csr["metadata"]["name"], decision.reason))


def approver(csrs: list[dict[str, Any]], dpus: list[dict[str, Any]]) -> HostedWatch:
    a = HostedWatch.__new__(HostedWatch)  # no hosted cluster to reach: the loop's state and caches only
    a.provisioner = {
        "metadata": {"namespace": "tenant", "name": "hcp"},
        "spec": {"dpuClusterRef": {"namespace": "dpus", "name": "c1"}},
    }
    a.hosted_cluster = {}
    a.csrs, a.nodes, a.dpus = Cache(csrs), Cache([]), Cache(dpus)
    a.hosted, a.recorder = Hosted(), Recorder()
    a.bootstrapped, a.reported, a.approved = {}, set(), set()
    return a


def joining_dpu(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "dpus", "creationTimestamp": stamp(60)},
        "spec": {"cluster": {"namespace": "dpus", "name": "c1"}},
        "status": {"phase": "DPU Cluster Config"},
    }


def bootstrap_csr(name: str, uid: str) -> dict[str, Any]:
    return {
        "metadata": {"name": f"{name}-bootstrap", "uid": uid, "creationTimestamp": stamp(5)},
        "spec": {
            "signerName": CLIENT_SIGNER,
            "username": BOOTSTRAPPER,
            "groups": list(BOOTSTRAPPER_GROUPS),
            "request": request_pem(f"system:node:{name}", ["system:nodes"]),
            "usages": ["digital signature", "client auth"],
        },
    }


def test_a_csr_it_approved_is_not_decided_again_while_its_cache_still_shows_it_pending():
    """The watch event of an approval comes after the approval: a pass in between saw the same
    bootstrap CSR pending again and refused it as AlreadyBootstrapped, a false Warning."""
    csr = bootstrap_csr("dpu-a", "uid-1")
    a = approver([csr], [joining_dpu("dpu-a")])
    a.pass_once()
    assert a.hosted.approvals == ["dpu-a-bootstrap"]
    assert a.recorder.told == [("dpu-a-bootstrap", "DPUJoining")]
    a.pass_once()  # woken by another event; the cache has not seen the approval yet
    assert a.hosted.approvals == ["dpu-a-bootstrap"] and a.recorder.told == [("dpu-a-bootstrap", "DPUJoining")]
    csr["status"] = {"conditions": [{"type": "Approved", "status": "True"}]}  # the approval's watch event
    a.pass_once()
    assert a.approved == set()  # forgotten once no longer pending: the set stays as small as the backlog


def test_a_second_bootstrap_for_the_same_join_is_still_refused_and_told():
    first, second = bootstrap_csr("dpu-a", "uid-1"), bootstrap_csr("dpu-a", "uid-2")
    second["metadata"]["name"] = "dpu-a-bootstrap-again"
    a = approver([first], [joining_dpu("dpu-a")])
    a.pass_once()
    a.csrs.objs.append(second)  # another request for the join we approved: not ours to skip
    a.pass_once()
    assert a.hosted.approvals == ["dpu-a-bootstrap"]
    assert ("dpu-a-bootstrap-again", "AlreadyBootstrapped") in a.recorder.told
