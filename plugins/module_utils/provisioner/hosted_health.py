# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""The hosted cluster's own health, from its ClusterVersion and ClusterOperators (config.openshift.io/v1,
read in the hosted cluster under the approver identity), as the HostedClusterHealthy condition.

``Ready`` says the control plane is available at the desired release, so DPUs may join. This
condition says whether the hosted cluster itself has settled:

- every ClusterOperator Available=True, Progressing=False and Degraded=False, a condition it does not
  report counting as not stable: what ``oc adm wait-for-stable-cluster`` waits for (openshift/oc
  pkg/cli/admin/waitforstable/command.go, unstableOperatorReason). That command also wants the state
  held for a minimum period (5 minutes) and takes no ClusterOperator as stable; here one look is
  judged, and none at all means the hosted cluster has published nothing yet;
- then, our addition (the command reads no ClusterVersion): the ClusterVersion not Failing (a
  condition of the cluster version operator, openshift/cluster-version-operator pkg/internal/constants.go;
  Unknown is its SlowClusterOperator, not a failure), not Progressing (an update under way: an
  operator may be stable at the old version), and Available (set once a release was completed,
  pkg/cvo/status.go). The operators come first: during an install the CVO reports every operator that
  is not yet Available as Failing too, and the operators say which.

Operators that need workers (DNS, network, monitoring...) stay unavailable until the DPUs joined, so
Ready and this condition are apart for a while on every install.

Everything here is read from an API a hosted cluster's admin can write: names, reasons and messages
are cut to a bounded length, control characters dropped, never read as anything but text, and at most
``NAMED`` operators are named. What makes the operator run a provisioner again (``digest``) leaves the
messages out, so a message that keeps changing (a progress count, or a tenant's) reruns nothing.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s import query
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.conditions import Condition, condition
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.conditions import HOSTED_CLUSTER_HEALTHY
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
CLUSTER_VERSION_PROGRESSING = "ClusterVersionProgressing"
NOT_REPORTED = "NotReported"
UNREACHABLE = "HostedClusterUnreachable"

# What a stable operator reports (oc adm wait-for-stable-cluster): condition type -> status.
STABLE_OPERATOR = {"Available": "True", "Progressing": "False", "Degraded": "False"}
NAMED = 5  # operators named in a message; the rest are counted
NAME_SHOWN = 63
REASON_SHOWN = 63
_SPACE = re.compile(r"\s+")


def shown(value: object, limit: int = SHOWN) -> str:
    """``value`` as one line of at most ``limit`` characters, without control or format characters
    (escape sequences, bidirectional overrides); nothing for what is not text."""
    if not isinstance(value, str):
        return ""
    text = _SPACE.sub(" ", value[: limit * 4])
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("C")).strip()
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
    full_name: str = ""  # the name as written, for a stable order (two may share the shown prefix)

    def said(self) -> str:
        why = ": ".join(p for p in (self.reason, self.message) if p)
        return f"{self.name} ({self.type}={self.status}{': ' + why if why else ''})"


def unstable(operator: dict[str, Any]) -> Unstable | None:
    """Why ``operator`` is not stable, or None when it is."""
    conds = _conditions(operator)
    name = shown(query.field(operator, "metadata.name", str, ""), NAME_SHOWN) or "(unnamed)"
    for type_, wanted in STABLE_OPERATOR.items():
        found = conds.get(type_)
        status = found.get("status") if found else None
        if status != wanted:
            return Unstable(
                name,
                type_,
                shown(status, 10) or "missing",
                shown((found or {}).get("reason"), REASON_SHOWN),
                shown((found or {}).get("message")),
                str(query.field(operator, "metadata.name", str, "")),
            )
    return None


def _cluster_version_says(cluster_version: dict[str, Any], type_: str) -> str:
    c = _conditions(cluster_version).get(type_) or {}
    reason, message = shown(c.get("reason"), REASON_SHOWN), shown(c.get("message"))
    return ": ".join(p for p in (reason, message) if p)


def _completed(cluster_version: dict[str, Any]) -> str:
    """The version of the newest release the hosted cluster completed ("" when none)."""
    for entry in query.field(cluster_version, "status.history", list, []):
        if isinstance(entry, dict) and entry.get("state") == "Completed":
            return shown(entry.get("version"))
    return ""


