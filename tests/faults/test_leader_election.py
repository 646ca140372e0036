"""Issue 9, items 1 and 7: two operator replicas on one management cluster. Only the Lease holder
reconciles; when it is killed the other takes over within the lease duration, creating nothing
twice. A clean stop (SIGTERM) lets the run under way finish, or abandons it past the grace
period, then releases the Lease at once; the next leader completes what was left. Issue 22: the
same holds between replicas whose wall clocks are an hour apart."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import LEASE
from dpf_hcp_dev.localcluster.environment import OPERATOR_NAMESPACE
from fault_harness import Replica, Tenant, descendants, running, skewed_clock
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
    try:
        wait_for("replica a to lead", lambda: leads(env.client(), a), timeout=20)
        assert a.started is not None
        wait_idle(a.started.metrics_port, timeout=180)  # a busy machine runs earlier work slowly
        b = Replica(env, tmp_path / "b", (*FLAGS, *flags)).start()
    except BaseException:
        a.close()  # else it holds the Lease into the next test
        raise
    return a, b


def test_only_the_leader_reconciles_and_the_other_takes_over(fault_env, tmp_path):
    client = fault_env.client()
    a, b = pair(fault_env, tmp_path)
    try:
        first = Tenant.create(client)
        first.assert_converged()  # Ready is written during the run; "reconciled" is logged after it
        wait_for("replica a to log its run", lambda: reconciled(a, first.ns), timeout=90)
        assert not reconciled(b, first.ns)
        assert leads(client, a)

        os.kill(a.process.pid, signal.SIGKILL)  # no chance to release the Lease
        killed = time.monotonic()
        wait_for("replica b to lead", lambda: leads(client, b), timeout=30)
        takeover = time.monotonic() - killed
        assert takeover <= LEASE_SECONDS + 3, takeover

        second = Tenant.create(client)
        second.assert_converged()
        wait_for("replica b to log its run", lambda: reconciled(b, second.ns), timeout=90)
        first.assert_converged()  # nothing created twice across the handover

        assert b.started is not None
        wait_idle(b.started.metrics_port)  # no run under way for the grace period to wait for
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


def leading(replica: Replica) -> bool:
    """What the replica itself says (its dpfhcp_leader gauge); a dead replica leads nothing."""
    try:
        return replica.process.poll() is None and replica.metric("dpfhcp_leader") == 1
    except OSError:
        return False


@contextmanager
def leaders_watched(replicas: list[Replica]) -> Iterator[list[tuple[float, list[int]]]]:
    """Sample every replica's dpfhcp_leader until the block ends; yields the moments (monotonic)
    when more than one said it led, with which."""
    both: list[tuple[float, list[int]]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            now = [i for i, r in enumerate(replicas) if r.started is not None and leading(r)]
            if len(now) > 1:
                both.append((time.monotonic(), now))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield both
    finally:
        done.set()
        thread.join()


def clock_offset(replica: Replica, started: float) -> float:
    """How far the replica's wall clock is from ours: its first log line's ts against when it was
    started (``started``, our time.time())."""
    first = json.loads(next(x for x in replica.log.read_text().splitlines() if x.startswith("{")))
    return datetime.strptime(first["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp() - started


def test_replicas_an_hour_apart_never_both_lead_and_each_takes_over_in_a_lease_duration(fault_env, tmp_path):
    """Expiry is judged on each replica's own monotonic clock since the Lease last changed (client-go's
    observedTime), so the renewTime an hour off in either direction changes nothing."""
    client = fault_env.client()
    replicas: list[Replica] = []
    with leaders_watched(replicas) as both:
        try:
            a = Replica(fault_env, tmp_path / "a", FLAGS).start()
            replicas.append(a)
            wait_for("replica a to lead", lambda: leads(client, a), timeout=20)
            started = time.time()
            ahead = Replica(fault_env, tmp_path / "ahead", FLAGS, environ=skewed_clock("+1h")).start()
            replicas.append(ahead)
            assert 3600 <= clock_offset(ahead, started) < 3660, clock_offset(ahead, started)

            time.sleep(3 * LEASE_SECONDS)  # a's renewTime is an hour old to it: it must still wait
            assert not both, f"two leaders at once (replica indexes): {both[:3]}"
            assert leads(client, a) and leading(a) and not leading(ahead)

            a.kill()  # and the Ansible runs it started, as a container dies
            killed = time.monotonic()
            wait_for("the replica an hour ahead to lead", lambda: leads(client, ahead), timeout=30)
            takeover = time.monotonic() - killed
            assert LEASE_SECONDS - 1 <= takeover <= LEASE_SECONDS + 3, takeover
            tenant = Tenant.create(client)  # the leader an hour ahead does the work
            tenant.assert_converged()  # Ready is written during the run; "reconciled" is logged after it
            wait_for("the leader an hour ahead to log its run", lambda: reconciled(ahead, tenant.ns), timeout=90)

            c = Replica(fault_env, tmp_path / "c", FLAGS).start()  # to c, ahead's renewTime is an hour away
            replicas.append(c)
            time.sleep(3 * LEASE_SECONDS)
            assert leads(client, ahead) and leading(ahead) and not leading(c)

            ahead.kill()  # and the Ansible runs it started, as a container dies
            killed = time.monotonic()
            wait_for("replica c to lead", lambda: leads(client, c), timeout=30)
            takeover = time.monotonic() - killed
            assert LEASE_SECONDS - 1 <= takeover <= LEASE_SECONDS + 3, takeover
            time.sleep(1)
        finally:
            for replica in replicas:
                replica.close()
    assert not both, f"two leaders at once (replica indexes): {both[:3]}"
