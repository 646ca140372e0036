"""Issue 22 item 4: hosted API servers gone bad do not hold the others. Fifty provisioners are created
at once, as a platform team's automation would, three of them with a hosted API server gone bad: one
accepts connections and never answers, one drips its TLS handshake a byte at a time, one completes the
handshake with the hosted cluster's certificate and drips its answer (the stand-in HyperShift publishes
those peers as their control plane's endpoint and in their admin kubeconfigs). The other 47 reach Ready
in the usual time; the three say what is wrong, and the operator stays healthy and does not storm them.

What would hold them: a request to the bad peer with no deadline for the whole exchange (the dripping
peer resets a per-read timeout with each byte) holds its task, its run and the run's other provisioners
until the run deadline, and then they wait out a requeue. With the deadlines (``k8s/deadlines.py``) a
run with a bad peer in it pays at most its hosted cluster pass's 30 s for it.

The bad ones are made after the first few, so that they share the runs of the rest (the first few
made are served by runs of their own). "The usual time" is measured beside it: fifty healthy ones
created at once afterwards, in the same operator; the 47 may take at most half as long again. Measured
on this 2-CPU machine: 47 beside the three in 71 s, fifty healthy ones in 98 s."""

from __future__ import annotations

import ssl
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import PROVISIONER
from dpf_hcp_dev.localcluster.environment import Environment
from dpf_hcp_operator import pki
from fault_harness import Replica, Tenant, healthy
from hostile_peers import hostile_peer
from support import condition, standin_settings, unique, wait_for

COUNT = 50
# hostile_peers.BEHAVIOURS, and whether the peer holds the hosted API server's certificate (a TLS
# handshake the client accepts, then the answer a byte at a time: only a deadline for the whole
# exchange ends that one; a silent peer and a dripped handshake also meet a socket's timeout)
PEERS = {"silent": ("silent", False), "handshake-dripping": ("tls-handshake", False), "answer-dripping": ("body", True)}
RUN_DEADLINE = 600  # the operator's --run-deadline (its default, settings.py), given explicitly
FIRST = 5  # healthy ones made before the bad ones
SLACK = 1.5  # the 47 beside the bad ones take at most this many times as long as fifty healthy ones


def hosted_server_context(env: Environment, directory: Path) -> ssl.SSLContext:
    """A server context with a certificate for 127.0.0.1 from the hosted cluster's CA, which its
    admin kubeconfig (and so the operator) trusts: what a peer that took over the address holds."""
    directory.mkdir()
    pki_dir = env.hosted.directory / "pki"
    crt, key = pki.make_serving_cert(directory, pki_dir / "ca.crt", pki_dir / "ca.key", "peer", ["127.0.0.1"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(crt, key)
    return context


def all_ready(client, tenants: list[Tenant], timeout: float, started: float) -> float:
    """Seconds from ``started`` (time.monotonic) until every one of ``tenants`` is Ready."""
    waiting = {t.ns for t in tenants}

    def done() -> bool:
        for item in client.list(PROVISIONER).get("items") or []:
            ready = condition(item, "Ready")
            if ready and ready["status"] == "True":
                waiting.discard(item["metadata"]["namespace"])
        return not waiting

    wait_for(f"{COUNT} provisioners Ready (left: {len(waiting)})", done, timeout=timeout, interval=0.5)
    return time.monotonic() - started


@pytest.mark.timeout(1500)
def test_three_bad_hosted_api_servers_do_not_hold_a_batch_of_fifty(fault_env, tmp_path):
    client = fault_env.client()
    replica = Replica(fault_env, tmp_path / "operator", flags=("--run-deadline", str(RUN_DEADLINE))).start()
    with ExitStack() as stack:
        stack.callback(replica.close)
        # Fifty, three of them with a hosted API server gone bad.
        tls = hosted_server_context(fault_env, tmp_path / "peer-pki")
        ports = {
            what: stack.enter_context(hostile_peer(behaviour, tls if certified else None))
            for what, (behaviour, certified) in PEERS.items()
        }
        hostile_ns = {what: unique("tenant") for what in PEERS}
        endpoints = {f"{ns}.hcp.apiEndpoint": f"127.0.0.1:{ports[what]}" for what, ns in hostile_ns.items()}
        standin_settings(client, **endpoints)
        stack.callback(lambda: standin_settings(client, **dict.fromkeys(endpoints, "")))
        started = time.monotonic()
        # The bad ones among the others: the first few made are served by runs of their own (the
        # workers start on them at once); those made next share the two runs of the rest.
        others = [Tenant.create(client) for _ in range(FIRST)]
        hostile = {what: Tenant.create(client, ns=ns) for what, ns in hostile_ns.items()}
        others += [Tenant.create(client) for _ in range(COUNT - len(hostile) - FIRST)]
        took = all_ready(client, others, timeout=RUN_DEADLINE, started=started)
        print(f"{replica.metric('dpfhcp_ansible_runs_total'):.0f} Ansible runs")
        print(f"47 beside three bad hosted API servers: {took:.1f}s to Ready")

        # The three say why they are not served, and nothing storms.
        for what, tenant in hostile.items():
            obj = wait_for(
                f"the {what} one's CSR approval saying it cannot reach its hosted cluster",
                lambda t=tenant: (
                    (o := t.get()) and (c := condition(o, "CSRAutoApprovalActive")) and c["status"] == "False" and o
                ),
                timeout=120,
            )
            said = condition(obj, "CSRAutoApprovalActive")
            print(f"{what}: {said['reason']}: {said['message']}")
            assert str(ports[what]) in said["message"] or "deadline" in said["message"].lower(), said
        runs = replica.metric("dpfhcp_ansible_runs_total")
        time.sleep(30)
        more = replica.metric("dpfhcp_ansible_runs_total") - runs
        print(f"Ansible runs in the 30 s after: {more}")
        assert more <= 2 * len(PEERS), more

        # The usual time: fifty healthy ones, created at once in the same operator.
        started = time.monotonic()
        usual = all_ready(client, [Tenant.create(client) for _ in range(COUNT)], RUN_DEADLINE, started)
        print(f"fifty healthy ones: {usual:.1f}s to Ready")
        assert took <= SLACK * usual, (took, usual)
        assert healthy(replica) and replica.starts == 1 and replica.process.poll() is None