def health(cluster_version: dict[str, Any] | None, operators: list[dict[str, Any]]) -> Condition:
    """HostedClusterHealthy from the hosted ClusterVersion (None: not there) and the ClusterOperators:
    the operators that are not stable first, then a ClusterVersion that is Failing, Progressing or
    has completed no release."""
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
    conds = _conditions(cluster_version)
    found = sorted((u for o in operators if (u := unstable(o)) is not None), key=lambda u: (u.full_name, u.name))
    if found:
        named = ", ".join(u.said() for u in found[:NAMED])
        more = f" and {len(found) - NAMED} more" if len(found) > NAMED else ""
        said = [
            f"{t} ({why})"
            for t in ("Progressing", "Failing")
            if (conds.get(t) or {}).get("status") == "True" and (why := _cluster_version_says(cluster_version, t))
        ]
        return condition(
            HOSTED_CLUSTER_HEALTHY,
            False,
            OPERATORS_NOT_STABLE,
            f"{len(found)} of {len(operators)} ClusterOperators are not stable: {named}{more}"
            + (f"; the hosted ClusterVersion is {' and '.join(said)}" if said else ""),
        )
    for type_, bad, reason in (
        ("Failing", "True", CLUSTER_VERSION_FAILING),  # Unknown is the CVO's "slow", not failing
        ("Progressing", "True", CLUSTER_VERSION_PROGRESSING),
    ):
        if (conds.get(type_) or {}).get("status") == bad:
            return condition(
                HOSTED_CLUSTER_HEALTHY,
                False,
                reason,
                f"Every ClusterOperator is stable; the hosted ClusterVersion is {type_} "
                f"({_cluster_version_says(cluster_version, type_) or 'no reason given'})",
            )
    available = conds.get("Available") or {}
    if available.get("status") != "True":
        return condition(
            HOSTED_CLUSTER_HEALTHY,
            False,
            CLUSTER_VERSION_NOT_AVAILABLE,
            "Every ClusterOperator is stable but the hosted ClusterVersion is not Available "
            f"({shown(available.get('status'), 10) or 'missing'}"
            f"{': ' + why if (why := _cluster_version_says(cluster_version, 'Available')) else ''})",
        )
    version = _completed(cluster_version)
    return condition(
        HOSTED_CLUSTER_HEALTHY,
        True,
        STABLE,
        f"The hosted ClusterVersion is Available{' (' + version + ' completed)' if version else ''} and all "
        f"{len(operators)} ClusterOperators are Available, not Progressing and not Degraded",
    )


def digest(cluster_version: dict[str, Any] | None, operators: list[dict[str, Any]]) -> str:
    """What the health is told apart by: the condition's status and reason, and which operators are
    unstable by which condition's status, never a message (the operator runs a provisioner again when it
    changes: a message that keeps changing must not)."""
    c = health(cluster_version, operators)
    which = sorted(
        f"{u.full_name}/{u.type}={u.status}" for o in operators if isinstance(o, dict) and (u := unstable(o))
    )
    return hashlib.sha256("\0".join([c["status"], c["reason"], *which]).encode()).hexdigest()[:16]


JUDGED = ("Available", "Progressing", "Degraded", "Failing")  # the condition types read here


def compact(obj: dict[str, Any]) -> dict[str, Any]:
    """What ``health`` reads of a ClusterOperator or the ClusterVersion, cut as it shows it: what the
    operator's cache keeps (a hosted cluster's admin decides how big the objects are)."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    conds = [
        {
            "type": c["type"],
            "status": c["status"][:16] if isinstance(c.get("status"), str) else "",  # compared as written
            "reason": shown(c.get("reason"), REASON_SHOWN),
            "message": shown(c.get("message")),
        }
        for c in _conditions(obj).values()
        if c["type"] in JUDGED
    ]
    history = []
    for entry in query.field(obj, "status.history", list, [])[:100]:
        if isinstance(entry, dict) and entry.get("state") == "Completed":
            history = [{"state": "Completed", "version": shown(entry.get("version"))}]
            break
    status: dict[str, Any] = {"conditions": conds}
    if history:
        status["history"] = history
    return {
        "metadata": {k: meta[k] for k in ("name", "namespace", "resourceVersion") if isinstance(meta.get(k), str)},
        "status": status,
    }


def unreachable(error: str) -> Condition:
    return condition(
        HOSTED_CLUSTER_HEALTHY,
        None,
        UNREACHABLE,
        f"The hosted cluster's API server does not answer or refuses the approver identity ({shown(error, 300)}); "
        "its health is read again when it does",
    )


def waiting(reason: str, message: str) -> Condition:
    """While the hosted kubeconfig is not usable (hosted_kubeconfig.Unavailable's reason and message)."""
    return condition(
        HOSTED_CLUSTER_HEALTHY,
        None,
        reason,
        f"{message}; the hosted cluster's health is read once a usable one is published",
    )


def read(hosted: KubeClient, check_mode: bool = False) -> Condition:
    """HostedClusterHealthy as the hosted cluster reports it now, read with ``hosted`` (a client under
    the approver identity, csr/approver.py)."""
    try:
        operators = hosted.list(CLUSTER_OPERATOR).get("items") or []
        versions = (
            hosted.list(CLUSTER_VERSION, field_selector=f"metadata.name={CLUSTER_VERSION_NAME}").get("items") or []
        )
    except ApiError as exc:
        return failed_read(exc, check_mode)
    named = [v for v in versions if query.field(v, "metadata.name", str, "") == CLUSTER_VERSION_NAME]
    return health(named[0] if named else None, operators)


def failed_read(exc: ApiError, check_mode: bool = False) -> Condition:
    """What an error reaching the hosted cluster under the approver identity means for its health."""
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
