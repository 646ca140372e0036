"""Which CertificateSigningRequests in a hosted cluster belong to DPUs joining it, and only those.

As strict as OpenShift's cluster-machine-approver (openshift/cluster-machine-approver
pkg/controller/csr_check.go: authorizeCSR, authorizeNodeClientCSR, validateCSRContents,
authorizeServingCertWithMachine), with the DPU in the Machine's place: a DPU of that name, of
this DPUCluster, in a joining phase. And only what the signer will sign as we read it
(kubernetes/kubernetes pkg/apis/certificates/helpers.go: ParseCSR, ValidateKubeletClientCSR,
ValidateKubeletServingCSR). Pure functions: the caller reads the CSRs, the DPUs and the Nodes;
this decides.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.formats import parse_time

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.x509.oid import ExtensionOID, NameOID
except ImportError as exc:  # csr_approve names it in the task's error (see libraries.py)
    IMPORT_ERROR: ImportError | None = exc
else:
    IMPORT_ERROR = None

CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
SERVING_SIGNER = "kubernetes.io/kubelet-serving"
BOOTSTRAPPER = "system:serviceaccount:openshift-machine-config-operator:node-bootstrapper"
BOOTSTRAPPER_GROUPS = frozenset(
    {"system:serviceaccounts:openshift-machine-config-operator", "system:serviceaccounts", "system:authenticated"}
)
NODE_PREFIX = "system:node:"
NODE_GROUPS = frozenset({"system:nodes", "system:authenticated"})
CLIENT_USAGES = (
    frozenset({"digital signature", "client auth"}),
    frozenset({"digital signature", "key encipherment", "client auth"}),
)
SERVING_USAGES = (
    frozenset({"digital signature", "server auth"}),
    frozenset({"digital signature", "key encipherment", "server auth"}),
)
# The DPU phases in which its node joins (bootstrap) or has joined (serving certificates, renewals).
BOOTSTRAP_PHASES = frozenset({"DPU Cluster Config"})
SERVING_PHASES = frozenset({"DPU Cluster Config", "Host Network Configuration", "Ready", "Node Effect Removal"})
DEFAULT_MAX_AGE_SECONDS = 3600
PENDING_MARGIN = 100  # the machine-approver's bound: DPUs + 100 pending CSRs
CLOCK_SKEW = timedelta(seconds=10)  # csr_check.go maxMachineClockSkew: a CSR this much older than its DPU still counts
PEM_TYPE = "CERTIFICATE REQUEST"
WHITESPACE = b" \t\r\n"
TRUSTED_ADDRESS_TYPES = frozenset({"InternalIP", "ExternalIP"})


@dataclass(frozen=True)
class Decision:
    approve: bool
    reason: str  # one CamelCase word: the rule that decided
    message: str
    node: str = ""
    # Not approved yet, nothing wrong: the kubelet asked before DPF or the hosted cluster recorded
    # what the rule needs (the Node, the DPU's addresses). The CSR is decided again when they change.
    waiting: bool = False


@dataclass
class Context:
    """What is known when deciding: the DPUCluster, its DPUs, the hosted cluster's Nodes, its
    service and pod networks, and when each DPU's node last got a bootstrap certificate approved."""

    dpucluster_namespace: str
    dpucluster_name: str
    dpus: dict[str, dict[str, Any]] = field(default_factory=dict)  # by name, in the DPUCluster's namespace
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)  # hosted cluster Nodes by name
    now: datetime | None = None
    max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS
    cluster_networks: tuple[Any, ...] = ()  # ip_network objects: the hosted cluster's service and pod networks
    bootstrapped: dict[str, datetime] = field(default_factory=dict)  # node -> creation of its latest approved bootstrap


@dataclass(frozen=True)
class Request:
    common_name: str
    organizations: tuple[str, ...]
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]  # as Go prints them: an IPv4-mapped IPv6 address is the IPv4 one
    other_sans: int  # e-mail, URI or other SANs: never expected from a kubelet
    other_subject: tuple[str, ...] = ()  # subject attributes besides one CN and the O's
    other_extensions: tuple[str, ...] = ()  # extensions besides subjectAltName


