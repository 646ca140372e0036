import base64
import ipaddress
from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.csr.approver import decide_all, told
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.csr.policy import (
    BOOTSTRAPPER,
    BOOTSTRAPPER_GROUPS,
    CLIENT_SIGNER,
    PENDING_MARGIN,
    SERVING_SIGNER,
    Context,
    decide,
    flood_guard,
    is_pending,
    parse_request,
    recently_pending,
)
from dpf_hcp_dev.certificates import request_pem
from dpf_hcp_dev.forgeries import Forgery, Scenario, catalogue, groups_of, legit

CLIENT = ["digital signature", "client auth"]
SERVING = ["digital signature", "server auth"]
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
NETWORKS = (ipaddress.ip_network("172.31.0.0/16"), ipaddress.ip_network("10.132.0.0/14"))


def dpu(name, phase="DPU Cluster Config", cluster=("dpus", "c1"), addresses=None, created="2026-01-01T11:00:00Z"):
    if addresses is None:
        addresses = ("10.0.0.5",) if phase != "DPU Cluster Config" else ()
    return {
        "metadata": {"name": name, "namespace": "dpus", "creationTimestamp": created},
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


def ctx(dpus=(), nodes=(), bootstrapped=None):
    return Context(
        "dpus",
        "c1",
        {d["metadata"]["name"]: d for d in dpus},
        {n["metadata"]["name"]: n for n in nodes},
        now=NOW,
        cluster_networks=NETWORKS,
        bootstrapped=bootstrapped or {},
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
    assert decide(bootstrap(), ctx([dpu("dpu-a", cluster=("other-ns", "c1"))])).reason == "DPUOfAnotherCluster"
    no_cluster = dpu("dpu-a")
    del no_cluster["spec"]["cluster"]
    assert decide(bootstrap(), ctx([no_cluster])).reason == "DPUWithoutCluster"


def test_bootstrap_is_refused_whenever_a_node_of_that_name_exists():
    assert decide(bootstrap(), ctx([dpu("dpu-a")], [node("dpu-a")])).reason == "NodeExists"
    assert decide(bootstrap(), ctx([dpu("dpu-a")], [node("dpu-a", ready=False)])).reason == "NodeExists"


def test_bootstrap_must_be_fresh_and_once_per_join():
    late = dpu("dpu-a", created="2026-01-01T11:59:30Z")  # the CSR (11:59:00) is older than its DPU
    assert decide(bootstrap(), ctx([late])).reason == "NotFresh"
    skew = dpu("dpu-a", created="2026-01-01T11:59:05Z")  # within the clock skew upstream allows
    assert decide(bootstrap(), ctx([skew])).approve
    earlier = {"dpu-a": datetime(2026, 1, 1, 11, 30, tzinfo=UTC)}
    assert decide(bootstrap(), ctx([dpu("dpu-a")], bootstrapped=earlier)).reason == "AlreadyBootstrapped"
    anew = dpu("dpu-a", created="2026-01-01T11:58:00Z")  # the DPU was made anew after that approval
    assert decide(bootstrap(), ctx([anew], bootstrapped=earlier)).approve


def test_two_bootstraps_in_one_pass_approve_one():
    first, second = bootstrap(), bootstrap()
    first["metadata"]["name"], second["metadata"]["name"] = "csr-a", "csr-b"
    c = ctx([dpu("dpu-a")])
    decided = [(x["metadata"]["name"], d.reason) for x, d in decide_all([second, first], c)]
    assert decided == [("csr-a", "DPUJoining"), ("csr-b", "AlreadyBootstrapped")]


def test_client_renewal_by_the_node_itself():
    renewal = bootstrap(username="system:node:dpu-a", groups=["system:nodes", "system:authenticated"])
    assert decide(renewal, ctx([dpu("dpu-a", phase="Ready")], [node("dpu-a")])).reason == "KubeletClientRenewal"
    assert decide(renewal, ctx([dpu("dpu-a", phase="Ready")])).reason == "NodeNotFound"
    other = bootstrap(username="system:node:dpu-b", groups=["system:nodes"])
    assert decide(other, ctx([dpu("dpu-a", phase="Ready")], [node("dpu-a")])).reason == "BadRequester"


def test_joined_dpu_serving_is_approved():
    d = decide(serving(), ctx([dpu("dpu-a", phase="Ready")], [node("dpu-a")]))
    assert (d.approve, d.reason) == (True, "DPUServing")


def test_serving_ips_come_from_the_dpu_only_never_from_the_nodes_own_claims():
    c = ctx([dpu("dpu-a", phase="Ready", addresses=["192.168.7.7"])], [node("dpu-a", addresses=("10.9.9.9",))])
    assert decide(serving(ips=("192.168.7.7",)), c).approve
    assert decide(serving(ips=("10.9.9.9",)), c).reason == "SANNotTheNodes"
    mapped = ctx([dpu("dpu-a", phase="Ready", addresses=["::ffff:192.168.7.7"])], [node("dpu-a")])
    assert decide(serving(ips=("192.168.7.7",)), mapped).approve  # one address, as Go reads both forms
    shared = ctx([dpu("dpu-a", phase="Ready"), dpu("dpu-b", phase="Ready")], [node("dpu-a")])
    assert decide(serving(), shared).reason == "SANNotTheNodes"  # two DPUs with one address: neither's


def test_a_serving_csr_before_dpf_records_the_dpus_addresses_waits_and_is_never_approved_for_it():
    """DPF writes a DPU's addresses in phase Ready, after its kubelet asked: a wait, not a refusal.
    What waits is still not approved, and an address DPF then records otherwise is refused."""
    early = ctx([dpu("dpu-a", phase="Node Effect Removal", addresses=())], [node("dpu-a")])
    for ips in (("10.0.0.5",), ("10.9.9.9",)):
        d = decide(serving(ips=ips), early)
        assert (d.approve, d.reason, d.waiting) == (False, "DPUAddressesNotRecorded", True)
    d = decide(serving(), ctx([dpu("dpu-a", phase="Ready")]))
    assert (d.approve, d.reason, d.waiting) == (False, "NodeNotFound", True)
    recorded = ctx([dpu("dpu-a", phase="Ready", addresses=("10.0.0.5",))], [node("dpu-a")])
    d = decide(serving(ips=("10.9.9.9",)), recorded)
    assert (d.approve, d.reason, d.waiting) == (False, "SANNotTheNodes", False)
    assert decide(serving(ips=("10.0.0.5",)), recorded).approve
    shared = ctx([dpu("dpu-a", phase="Ready"), dpu("dpu-b", phase="Ready")], [node("dpu-a")])
    assert not decide(serving(), shared).waiting  # recorded, but not its alone: a refusal
    for forged in (serving(ips=("127.0.0.1",)), serving(dns=("kubernetes.default.svc",))):
        assert not decide(forged, early).waiting  # what breaks a rule is refused before any wait


def test_a_wait_never_hides_what_can_be_refused_already():
    """A node's serving CSR naming a neighbour's recorded address, or for a DPU not ours, is refused
    (a Warning) at once, with or without its Node and its own recorded addresses."""
    neighbour = dpu("dpu-b", phase="Ready", addresses=("10.0.0.7",))
    for nodes in ([node("dpu-a")], []):
        early = ctx([dpu("dpu-a", phase="Node Effect Removal", addresses=()), neighbour], nodes)
        d = decide(serving(ips=("10.0.0.7",)), early)
        assert (d.reason, d.waiting) == ("SANNotTheNodes", False), d
    recorded_no_node = ctx([dpu("dpu-a", phase="Ready", addresses=("10.0.0.5",)), neighbour])
    d = decide(serving(ips=("10.9.9.9",)), recorded_no_node)
    assert (d.reason, d.waiting) == ("SANNotTheNodes", False)  # recorded: checked before the Node is awaited
    assert decide(serving(ips=("10.0.0.5",)), recorded_no_node).reason == "NodeNotFound"
    d = decide(serving(), ctx([]))
    assert (d.reason, d.waiting) == ("UnknownDPU", False)  # no such DPU: no Node to wait for
    other = ctx([dpu("dpu-a", phase="Ready", cluster=("dpus", "c2"))])
    assert (decide(serving(), other).reason, decide(serving(), other).waiting) == ("DPUOfAnotherCluster", False)


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "169.254.1.1", "::ffff:169.254.1.1", "fe80::1", "0.0.0.0"],
)
def test_special_addresses_recorded_on_the_dpu_are_still_refused(address):
    c = ctx([dpu("dpu-a", phase="Ready", addresses=[address])], [node("dpu-a")])
    assert decide(serving(ips=(address,)), c).reason == "ForbiddenSAN"


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ({"ips": ("127.0.0.1",)}, "ForbiddenSAN"),
        ({"ips": ("::1",)}, "ForbiddenSAN"),
        ({"ips": ("0.0.0.0",)}, "ForbiddenSAN"),
        ({"ips": ("224.0.0.1",)}, "ForbiddenSAN"),
        ({"ips": ("10.9.9.9",)}, "SANNotTheNodes"),
        ({"ips": ("172.31.0.1",)}, "ForbiddenSAN"),
        ({"ips": ("::ffff:10.132.0.9",)}, "ForbiddenSAN"),
        ({"ips": ("::ffff:127.0.0.1",)}, "ForbiddenSAN"),
        ({"ips": ("fe80::1",)}, "ForbiddenSAN"),
        ({"ips": ("255.255.255.255",)}, "ForbiddenSAN"),
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


