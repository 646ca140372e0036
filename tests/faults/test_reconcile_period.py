"""watches.yaml's reconcilePeriod is the safety net for what no watch shows: MetalLB's
IPAddressPool, made by the operator in metallb-system and not watched, is deleted behind its back.
Without a period nothing notices; with one, the next full pass makes it again."""

from __future__ import annotations

import time

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import IP_ADDRESS_POOL
from fault_harness import Replica, Tenant
from support import metric, wait_for, wait_idle

PERIOD = 5  # seconds


def _delete_pool(tenant: Tenant) -> str:
    (pool,) = tenant.labelled(IP_ADDRESS_POOL, "metallb-system")
    tenant.client.delete(IP_ADDRESS_POOL, pool, "metallb-system")
    return pool


def _between_passes(metrics_port: int) -> None:
    """Wait for a moment when no run is under way and nothing is queued. With a period of a few
    seconds the operator is never quiet for long on a slow machine (a pass can take most of the
    period), so this waits for the gap between two passes, not for a quiet spell."""

    def idle() -> bool:
        busy = metric(metrics_port, "dpfhcp_queue_depth") + metric(metrics_port, "dpfhcp_ansible_runs_in_progress")
        return busy == 0

    wait_for("a gap between two passes", idle, timeout=60)


def test_the_period_repairs_what_no_watch_sees_and_nothing_else_does(fault_env, tmp_path):
    client = fault_env.client()
    without = Replica(fault_env, tmp_path / "no-period").start()
    try:
        tenant = Tenant.create(client, virtualIP="192.168.61.10")
        tenant.assert_converged()
        wait_idle(without.started.metrics_port)
        _delete_pool(tenant)
        time.sleep(PERIOD * 1.5)
        assert tenant.labelled(IP_ADDRESS_POOL, "metallb-system") == []  # no watch saw it
    finally:
        without.close()
    replica = Replica(fault_env, tmp_path / "period", reconcile_period=f"{PERIOD}s").start()
    try:
        wait_for("the pool made again by the first pass", lambda: tenant.labelled(IP_ADDRESS_POOL, "metallb-system"))
        _between_passes(replica.started.metrics_port)
        _delete_pool(tenant)
        deleted = time.monotonic()
        # The next pass starts within a period and takes a run's time (seconds on a slow machine).
        wait_for(
            "the pool made again by the period's pass",
            lambda: tenant.labelled(IP_ADDRESS_POOL, "metallb-system"),
            timeout=PERIOD * 6,
        )
        assert time.monotonic() - deleted <= PERIOD * 5
        tenant.assert_converged()
    finally:
        replica.close()
