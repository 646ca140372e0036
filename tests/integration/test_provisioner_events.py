"""The Events a provisioner's life leaves through the operator: few, and a Warning only for what is wrong."""

from __future__ import annotations

from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import EVENT, Resource
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import NODE_POOL, PROVISIONER
from support import (
    dpucluster,
    namespace,
    provisioner_body,
    secrets,
    unique,
    wait_condition,
    wait_for,
    wait_settled,
)

CLEAN_PROVISIONING_MAX_EVENTS = 9  # with HostedClusterHealthy (Normal), told before or after Ready
RESOURCE_QUOTA = Resource("", "v1", "resourcequotas", "ResourceQuota")


def provisioner_events(mgmt: KubeClient, ns: str, uid: str) -> list[dict[str, Any]]:
    """The status's Events about the provisioner. The CSR approver's (CSRApproved, CSRNotApproved) are
    left out: one hosted API server serves every test's HostedCluster here, so each provisioner's
    approver also sees the CSRs earlier tests left pending (each real hosted cluster has its own)."""
    items = mgmt.list(EVENT, ns).get("items") or []
    return sorted(
        (
            e
            for e in items
            if (e.get("involvedObject") or {}).get("uid") == uid and not str(e.get("reason", "")).startswith("CSR")
        ),
        key=lambda e: int(e["metadata"]["resourceVersion"]),  # creation order (timestamps have seconds only)
    )


def told(events: list[dict[str, Any]]) -> list[str]:
    return [f"{e['type']} {e['reason']}: {e['message']}" for e in events]


def test_a_clean_provisioning_leaves_a_few_normal_events(mgmt, operator):
    ns = namespace(mgmt, unique("tenant"))
    dpu_ns = namespace(mgmt, unique("dpus"))
    secrets(mgmt, ns)
    dpucluster(mgmt, dpu_ns, "dpucluster")
    cr = mgmt.create(PROVISIONER, provisioner_body(ns, "hcp", dpu_ns, "dpucluster"))
    wait_condition(mgmt, ns, "hcp", "Ready", "True")
    wait_settled(operator.log, ns)

    events = provisioner_events(mgmt, ns, cr["metadata"]["uid"])
    assert len(events) <= CLEAN_PROVISIONING_MAX_EVENTS, told(events)
    assert [e for e in events if e["type"] != "Normal"] == [], told(events)
    story = [e for e in events if e["reason"] != "HostedClusterHealthy"]  # the hosted cluster settles on its own time
    assert story[-1]["reason"] == "Ready", told(events)
    assert story[-1]["message"].startswith("Phase Provisioning -> Ready"), told(events)
    assert not [e for e in events if e["message"].startswith("HostedCluster")], told(events)  # no mirrored one


def test_a_missing_pull_secret_is_a_warning_naming_the_fix_and_its_recovery_is_told(mgmt, operator):
    ns = namespace(mgmt, unique("tenant"))
    dpu_ns = namespace(mgmt, unique("dpus"))
    dpucluster(mgmt, dpu_ns, "dpucluster")
    secrets(mgmt, ns, names=("unused", "ssh-key"))
    cr = mgmt.create(PROVISIONER, provisioner_body(ns, "hcp", dpu_ns, "dpucluster"))
    uid = cr["metadata"]["uid"]
    wait_for("phase Failed", lambda: (mgmt.get(PROVISIONER, "hcp", ns).get("status") or {}).get("phase") == "Failed")
    wait_settled(operator.log, ns)

    events = provisioner_events(mgmt, ns, uid)
    warnings = [e for e in events if e["type"] == "Warning"]
    assert len(warnings) == 1, told(events)
    (failure,) = warnings
    assert failure["reason"] == "Failed", told(events)
    assert f"{ns}/pull-secret" in failure["message"], told(events)
    assert "kubectl create secret generic pull-secret" in failure["message"], told(events)  # the fix
    assert len(events) <= 2, told(events)

    secrets(mgmt, ns)  # the fix
    wait_condition(mgmt, ns, "hcp", "Ready", "True")
    wait_settled(operator.log, ns)
    events = provisioner_events(mgmt, ns, uid)
    assert [e for e in events if e["type"] == "Warning"] == [failure], told(events)
    recovered = [e for e in events if e["message"].startswith("SecretsValid recovered from PullSecretNotFound")]
    assert len(recovered) == 1 and recovered[0]["type"] == "Normal", told(events)
    assert [e for e in events if e["reason"] != "HostedClusterHealthy"][-1]["reason"] == "Ready", told(events)
    assert len(events) <= CLEAN_PROVISIONING_MAX_EVENTS + 2, told(events)


