"""Issue 9, items 1 and 7: two operator replicas on one management cluster. Only the Lease holder
reconciles; when it is killed the other takes over within the lease duration, creating nothing
twice. A clean stop (SIGTERM) lets the run under way finish, or abandons it past the grace
period, then releases the Lease at once; the next leader completes what was left."""

from __future__ import annotations

import os
import signal
import time

from fault_harness import Replica, Tenant, descendants, running

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.resources import LEASE
from dpf_hcp_dev.localcluster.environment import OPERATOR_NAMESPACE
from support import wait_for, wait_idle

LEASE_SECONDS = 4
FLAGS = ("--leader-elect", "--lease-duration", str(LEASE_SECONDS), "--renew-deadline", "3", "--retry-period", "0.5")


def holder(client) -> str:
    lease = client.get_or_none(LEASE, "dpf-hcp-provisioner-leader", OPERATOR_NAMESPACE)
    return ((lease or {}).get("spec") or {}).get("holderIdentity") or ""


def leads(client, replica: Replica) -> bool:
    return holder(client).endswith(f"_{replica.process.pid}")


def reconciled(replica: Replica, ns: str) -> list[dict]:
    return [x for x in replica.lines() if x.get("msg") == "reconciled" and x.get("namespace") == ns]


def pair(env, tmp_path, *flags: str) -> tuple[Replica, Replica]:
    """Replica a leading and idle (earlier tests' provisioners reconciled), replica b on standby
    (ready: it serves the webhook)."""
    a = Replica(env, tmp_path / "a", (*FLAGS, *flags)).start()
    wait_for("replica a to lead", lambda: leads(env.client(), a), timeout=20)
    assert a.started is not None
    wait_idle(a.started.metrics_port)
    b = Replica(env, tmp_path / "b", (*FLAGS, *flags)).start()
    return a, b


def test_only_the_leader_reconciles_and_the_other_takes_over(fault_env, tmp_path):
    client = fault_env.client()
    a, b = pair(fault_env, tmp_path)
    try:
        first = Tenant.create(client)
        first.assert_converged()
        assert reconciled(a, first.ns)
        assert not reconciled(b, first.ns)
        assert leads(client, a)

        os.kill(a.process.pid, signal.SIGKILL)  # no chance to release the Lease
        killed = time.monotonic()
        wait_for("replica b to lead", lambda: leads(client, b), timeout=30)
        takeover = time.monotonic() - killed
        assert takeover <= LEASE_SECONDS + 3, takeover

        second = Tenant.create(client)
        second.assert_converged()
        assert reconciled(b, second.ns)
        first.assert_converged()  # nothing created twice across the handover

        os.kill(b.process.pid, signal.SIGTERM)  # a clean stop gives the Lease up at once
        wait_for("the Lease released", lambda: holder(client) == "", timeout=10)
        b.process.wait(timeout=30)
        assert b.process.returncode == 0
    finally:
        a.close()
        b.close()


def wait_run_under_way(replica: Replica) -> None:
    wait_for("an Ansible run under way", lambda: replica.metric("dpfhcp_ansible_runs_in_progress") >= 1, 30, 0.02)


def test_sigterm_during_a_run_lets_it_finish_then_hands_over(fault_env, tmp_path):
    client = fault_env.client()
    a, b = pair(fault_env, tmp_path, "--graceful-shutdown-timeout", "60")
    try:
        tenant = Tenant.create(client)
        wait_run_under_way(a)
        os.kill(a.process.pid, signal.SIGTERM)
        a.process.wait(timeout=60)
        assert a.process.returncode == 0
        finished = [x for x in reconciled(a, tenant.ns) if x["result"] in ("success", "requeued")]
        assert finished, a.log.read_text()[-3000:]  # the run under way was finished, not cut
        assert not any(x.get("msg") == "abandoning the runs under way" for x in a.lines())
        wait_for("replica b to lead", lambda: leads(client, b), timeout=10)  # released: no lease expiry to wait
        tenant.assert_converged()
    finally:
        a.close()
        b.close()


def test_sigterm_past_the_grace_period_abandons_the_run_and_the_next_leader_completes_it(fault_env, tmp_path):
    client = fault_env.client()
    a, b = pair(fault_env, tmp_path, "--graceful-shutdown-timeout", "0")
    try:
        tenant = Tenant.create(client)
        wait_run_under_way(a)
        under_a = descendants(a.process.pid)
        os.kill(a.process.pid, signal.SIGTERM)
        stopped = time.monotonic()
        a.process.wait(timeout=30)
        assert a.process.returncode == 0
        assert time.monotonic() - stopped < 10
        assert any(x.get("msg") == "abandoning the runs under way" for x in a.lines())
        assert [x["result"] for x in reconciled(a, tenant.ns)] == ["abandoned"]
        assert not running(under_a), "Ansible processes outlived the operator"
        wait_for("replica b to lead", lambda: leads(client, b), timeout=10)
        obj = tenant.assert_converged()
        wait_for("replica b to have reconciled it", lambda: reconciled(b, tenant.ns), timeout=10)
        assert not any(c["type"] == "Failure" and c["status"] == "True" for c in obj["status"]["conditions"])
    finally:
        a.close()
        b.close()
