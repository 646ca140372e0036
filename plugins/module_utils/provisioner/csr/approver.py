# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Approve the pending CSRs of a provisioner's joining DPUs: reach the hosted cluster (its checked
kubeconfig, then the approver identity only), gather what the policy needs, approve what it
allows, and say why the rest stays pending."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s import events, query
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.conditions import Condition, condition
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.deadlines import Budget
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import CSR, NODE
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import hosted_health, hosted_kubeconfig
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.conditions import (
    CSR_AUTO_APPROVAL,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.csr import identity, policy
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import DPU

APPROVER = "dpf-hcp-provisioner"
REQUEST_SECONDS = 10.0  # one request to a hosted API server, whole
# The most one answer (a list of CSRs or Nodes), or one watch event, of a hosted API server may hold,
# unencoded: the tenant's server must not make the operator hold gigabytes. Kubernetes' own objects
# are at most about 1.5 MiB (etcd's request limit); a list of a few hundred DPUs' Nodes is far less.
HOSTED_ANSWER_BYTES = 16 * 1024 * 1024


def hosted_client(credentials: Any, budget: Budget | None = None) -> KubeClient:
    """A client for a hosted cluster's API server: each request whole within REQUEST_SECONDS (and
    all of them within ``budget``), each answer within HOSTED_ANSWER_BYTES."""
    return KubeClient(credentials, timeout=REQUEST_SECONDS, budget=budget, max_answer_bytes=HOSTED_ANSWER_BYTES)


# One pass in a hosted cluster, all its requests together (the identity's set-up, its tokens, the
# lists, the health reads, the approvals): a server that answers each just inside its deadline holds
# the pass, and a run's other provisioners waiting at the task, no longer. What is left undone is
# done by the next pass.
PASS_SECONDS = 30.0


def approver_client(
    source: hosted_kubeconfig.HostedKubeconfig, check_mode: bool = False, budget: Budget | None = None
) -> tuple[KubeClient, bool]:
    """A client for the hosted cluster under the approver identity, and whether that identity had to
    be created or repaired first (with the admin kubeconfig, see identity.py). ApiError when the
    hosted API server says no. ``budget``: the time its requests may take in all."""
    admin = hosted_client(source.credentials, budget)
    approver_identity = identity.ApproverIdentity(admin)
    changed = approver_identity.ensure(check_mode)
    return approver_identity.client(), changed


def cluster_networks(hosted_cluster: dict[str, Any]) -> tuple[Any, ...]:
    """The hosted cluster's service and pod networks, as HyperShift was given them (spec.networking)."""
    networking = (hosted_cluster.get("spec") or {}).get("networking") or {}
    found = []
    for key in ("serviceNetwork", "clusterNetwork"):
        for entry in networking.get(key) or []:
            try:
                found.append(ipaddress.ip_network(str((entry or {}).get("cidr", "")), strict=False))
            except ValueError:
                continue
    return tuple(found)


def policy_context(
    provisioner: dict[str, Any],
    dpus: list[dict[str, Any]],
    nodes: list[dict[str, Any]],
    csrs: list[dict[str, Any]],
    hosted_cluster: dict[str, Any],
    max_age_seconds: float = policy.DEFAULT_MAX_AGE_SECONDS,
) -> policy.Context:
    ref = (provisioner.get("spec") or {}).get("dpuClusterRef") or {}
    return policy.Context(
        dpucluster_namespace=ref.get("namespace", ""),
        dpucluster_name=ref.get("name", ""),
        dpus={d["metadata"]["name"]: d for d in dpus if d["metadata"].get("namespace") == ref.get("namespace")},
        nodes={n["metadata"]["name"]: n for n in nodes},
        max_age_seconds=max_age_seconds,
        cluster_networks=cluster_networks(hosted_cluster),
        bootstrapped=policy.bootstrapped(csrs),
    )


def cached(csr: dict[str, Any]) -> dict[str, Any]:
    """What the operator's cache keeps of a CSR: all but the issued certificate, which no decision
    reads and an approval need not send (the approval subresource takes only the conditions and keeps
    the stored status: kubernetes pkg/registry/certificates/certificates/strategy.go,
    csrApprovalStrategy.PrepareForUpdate). A hosted cluster holds one per kubelet certificate ever
    issued, until the API server collects it."""
    status = csr.get("status")
    if isinstance(status, dict) and "certificate" in status:
        return {**csr, "status": {k: v for k, v in status.items() if k != "certificate"}}
    return csr


def cached_node(node: dict[str, Any]) -> dict[str, Any]:
    """What the operator's cache keeps of a hosted Node: its name and version. The approver asks only
    whether a Node of a name exists (policy.Context.nodes); its labels, annotations and status are the
    hosted cluster's to make as big as it likes."""
    meta = node.get("metadata") or {}
    return {"metadata": {k: meta[k] for k in ("name", "uid", "resourceVersion") if k in meta}}


def approve(hosted: KubeClient, csr: dict[str, Any], decision: policy.Decision) -> None:
    """Add the Approved condition through the /approval subresource."""
    conds = query.items(csr, "status.conditions")
    conds.append(
        {
            "type": "Approved",
            "status": "True",
            "reason": "AutoApproved",
            "message": f"Approved by {APPROVER}: {decision.message}",
        }
    )
    body = {**csr, "status": {**(csr.get("status") or {}), "conditions": conds}}
    hosted.replace(CSR, body, subresource="approval")


def decide_all(pending: list[dict[str, Any]], ctx: policy.Context) -> list[tuple[dict[str, Any], policy.Decision]]:
    """Each pending CSR with its decision; none are approved while the pending ones pile up."""
    flood = policy.flood_guard(policy.recently_pending(pending, ctx.max_age_seconds, ctx.now), len(ctx.dpus))
    out = []
    for csr in sorted(pending, key=lambda c: (c["metadata"].get("creationTimestamp", ""), c["metadata"]["name"])):
        decision = flood or policy.decide(csr, ctx)
        policy.note_approval(ctx, csr, decision)  # one bootstrap per join, even within one pass
        out.append((csr, decision))
    return out


def report(mgmt: KubeClient, provisioner: dict[str, Any], csr: dict[str, Any], decision: policy.Decision) -> bool:
    """An Event on the provisioner naming the CSR, the DPU and the rule: CSRApproved for each approval
    (the upstream operator records one), CSRNotApproved (a Warning) once per CSR and reason it stays
    pending for, CSRPending (Normal) once per CSR and reason it waits for."""
    name = csr["metadata"]["name"]
    if decision.reason == policy.FLOOD_REASON:  # one Event per flood (its first CSR's name), not one per CSR
        return events.record_once(
            mgmt, provisioner, "Warning", "CSRNotApproved", f"rule {decision.reason}: {decision.message}",
            key=f"csr-flood/{name}",
        )  # fmt: skip
    said = f"CSR {name} (DPU {decision.node or 'unknown'}, rule {decision.reason})"
    if decision.approve:
        event_type, reason, outcome, key = "Normal", "CSRApproved", "approved", "approved"
    elif decision.waiting:
        event_type, reason, outcome, key = "Normal", "CSRPending", "waits", decision.reason
    else:
        event_type, reason, outcome, key = "Warning", "CSRNotApproved", "stays pending", decision.reason
    return events.record_once(
        mgmt, provisioner, event_type, reason, f"{said} {outcome}: {decision.message}", key=f"csr/{name}/{key}"
    )


def told(
    refused: list[tuple[dict[str, Any], policy.Decision]], dpus: int
) -> list[tuple[dict[str, Any], policy.Decision]]:
    """The refusals a pass tells by an Event: a flood once (by its first CSR), otherwise DPUs +
    PENDING_MARGIN of them, those refused for what they are before those refused for their age, the
    newest first. Each telling is a request to the management API server (a conflict once told), and
    a pass keeps no memory: a tenant's hosted cluster holding thousands of CSRs over an hour old
    (refused as such, and not counted by the flood guard) would cost thousands per pass. Every CSR
    created within the hour is told (more of those is a flood), so a forgery is never hidden behind
    old ones; the condition counts them all."""
    if refused and refused[0][1].reason == policy.FLOOD_REASON:
        return refused[:1]
    return in_telling_order(refused)[: dpus + policy.PENDING_MARGIN]


def in_telling_order(
    refused: list[tuple[dict[str, Any], policy.Decision]],
) -> list[tuple[dict[str, Any], policy.Decision]]:
    """Refusals for what they are before refusals for their age, the newest first within each: the
    order in which a bounded number of Events (a pass's, or the spam filter's) is best spent."""
    newest = sorted(
        refused, key=lambda r: (r[0]["metadata"].get("creationTimestamp", ""), r[0]["metadata"]["name"]), reverse=True
    )
    newest.sort(key=lambda r: r[1].reason == policy.TOO_OLD_REASON)  # stable: newest first within each
    return newest


@dataclass
class Pass:
    """One approval pass: what was approved, what was not and why, and the condition."""

    condition: Condition
    approved: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    identity_changed: bool = False  # the approver identity was created or repaired
    health: Condition | None = None  # HostedClusterHealthy, read in the same pass when asked for


def unreachable(exc: ApiError) -> Condition:
    return condition(
        CSR_AUTO_APPROVAL,
        False,
        "HostedClusterUnreachable",
        f"The hosted cluster's API server does not answer or refuses the approver identity "
        f"({hosted_health.shown(str(exc), 300)}); approval "
        "resumes when it does",
    )


def approval_pass(
    mgmt: KubeClient,
    provisioner: dict[str, Any],
    check_mode: bool = False,
    max_age_seconds: float = policy.DEFAULT_MAX_AGE_SECONDS,
    health: bool = False,
) -> Pass:
    """List, decide, approve: the whole step for one provisioner (the operator does the same per event).
    With ``health``, the hosted cluster's health is read in the same pass, with the same connection
    (Pass.health; hosted_health.py)."""
    try:
        source = hosted_kubeconfig.read(mgmt, provisioner)
    except hosted_kubeconfig.Unavailable as exc:
        return Pass(
            condition(
                CSR_AUTO_APPROVAL, False, exc.reason, f"{exc.message}; CSRs are approved once a usable one is published"
            ),
            health=hosted_health.waiting(exc.reason, exc.message) if health else None,
        )
    ref = (provisioner.get("spec") or {}).get("dpuClusterRef") or {}
    try:
        hosted, identity_changed = approver_client(source, check_mode, Budget(PASS_SECONDS))
        csrs = hosted.list(CSR).get("items") or []
        nodes = hosted.list(NODE).get("items") or []
    except ApiError as exc:
        read_failed = hosted_health.failed_read(exc, check_mode) if health else None
        if check_mode and exc.not_found:  # the approver's ServiceAccount is only a dry run yet
            return Pass(
                condition(
                    CSR_AUTO_APPROVAL,
                    False,
                    "ApproverIdentityPending",
                    f"Check mode: serviceaccount {identity.NAMESPACE}/{identity.NAME} would be created in the "
                    "hosted cluster; CSRs are assessed under it once it exists",
                ),
                health=read_failed,
            )
        return Pass(unreachable(exc), health=read_failed)
    dpus = mgmt.list(DPU, ref.get("namespace")).get("items") or []
    ctx = policy_context(provisioner, dpus, nodes, csrs, source.hosted_cluster, max_age_seconds)
    result = Pass(
        condition(CSR_AUTO_APPROVAL, True, "Active", ""),
        identity_changed=identity_changed,
        health=hosted_health.read(hosted, check_mode) if health else None,
    )
    refused: list[tuple[dict[str, Any], policy.Decision]] = []
    failed: ApiError | None = None
    for csr, decision in decide_all([c for c in csrs if policy.is_pending(c)], ctx):
        entry = {
            "name": csr["metadata"]["name"],
            "node": decision.node,
            "reason": decision.reason,
            "message": decision.message,
            "waiting": decision.waiting,
        }
        if decision.approve:
            if failed is not None:
                continue
            if not check_mode:
                try:
                    approve(hosted, csr, decision)
                except ApiError as exc:
                    if exc.status in (0, 401, 403):  # no answer (or the pass's time spent), or refused
                        failed = exc  # no more approvals tried; the refusals are told all the same
                    continue  # or approved meanwhile (409: the operator's own watch) or gone (404)
                report(mgmt, provisioner, csr, decision)
            result.approved.append(entry)
        else:
            refused.append((csr, decision))
            result.refused.append(entry)
    if not check_mode:
        for csr, decision in told(refused, len(ctx.dpus)):
            report(mgmt, provisioner, csr, decision)
    if failed is not None:
        result.condition = unreachable(failed)
        return result
    result.condition["message"] = (
        f"Approving the CSRs of DPUs joining from DPUCluster {ref.get('namespace')}/"
        f"{ref.get('name')}; {len(ctx.dpus)} DPUs known, {len(result.refused)} CSRs "
        "pending that do not qualify"
    )
    return result


def health_pass(mgmt: KubeClient, provisioner: dict[str, Any], check_mode: bool = False) -> Condition:
    """HostedClusterHealthy alone: the hosted kubeconfig checked and the approver identity set up as for
    an approval pass, then the ClusterVersion and ClusterOperators read under it."""
    try:
        source = hosted_kubeconfig.read(mgmt, provisioner)
    except hosted_kubeconfig.Unavailable as exc:
        return hosted_health.waiting(exc.reason, exc.message)
    try:
        hosted, _changed = approver_client(source, check_mode, Budget(PASS_SECONDS))
    except ApiError as exc:
        return hosted_health.failed_read(exc, check_mode)
    return hosted_health.read(hosted, check_mode)
