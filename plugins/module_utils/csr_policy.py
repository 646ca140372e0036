# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Which CertificateSigningRequests in a hosted cluster belong to DPUs joining it, and only those.

Modelled on OpenShift's cluster-machine-approver, with the DPU playing the machine's part:
a DPU of that name, in a joining phase, in the referenced DPUCluster's namespace. Pure
functions: the caller reads the CSR, the DPUs and the Nodes; this decides.
"""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

try:
    from cryptography import x509
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
# The DPU phases in which its node joins (bootstrap) or has joined (serving certificates).
BOOTSTRAP_PHASES = frozenset({"DPU Cluster Config"})
SERVING_PHASES = frozenset({"DPU Cluster Config", "Host Network Configuration", "Ready", "Node Effect Removal"})
DEFAULT_MAX_AGE_SECONDS = 3600
PENDING_MARGIN = 100  # the machine-approver's bound: DPUs + 100 pending CSRs


@dataclass(frozen=True)
class Decision:
    approve: bool
    reason: str  # one CamelCase word
    message: str
    node: str = ""


@dataclass
class Context:
    """What is known when deciding: the DPUCluster, its DPUs, the hosted cluster's Nodes."""

    dpucluster_namespace: str
    dpucluster_name: str
    dpus: dict[str, dict[str, Any]] = field(default_factory=dict)  # by name, in the DPUCluster's namespace
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)  # hosted cluster Nodes by name
    now: datetime | None = None
    max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS


@dataclass(frozen=True)
class Request:
    common_name: str
    organizations: tuple[str, ...]
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    other_sans: int  # e-mail, URI or other SANs: never expected from a kubelet