def test_a_neighbours_node_claiming_a_dpus_address_does_not_take_it_away():
    """A kubelet writes its own Node's addresses: claiming dpu-a's must not stop dpu-a's serving certificate."""
    c = ctx(
        [dpu("dpu-a", phase="Ready"), dpu("dpu-b", phase="Ready", addresses=["10.0.0.6"])],
        [node("dpu-a"), node("dpu-b", addresses=("10.0.0.6", "10.0.0.5"))],
    )
    assert decide(serving(), c).approve


def test_old_pending_csrs_do_not_pause_approvals():
    """Only CSRs of the last max_age_seconds count towards the flood bound (cluster-machine-approver's
    recentlyPendingCSRs): refused old ones cannot pause approvals until the API server collects them."""
    old = [
        dict(bootstrap(), metadata={"name": f"old-{i}", "creationTimestamp": "2026-01-01T09:00:00Z"})
        for i in range(150)
    ]
    fresh = bootstrap()
    c = ctx([dpu("dpu-a")])
    decided = dict((x["metadata"]["name"], d) for x, d in decide_all([*old, fresh], c))
    assert decided["csr-x"].approve
    assert {d.reason for name, d in decided.items() if name != "csr-x"} == {"TooOld"}
    recent = [
        dict(bootstrap(), metadata={"name": f"new-{i}", "creationTimestamp": "2026-01-01T11:30:00Z"})
        for i in range(150)
    ]
    assert {d.reason for _x, d in decide_all([*recent, fresh], ctx([dpu("dpu-a")]))} == {"TooManyPendingCSRs"}
    assert recently_pending(old + recent, 3600, NOW) == 150


