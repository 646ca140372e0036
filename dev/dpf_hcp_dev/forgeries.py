"""Forged CertificateSigningRequests, as an attacker sends them to a hosted cluster: one catalogue
for the policy's unit tests and for the attack on a real hosted API server
(tests/integration/test_csr_forgeries.py). Each names who sends it, what it asks for and the rule
that must keep it pending.

The scenario (the DPUs of one DPUCluster, by role) is fixed so both tests build the same world:
see ``Scenario``."""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from dpf_hcp_dev.certificates import request_pem
from dpf_hcp_dev.localcluster.controlplane import BOOTSTRAPPER

CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
SERVING_SIGNER = "kubernetes.io/kubelet-serving"
CLIENT = ["digital signature", "client auth"]
SERVING = ["digital signature", "server auth"]
NODES = ["system:nodes"]
END = "-----END CERTIFICATE REQUEST-----"


@dataclass(frozen=True)
class Scenario:
    """DPUs of the DPUCluster under attack, by role, with the addresses DPF recorded for them."""

    joining: str = "dpu-node-20"  # DPU Cluster Config, no Node; its own bootstrap is approved first
    joined: str = "dpu-node-21"  # Ready, Node Ready; the Node also claims an address and a name DPF never recorded
    neighbour: str = "dpu-node-22"  # Ready, Node Ready: another DPU's address
    not_joining: str = "dpu-node-23"  # OS Installing
    other_cluster: str = "dpu-node-24"  # joining, but of another DPUCluster
    no_cluster: str = "dpu-node-25"  # joining, spec.cluster unset
    node_not_ready: str = "dpu-node-26"  # joining, and a NotReady Node of its name exists
    late: str = "dpu-node-27"  # its DPU was created after the CSR
    twice: str = "dpu-node-28"  # joining; two bootstrap CSRs at once
    deleting: str = "dpu-node-29"  # joining, being deleted
    joined_address: str = "10.201.0.21"
    neighbour_address: str = "10.201.0.22"
    claimed_address: str = "10.99.0.21"  # in the joined Node's own status only
    claimed_name: str = "dpu-node-21.attacker.example"  # likewise, as a Hostname address
    service_ip: str = "172.31.0.1"  # kubernetes.default.svc in the hosted cluster's service network
    pod_ip: str = "10.132.0.5"
    api_name: str = "api.hcp.clusters.example.com"


@dataclass(frozen=True)
class Forgery:
    name: str
    user: str  # the hosted cluster identity that sends it
    signer: str
    request: str  # base64 PEM, as spec.request carries it
    usages: list[str] = field(default_factory=list)
    reason: str = ""  # the rule that keeps it pending


def groups_of(user: str) -> list[str]:
    """The groups the API server gives each sender (dev/dpf_hcp_dev/localcluster/controlplane.py)."""
    if user == BOOTSTRAPPER:
        return [
            "system:serviceaccounts:openshift-machine-config-operator",
            "system:serviceaccounts",
            "system:authenticated",
        ]
    if user.startswith("system:node:"):
        return ["system:nodes", "system:authenticated"]
    return ["system:authenticated"]


def _pem(cn: str, **kw: object) -> str:
    return request_pem(f"system:node:{cn}", NODES, raw=True, **kw)  # type: ignore[arg-type]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def two_readings(first: str, second: str, how: str) -> str:
    """Two blocks that Go's pem.Decode and a first-block parser read differently (or alike, ``plain``)."""
    if how == "byte-after-end":  # Go skips a block whose END line has more on it, and reads the second
        return _b64(first.replace(END, END + "x") + second)
    if how == "stray-leading-byte":  # Go looks for "\n-----BEGIN" when the data does not start with it
        return _b64("x" + first + second)
    return _b64(first + second)


def reshaped(pem: str, how: str) -> str:
    """One block, in a form every parser reads alike, but not its canonical encoding."""
    lines = pem.strip().split("\n")
    body = "".join(lines[1:-1])
    if how == "headers":
        return _b64("\n".join([lines[0], "Comment: not canonical", "", *lines[1:]]) + "\n")
    if how == "short-lines":
        return _b64("\n".join([lines[0], *[body[i : i + 32] for i in range(0, len(body), 32)], lines[-1]]) + "\n")
    if how == "crlf":
        return _b64(pem.replace("\n", "\r\n"))
    if how == "leading-newline":
        return _b64("\n" + pem)
    return _b64(pem + "trailing data\n")  # "trailing"


