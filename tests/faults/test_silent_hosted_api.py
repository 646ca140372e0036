"""Issue 22 item 4: hosted API servers gone bad do not hold the others. Fifty provisioners are created
at once, as a platform team's automation would, and reach Ready (the baseline); once they and their
namespaces are gone, fifty again, three of them with a hosted API server gone bad: one accepts
connections and never answers, one drips its TLS handshake a byte at a time, one completes the
handshake with the hosted cluster's certificate and drips its answer (the stand-in HyperShift
publishes those peers as their control plane's endpoint and in their admin kubeconfigs). The other 47
reach Ready in the time the baseline took, within a margin; the three say what is wrong, and the operator stays
healthy and does not storm them.

What would hold them: a request to the bad peer with no deadline for the whole exchange (the
dripping peer resets a per-read timeout with each byte) holds its task, its run and the run's other
provisioners until the run deadline (600 s). With the deadlines (``k8s/deadlines.py``) a run with a
bad peer in it pays at most a request deadline (10 s) per request to it.

Two whole batches: the time to Ready of fifty depends on the machine's load (on this 2-CPU machine
98 to 186 s for the same fifty), so the test measures its own baseline rather than trusting a number;
the margin is wide for that noise and still far below a run held to its deadline."""

from __future__ import annotations

import ssl
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import NAMESPACE
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import PROVISIONER
from dpf_hcp_dev.localcluster.environment import Environment
from dpf_hcp_operator import pki
from fault_harness import Replica, Tenant, discard, healthy
from hostile_peers import hostile_peer
from support import condition, standin_settings, unique, wait_for

COUNT = 50
# hostile_peers.BEHAVIOURS, and whether the peer holds the hosted API server's certificate (a TLS
# handshake the client accepts, then the answer a byte at a time: only a deadline for the whole
# exchange ends that one; a silent peer and a dripped handshake also meet a socket's timeout)
PEERS = {"silent": ("silent", False), "handshake-dripping": ("tls-handshake", False), "answer-dripping": ("body", True)}
MARGIN = 1.5  # the 47's time to Ready against the baseline's ...
SLACK = 60.0  # ... plus this many seconds: a run held to its deadline (600 s) or waiting out its requeue is well past


def hosted_server_context(env: Environment, directory: Path) -> ssl.SSLContext:
    """A server context with a certificate for 127.0.0.1 from the hosted cluster's CA, which its
    admin kubeconfig (and so the operator) trusts: what a peer that took over the address holds."""
    directory.mkdir()
    pki_dir = env.hosted.directory / "pki"
    crt, key = pki.make_serving_cert(directory, pki_dir / "ca.crt", pki_dir / "ca.key", "peer", ["127.0.0.1"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(crt, key)
    return context


def all_ready(client, tenants: list[Tenant], timeout: float) -> float:
    """Seconds until every one of ``tenants`` is Ready (from the call)."""
    started = time.monotonic()
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
    replica = Replica(fault_env, tmp_path / "operator").start()
    with ExitStack() as stack:
        stack.callback(replica.close)
        # The baseline: fifty healthy ones, created at once.
        started = time.monotonic()
        healthy_ones = [Tenant.create(client) for _ in range(COUNT)]
        print(f"fifty created in {time.monotonic() - started:.1f}s")
        all_ready(client, healthy_ones, timeout=1200)
        baseline = time.monotonic() - started
        print(f"fifty healthy Ready in {baseline:.1f}s")
        assert healthy(replica)
        runs = replica.metric("dpfhcp_ansible_runs_total")
        print(f"{runs:.0f} Ansible runs")
        # The baseline's objects gone before the next fifty start (their deletion is work for the
        # API server the next fifty would otherwise share).
        gone = [n for t in healthy_ones for n in (t.ns, t.dpu_ns)]
        discard(client, gone)
        wait_for(
            "the baseline's namespaces gone and its CSR watches stopped",
            lambda: (
                replica.metric("dpfhcp_csr_hosted_clusters_watched") == 0
                and all(client.get_or_none(NAMESPACE, n) is None for n in gone)
            ),
            timeout=300,
            interval=2,
        )
        print(f"the baseline's namespaces gone {time.monotonic() - started - baseline:.1f}s after it was Ready")

        # Fifty again, three of them with a hosted API server gone bad.
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
        hostile = {what: Tenant.create(client, ns=ns) for what, ns in hostile_ns.items()}
        others = [Tenant.create(client) for _ in range(COUNT - len(hostile))]
        all_ready(client, others, timeout=1200)
        took = time.monotonic() - started
        print(f"{replica.metric('dpfhcp_ansible_runs_total') - runs:.0f} Ansible runs")
        print(f"fifty healthy: {baseline:.1f}s to Ready; 47 beside three bad hosted API servers: {took:.1f}s")
        assert took <= baseline * MARGIN + SLACK, (took, baseline)

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
        assert healthy(replica) and replica.starts == 1 and replica.process.poll() is None
