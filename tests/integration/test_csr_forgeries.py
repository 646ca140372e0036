"""Issue 16: forged CSRs, as an attacker sends them, through the real hosted kube-apiserver with the
operator running: none is approved, and each stays pending for its own rule, told as a
CSRNotApproved Event on the provisioner (a serving request before its Node is a wait, told as a
Normal CSRPending Event: it breaks no rule yet, and is not approved either). The legitimate
requests of the same world are approved and told as CSRApproved.

One world (dev/dpf_hcp_dev/forgeries.py, Scenario): DPUs of one DPUCluster held in the phases DPF
would give them, with the addresses DPF records, and the Nodes their kubelets registered. All
requests are made at once, then the refusals are awaited together.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import CSR, EVENT, NODE
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import DPU
from dpf_hcp_dev.forgeries import Forgery, Scenario, catalogue, legit
from support import held_dpu, provisioner_of_its_own_dpucluster, unique, wait_condition, wait_for

S = Scenario()
FORGERIES = catalogue(S)
LEGIT = legit(S)
FRESHNESS = 11.0  # seconds between the early CSR and its DPU: more than the 10 s clock skew allowed


WAITS = frozenset({"serving-without-node"})  # breaks no rule yet: told as a Normal CSRPending, not approved


def outcome(f: Forgery) -> str:
    """How the Event tells what became of ``f``."""
    return "approved" if f in LEGIT else "waits" if f.name in WAITS else "stays pending"


def approved(csr: dict[str, Any]) -> bool:
    return any(c.get("type") == "Approved" for c in (csr.get("status") or {}).get("conditions") or [])


@pytest.fixture(scope="module")
def attack(env, mgmt, operator):
    """Build the world, send every request; yield (tag, the provisioner's namespace, Events by CSR)."""
    hosted = env.client("hosted")
    clients: dict[str, KubeClient] = {}

    def as_user(user: str) -> KubeClient:
        if user not in clients:
            clients[user] = KubeClient.from_kubeconfig(str(env.hosted.kubeconfig_path(user)))
        return clients[user]

    tag = unique("forged")

    def send(f: Forgery) -> None:
        body = {
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "CertificateSigningRequest",
            "metadata": {"name": f"{tag}-{f.name}"},
            "spec": {"signerName": f.signer, "request": f.request, "usages": f.usages},
        }
        as_user(f.user).create(CSR, body)

    early = next(f for f in FORGERIES if f.name == "bootstrap-before-dpu")
    send(early)  # before its DPU exists: a request left from an earlier join, or a replay
    sent_at = time.monotonic()
    ns, dpu_ns = provisioner_of_its_own_dpucluster(mgmt)
    nodes = []
    try:
        wait_condition(mgmt, ns, "hcp", "CSRAutoApprovalActive", "True")
        recorded = lambda ip: {"addresses": [{"type": "InternalIP", "address": ip}]}  # noqa: E731 - as DPF records it
        held_dpu(mgmt, dpu_ns, S.joining, "DPU Cluster Config")
        held_dpu(mgmt, dpu_ns, S.joined, "Ready", **recorded(S.joined_address))
        held_dpu(mgmt, dpu_ns, S.neighbour, "Ready", **recorded(S.neighbour_address))
        held_dpu(mgmt, dpu_ns, S.not_joining, "OS Installing")
        held_dpu(mgmt, dpu_ns, S.other_cluster, "DPU Cluster Config", cluster="other")
        held_dpu(mgmt, dpu_ns, S.no_cluster, "DPU Cluster Config", cluster=None)
        held_dpu(mgmt, dpu_ns, S.node_not_ready, "DPU Cluster Config")
        held_dpu(mgmt, dpu_ns, S.twice, "DPU Cluster Config")
        held_dpu(mgmt, dpu_ns, S.deleting, "DPU Cluster Config")
        mgmt.patch(DPU, S.deleting, {"metadata": {"finalizers": ["test.dpf-hcp.dev/keep"]}}, dpu_ns)
        mgmt.delete(DPU, S.deleting, dpu_ns)
        # The Nodes, registered by the kubelets themselves: the joined one claims more than DPF recorded.
        for name, ready, addresses in (
            (S.joined, "True", [S.joined_address, S.claimed_address]),
            # The neighbour's kubelet claims the joined DPU's address too: that must not take it away.
            (S.neighbour, "True", [S.neighbour_address, S.joined_address]),
            (S.node_not_ready, "False", []),
        ):
            kubelet = as_user(f"system:node:{name}")
            kubelet.create(NODE, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
            nodes.append(name)
            status = {
                "conditions": [{"type": "Ready", "status": ready, "reason": "KubeletReady", "message": "-"}],
                "addresses": [{"type": "InternalIP", "address": a} for a in addresses]
                + [{"type": "Hostname", "address": S.claimed_name if name == S.joined else name}],
            }
            kubelet.patch(NODE, name, {"status": status}, subresource="status", kind="strategic")
        time.sleep(max(0.0, FRESHNESS - (time.monotonic() - sent_at)))
        held_dpu(mgmt, dpu_ns, S.late, "DPU Cluster Config")
        time.sleep(0.5)  # the operator's DPU cache has the world before the requests come
        for f in LEGIT:  # first: a forgery sent after them may count on them (once per join)
            send(f)
        for f in FORGERIES:
            if f is not early:
                send(f)

        def told() -> dict[str, list[str]]:
            out: dict[str, list[str]] = {}
            for e in mgmt.list(EVENT, ns).get("items") or []:
                if e.get("reason") in ("CSRApproved", "CSRPending", "CSRNotApproved"):
                    out.setdefault(e["message"].split()[1], []).append(f"{e['reason']}: {e['message']}")
            return out

        def expected(f: Forgery, said: list[str]) -> bool:
            return any(f"rule {f.reason}) {outcome(f)}" in t for t in said)

        deadline = time.monotonic() + 60  # then the tests below say which were not told as expected
        found = told()
        while time.monotonic() < deadline and not all(
            expected(f, found.get(f"{tag}-{f.name}", [])) for f in [*LEGIT, *FORGERIES]
        ):
            time.sleep(0.5)
            found = told()
        yield tag, hosted, found
    finally:
        admin = env.client("hosted")
        for f in [*LEGIT, *FORGERIES]:  # pending forgeries would count towards others' flood guard
            with contextlib.suppress(ApiError):
                admin.delete(CSR, f"{tag}-{f.name}")
        for name in nodes:
            with contextlib.suppress(ApiError):
                admin.delete(NODE, name)
        with contextlib.suppress(ApiError):
            mgmt.patch(DPU, S.deleting, {"metadata": {"finalizers": None}}, dpu_ns)


def test_there_are_forgeries_of_every_class():
    assert len(FORGERIES) >= 40
    assert len({f.name for f in FORGERIES}) == len(FORGERIES)


@pytest.mark.parametrize("forgery", FORGERIES, ids=lambda f: f.name)
def test_forged_csr_stays_pending_for_its_rule(attack, forgery):
    tag, hosted, events = attack
    csr = hosted.get(CSR, f"{tag}-{forgery.name}")
    assert not approved(csr)
    assert not (csr.get("status") or {}).get("certificate")
    told = events.get(f"{tag}-{forgery.name}", [])
    assert not [t for t in told if t.startswith("CSRApproved")], told
    assert any(f"rule {forgery.reason}) {outcome(forgery)}" in t for t in told), told


@pytest.mark.parametrize("request_", LEGIT, ids=lambda f: f.name)
def test_legitimate_csr_of_the_same_world_is_approved_and_told(attack, request_):
    tag, hosted, events = attack
    wait_for(f"{request_.name} approved", lambda: approved(hosted.get(CSR, f"{tag}-{request_.name}")), timeout=10)
    told = events.get(f"{tag}-{request_.name}", [])
    assert any(t.startswith("CSRApproved") and f"rule {request_.reason}) approved" in t for t in told), told