def test_a_pass_tells_a_fresh_forgery_and_not_thousands_of_old_refusals():
    """Attacker (the Ansible path, csr_approve): 2000 CSRs over an hour old beside one forgery made
    now. The pass keeps no memory, and each Event it tells is a request to the management API server
    (a conflict once told): it tells the newest DPUs + 100 refusals, the forgery among them, where it
    told all 2001 on every pass. A flood is told once."""
    template = bootstrap()
    old = [
        dict(template, metadata={"name": f"old-{i}", "creationTimestamp": "2026-01-01T09:00:00Z"}) for i in range(2000)
    ]
    forgery = dict(bootstrap(), metadata={"name": "forged", "creationTimestamp": "2026-01-01T11:59:30Z"})
    forgery["spec"] = dict(forgery["spec"], username="system:serviceaccount:tenant:pod")
    c = ctx([dpu("dpu-a")])
    refused = [(x, d) for x, d in decide_all([*old, forgery], c) if not d.approve]
    assert len(refused) == 2001
    said = told(refused, len(c.dpus))
    assert len(said) == 1 + PENDING_MARGIN
    assert said[0][0] is forgery and said[0][1].reason != "TooOld"
    recent = [
        dict(bootstrap(), metadata={"name": f"new-{i}", "creationTimestamp": "2026-01-01T11:30:00Z"})
        for i in range(150)
    ]
    flood = decide_all([*recent, forgery], ctx([dpu("dpu-a")]))
    assert [d.reason for _x, d in told(flood, 1)] == ["TooManyPendingCSRs"]


def test_flood_guard_and_pending():
    assert flood_guard(102, 2) is None
    assert flood_guard(103, 2).reason == "TooManyPendingCSRs"
    assert is_pending({"status": {}})
    assert not is_pending({"status": {"conditions": [{"type": "Approved", "status": "True"}]}})


@pytest.mark.parametrize(
    ("key", "approved"),
    [
        (lambda: rsa.generate_private_key(65537, 2048), True),
        (lambda: ec.generate_private_key(ec.SECP384R1()), True),
        (ed25519.Ed25519PrivateKey.generate, True),
        (lambda: rsa.generate_private_key(65537, 1024), False),  # noqa: S505 - refused
        (lambda: ec.generate_private_key(ec.SECP521R1()), False),
        (lambda: ec.generate_private_key(ec.SECP256K1()), False),
        (ed448.Ed448PrivateKey.generate, False),
        (lambda: dsa.generate_private_key(2048), False),
    ],
)
def test_only_rsa_2048_ecdsa_p256_p384_and_ed25519_keys(key, approved):
    d = decide(bootstrap(key=key()), ctx([dpu("dpu-a")]))
    assert (d.approve, d.reason) == ((True, "DPUJoining") if approved else (False, "InvalidRequest")), d