def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = (n.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + n.to_bytes(size, "big") + body


def _children(der: bytes) -> list[bytes]:
    """The encoded elements (tag, length and body) inside a DER SEQUENCE's body."""
    out, i = [], 0
    while i < len(der):
        n, j = der[i + 1], i + 2
        if n & 0x80:
            n, j = int.from_bytes(der[j : j + (n & 0x7F)], "big"), j + (n & 0x7F)
        out.append(der[i : j + n])
        i = j + n
    return out


def _body(element: bytes) -> bytes:
    n, j = element[1], 2
    if n & 0x80:
        j += n & 0x7F
    return element[j:]


def _oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    body = bytes([40 * parts[0] + parts[1]])
    for part in parts[2:]:
        enc, rest = [part & 0x7F], part >> 7
        while rest:
            enc.append(0x80 | (rest & 0x7F))
            rest >>= 7
        body += bytes(reversed(enc))
    return _tlv(0x06, body)


def smuggled_sans(cn: str, seen_by_python: list[str], seen_by_go: list[str]) -> str:
    """A request with two extension-request attributes: Microsoft's (1.3.6.1.4.1.311.2.1.14, which
    pyca/cryptography reads first) holding the IPs ``seen_by_python``, and PKCS#9's (which Go's
    crypto/x509 reads; it skips the other) holding ``seen_by_go``. Validly signed, canonical PEM."""

    def attribute(oid: str, ips: list[str]) -> bytes:
        sans = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(i)) for i in ips]).public_bytes()
        extension = _tlv(0x30, _oid("2.5.29.17") + _tlv(0x04, sans))
        return _tlv(0x30, _oid(oid) + _tlv(0x31, _tlv(0x30, extension)))

    key = ec.generate_private_key(ec.SECP256R1())
    plain = base64.b64decode(request_pem(f"system:node:{cn}", NODES, key=key))
    der = x509.load_pem_x509_csr(plain).public_bytes(serialization.Encoding.DER)
    info, algorithm, _signature = _children(_body(der))
    version, subject, spki = _children(_body(info))[:3]
    attributes = attribute("1.3.6.1.4.1.311.2.1.14", seen_by_python) + attribute("1.2.840.113549.1.9.14", seen_by_go)
    info = _tlv(0x30, version + subject + spki + _tlv(0xA0, attributes))
    signature = key.sign(info, ec.ECDSA(hashes.SHA256()))
    forged = _tlv(0x30, info + algorithm + _tlv(0x03, b"\x00" + signature))
    return base64.b64encode(x509.load_der_x509_csr(forged).public_bytes(serialization.Encoding.PEM)).decode()


