from datetime import UTC, datetime

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.csr_policy import (
    BOOTSTRAPPER,
    BOOTSTRAPPER_GROUPS,
    CLIENT_SIGNER,
    SERVING_SIGNER,
    Context,
    decide,
    flood_guard,
    is_pending,
)
from dpf_hcp_dev.certificates import request_pem

CLIENT = ["digital signature", "client auth"]
SERVING = ["digital signature", "server auth"]
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def dpu(name, phase="DPU Cluster Config", cluster=("dpus", "c1"), addresses=()):
    return {
        "metadata": {"name": name, "namespace": "dpus"},
        "spec": {"cluster": {"namespace": cluster[0], "name": cluster[1]}},
        "status": {"phase": phase, "addresses": [{"type": "InternalIP", "address": a} for a in addresses]},
    }


def node(name, ready=True, addresses=("10.0.0.5",)):
    return {
        "metadata": {"name": name},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "addresses": [{"type": "InternalIP", "address": a} for a in addresses]
            + [{"type": "Hostname", "address": name}],
        },
    }


def ctx(dpus=(), nodes=()):
    return Context(
        "dpus", "c1", {d["metadata"]["name"]: d for d in dpus}, {n["metadata"]["name"]: n for n in nodes}, now=NOW
    )


def csr(signer, username, groups, request, usages, created="2026-01-01T11:59:00Z"):
    return {
        "metadata": {"name": "csr-x", "creationTimestamp": created},
        "spec": {
            "signerName": signer,
            "username": username,
            "groups": list(groups),
            "request": request,
            "usages": usages,
        },
    }


def bootstrap(name="dpu-a", usages=CLIENT, username=BOOTSTRAPPER, groups=BOOTSTRAPPER_GROUPS, **req):
    request = request_pem(req.pop("cn", f"system:node:{name}"), req.pop("orgs", ["system:nodes"]), **req)
    return csr(CLIENT_SIGNER, username, groups, request, usages)


def serving(name="dpu-a", dns=("dpu-a",), ips=("10.0.0.5",), usages=SERVING, username=None, groups=None, cn=None):
    user = username or f"system:node:{name}"
    request = request_pem(cn or user, ["system:nodes"], dns=list(dns), ips=list(ips))
    return csr(SERVING_SIGNER, user, groups or ["system:nodes", "system:authenticated"], request, usages)


def test_joining_dpu_bootstrap_is_approved_with_both_usage_sets():
    for usages in (CLIENT, ["digital signature", "key encipherment", "client auth"]):
        d = decide(bootstrap(usages=usages), ctx([dpu("dpu-a")]))
        assert (d.approve, d.reason, d.node) == (True, "DPUJoining", "dpu-a")


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ({"usages": [*CLIENT, "server auth"]}, "BadUsages"),
        ({"usages": ["client auth"]}, "BadUsages"),
        ({"username": "system:serviceaccount:default:default"}, "BadRequester"),
        ({"groups": [*BOOTSTRAPPER_GROUPS, "system:masters"]}, "BadRequester"),
        ({"groups": ["system:authenticated"]}, "BadRequester"),
        ({"orgs": ["system:masters"]}, "BadOrganization"),
        ({"orgs": ["system:nodes", "system:masters"]}, "BadOrganization"),
        ({"cn": "admin"}, "BadCommonName"),
        ({"cn": "system:node:"}, "BadCommonName"),
        ({"dns": ["dpu-a"]}, "UnexpectedSANs"),
        ({"emails": ["a@example.com"]}, "UnexpectedSANs"),
    ],
)
def test_bootstrap_forgeries_are_refused(case, reason):
    assert decide(bootstrap(**case), ctx([dpu("dpu-a")])).reason == reason


def test_bootstrap_needs_a_joining_dpu_of_this_cluster():
    assert decide(bootstrap("ghost"), ctx([dpu("dpu-a")])).reason == "UnknownDPU"
    assert decide(bootstrap(), ctx([dpu("dpu-a", phase="OS Installing")])).reason == "DPUNotJoining"
    assert decide(bootstrap(), ctx([dpu("dpu-a", phase="Ready")])).reason == "DPUNotJoining"
    assert decide(bootstrap(), ctx([dpu("dpu-a", cluster=("dpus", "other"))])).reason == "DPUOfAnotherCluster"