def scenario_context(s: Scenario, with_approvals: bool = True) -> Context:
    """The world of dev/dpf_hcp_dev/forgeries.py, as the operator would see it."""
    older = "2026-01-01T11:00:00Z"
    dpus = [
        dpu(s.joining),
        dpu(s.joined, phase="Ready", addresses=[s.joined_address]),
        dpu(s.neighbour, phase="Ready", addresses=[s.neighbour_address]),
        dpu(s.not_joining, phase="OS Installing"),
        dpu(s.other_cluster, cluster=("dpus", "other")),
        dpu(s.no_cluster),
        dpu(s.node_not_ready),
        dpu(s.late, created="2026-01-01T11:59:59Z"),
        dpu(s.twice),
        dpu(s.deleting),
    ]
    del dpus[5]["spec"]["cluster"]
    dpus[-1]["metadata"]["deletionTimestamp"] = older
    nodes = [
        node(s.joined, addresses=(s.joined_address, s.claimed_address)),
        node(s.neighbour, addresses=(s.neighbour_address,)),
        node(s.node_not_ready, ready=False),
    ]
    nodes[0]["status"]["addresses"].append({"type": "Hostname", "address": s.claimed_name})
    earlier = datetime(2026, 1, 1, 11, 30, tzinfo=UTC)
    return ctx(dpus, nodes, {s.joining: earlier, s.twice: earlier} if with_approvals else {})


def as_sent(f: Forgery) -> dict:
    return csr(f.signer, f.user, groups_of(f.user), f.request, f.usages)


@pytest.mark.parametrize("forgery", catalogue(), ids=lambda f: f.name)
def test_every_forgery_of_the_catalogue_is_refused_for_its_reason(forgery):
    d = decide(as_sent(forgery), scenario_context(Scenario()))
    assert (d.approve, d.reason) == (False, forgery.reason), d


@pytest.mark.parametrize("request_", legit(), ids=lambda f: f.name)
def test_the_catalogues_legitimate_requests_are_approved(request_):
    d = decide(as_sent(request_), scenario_context(Scenario(), with_approvals=False))
    assert (d.approve, d.reason) == (True, request_.reason), d


# Property: whatever bytes are sent, what is approved is one canonical block (so Go's pem.Decode
# reads what we read) whose subject and SANs are exactly those the rules allow.
LEGIT_PEM = request_pem("system:node:dpu-a", ["system:nodes"], dns=["dpu-a"], ips=["10.0.0.5"], raw=True)
LEGIT_CLIENT_PEM = request_pem("system:node:dpu-a", ["system:nodes"], raw=True)
EVIL_PEM = request_pem("system:node:master-0", ["system:nodes"], dns=["kubernetes.default.svc"], raw=True)
NAMES = ["dpu-a", "dpu-b", "master-0", "kubernetes.default.svc", "DPU-A", "dpu-a."]
IPS = ["10.0.0.5", "::ffff:10.0.0.5", "10.0.0.6", "127.0.0.1", "::ffff:127.0.0.1", "172.31.0.1", "::1"]
# Made once: a request's bytes vary with its random key, and hypothesis replays what it draws.
REQUESTS = [LEGIT_PEM] + [
    request_pem(f"system:node:{cn}", ["system:nodes"], dns=dns, ips=ips, raw=True)
    for cn in ("dpu-a", "dpu-b", "master-0")
    for dns in ([], ["dpu-a"], NAMES[1:3], NAMES[3:5], NAMES[5:])
    for ips in ([], IPS[:2], IPS[2:4], IPS[4:6], IPS[6:])
]