def catalogue(s: Scenario = Scenario()) -> list[Forgery]:
    j, ok, nb = s.joining, s.joined, s.neighbour
    boot, node_ok, node_nb, node_j = BOOTSTRAPPER, f"system:node:{ok}", f"system:node:{nb}", f"system:node:{j}"
    legit_boot = _pem(j)
    legit_serving = _pem(ok, dns=[ok], ips=[s.joined_address])
    evil_boot = _pem("master-0")
    evil_serving = _pem(ok, dns=[ok, "kubernetes.default.svc"], ips=[s.joined_address])
    evil_renewal = _pem(nb)

    def boot_req(cn: str, **kw: object) -> str:
        return _b64(_pem(cn, **kw))

    def serving(ips: list[str] | None = None, dns: list[str] | None = None) -> str:
        return _b64(_pem(ok, dns=[ok] if dns is None else dns, ips=ips if ips is not None else [s.joined_address]))

    f = Forgery
    out = [
        # One reading: what we judge is what the API server and the signer read.
        f(
            "pem-byte-after-end",
            boot,
            CLIENT_SIGNER,
            two_readings(legit_boot, evil_boot, "byte-after-end"),
            CLIENT,
            "InvalidRequest",
        ),
        f(
            "pem-stray-leading-byte",
            boot,
            CLIENT_SIGNER,
            two_readings(legit_boot, evil_boot, "stray-leading-byte"),
            CLIENT,
            "InvalidRequest",
        ),
        f(
            "pem-two-blocks",
            boot,
            CLIENT_SIGNER,
            two_readings(legit_boot, evil_boot, "plain"),
            CLIENT,
            "InvalidRequest",
        ),
        f(
            "pem-serving-byte-after-end",
            node_ok,
            SERVING_SIGNER,
            two_readings(legit_serving, evil_serving, "byte-after-end"),
            SERVING,
            "InvalidRequest",
        ),
        f(
            "pem-serving-stray-byte",
            node_ok,
            SERVING_SIGNER,
            two_readings(legit_serving, evil_serving, "stray-leading-byte"),
            SERVING,
            "InvalidRequest",
        ),
        f(
            "pem-renewal-byte-after-end",
            node_ok,
            CLIENT_SIGNER,
            two_readings(_pem(ok), evil_renewal, "byte-after-end"),
            CLIENT,
            "InvalidRequest",
        ),
        f(
            "pem-renewal-stray-byte",
            node_ok,
            CLIENT_SIGNER,
            two_readings(_pem(ok), evil_renewal, "stray-leading-byte"),
            CLIENT,
            "InvalidRequest",
        ),
        f("pem-headers", boot, CLIENT_SIGNER, reshaped(legit_boot, "headers"), CLIENT, "InvalidRequest"),
        f("pem-short-lines", boot, CLIENT_SIGNER, reshaped(legit_boot, "short-lines"), CLIENT, "InvalidRequest"),
        f("pem-crlf", boot, CLIENT_SIGNER, reshaped(legit_boot, "crlf"), CLIENT, "InvalidRequest"),
        f(
            "pem-leading-newline",
            boot,
            CLIENT_SIGNER,
            reshaped(legit_boot, "leading-newline"),
            CLIENT,
            "InvalidRequest",
        ),
        f("pem-trailing-data", boot, CLIENT_SIGNER, reshaped(legit_boot, "trailing"), CLIENT, "InvalidRequest"),
        # Keys.
        f(
            "key-rsa-1024",
            boot,
            CLIENT_SIGNER,
            boot_req(j, key=rsa.generate_private_key(65537, 1024)),  # noqa: S505 - the forgery
            CLIENT,
            "InvalidRequest",
        ),
        f(
            "key-ecdsa-p521",
            boot,
            CLIENT_SIGNER,
            boot_req(j, key=ec.generate_private_key(ec.SECP521R1())),
            CLIENT,
            "InvalidRequest",
        ),
        # Bootstrap: the requester, the subject, the DPU, the Node, freshness, once per join.
        f("wrong-signer", boot, "kubernetes.io/kube-apiserver-client", boot_req(j), CLIENT, "UnsupportedSigner"),
        f("not-bootstrapper", "intruder", CLIENT_SIGNER, boot_req(j), CLIENT, "BadRequester"),
        f("extra-usage", boot, CLIENT_SIGNER, boot_req(j), [*CLIENT, "server auth"], "BadUsages"),
        f(
            "masters-org",
            boot,
            CLIENT_SIGNER,
            _b64(request_pem(f"system:node:{j}", ["system:masters"], raw=True)),
            CLIENT,
            "BadOrganization",
        ),
        f(
            "nodes-and-masters-org",
            boot,
            CLIENT_SIGNER,
            _b64(request_pem(f"system:node:{j}", [*NODES, "system:masters"], raw=True)),
            CLIENT,
            "BadOrganization",
        ),
        f("cn-not-a-node", boot, CLIENT_SIGNER, _b64(request_pem("admin", NODES, raw=True)), CLIENT, "BadCommonName"),
        f(
            "second-cn",
            boot,
            CLIENT_SIGNER,
            boot_req(j, extra_subject=[x509.NameAttribute(NameOID.COMMON_NAME, "system:node:master-0")]),
            CLIENT,
            "BadSubject",
        ),
        f(
            "extra-subject-ou",
            boot,
            CLIENT_SIGNER,
            boot_req(j, extra_subject=[x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "x")]),
            CLIENT,
            "BadSubject",
        ),
        f(
            "ca-extension",
            boot,
            CLIENT_SIGNER,
            boot_req(j, extensions=[x509.BasicConstraints(ca=True, path_length=None)]),
            CLIENT,
            "UnexpectedExtensions",
        ),
        f("client-with-san", boot, CLIENT_SIGNER, boot_req(j, dns=[j]), CLIENT, "UnexpectedSANs"),
        f("client-with-email", boot, CLIENT_SIGNER, boot_req(j, emails=["a@example.com"]), CLIENT, "UnexpectedSANs"),
        f("unknown-dpu", boot, CLIENT_SIGNER, boot_req("dpu-node-40"), CLIENT, "UnknownDPU"),
        f("control-plane-name", boot, CLIENT_SIGNER, boot_req("master-0"), CLIENT, "UnknownDPU"),
        f("dpu-not-joining", boot, CLIENT_SIGNER, boot_req(s.not_joining), CLIENT, "DPUNotJoining"),
        f("other-cluster", boot, CLIENT_SIGNER, boot_req(s.other_cluster), CLIENT, "DPUOfAnotherCluster"),
        f("dpu-without-cluster", boot, CLIENT_SIGNER, boot_req(s.no_cluster), CLIENT, "DPUWithoutCluster"),
        f("dpu-being-deleted", boot, CLIENT_SIGNER, boot_req(s.deleting), CLIENT, "DPUBeingDeleted"),
        f("second-bootstrap-joined-node", boot, CLIENT_SIGNER, boot_req(ok), CLIENT, "NodeExists"),
        f("bootstrap-node-not-ready", boot, CLIENT_SIGNER, boot_req(s.node_not_ready), CLIENT, "NodeExists"),
        f("bootstrap-before-dpu", boot, CLIENT_SIGNER, boot_req(s.late), CLIENT, "NotFresh"),
        f("second-bootstrap-same-join", boot, CLIENT_SIGNER, boot_req(j), CLIENT, "AlreadyBootstrapped"),
        f("twice-b", boot, CLIENT_SIGNER, boot_req(s.twice), CLIENT, "AlreadyBootstrapped"),
        # Serving: names and addresses only DPF attributes to the DPU, never special ones.
        f(
            "serving-kubernetes-default-svc",
            node_ok,
            SERVING_SIGNER,
            serving(dns=[ok, "kubernetes.default.svc"]),
            SERVING,
            "SANNotTheNodes",
        ),
        f("serving-api-name", node_ok, SERVING_SIGNER, serving(dns=[ok, s.api_name]), SERVING, "SANNotTheNodes"),
        f(
            "serving-name-node-claims",
            node_ok,
            SERVING_SIGNER,
            serving(dns=[ok, s.claimed_name]),
            SERVING,
            "SANNotTheNodes",
        ),
        f(
            "serving-ip-node-claims",
            node_ok,
            SERVING_SIGNER,
            serving(ips=[s.joined_address, s.claimed_address]),
            SERVING,
            "SANNotTheNodes",
        ),
        f(
            "serving-neighbours-ip",
            node_ok,
            SERVING_SIGNER,
            serving(ips=[s.neighbour_address]),
            SERVING,
            "SANNotTheNodes",
        ),
        f("serving-stranger-ip", node_ok, SERVING_SIGNER, serving(ips=["10.99.99.99"]), SERVING, "SANNotTheNodes"),
        f("serving-for-another-node", node_nb, SERVING_SIGNER, serving(), SERVING, "BadRequester"),
        f("serving-by-bootstrapper", boot, SERVING_SIGNER, serving(), SERVING, "BadRequester"),
        f("serving-without-node", node_j, SERVING_SIGNER, _b64(_pem(j, dns=[j])), SERVING, "NodeNotFound"),
        f("serving-client-usage", node_ok, SERVING_SIGNER, serving(), [*SERVING, "client auth"], "BadUsages"),
        f("serving-no-sans", node_ok, SERVING_SIGNER, serving(ips=[], dns=[]), SERVING, "NoSANs"),
        # Two extension requests: we would judge the first (its own address), Go signs the second.
        f(
            "serving-smuggled-extension-request",
            node_ok,
            SERVING_SIGNER,
            smuggled_sans(ok, [s.joined_address], [s.neighbour_address, "127.0.0.1"]),
            SERVING,
            "InvalidRequest",
        ),
        # Renewal: the node itself, for itself, while its Node and DPU exist.
        f("renewal-for-another", node_nb, CLIENT_SIGNER, boot_req(ok), CLIENT, "BadRequester"),
        f("renewal-without-node", node_j, CLIENT_SIGNER, boot_req(j), CLIENT, "NodeNotFound"),
    ]
    forbidden = {  # never in a serving certificate, in either form Go reads as one address
        "service-network": s.service_ip,
        "pod-network": s.pod_ip,
        "mapped-service-ip": f"::ffff:{s.service_ip}",
        "loopback": "127.0.0.1",
        "loopback-127-9": "127.9.9.9",
        "ipv6-loopback": "::1",
        "mapped-loopback": "::ffff:127.0.0.1",
        "link-local": "169.254.169.254",
        "mapped-link-local": "::ffff:169.254.169.254",
        "ipv6-link-local": "fe80::1",
        "multicast": "224.0.0.1",
        "ipv6-multicast": "ff02::1",
        "unspecified": "0.0.0.0",  # noqa: S104 - a SAN, not a bind address
        "ipv6-unspecified": "::",
    }
    out += [
        f(f"serving-{k}", node_ok, SERVING_SIGNER, serving(ips=[ip]), SERVING, "ForbiddenSAN")
        for k, ip in forbidden.items()
    ]
    return out


def legit(s: Scenario = Scenario()) -> list[Forgery]:
    """Requests of the same scenario that must be approved (``reason`` is the approving rule)."""
    ok = s.joined
    return [
        Forgery("legit-bootstrap", BOOTSTRAPPER, CLIENT_SIGNER, _b64(_pem(s.joining)), CLIENT, "DPUJoining"),
        Forgery("twice-a", BOOTSTRAPPER, CLIENT_SIGNER, _b64(_pem(s.twice)), CLIENT, "DPUJoining"),
        Forgery(
            "legit-serving",
            f"system:node:{ok}",
            SERVING_SIGNER,
            _b64(_pem(ok, dns=[ok], ips=[s.joined_address])),
            SERVING,
            "DPUServing",
        ),
        Forgery("legit-renewal", f"system:node:{ok}", CLIENT_SIGNER, _b64(_pem(ok)), CLIENT, "KubeletClientRenewal"),
    ]