def failed_runs(log_text: str, ns: str) -> int:
    return sum(
        1
        for line in log_text.splitlines()
        if line.startswith("{") and f'"namespace": "{ns}"' in line and '"result": "failed"' in line
    )


def provisioner_under_quota(mgmt: KubeClient, quota: str, hard: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """A tenant namespace with its secrets and a DPUCluster, a ResourceQuota ``quota`` of ``hard``
    in it, then a provisioner: its namespace and the created object."""
    ns = namespace(mgmt, unique("tenant"))
    dpu_ns = namespace(mgmt, unique("dpus"))
    secrets(mgmt, ns)
    dpucluster(mgmt, dpu_ns, "dpucluster")
    body = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": quota, "namespace": ns}}
    mgmt.create(RESOURCE_QUOTA, {**body, "spec": {"hard": hard}})
    return ns, mgmt.create(PROVISIONER, provisioner_body(ns, "hcp", dpu_ns, "dpucluster"))


def test_a_run_that_fails_outright_is_one_warning_however_often_retried_and_its_recovery_is_told(mgmt, operator):
    """The API server refuses the HostedCluster (a ResourceQuota of none in the namespace): the
    step fails outright, not as a condition of the status, so the Event is the only place a person
    sees it. Retried with backoff, it is told once; once the quota goes, the recovery is told."""
    ns, cr = provisioner_under_quota(mgmt, "no-hosted-clusters", {"count/hostedclusters.hypershift.openshift.io": "0"})
    wait_for("three failed runs", lambda: failed_runs(operator.log_text(), ns) >= 3, timeout=90)

    failures = [e for e in provisioner_events(mgmt, ns, cr["metadata"]["uid"]) if e["reason"] == "ReconcileFailed"]
    assert len(failures) == 1, told(failures)
    (failure,) = failures
    assert failure["type"] == "Warning", told(failures)
    assert "HostedCluster" in failure["message"] and "no-hosted-clusters" in failure["message"], told(failures)

    mgmt.delete(RESOURCE_QUOTA, "no-hosted-clusters", ns)  # the fix
    wait_condition(mgmt, ns, "hcp", "Ready", "True")
    wait_settled(operator.log, ns)
    events = provisioner_events(mgmt, ns, cr["metadata"]["uid"])
    assert [e for e in events if e["reason"] == "ReconcileFailed"] == [failure], told(events)
    recovered = [e for e in events if e["reason"] == "ReconcileSucceeded"]
    assert len(recovered) == 1 and recovered[0]["type"] == "Normal", told(events)
    assert (
        recovered[0]["message"] == f"A run succeeded again after: {failure['message'].removeprefix('A run failed: ')}"
    )


def test_a_machineconfig_the_api_refuses_holds_ready_back_and_makes_no_nodepool(mgmt, operator):
    """The HostedCluster is made before the MachineConfig ConfigMap its NodePool names. When the API
    server refuses that ConfigMap (a ResourceQuota of no ConfigMaps in the namespace), every run stops
    there: the control plane comes up Available, but no NodePool is made, no step after it reports,
    and Ready stays False naming the step no run reached. Once the quota goes, it becomes Ready."""
    ns, cr = provisioner_under_quota(mgmt, "no-configmaps", {"configmaps": "0"})
    wait_condition(mgmt, ns, "hcp", "HostedClusterAvailable", "True", timeout=120)
    wait_for("two failed runs", lambda: failed_runs(operator.log_text(), ns) >= 2, timeout=90)
    obj = wait_condition(mgmt, ns, "hcp", "Ready", "False", "StepNotReported", timeout=90)
    ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
    assert ready["message"].startswith("IgnitionConfigured: no run has completed this step"), ready
    assert mgmt.list(NODE_POOL, ns).get("items") == []
    # Where the message points: the failure, once, naming the ConfigMap the quota refused.
    failures = [e for e in provisioner_events(mgmt, ns, cr["metadata"]["uid"]) if e["reason"] == "ReconcileFailed"]
    assert len(failures) == 1 and "no-configmaps" in failures[0]["message"], told(failures)

    mgmt.delete(RESOURCE_QUOTA, "no-configmaps", ns)  # the fix
    wait_condition(mgmt, ns, "hcp", "Ready", "True", timeout=120)
    assert len(mgmt.list(NODE_POOL, ns).get("items") or []) == 1