@st.composite
def sent_bytes(draw):
    """A request's PEM, mangled: bytes inserted, removed or appended, another block added."""
    base = draw(st.one_of(st.sampled_from([LEGIT_PEM, LEGIT_CLIENT_PEM]), st.sampled_from(REQUESTS))).encode()
    for _ in range(draw(st.integers(1, 3)) if draw(st.booleans()) else 0):
        at = draw(st.integers(0, len(base)))
        op = draw(st.sampled_from(["insert", "delete", "append-block", "prepend-block", "append", "whitespace"]))
        junk = draw(st.binary(min_size=1, max_size=3))
        if op == "insert":
            base = base[:at] + junk + base[at:]
        elif op == "delete":
            base = base[:at] + base[at + 1 :]
        elif op == "append-block":
            base = base + draw(st.sampled_from([b"", b"x", b"\n"])) + EVIL_PEM.encode()
        elif op == "prepend-block":
            base = EVIL_PEM.encode() + base
        elif op == "whitespace":
            base = base + draw(st.sampled_from([b" ", b"\n", b"\r\n", b"\t"]))
        else:
            base = base + junk
    return base


def go_first_block(data: bytes) -> bytes | None:
    """The DER Go's pem.Decode returns (golang/go src/encoding/pem/pem.go, simplified to what
    matters here): the first BEGIN at the start or after a newline whose END line carries nothing
    more; None when there is none."""
    rest = data
    while True:
        if rest.startswith(b"-----BEGIN "):
            at = 0
        else:
            at = rest.find(b"\n-----BEGIN ")
            if at < 0:
                return None
            at += 1
        block = rest[at:]
        head, _, body = block.partition(b"\n")
        end = body.find(b"-----END ")
        if head.rstrip(b" \t\r").endswith(b"-----") and end >= 0:
            line = body[end:].split(b"\n", 1)[0].rstrip(b" \t\r")
            if line == b"-----END " + head.rstrip(b" \t\r")[len(b"-----BEGIN ") :]:
                try:
                    return base64.b64decode(b"".join(body[:end].split()), validate=True)
                except ValueError:
                    pass
        rest = block[len(b"-----BEGIN ") :]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=sent_bytes(), signer=st.sampled_from([SERVING_SIGNER, CLIENT_SIGNER]))
def test_whatever_is_sent_an_approved_request_reads_one_way_and_names_only_what_the_rules_allow(data, signer):
    user = "system:node:dpu-a" if signer == SERVING_SIGNER else BOOTSTRAPPER
    groups = ["system:nodes", "system:authenticated"] if signer == SERVING_SIGNER else list(BOOTSTRAPPER_GROUPS)
    request = base64.b64encode(data).decode()
    c = ctx([dpu("dpu-a", phase="Ready" if signer == SERVING_SIGNER else "DPU Cluster Config")])
    if signer == SERVING_SIGNER:
        c.nodes["dpu-a"] = node("dpu-a", addresses=("10.0.0.6", "127.0.0.1"))
    d = decide(csr(signer, user, groups, request, SERVING if signer == SERVING_SIGNER else CLIENT), c)
    event("approved" if d.approve else f"refused: {d.reason}")
    if not d.approve:
        return
    parsed = x509.load_pem_x509_csr(data)
    assert data.rstrip() + b"\n" == parsed.public_bytes(serialization.Encoding.PEM)  # one canonical block
    assert go_first_block(data) == parsed.public_bytes(serialization.Encoding.DER)  # what the signer reads
    subject = [(a.oid, a.value) for a in parsed.subject]
    assert sorted(subject, key=str) == sorted(
        [(NameOID.ORGANIZATION_NAME, "system:nodes"), (NameOID.COMMON_NAME, "system:node:dpu-a")], key=str
    )
    got = parse_request({"spec": {"request": request}})
    if signer == CLIENT_SIGNER:
        assert (got.dns_names, got.ip_addresses) == ((), ())
    else:
        assert set(got.dns_names) <= {"dpu-a"} and set(got.ip_addresses) <= {"10.0.0.5"}


def test_a_key_no_parser_knows_is_a_refusal_not_a_crash():
    key = ed25519.Ed25519PrivateKey.generate()
    pem = request_pem("system:node:dpu-a", ["system:nodes"], key=key, raw=True).encode()
    der = x509.load_pem_x509_csr(pem).public_bytes(serialization.Encoding.DER)
    at = der.index(bytes.fromhex("06032b6570"))  # the key's algorithm, 1.3.101.112, becomes 1.3.101.99
    forged = x509.load_der_x509_csr(der[:at] + bytes.fromhex("06032b6563") + der[at + 5 :])
    text = forged.public_bytes(serialization.Encoding.PEM)
    request = csr(CLIENT_SIGNER, BOOTSTRAPPER, BOOTSTRAPPER_GROUPS, base64.b64encode(text).decode(), CLIENT)
    d = decide(request, ctx([dpu("dpu-a")]))
    assert (d.approve, d.reason) == (False, "InvalidRequest") and "Unknown key type" in d.message, d
