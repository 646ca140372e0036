"""The operator's CSR loop for one hosted cluster (csr_watcher.HostedWatch.pass_once), its
caches faked: what it approves, what it tells, and what it does not decide twice. The rules
themselves: test_csr_policy.py; through the real API servers: tests/integration/test_csr_approval.py."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.csr.policy import (
    BOOTSTRAPPER,
    BOOTSTRAPPER_GROUPS,
    CLIENT_SIGNER,
    Decision,
)
from dpf_hcp_dev.certificates import request_pem
from dpf_hcp_operator.csr_watcher import LOGGED_PER_PASS, PASS_PACE, HostedWatch


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
    def __init__(self, refuse: ApiError | None = None) -> None:
        self.approvals: list[str] = []
        self.refuse = refuse

    def replace(self, _res: Any, body: dict[str, Any], subresource: str = "") -> dict[str, Any]:
        assert subresource == "approval"
        if self.refuse is not None:
            raise self.refuse
        self.approvals.append(body["metadata"]["name"])
        return body


class Recorder:
    def __init__(self) -> None:
        self.told: list[tuple[str, str]] = []
        self.tokens: int | None = None  # refusals let through before the rest are held back (None: all)

    def put(self, _provisioner: dict[str, Any], csr: dict[str, Any], decision: Decision) -> bool:
        if not decision.approve and self.tokens is not None:
            if self.tokens == 0:
                return False  # held back, as the spam filter does when a provisioner's burst is spent
            self.tokens -= 1
        self.told.append((csr["metadata"]["name"], decision.reason))
        return True


def approver(csrs: list[dict[str, Any]], dpus: list[dict[str, Any]]) -> HostedWatch:
    a = HostedWatch.__new__(HostedWatch)  # no hosted cluster to reach: the loop's state and caches only
    a.provisioner = {
        "metadata": {"namespace": "tenant", "name": "hcp"},
        "spec": {"dpuClusterRef": {"namespace": "dpus", "name": "c1"}},
    }
    a.hosted_cluster = {}
    a.csrs, a.nodes, a.dpus = Cache(csrs), Cache([]), Cache(dpus)
    a.hosted, a.recorder = Hosted(), Recorder()
    a.bootstrapped, a.reported, a.logged, a.approved = {}, set(), set(), set()
    a.approval_backoff, a.approval_retry_at = 0.0, 0.0
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


def junk(count: int, ago: float) -> list[dict[str, Any]]:
    """``count`` bootstrap CSRs for nodes no DPU is, made ``ago`` seconds ago: what a tenant (or a
    pod with a bootstrap token) can keep pending in its hosted cluster."""
    spec = bootstrap_csr("junk", "")["spec"]  # one key for all: making 20000 would take a minute
    stamps = [stamp(ago + second) for second in range(600)]
    return [
        {"metadata": {"name": f"junk-{i}", "uid": f"junk-uid-{i}", "creationTimestamp": stamps[i % 600]}, "spec": spec}
        for i in range(count)
    ]


def test_thousands_of_old_csrs_are_told_but_logged_in_a_bounded_number_of_lines(caplog):
    """Attacker: 3000 CSRs over an hour old (refused as TooOld; the flood guard counts recent ones
    only, as the machine-approver does) would be 3000 WARNING lines. Each is still told (its
    Event goes through the recorder's spam filter); the log says 25 and counts the rest."""
    a = approver(junk(3000, 7200), [])
    with caplog.at_level(logging.INFO, logger="dpf_hcp_operator.csr"):
        a.pass_once()
    lines = [r.getMessage() for r in caplog.records]
    assert len(a.recorder.told) == 3000
    assert lines.count("CSR left pending") == LOGGED_PER_PASS
    (summary,) = [r for r in caplog.records if r.getMessage() == "more CSRs left pending than are logged one by one"]
    assert summary.fields["count"] == 3000 - LOGGED_PER_PASS and summary.fields["reasons"] == "TooOld=2975"
    caplog.clear()
    a.pass_once()  # nothing new to tell
    assert not caplog.records


def test_a_pass_over_twenty_thousand_pending_csrs_costs_well_under_a_second_of_cpu():
    """Attacker: 20000 pending CSRs, and an event after every one. Each pass reads every CSR's
    creation time (several times: the flood guard, the rules, the bootstrap history), which cost
    3.7 s of CPU a pass with strptime."""
    a = approver(junk(20000, 7200), [])
    a.pass_once()
    started = time.thread_time()
    a.pass_once()
    assert time.thread_time() - started < 1.5


def test_a_tenant_that_keeps_waking_the_loop_gets_a_bounded_share_of_a_core():
    """Attacker: a CSR changed after every pass, so the loop is always woken, and each pass is
    costly (a huge backlog). Passes are paced by their cost: the loop's thread uses at most about
    1 / (1 + PASS_PACE) of a core, where it used all of it."""
    a = approver([], [])
    a.stop, a.wake = threading.Event(), threading.Event()
    a.csrs.synced = a.nodes.synced = threading.Event()
    a.csrs.synced.set()
    passes = []

    def costly_pass() -> None:
        started = time.thread_time()
        while time.thread_time() - started < 0.02:  # 20 ms of CPU
            pass
        passes.append(time.monotonic())
        a.wake.set()  # the next event is already there

    a.pass_once = costly_pass
    a.wake.set()
    loop = threading.Thread(target=a.passes, daemon=True)
    started = time.monotonic()
    loop.start()
    time.sleep(2.0)
    a.stop.set()
    a.wake.set()
    loop.join(5)
    elapsed = time.monotonic() - started
    busy = len(passes) * 0.02
    assert not loop.is_alive()
    assert len(passes) >= 3 and busy / elapsed < 1.5 / (1 + PASS_PACE), (len(passes), elapsed)


def forged_csr() -> dict[str, Any]:
    """A client CSR for a DPU's node sent by a pod, not the node-bootstrapper."""
    csr = bootstrap_csr("dpu-b", "uid-forged")
    csr["metadata"]["name"] = "forged"
    csr["spec"] = dict(csr["spec"], username="system:serviceaccount:tenant:pod")
    return csr


def test_an_approval_the_hosted_cluster_refuses_does_not_hide_the_refusals_of_the_pass():
    """Attacker: the tenant makes its hosted cluster refuse approvals (an admission webhook or an
    RBAC change on the approver's role: 403) and keeps one approvable CSR pending beside a forgery.
    The pass raised at the refused approval and never told the forgery; now the forgery is told and
    the failure logged, and approvals are tried again after a backoff (1 s, doubling to 300 s), not on
    every wake."""
    a = approver([bootstrap_csr("dpu-a", "uid-1"), forged_csr()], [joining_dpu("dpu-a")])
    a.hosted = Hosted(refuse=ApiError(403, "Forbidden", "denied by the tenant's webhook"))
    a.pass_once()
    assert a.hosted.approvals == []
    assert [name for name, _reason in a.recorder.told] == ["forged"]
    a.hosted.refuse = None
    a.pass_once()  # woken at once (a tenant relabelling a CSR in a loop): no approval tried yet
    assert a.hosted.approvals == [] and a.approval_backoff == 1.0
    a.approval_retry_at = 0.0  # the backoff's second is over
    a.pass_once()
    assert a.hosted.approvals == ["dpu-a-bootstrap"] and a.approval_backoff == 0.0


def test_a_refusal_held_back_by_the_spam_filter_is_told_on_a_later_pass():
    """Attacker: 25 junk refusals spend the provisioner's burst of Events just before a forgery. A
    refusal held back was marked told all the same, and never told; now it is told once the filter
    lets an Event through."""
    a = approver([forged_csr()], [joining_dpu("dpu-a")])
    a.recorder.tokens = 0
    a.pass_once()
    assert a.recorder.told == []
    a.recorder.tokens = 1  # a token again, 300 s later
    a.pass_once()
    assert [name for name, _reason in a.recorder.told] == ["forged"]
    a.pass_once()
    assert len(a.recorder.told) == 1  # told once


def test_a_forgery_is_told_before_older_junk_when_events_are_few(caplog):
    """Attacker: 40 junk CSRs, older than the forgery and not yet told, wait behind a spent burst
    of Events (one every 300 s after it). Refusals were offered oldest first, so the forgery waited
    for all of them; now the newest refusal for what it is goes first. Each refusal is logged and
    counted once, whether its Event went or waits."""
    a = approver([*junk(40, 120), forged_csr()], [joining_dpu("dpu-a")])
    a.recorder.tokens = 1
    with caplog.at_level(logging.INFO, logger="dpf_hcp_operator.csr"):
        a.pass_once()
    assert [name for name, _reason in a.recorder.told] == ["forged"]
    assert [r.getMessage() for r in caplog.records].count("CSR left pending") == LOGGED_PER_PASS
    caplog.clear()
    a.pass_once()  # the rest are offered again, and not logged again
    assert not [r for r in caplog.records if r.getMessage() == "CSR left pending"]


def test_the_cache_keeps_of_a_csr_all_but_its_certificate_and_of_a_node_its_name() -> None:
    from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.csr.approver import (
        cached,
        cached_node,
    )

    conditions = [{"type": "Approved", "status": "True", "reason": "Custom", "message": "kept as written"}]
    csr = {
        "metadata": {"name": "c"},
        "spec": {"request": "UkVR"},
        "status": {"conditions": conditions, "certificate": "Q0VSVA=="},
    }
    kept = cached(csr)
    assert kept == {"metadata": {"name": "c"}, "spec": {"request": "UkVR"}, "status": {"conditions": conditions}}
    assert csr["status"]["certificate"] == "Q0VSVA==", "the object handed in is not changed"
    pending = {"metadata": {"name": "p"}, "spec": {}}
    assert cached(pending) is pending
    node = {
        "metadata": {"name": "n", "uid": "u", "resourceVersion": "7", "annotations": {"a": "x" * 1000}, "labels": {}},
        "spec": {"taints": []},
        "status": {"images": [{"names": ["x" * 1000]}]},
    }
    assert cached_node(node) == {"metadata": {"name": "n", "uid": "u", "resourceVersion": "7"}}


def test_a_nodes_status_updates_do_not_wake_the_approver_but_a_node_made_or_gone_does() -> None:
    a = approver([], [])
    a.wake = threading.Event()
    node = {"metadata": {"name": "n", "resourceVersion": "1"}}
    a._on_node("MODIFIED", node, node)
    assert not a.wake.is_set()
    for kind, old, new in (("ADDED", None, node), ("DELETED", node, None), ("MODIFIED", None, node)):
        a._on_node(kind, old, new)
        assert a.wake.is_set(), kind
        a.wake.clear()


def test_approvals_held_back_are_tried_again_when_the_backoff_ends_without_an_event():
    """A refused approval is tried again when its backoff ends, not at the next event or the next
    idle pass 30 s later (a Node's status updates, which used to wake the loop, no longer do)."""
    a = approver([], [])
    a.stop, a.wake = threading.Event(), threading.Event()
    a.csrs.synced = a.nodes.synced = threading.Event()
    a.csrs.synced.set()
    passes: list[float] = []
    a.pass_once = lambda: passes.append(time.monotonic())
    a.approval_retry_at = time.monotonic() + 0.3
    loop = threading.Thread(target=a.passes, daemon=True)
    started = time.monotonic()
    loop.start()
    try:
        wait_until = started + 5
        while not passes and time.monotonic() < wait_until:
            time.sleep(0.02)
        assert passes and 0.25 <= passes[0] - started < 2.0, [p - started for p in passes]
    finally:
        a.stop.set()
        a.wake.set()
        loop.join(5)
