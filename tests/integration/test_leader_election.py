"""Two operator replicas on one management cluster: only the Lease holder reconciles; when it is
killed the other takes over within the lease duration, creating nothing twice; a clean stop
(SIGTERM) releases the Lease at once."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.resources import HOSTED_CLUSTER, LEASE, PROVISIONER
from dpf_hcp_dev.localcluster.controlplane import terminate
from dpf_hcp_dev.localcluster.environment import OPERATOR_NAMESPACE, Environment
from dpf_hcp_dev.processes import start_operator, start_standins, wait_ready
from support import (
    bluefield_configmap,
    dpucluster,
    namespace,
    provisioner_body,
    secrets,
    unique,
    wait_condition,
    wait_for,
)

LEASE_SECONDS = 4
FLAGS = ("--leader-elect", "--lease-duration", str(LEASE_SECONDS), "--renew-deadline", "3", "--retry-period", "0.5")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    env = Environment.up(tmp_path_factory.mktemp("leader-env"))
    bluefield_configmap(env.client())
    standins = start_standins(env, tmp_path_factory.mktemp("leader-logs") / "standins.log")
    try:
        yield env
    finally:
        terminate(standins.pid)
        env.down()


def holder(client):
    lease = client.get_or_none(LEASE, "dpf-hcp-provisioner-leader", OPERATOR_NAMESPACE)
    return ((lease or {}).get("spec") or {}).get("holderIdentity") or ""


def reconciled(log_path, ns):
    lines = [json.loads(x) for x in log_path.read_text().splitlines() if x.startswith("{")]
    return [x for x in lines if x.get("msg") == "reconciled" and x.get("namespace") == ns]


def new_provisioner(client):
    ns = namespace(client, unique("tenant"))
    dpu_ns = namespace(client, unique("dpus"))
    secrets(client, ns)
    dpucluster(client, dpu_ns, "dpucluster")
    client.create(PROVISIONER, provisioner_body(ns, "hcp", dpu_ns, "dpucluster"))
    return ns


def test_only_the_leader_reconciles_and_the_other_takes_over(cluster, tmp_path):
    client = cluster.client()
    logs = {name: tmp_path / f"{name}.log" for name in ("a", "b")}
    a = start_operator(cluster, tmp_path / "a", logs["a"], *FLAGS)
    b = None
    try:
        wait_ready(a.health_port, a.process, logs["a"])
        wait_for("replica a to lead", lambda: holder(client).endswith(f"_{a.process.pid}"), timeout=20)
        b = start_operator(cluster, tmp_path / "b", logs["b"], *FLAGS)
        wait_ready(b.health_port, b.process, logs["b"])  # a standby replica is ready: it serves the webhook

        first = new_provisioner(client)
        wait_condition(client, first, "hcp", "Ready", "True")
        assert reconciled(logs["a"], first)
        assert not reconciled(logs["b"], first)
        assert holder(client).endswith(f"_{a.process.pid}")

        os.kill(a.process.pid, signal.SIGKILL)  # no chance to release the Lease
        killed = time.monotonic()
        wait_for("replica b to lead", lambda: holder(client).endswith(f"_{b.process.pid}"), timeout=30)
        takeover = time.monotonic() - killed
        assert takeover <= LEASE_SECONDS + 3, takeover

        second = new_provisioner(client)
        wait_condition(client, second, "hcp", "Ready", "True")
        assert reconciled(logs["b"], second)
        hosted = [h for h in client.list(HOSTED_CLUSTER).get("items") or [] if h["metadata"]["namespace"] == first]
        assert len(hosted) == 1  # nothing created twice across the handover

        os.kill(b.process.pid, signal.SIGTERM)  # a clean stop gives the Lease up at once
        wait_for("the Lease released", lambda: holder(client) == "", timeout=10)
        b.process.wait(timeout=30)
        assert b.process.returncode == 0
    finally:
        for replica in (a, b):
            if replica is not None and replica.process.poll() is None:
                terminate(replica.process.pid)
