# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Approve the pending CSRs of a provisioner's joining DPUs: reach the hosted cluster, gather
what the policy needs, approve what it allows, and say why the rest stays pending."""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils import csr_policy, events, naming
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.conditions import Condition, condition
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.kube import (
    ApiError,
    KubeClient,
    credentials_from_kubeconfig_text,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.resources import CSR, DPU, NODE, SECRET

CSR_AUTO_APPROVAL = "CSRAutoApprovalActive"
APPROVER = "dpf-hcp-provisioner"


def hosted_kubeconfig(mgmt: KubeClient, provisioner: dict[str, Any]) -> str | None:
    """The hosted cluster's admin kubeconfig HyperShift published, or None while there is none."""
    ref = naming.hosted_cluster_ref(provisioner)
    secret = mgmt.get_or_none(SECRET, naming.admin_kubeconfig_secret(provisioner), ref["namespace"])
    data = ((secret or {}).get("data") or {}).get("kubeconfig")
    if not data:
        return None
    try:
        return base64.b64decode(data).decode()
    except (ValueError, TypeError):  # binascii.Error and UnicodeDecodeError are ValueErrors
        raise ValueError(
            f"secret {ref['namespace']}/{naming.admin_kubeconfig_secret(provisioner)} "
            "key 'kubeconfig' is not base64-encoded UTF-8 text"
        ) from None


def hosted_client(kubeconfig_text: str, timeout: float = 10.0) -> KubeClient:
    """A client for the hosted cluster; ValueError when the kubeconfig is not usable."""
    creds = credentials_from_kubeconfig_text(kubeconfig_text)
    try:
        return KubeClient(creds, timeout=timeout)
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(f"kubeconfig's certificates are not usable ({type(exc).__name__})") from None


def policy_context(
    provisioner: dict[str, Any],
    dpus: list[dict[str, Any]],
    nodes: list[dict[str, Any]],
    max_age_seconds: float = csr_policy.DEFAULT_MAX_AGE_SECONDS,
) -> csr_policy.Context:
    ref = (provisioner.get("spec") or {}).get("dpuClusterRef") or {}
    return csr_policy.Context(
        dpucluster_namespace=ref.get("namespace", ""),
        dpucluster_name=ref.get("name", ""),
        dpus={d["metadata"]["name"]: d for d in dpus if d["metadata"].get("namespace") == ref.get("namespace")},
        nodes={n["metadata"]["name"]: n for n in nodes},
        max_age_seconds=max_age_seconds,
    )


def approve(hosted: KubeClient, csr: dict[str, Any], decision: csr_policy.Decision) -> None:
    """Add the Approved condition through the /approval subresource."""
    conds = list((csr.get("status") or {}).get("conditions") or [])
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


def decide_all(
    pending: list[dict[str, Any]], ctx: csr_policy.Context
) -> list[tuple[dict[str, Any], csr_policy.Decision]]:
    """Each pending CSR with its decision; none are approved while the pending ones pile up."""
    flood = csr_policy.flood_guard(len(pending), len(ctx.dpus))
    return [(c, flood or csr_policy.decide(c, ctx)) for c in pending]


def report_refusal(
    mgmt: KubeClient, provisioner: dict[str, Any], csr: dict[str, Any], decision: csr_policy.Decision
) -> bool:
    """An Event on the provisioner, once per CSR and reason."""
    name = csr["metadata"]["name"]
    return events.record_once(
        mgmt,
        provisioner,
        "Warning",
        "CSRNotApproved",
        f"CSR {name} stays pending: {decision.reason}: {decision.message}",
        key=f"csr/{name}/{decision.reason}",
    )


@dataclass
class Pass:
    """One approval pass: what was approved, what was not and why, and the condition."""

    condition: Condition
    approved: list[dict[str, str]] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)


def approval_pass(
    mgmt: KubeClient,
    provisioner: dict[str, Any],
    check_mode: bool = False,
    max_age_seconds: float = csr_policy.DEFAULT_MAX_AGE_SECONDS,
) -> Pass:
    """List, decide, approve: the whole step for one provisioner (the operator does the same per event)."""
    try:
        text = hosted_kubeconfig(mgmt, provisioner)
        hosted = hosted_client(text) if text is not None else None
    except ValueError as exc:
        return Pass(
            condition(
                CSR_AUTO_APPROVAL,
                False,
                "KubeconfigInvalid",
                f"The hosted cluster's admin kubeconfig is not usable: {exc}; CSRs are approved once "
                "HyperShift publishes a valid one",
            )
        )
    if hosted is None:
        return Pass(
            condition(
                CSR_AUTO_APPROVAL,
                False,
                "KubeconfigMissing",
                "The hosted cluster has not published its kubeconfig yet; CSRs are approved once it does",
            )
        )
    ref = (provisioner.get("spec") or {}).get("dpuClusterRef") or {}
    try:
        csrs = hosted.list(CSR).get("items") or []
        nodes = hosted.list(NODE).get("items") or []
    except ApiError as exc:
        return Pass(
            condition(
                CSR_AUTO_APPROVAL,
                False,
                "HostedClusterUnreachable",
                f"The hosted cluster's API server does not answer ({exc}); approval resumes when it does",
            )
        )
    dpus = mgmt.list(DPU, ref.get("namespace")).get("items") or []
    ctx = policy_context(provisioner, dpus, nodes, max_age_seconds)
    result = Pass(condition(CSR_AUTO_APPROVAL, True, "Active", ""))
    for csr, decision in decide_all([c for c in csrs if csr_policy.is_pending(c)], ctx):
        entry = {
            "name": csr["metadata"]["name"],
            "node": decision.node,
            "reason": decision.reason,
            "message": decision.message,
        }
        if decision.approve:
            if not check_mode:
                approve(hosted, csr, decision)
            result.approved.append(entry)
        else:
            if not check_mode:
                report_refusal(mgmt, provisioner, csr, decision)
            result.refused.append(entry)
    result.condition["message"] = (
        f"Approving the CSRs of DPUs joining from DPUCluster {ref.get('namespace')}/"
        f"{ref.get('name')}; {len(ctx.dpus)} DPUs known, {len(result.refused)} CSRs "
        "pending that do not qualify"
    )
    return result