def test_second_bootstrap_for_an_active_node_is_refused_but_a_dead_node_may_rejoin():
    assert decide(bootstrap(), ctx([dpu("dpu-a")], [node("dpu-a")])).reason == "NodeAlreadyJoined"
    assert decide(bootstrap(), ctx([dpu("dpu-a")], [node("dpu-a", ready=False)])).approve


def test_client_renewal_by_the_node_itself():
    renewal = bootstrap(username="system:node:dpu-a", groups=["system:nodes", "system:authenticated"])
    assert decide(renewal, ctx([dpu("dpu-a", phase="Ready")], [node("dpu-a")])).reason == "KubeletClientRenewal"
    assert decide(renewal, ctx([dpu("dpu-a", phase="Ready")])).reason == "NodeNotFound"
    other = bootstrap(username="system:node:dpu-b", groups=["system:nodes"])
    assert decide(other, ctx([dpu("dpu-a", phase="Ready")], [node("dpu-a")])).reason == "BadRequester"


def test_joined_dpu_serving_is_approved():
    d = decide(serving(), ctx([dpu("dpu-a", phase="Ready")], [node("dpu-a")]))
    assert (d.approve, d.reason) == (True, "DPUServing")


def test_serving_sans_may_come_from_the_dpus_addresses():
    c = ctx([dpu("dpu-a", phase="Ready", addresses=["192.168.7.7"])], [node("dpu-a", addresses=())])
    assert decide(serving(ips=("192.168.7.7",)), c).approve


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ({"ips": ("127.0.0.1",)}, "ForbiddenSAN"),
        ({"ips": ("::1",)}, "ForbiddenSAN"),
        ({"ips": ("0.0.0.0",)}, "ForbiddenSAN"),
        ({"ips": ("224.0.0.1",)}, "ForbiddenSAN"),
        ({"ips": ("10.9.9.9",)}, "SANNotTheNodes"),
        ({"dns": ("kubernetes.default.svc",)}, "SANNotTheNodes"),
        ({"dns": (), "ips": ()}, "NoSANs"),
        ({"username": "system:node:dpu-b", "cn": "system:node:dpu-a"}, "BadRequester"),
        ({"cn": "system:node:dpu-b"}, "BadRequester"),
        ({"groups": ["system:authenticated"]}, "BadRequester"),
        ({"usages": [*SERVING, "client auth"]}, "BadUsages"),
    ],
)
def test_serving_forgeries_are_refused(case, reason):
    assert decide(serving(**case), ctx([dpu("dpu-a", phase="Ready")], [node("dpu-a")])).reason == reason


def test_serving_needs_the_node_and_a_joined_dpu():
    assert decide(serving(), ctx([dpu("dpu-a", phase="Ready")])).reason == "NodeNotFound"
    assert decide(serving(), ctx([dpu("dpu-a", phase="OS Installing")], [node("dpu-a")])).reason == "DPUNotJoining"


def test_other_signers_garbage_and_stale_requests_are_refused():
    other = bootstrap()
    other["spec"]["signerName"] = "kubernetes.io/kube-apiserver-client"
    assert decide(other, ctx([dpu("dpu-a")])).reason == "UnsupportedSigner"
    garbage = bootstrap()
    garbage["spec"]["request"] = "bm90IGEgY3Ny"
    assert decide(garbage, ctx([dpu("dpu-a")])).reason == "InvalidRequest"
    stale = bootstrap()
    stale["metadata"]["creationTimestamp"] = "2026-01-01T10:00:00Z"
    assert decide(stale, ctx([dpu("dpu-a")])).reason == "TooOld"


def test_flood_guard_and_pending():
    assert flood_guard(102, 2) is None
    assert flood_guard(103, 2).reason == "TooManyPendingCSRs"
    assert is_pending({"status": {}})
    assert not is_pending({"status": {"conditions": [{"type": "Approved", "status": "True"}]}})