def _one_reading(raw: Any) -> bytes:
    """The PEM bytes of spec.request when they admit one reading only; ValueError otherwise.

    The API server and the signer read the request with Go's pem.Decode (golang/go
    src/encoding/pem/pem.go; kubernetes/kubernetes pkg/apis/certificates/v1/helpers.go ParseCSR):
    the first block that decodes, found anywhere, with whatever follows ignored. A block whose END
    line carries anything more is skipped, so one stray byte can make Go read a later block than
    another parser. We accept only what every reader reads alike: one block from the first byte,
    nothing after it but whitespace, byte for byte its canonical encoding (no headers, 64-column
    lines), checked by the caller against the re-encoding of what it parsed."""
    if not raw or not isinstance(raw, str):
        raise ValueError("spec.request is empty")
    try:
        pem = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"spec.request is not base64: {exc}") from exc
    begin = f"-----BEGIN {PEM_TYPE}-----".encode()
    end = f"-----END {PEM_TYPE}-----".encode()
    blocks = pem.count(b"-----BEGIN")
    if blocks != 1:
        raise ValueError(f"spec.request holds {blocks} PEM blocks; exactly one is read alike by every parser")
    if not pem.startswith(begin):
        raise ValueError("spec.request does not start with its PEM block (bytes before it, or another type)")
    tail = pem.rstrip(WHITESPACE)
    if not tail.endswith(end) or tail.count(end) != 1:
        raise ValueError("spec.request has data after its PEM block's END line")
    return tail + b"\n"


def _check_key(req: Any) -> None:
    """RSA of 2048 bits or more, ECDSA on P-256 or P-384, or Ed25519 (what a kubelet and the
    signers use); ValueError otherwise."""
    try:
        key = req.public_key()
    except (ValueError, TypeError) as exc:
        raise ValueError(f"its public key is of an unsupported type: {exc}") from exc
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise ValueError(f"RSA key of {key.key_size} bits; at least 2048 are needed")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, (ec.SECP256R1, ec.SECP384R1)):
            raise ValueError(f"ECDSA key on {key.curve.name}; only P-256 and P-384 are accepted")
    elif not isinstance(key, ed25519.Ed25519PublicKey):
        raise ValueError(f"{type(key).__name__} keys are not accepted; RSA >= 2048, ECDSA P-256/P-384 or Ed25519 are")


def go_ip(value: Any) -> Any:
    """An address as Go's net.IP treats it: an IPv4-mapped IPv6 address is the IPv4 address."""
    addr = ipaddress.ip_address(value)
    return getattr(addr, "ipv4_mapped", None) or addr


def parse_request(csr: dict[str, Any]) -> Request:
    """The x509 request inside a CSR object (base64 PEM in spec.request) when it has one reading,
    a supported key and a valid signature; ValueError saying why not otherwise."""
    raw = (csr.get("spec") or {}).get("request")
    found = _parsed(raw) if isinstance(raw, str) else _read(raw)
    if isinstance(found, ValueError):
        raise ValueError(str(found))
    return found


@functools.lru_cache(maxsize=4096)
def _parsed(raw: str) -> Request | ValueError:
    """A request's reading, once per request: each pass sees every pending and approved CSR again."""
    return _read(raw)


def _read(raw: Any) -> Request | ValueError:
    try:
        return _read_request(raw)
    except ValueError as exc:
        return exc
    except Exception as exc:  # hostile bytes (an unknown key or signature algorithm) are a refusal, never a crash
        return ValueError(f"spec.request cannot be read: {type(exc).__name__}: {exc}")


# PKCS#9 extensionRequest: the one attribute Go reads extensions from. Go collects them from every
# such attribute and skips all others (golang/go src/crypto/x509/x509.go, parseCSRExtensions), while
# pyca/cryptography reads the first of extensionRequest or Microsoft's 1.3.6.1.4.1.311.2.1.14 only:
# with any other attribute, or two, the two parsers can see different extensions.
EXTENSION_REQUEST_OID = "1.2.840.113549.1.9.14"


def _check_attributes(req: Any) -> None:
    """At most one attribute, and that one extensionRequest: then both parsers read the same extensions."""
    try:
        oids = [a.oid.dotted_string for a in req.attributes]
    except (ValueError, TypeError) as exc:
        raise ValueError(f"the request's attributes do not parse: {exc}") from exc
    if oids not in ([], [EXTENSION_REQUEST_OID]):
        raise ValueError(
            f"the request carries attributes {oids}; a kubelet sends at most one, "
            f"extensionRequest ({EXTENSION_REQUEST_OID})"
        )


