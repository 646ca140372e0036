"""Issue 20 item 3: the hosted cluster's health, from its ClusterVersion and ClusterOperators (published
by the CVO stand-in in the real hosted kube-apiserver), read under the approver identity and followed by
the session operator's watch: an operator that becomes unstable, and stable again, shows in
HostedClusterHealthy without any reconcile period, while Ready (the control plane, DPUs may join)
stays as it is. What a hosted cluster's admin writes there is shown as bounded text and grants nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import (
    EVENT,
    SUBJECT_ACCESS_REVIEW,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import hosted_health
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.csr import identity
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    CLUSTER_OPERATOR,
    PROVISIONER,
)
from support import (
    condition,
    dpucluster,
    namespace,
    provisioner_body,
    secrets,
    standin_settings,
    unique,
    wait_condition,
    wait_for,
    wide_row,
)

HEALTHY = "HostedClusterHealthy"


def ready(mgmt) -> str:
    ns = namespace(mgmt, unique("health"))
    dpu_ns = namespace(mgmt, unique("health-dpus"))
    secrets(mgmt, ns)
    dpucluster(mgmt, dpu_ns, "dpucluster")
    mgmt.create(PROVISIONER, provisioner_body(ns, "hcp", dpu_ns, "dpucluster"))
    wait_condition(mgmt, ns, "hcp", "Ready", "True", timeout=120)
    return ns


def health_says(mgmt, ns: str, status: str, needle: str, timeout: float = 120.0) -> dict[str, Any]:
    seen: list[Any] = [None]

    def check() -> dict[str, Any] | None:
        obj = mgmt.get(PROVISIONER, "hcp", ns)
        seen[0] = c = condition(obj, HEALTHY)
        return obj if c and c["status"] == status and needle in c["message"] else None

    try:
        return wait_for(f"{ns}/hcp {HEALTHY}={status} saying {needle!r}", check, timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the condition: {seen[0]}") from None


def events(mgmt, ns: str) -> list[dict[str, Any]]:
    return [e for e in mgmt.list(EVENT, ns).get("items") or [] if e["reason"] != "CSRApproved"]


def test_health_follows_the_hosted_operators_by_watch_and_ready_does_not_wait_for_it(mgmt, operator):
    ns = ready(mgmt)
    # The session's hosted cluster has a Ready worker: every operator the stand-in publishes settles.
    health_says(mgmt, ns, "True", "ClusterOperators are Available, not Progressing and not Degraded")
    standin_settings(mgmt, degradedClusterOperators="monitoring")
    try:
        # No reconcile period runs here (the session operator has none): the watch brings it.
        obj = health_says(mgmt, ns, "False", "monitoring (Degraded=True: StandinDegraded")
        c = condition(obj, HEALTHY)
        assert c["reason"] == hosted_health.OPERATORS_NOT_STABLE
        assert c["message"].startswith("1 of ")
        assert condition(obj, "Ready")["status"] == "True"  # the control plane serves; DPUs may join
        assert obj["status"]["phase"] == "Ready"
        lost = wait_for(
            "a Warning for the health lost",
            lambda: [e for e in events(mgmt, ns) if e["type"] == "Warning" and e["reason"] == "OperatorsNotStable"],
        )
        assert "monitoring (Degraded=True" in lost[0]["message"]
    finally:
        standin_settings(mgmt, degradedClusterOperators="")
    health_says(mgmt, ns, "True", "not Degraded")
    told = [e for e in events(mgmt, ns) if e["reason"] == HEALTHY]
    assert told and all(e["type"] == "Normal" for e in told)
    cells, wide = wide_row(mgmt, ns)  # kubectl get dpfhcp -o wide: Healthy beside Ready
    assert (cells["Ready"], cells["Healthy"]) == ("True", "True") and "Healthy" in wide


def test_a_tenants_cluster_operator_is_shown_as_bounded_text_and_the_identity_only_reads(
    mgmt, env, operator, tmp_path: Path
):
    """The hosted cluster's admin (the tenant) writes a ClusterOperator whose every string is hostile:
    a template that would run a command, line breaks, 100 kB. It is named as an unstable operator, its
    text cut and never evaluated; the identity the operator reads it under cannot write any of them."""
    ns = ready(mgmt)
    hosted = env.client("hosted")
    canary = tmp_path / "canary"
    template = "{{ lookup('pipe', 'touch " + str(canary) + "') }}"
    name = "a-tenant-operator"
    hosted.create(
        CLUSTER_OPERATOR,
        {"apiVersion": "config.openshift.io/v1", "kind": "ClusterOperator", "metadata": {"name": name}, "spec": {}},
    )
    try:
        current = hosted.get(CLUSTER_OPERATOR, name)
        stamp = "2026-01-01T00:00:00Z"
        current["status"] = {
            "conditions": [
                {"type": "Available", "status": "False", "lastTransitionTime": stamp, "reason": "R" * 300,
                 "message": template + "\n\n" + "x" * 100_000},
                {"type": "Degraded", "status": "True", "lastTransitionTime": stamp, "reason": template},
            ]
        }  # fmt: skip
        hosted.replace(CLUSTER_OPERATOR, current, subresource="status")
        obj = health_says(mgmt, ns, "False", f"{name} (Available=False: ")
        message = condition(obj, HEALTHY)["message"]
        assert template[:90] in message and "\n" not in message  # shown as written, cut at 100 characters
        assert len(message) < 2000
        assert condition(obj, "Ready")["status"] == "True"
        assert not canary.exists()
    finally:
        hosted.delete(CLUSTER_OPERATOR, name)
    health_says(mgmt, ns, "True", "not Degraded")
    assert not canary.exists()
    # The approver identity reads ClusterVersion and ClusterOperators, and writes neither.
    user = f"system:serviceaccount:{identity.NAMESPACE}:{identity.NAME}"
    for resource in ("clusteroperators", "clusterversions"):
        for verb, subresource, allowed in [
            ("list", "", True),
            ("watch", "", True),
            ("create", "", False),
            ("update", "status", False),
            ("patch", "", False),
            ("delete", "", False),
        ]:
            review = hosted.create(
                SUBJECT_ACCESS_REVIEW,
                {
                    "apiVersion": "authorization.k8s.io/v1",
                    "kind": "SubjectAccessReview",
                    "spec": {
                        "user": user,
                        "groups": ["system:serviceaccounts", f"system:serviceaccounts:{identity.NAMESPACE}"],
                        "resourceAttributes": {
                            "group": "config.openshift.io",
                            "resource": resource,
                            "subresource": subresource,
                            "verb": verb,
                        },
                    },
                },
            )
            assert review["status"].get("allowed", False) is allowed, (resource, verb, subresource)