def parse_request(csr: dict[str, Any]) -> Request:
    """The x509 request inside a CSR object (base64 PEM in spec.request); ValueError when it is not one."""
    raw = (csr.get("spec") or {}).get("request")
    if not raw:
        raise ValueError("spec.request is empty")
    try:
        req = x509.load_pem_x509_csr(base64.b64decode(raw))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"spec.request is not a PEM certificate request: {exc}") from exc
    if not req.is_signature_valid:
        raise ValueError("the request's signature does not verify")
    cns = [a.value for a in req.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    orgs = tuple(str(a.value) for a in req.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
    dns: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    other = 0
    try:
        san = req.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound:
        san = None
    if san is not None:
        dns = tuple(san.get_values_for_type(x509.DNSName))
        ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
        other = len(san) - len(dns) - len(ips)
    return Request(str(cns[0]) if len(cns) == 1 else "", orgs, dns, ips, other)


def _age_seconds(csr: dict[str, Any], now: datetime) -> float:
    stamp = (csr.get("metadata") or {}).get("creationTimestamp")
    if not stamp:
        return 0.0
    created = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return (now - created).total_seconds()


def _node_active(node: dict[str, Any] | None) -> bool:
    conds = ((node or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def _dpu_check(ctx: Context, name: str, phases: frozenset[str]) -> Decision | None:
    """None when DPU ``name`` is ours and in one of ``phases``; else why not."""
    where = f"{ctx.dpucluster_namespace}/{ctx.dpucluster_name}"
    dpu = ctx.dpus.get(name)
    if dpu is None:
        return Decision(False, "UnknownDPU", f"no DPU named {name!r} in namespace {ctx.dpucluster_namespace}", name)
    cluster = (dpu.get("spec") or {}).get("cluster") or {}
    if cluster.get("name") and (cluster.get("name"), cluster.get("namespace") or ctx.dpucluster_namespace) != (
        ctx.dpucluster_name,
        ctx.dpucluster_namespace,
    ):
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
        return Decision(False, "TooOld", f"created more than {ctx.max_age_seconds:.0f}s ago; a kubelet asks again")
    try:
        req = parse_request(csr)
    except ValueError as exc:
        return Decision(False, "InvalidRequest", str(exc))
    if req.other_sans:
        return Decision(False, "UnexpectedSANs", "e-mail, URI or other names are never in a kubelet certificate")
    if not req.common_name.startswith(NODE_PREFIX) or len(req.common_name) == len(NODE_PREFIX):
        return Decision(False, "BadCommonName", f"CN {req.common_name!r} is not system:node:<name>")
    node = req.common_name[len(NODE_PREFIX) :]
    if signer == CLIENT_SIGNER:
        return _decide_client(csr, ctx, req, node, username, groups)
    return _decide_serving(csr, ctx, req, node, username, groups)


def _decide_client(
    csr: dict[str, Any], ctx: Context, req: Request, node: str, username: str, groups: frozenset[str]
) -> Decision:
    if _usages(csr) not in CLIENT_USAGES:
        return Decision(False, "BadUsages", f"usages {sorted(_usages(csr))} are not a kubelet client's", node)
    if req.organizations != ("system:nodes",):
        return Decision(False, "BadOrganization", f"O={list(req.organizations)}, expected ['system:nodes']", node)
    if req.dns_names or req.ip_addresses:
        return Decision(
            False, "UnexpectedSANs", "a kubelet client certificate carries no subject alternative names", node
        )
    if username == f"{NODE_PREFIX}{node}":  # renewal by the node itself
        if "system:nodes" not in groups:
            return Decision(False, "BadRequester", f"{username} is not in group system:nodes", node)
        if node not in ctx.nodes:
            return Decision(False, "NodeNotFound", f"renewal for {node!r}, which has no Node", node)
        problem = _dpu_check(ctx, node, SERVING_PHASES)
        return problem or Decision(True, "KubeletClientRenewal", f"client certificate renewal by node {node}", node)
    if username != BOOTSTRAPPER or groups != BOOTSTRAPPER_GROUPS:
        return Decision(
            False,
            "BadRequester",
            f"requested by {username!r} with groups {sorted(groups)}; a joining DPU asks as the "
            "node-bootstrapper with exactly its groups",
            node,
        )
    if _node_active(ctx.nodes.get(node)):
        return Decision(
            False,
            "NodeAlreadyJoined",
            f"node {node!r} has joined and is active: a further bootstrap request is refused",
            node,
        )
    problem = _dpu_check(ctx, node, BOOTSTRAP_PHASES)
    return problem or Decision(
        True,
        "DPUJoining",
        f"bootstrap client certificate for DPU {node} of DPUCluster {ctx.dpucluster_namespace}/{ctx.dpucluster_name}",
        node,
    )


def _known_addresses(ctx: Context, node: str) -> set[str]:
    known = {node}
    for source in (ctx.nodes.get(node), ctx.dpus.get(node)):
        for a in ((source or {}).get("status") or {}).get("addresses") or []:
            if isinstance(a, dict) and a.get("address"):
                known.add(str(a["address"]))
    return known


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
    if "system:nodes" not in req.organizations:
        return Decision(False, "BadOrganization", f"O={list(req.organizations)} lacks system:nodes", node)
    if not req.dns_names and not req.ip_addresses:
        return Decision(False, "NoSANs", "a serving certificate names the node's addresses", node)
    for ip in req.ip_addresses:
        addr = ipaddress.ip_address(ip)
        if addr.is_loopback or addr.is_multicast or addr.is_unspecified or addr.is_link_local:
            return Decision(
                False, "ForbiddenSAN", f"{ip} is a loopback, multicast, link-local or unspecified address", node
            )
    if node not in ctx.nodes:
        return Decision(False, "NodeNotFound", f"no Node {node!r} in the hosted cluster yet", node)
    problem = _dpu_check(ctx, node, SERVING_PHASES)
    if problem:
        return problem
    known = _known_addresses(ctx, node)
    strangers = [n for n in (*req.dns_names, *req.ip_addresses) if n not in known]
    if strangers:
        return Decision(
            False, "SANNotTheNodes", f"{strangers} are not addresses of node {node} ({sorted(known)})", node
        )
    return Decision(True, "DPUServing", f"serving certificate for DPU node {node}", node)


def flood_guard(pending: int, dpus: int) -> Decision | None:
    """Stop approving when pending CSRs pile up beyond DPUs + 100, so a flood cannot hide a forgery."""
    bound = dpus + PENDING_MARGIN
    if pending > bound:
        return Decision(
            False,
            "TooManyPendingCSRs",
            f"{pending} CSRs are pending, more than the {bound} allowed (DPUs + {PENDING_MARGIN}); "
            "approval is paused until they are dealt with",
        )
    return None


def is_pending(csr: dict[str, Any]) -> bool:
    conds = (csr.get("status") or {}).get("conditions") or []
    return not any(c.get("type") in ("Approved", "Denied", "Failed") for c in conds)
