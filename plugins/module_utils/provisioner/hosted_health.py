# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""The hosted cluster's own health, from its ClusterVersion and ClusterOperators (config.openshift.io/v1,
read in the hosted cluster under the approver identity), as the HostedClusterHealthy condition.

``Ready`` says the control plane is available at the desired release, so DPUs may join. This
condition says whether the hosted cluster itself has settled: every ClusterOperator Available=True,
Progressing=False and Degraded=False, which is what ``oc adm wait-for-stable-cluster`` waits for
(openshift/oc pkg/cli/admin/waitforstable/waitforstable.go), and the ClusterVersion Available and
not Failing (openshift/api config/v1/types_cluster_version.go). A condition an operator does not
report counts as not stable: the wait does the same. Operators that need workers (DNS, network,
monitoring...) stay unavailable until the DPUs joined, so the two are apart for a while on every install.

Everything here is read from an API a hosted cluster's admin can write: names, reasons and messages
are cut to a bounded length, never read as anything but text, and at most ``NAMED`` operators are named.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s import query
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.conditions import Condition, condition
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import hosted_kubeconfig
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.conditions import HOSTED_CLUSTER_HEALTHY
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.csr import approver
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    CLUSTER_OPERATOR,
    CLUSTER_VERSION,
    CLUSTER_VERSION_NAME,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.status import SHOWN

STABLE = "Stable"
OPERATORS_NOT_STABLE = "OperatorsNotStable"
CLUSTER_VERSION_FAILING = "ClusterVersionFailing"
CLUSTER_VERSION_NOT_AVAILABLE = "ClusterVersionNotAvailable"
NOT_REPORTED = "NotReported"
UNREACHABLE = "HostedClusterUnreachable"

# What a stable operator reports (oc adm wait-for-stable-cluster): condition type -> status.
STABLE_OPERATOR = {"Available": "True", "Progressing": "False", "Degraded": "False"}
NAMED = 5  # operators named in a message; the rest are counted
NAME_SHOWN = 63
REASON_SHOWN = 63
_SPACE = re.compile(r"\s+")