def _read_request(raw: Any) -> Request:
    pem = _one_reading(raw)
    try:
        req = x509.load_pem_x509_csr(pem)
        canonical = req.public_bytes(serialization.Encoding.PEM)
        der = req.public_bytes(serialization.Encoding.DER)
        valid = req.is_signature_valid
    except (ValueError, TypeError) as exc:
        raise ValueError(f"spec.request is not a PEM certificate request: {exc}") from exc
    if pem != canonical or x509.load_der_x509_csr(der).public_bytes(serialization.Encoding.DER) != der:
        raise ValueError("spec.request is not the canonical encoding of its request (headers, line lengths)")
    _check_key(req)
    if not valid:
        raise ValueError("the request's signature does not verify")
    _check_attributes(req)
    try:
        subject = list(req.subject)
        cns = [a.value for a in subject if a.oid == NameOID.COMMON_NAME]
        orgs = tuple(str(a.value) for a in subject if a.oid == NameOID.ORGANIZATION_NAME)
        other_subject = tuple(
            a.oid.dotted_string for a in subject if a.oid not in (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME)
        )
        extensions = list(req.extensions)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"the request's subject or extensions do not parse: {exc}") from exc
    other_extensions = tuple(e.oid.dotted_string for e in extensions if e.oid != ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    dns: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    other = 0
    for ext in extensions:
        if ext.oid == ExtensionOID.SUBJECT_ALTERNATIVE_NAME:
            san = ext.value
            dns += tuple(san.get_values_for_type(x509.DNSName))
            found = san.get_values_for_type(x509.IPAddress)
            ips += tuple(str(go_ip(ip)) for ip in found)
            other += len(san) - len(san.get_values_for_type(x509.DNSName)) - len(found)
    if len(cns) > 1:
        other_subject += ("more than one CN",)
    return Request(str(cns[0]) if cns else "", orgs, dns, ips, other, other_subject, other_extensions)


def _created(obj: dict[str, Any] | None) -> datetime | None:
    return parse_time(((obj or {}).get("metadata") or {}).get("creationTimestamp"))


def _age_seconds(csr: dict[str, Any], now: datetime) -> float:
    created = _created(csr)
    return float("inf") if created is None else (now - created).total_seconds()


def dpu_is_ours(dpu: dict[str, Any], ctx: Context) -> bool:
    """The DPU names this DPUCluster in spec.cluster (a DPU that names none is no one's)."""
    cluster = (dpu.get("spec") or {}).get("cluster") or {}
    namespace = cluster.get("namespace") or (dpu.get("metadata") or {}).get("namespace")
    return bool(cluster.get("name")) and (cluster.get("name"), namespace) == (
        ctx.dpucluster_name,
        ctx.dpucluster_namespace,
    )


def _dpu_check(ctx: Context, name: str, phases: frozenset[str]) -> Decision | None:
    """None when DPU ``name`` is ours and in one of ``phases``; else why not."""
    where = f"{ctx.dpucluster_namespace}/{ctx.dpucluster_name}"
    dpu = ctx.dpus.get(name)
    if dpu is None:
        return Decision(False, "UnknownDPU", f"no DPU named {name!r} in namespace {ctx.dpucluster_namespace}", name)
    cluster = (dpu.get("spec") or {}).get("cluster") or {}
    if not cluster.get("name"):
        return Decision(False, "DPUWithoutCluster", f"DPU {name!r} names no DPUCluster in spec.cluster", name)
    if not dpu_is_ours(dpu, ctx):
        return Decision(
            False,
            "DPUOfAnotherCluster",
            f"DPU {name!r} belongs to DPUCluster {cluster.get('namespace')}/{cluster.get('name')}, not {where}",
            name,
        )
    if (dpu.get("metadata") or {}).get("deletionTimestamp"):
        return Decision(False, "DPUBeingDeleted", f"DPU {name!r} is being deleted", name)
    phase = (dpu.get("status") or {}).get("phase")
    if phase not in phases:
        return Decision(
            False,
            "DPUNotJoining",
            f"DPU {name!r} is in phase {phase!r}; this request is approved only in {sorted(phases)}",
            name,
        )
    return None


def _usages(csr: dict[str, Any]) -> frozenset[str]:
    return frozenset((csr.get("spec") or {}).get("usages") or [])


def _usages_list(csr: dict[str, Any]) -> list[Any]:
    return list((csr.get("spec") or {}).get("usages") or [])


def decide(csr: dict[str, Any], ctx: Context) -> Decision:
    """Approve only a DPU's own kubelet client or serving certificate, requested the way a kubelet does."""
    spec = csr.get("spec") or {}
    signer = spec.get("signerName", "")
    username = spec.get("username", "")
    groups = frozenset(spec.get("groups") or [])
    now = ctx.now or datetime.now(UTC)
    if signer not in (CLIENT_SIGNER, SERVING_SIGNER):
        return Decision(False, "UnsupportedSigner", f"signer {signer!r} is not a kubelet signer")
    if _age_seconds(csr, now) > ctx.max_age_seconds:
        return Decision(
            False, TOO_OLD_REASON, f"created more than {ctx.max_age_seconds:.0f}s ago; a kubelet asks again"
        )
    try:
        req = parse_request(csr)
    except ValueError as exc:
        return Decision(False, "InvalidRequest", str(exc))
    if req.other_sans:
        return Decision(False, "UnexpectedSANs", "e-mail, URI or other names are never in a kubelet certificate")
    if not req.common_name.startswith(NODE_PREFIX) or len(req.common_name) == len(NODE_PREFIX):
        return Decision(False, "BadCommonName", f"CN {req.common_name!r} is not system:node:<name>")
    node = req.common_name[len(NODE_PREFIX) :]
    if req.other_subject:
        return Decision(False, "BadSubject", f"subject has {list(req.other_subject)} besides O and CN", node)
    if req.other_extensions:
        return Decision(
            False, "UnexpectedExtensions", f"extensions {list(req.other_extensions)} besides subjectAltName", node
        )
    if req.organizations != ("system:nodes",):
        return Decision(False, "BadOrganization", f"O={list(req.organizations)}, expected ['system:nodes']", node)
    if len(_usages_list(csr)) != len(_usages(csr)):
        return Decision(False, "BadUsages", f"usages {_usages_list(csr)} repeat one", node)
    if signer == CLIENT_SIGNER:
        return _decide_client(csr, ctx, req, node, username, groups)
    return _decide_serving(csr, ctx, req, node, username, groups)


def _decide_client(
    csr: dict[str, Any], ctx: Context, req: Request, node: str, username: str, groups: frozenset[str]
) -> Decision:
    if _usages(csr) not in CLIENT_USAGES:
        return Decision(False, "BadUsages", f"usages {sorted(_usages(csr))} are not a kubelet client's", node)
    if req.dns_names or req.ip_addresses:
        return Decision(
            False, "UnexpectedSANs", "a kubelet client certificate carries no subject alternative names", node
        )
    if username == f"{NODE_PREFIX}{node}":  # renewal by the node itself, same identity
        if not groups >= NODE_GROUPS:
            return Decision(False, "BadRequester", f"{username} lacks groups {sorted(NODE_GROUPS - groups)}", node)
        if node not in ctx.nodes:
            return Decision(False, "NodeNotFound", f"renewal for {node!r}, which has no Node", node)
        problem = _dpu_check(ctx, node, SERVING_PHASES)
        return problem or Decision(True, "KubeletClientRenewal", f"client certificate renewal by node {node}", node)
    if username != BOOTSTRAPPER or groups != BOOTSTRAPPER_GROUPS:
        return Decision(
            False,
            "BadRequester",
            f"requested by {username!r} with groups {sorted(groups)}; a joining DPU asks as the "
            "node-bootstrapper with exactly its groups, a node renews as itself",
            node,
        )
    if node in ctx.nodes:  # csr_check.go authorizeNodeClientCSR: the node must not exist at all
        return Decision(
            False,
            "NodeExists",
            f"a Node {node!r} exists: a bootstrap certificate is only for a node not yet there",
            node,
        )
    problem = _dpu_check(ctx, node, BOOTSTRAP_PHASES)
    if problem:
        return problem
    dpu_created, csr_created = _created(ctx.dpus[node]), _created(csr)
    if dpu_created is None or csr_created is None or csr_created < dpu_created - CLOCK_SKEW:
        return Decision(
            False, "NotFresh", f"created before DPU {node!r} (a request left from an earlier join, or a replay)", node
        )
    earlier = ctx.bootstrapped.get(node)
    if earlier is not None and earlier >= dpu_created - CLOCK_SKEW:
        return Decision(
            False,
            "AlreadyBootstrapped",
            f"a bootstrap certificate was already approved for this join of DPU {node!r}; another waits until the "
            "DPU joins anew",
            node,
        )
    return Decision(
        True,
        "DPUJoining",
        f"bootstrap client certificate for DPU {node} of DPUCluster {ctx.dpucluster_namespace}/{ctx.dpucluster_name}",
        node,
    )


def forbidden_address(addr: Any, networks: tuple[Any, ...] = ()) -> str | None:
    """Why ``addr`` (an ip_address, as go_ip gives it) may never be in a serving certificate, or None."""
    for test, what in (
        ("is_unspecified", "unspecified"),
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_reserved", "reserved"),
    ):
        if getattr(addr, test):
            return f"{addr} is a {what} address"
    if addr.version == 4 and addr == ipaddress.IPv4Address("255.255.255.255"):
        return f"{addr} is the broadcast address"
    for net in networks:
        if addr.version == net.version and addr in net:
            return f"{addr} is inside the hosted cluster's service or pod network {net}"
    return None


def dpu_addresses(dpu: dict[str, Any] | None) -> set[Any]:
    """The IP addresses DPF recorded for a DPU (status.addresses, InternalIP and ExternalIP), as Go reads them."""
    found = set()
    for entry in ((dpu or {}).get("status") or {}).get("addresses") or []:
        if isinstance(entry, dict) and entry.get("type") in TRUSTED_ADDRESS_TYPES:
            try:
                found.add(go_ip(str(entry.get("address", "")).strip()))
            except ValueError:
                continue
    return found


def _attributed(ctx: Context, node: str) -> set[Any]:
    """Addresses we attribute to DPU ``node``: DPF's record on its DPU, minus any that another DPU's
    record has (an address two DPUs have is neither's). Nodes' own status.addresses play no part: a
    kubelet writes them, so a node could take its neighbour's address away (cluster-machine-approver
    too compares serving SANs with the Machine's addresses only: openshift/cluster-machine-approver
    pkg/controller/csr_check.go)."""
    mine = dpu_addresses(ctx.dpus.get(node))
    return mine - _others(ctx, node) if mine else mine


def _others(ctx: Context, node: str) -> set[Any]:
    """Addresses DPF recorded for any DPU but ``node``: never ``node``'s, whatever it records later."""
    found: set[Any] = set()
    for name, other in ctx.dpus.items():
        if name != node:
            found |= dpu_addresses(other)
    return found


def _decide_serving(
    csr: dict[str, Any], ctx: Context, req: Request, node: str, username: str, groups: frozenset[str]
) -> Decision:
    if username != f"{NODE_PREFIX}{node}" or req.common_name != username:
        return Decision(
            False,
            "BadRequester",
            f"requested by {username!r} for CN {req.common_name!r}; a kubelet asks for its own name",
            node,
        )
    if not groups >= NODE_GROUPS:
        return Decision(False, "BadRequester", f"groups {sorted(groups)} lack {sorted(NODE_GROUPS - groups)}", node)
    if _usages(csr) not in SERVING_USAGES:
        return Decision(False, "BadUsages", f"usages {sorted(_usages(csr))} are not a kubelet server's", node)
    if not req.dns_names and not req.ip_addresses:
        return Decision(False, "NoSANs", "a serving certificate names the node's addresses", node)
    strangers = [d for d in req.dns_names if d != node]
    if strangers:
        return Decision(False, "SANNotTheNodes", f"DNS names {strangers}: the only name allowed is {node!r}", node)
    for ip in req.ip_addresses:
        why = forbidden_address(ipaddress.ip_address(ip), ctx.cluster_networks)
        if why:
            return Decision(False, "ForbiddenSAN", why, node)
    problem = _dpu_check(ctx, node, SERVING_PHASES)
    if problem:
        return problem
    # What can be refused now is refused before any wait: an address recorded for another DPU is
    # never this one's, and once this DPU's addresses are recorded, every IP SAN must be one of them.
    recorded, known, others = dpu_addresses(ctx.dpus.get(node)), _attributed(ctx, node), _others(ctx, node)
    taken = [ip for ip in req.ip_addresses if ipaddress.ip_address(ip) in others]
    unknown = [ip for ip in req.ip_addresses if ipaddress.ip_address(ip) not in known] if recorded else taken
    if unknown:
        return Decision(
            False,
            "SANNotTheNodes",
            f"{unknown} are not addresses DPF recorded for DPU {node} alone ({sorted(map(str, known))})",
            node,
        )
    if node not in ctx.nodes:
        return Decision(False, "NodeNotFound", f"no Node {node!r} in the hosted cluster yet", node, waiting=True)
    if not recorded:
        # DPF writes a DPU's status.addresses when it reaches Ready, after its Node is Ready
        # (NVIDIA/doca-platform internal/provisioning/controllers/dpu/state/ready.go), while a
        # kubelet asks for its serving certificate as soon as its Node has an address
        # (kubernetes pkg/kubelet/certificate/kubelet.go): a joining DPU's first serving CSR
        # always comes before the record it is checked against.
        return Decision(
            False,
            "DPUAddressesNotRecorded",
            f"waits until DPF records DPU {node}'s addresses (its status.addresses, written in phase Ready)",
            node,
            waiting=True,
        )
    return Decision(True, "DPUServing", f"serving certificate for DPU node {node}", node)


def is_approved(csr: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Approved" and c.get("status", "True") == "True"
        for c in (csr.get("status") or {}).get("conditions") or []
    )


def bootstrap_node(csr: dict[str, Any]) -> str | None:
    """The node an approved-or-not bootstrap CSR (the node-bootstrapper's, kubelet client signer) is for."""
    spec = csr.get("spec") or {}
    if spec.get("signerName") != CLIENT_SIGNER or spec.get("username") != BOOTSTRAPPER:
        return None
    try:
        cn = parse_request(csr).common_name
    except ValueError:
        return None
    return cn[len(NODE_PREFIX) :] if cn.startswith(NODE_PREFIX) else None


def bootstrapped(csrs: list[dict[str, Any]]) -> dict[str, datetime]:
    """For each node, the creation time of its latest approved bootstrap CSR."""
    out: dict[str, datetime] = {}
    for csr in csrs:
        if not is_approved(csr) or (created := _created(csr)) is None:
            continue
        node = bootstrap_node(csr)
        if node and (node not in out or out[node] < created):
            out[node] = created
    return out


def note_approval(ctx: Context, csr: dict[str, Any], decision: Decision) -> None:
    """Remember an approval made in this pass, so a second bootstrap for the same join is refused."""
    created = _created(csr)
    if decision.approve and decision.reason == "DPUJoining" and created is not None:
        ctx.bootstrapped[decision.node] = max(created, ctx.bootstrapped.get(decision.node, created))


FLOOD_REASON = "TooManyPendingCSRs"
TOO_OLD_REASON = "TooOld"


def recently_pending(pending: list[dict[str, Any]], max_age_seconds: float, now: datetime | None = None) -> int:
    """How many of ``pending`` were created within ``max_age_seconds`` (older ones are refused as too
    old anyway and must not pause approvals until the API server collects them; cluster-machine-approver
    counts the same way: openshift/cluster-machine-approver, recentlyPendingCSRs and maxPendingDelta)."""
    now = now or datetime.now(UTC)
    return sum(1 for csr in pending if _age_seconds(csr, now) <= max_age_seconds)


def flood_guard(pending: int, dpus: int) -> Decision | None:
    """Stop approving when pending CSRs pile up beyond DPUs + 100, so a flood cannot hide a forgery."""
    bound = dpus + PENDING_MARGIN
    if pending > bound:
        return Decision(
            False,
            FLOOD_REASON,
            f"{pending} CSRs are pending, more than the {bound} allowed (DPUs + {PENDING_MARGIN}); "
            "approval is paused until they are dealt with",
        )
    return None


def is_pending(csr: dict[str, Any]) -> bool:
    conds = (csr.get("status") or {}).get("conditions") or []
    return not any(c.get("type") in ("Approved", "Denied", "Failed") for c in conds)