def _shown(value: object, limit: int = SHOWN) -> str:
    """``value`` as one line of at most ``limit`` characters; nothing for what is not text."""
    if not isinstance(value, str):
        return ""
    text = _SPACE.sub(" ", value).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The first condition of each type (an API may repeat one; the first is what a list shows)."""
    found: dict[str, dict[str, Any]] = {}
    for c in query.field(obj, "status.conditions", list, []):
        if isinstance(c, dict) and isinstance(c.get("type"), str):
            found.setdefault(c["type"], c)
    return found


@dataclass(frozen=True)
class Unstable:
    """An operator that is not stable, and the first of its conditions that says so."""

    name: str
    type: str
    status: str
    reason: str
    message: str

    def said(self) -> str:
        why = ": ".join(p for p in (self.reason, self.message) if p)
        return f"{self.name} ({self.type}={self.status}{': ' + why if why else ''})"


def unstable(operator: dict[str, Any]) -> Unstable | None:
    """Why ``operator`` is not stable, or None when it is."""
    conds = _conditions(operator)
    name = _shown(query.field(operator, "metadata.name", str, ""), NAME_SHOWN) or "(unnamed)"
    for type_, wanted in STABLE_OPERATOR.items():
        found = conds.get(type_)
        status = found.get("status") if found else None
        if status != wanted:
            return Unstable(
                name,
                type_,
                _shown(status, 10) or "missing",
                _shown((found or {}).get("reason"), REASON_SHOWN),
                _shown((found or {}).get("message")),
            )
    return None


def _failing(cluster_version: dict[str, Any]) -> Condition | None:
    failing = _conditions(cluster_version).get("Failing") or {}
    if failing.get("status") != "True":  # Unknown is the CVO's "slow", not failing
        return None
    return condition(
        HOSTED_CLUSTER_HEALTHY,
        False,
        CLUSTER_VERSION_FAILING,
        f"The hosted ClusterVersion is Failing ({_shown(failing.get('reason'), REASON_SHOWN)}: "
        f"{_shown(failing.get('message'))})",
    )


def _progress(cluster_version: dict[str, Any]) -> str:
    progressing = _conditions(cluster_version).get("Progressing") or {}
    if progressing.get("status") == "True" and progressing.get("message"):
        return f"; the hosted ClusterVersion says: {_shown(progressing.get('message'))}"
    return ""


def health(cluster_version: dict[str, Any] | None, operators: list[dict[str, Any]]) -> Condition:
    """HostedClusterHealthy from the hosted ClusterVersion (None: not there) and the ClusterOperators:
    a failing ClusterVersion first, then the operators that are not stable, then a ClusterVersion that
    has not completed a release (the CVO sets Available once one is)."""
    operators = [o for o in operators if isinstance(o, dict)]
    if cluster_version is None or not operators:
        missing = "ClusterVersion" if cluster_version is None else "ClusterOperator"
        return condition(
            HOSTED_CLUSTER_HEALTHY,
            None,
            NOT_REPORTED,
            f"The hosted cluster reports no {missing} yet (the cluster version operator publishes them once the "
            "control plane runs)",
        )
    failing = _failing(cluster_version)
    if failing is not None:
        return failing
    found = sorted((u for o in operators if (u := unstable(o)) is not None), key=lambda u: u.name)
    if found:
        named = ", ".join(u.said() for u in found[:NAMED])
        more = f" and {len(found) - NAMED} more" if len(found) > NAMED else ""
        return condition(
            HOSTED_CLUSTER_HEALTHY,
            False,
            OPERATORS_NOT_STABLE,
            f"{len(found)} of {len(operators)} ClusterOperators are not stable: {named}{more}"
            f"{_progress(cluster_version)}",
        )
    available = _conditions(cluster_version).get("Available") or {}
    if available.get("status") != "True":
        return condition(
            HOSTED_CLUSTER_HEALTHY,
            False,
            CLUSTER_VERSION_NOT_AVAILABLE,
            f"Every ClusterOperator is stable but the hosted ClusterVersion is not Available "
            f"({_shown(available.get('status'), 10) or 'missing'}"
            f"{': ' + _shown(available.get('message')) if _shown(available.get('message')) else ''})"
            f"{_progress(cluster_version)}",
        )
    version = _shown(query.field(cluster_version, "status.desired.version", str, ""))
    return condition(
        HOSTED_CLUSTER_HEALTHY,
        True,
        STABLE,
        f"The hosted ClusterVersion{' at ' + version if version else ''} is Available and all {len(operators)} "
        "ClusterOperators are Available, not Progressing and not Degraded",
    )


def unreachable(error: str) -> Condition:
    return condition(
        HOSTED_CLUSTER_HEALTHY,
        None,
        UNREACHABLE,
        f"The hosted cluster's API server does not answer or refuses the approver identity ({_shown(error, 300)}); "
        "its health is read again when it does",
    )


def digest(c: Condition) -> str:
    """What a change of the condition is told by (the operator reruns a provisioner when it changes)."""
    return hashlib.sha256(f"{c['status']}\0{c['reason']}\0{c['message']}".encode()).hexdigest()[:16]


def observe(mgmt: KubeClient, provisioner: dict[str, Any], check_mode: bool = False) -> Condition:
    """HostedClusterHealthy as the hosted cluster reports it now: read through the kubeconfig HyperShift
    published (checked as the CSR approver checks it), under the approver identity."""
    try:
        source = hosted_kubeconfig.read(mgmt, provisioner)
    except hosted_kubeconfig.Unavailable as exc:
        return condition(
            HOSTED_CLUSTER_HEALTHY,
            None,
            exc.reason,
            f"{exc.message}; the hosted cluster's health is read once a usable one is published",
        )
    try:
        hosted, _changed = approver.approver_client(source, check_mode)
        operators = hosted.list(CLUSTER_OPERATOR).get("items") or []
        versions = hosted.list(CLUSTER_VERSION).get("items") or []
    except ApiError as exc:
        if check_mode and exc.not_found:  # the approver's ServiceAccount is only a dry run yet
            return condition(
                HOSTED_CLUSTER_HEALTHY,
                None,
                NOT_REPORTED,
                "Check mode: the approver identity the health is read under does not exist in the hosted cluster yet",
            )
        if exc.not_found:  # no config.openshift.io in this hosted cluster (not OpenShift, or not yet served)
            return condition(
                HOSTED_CLUSTER_HEALTHY,
                None,
                NOT_REPORTED,
                "The hosted cluster serves no ClusterVersion or ClusterOperator API (config.openshift.io/v1) yet",
            )
        return unreachable(str(exc))
    named = [v for v in versions if query.field(v, "metadata.name", str, "") == CLUSTER_VERSION_NAME]
    return health(named[0] if named else None, operators)
