"""A second reconcile changes nothing, and the operator does not pay for Ansible when nothing changed."""

from __future__ import annotations

import json

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    HOSTED_CLUSTER,
    NODE_POOL,
    PROVISIONER,
)
from support import (
    dpucluster,
    metric,
    namespace,
    provisioner_body,
    run_playbook,
    secrets,
    unique,
    wait_condition,
    wait_for,
    wait_settled,
)


def ready_provisioner(mgmt):
    ns = namespace(mgmt, unique("tenant"))
    dpu_ns = namespace(mgmt, unique("dpus"))
    secrets(mgmt, ns)
    dpucluster(mgmt, dpu_ns, "dpucluster")
    mgmt.create(PROVISIONER, provisioner_body(ns, "hcp", dpu_ns, "dpucluster"))
    return ns, wait_condition(mgmt, ns, "hcp", "Ready", "True")


def versions(mgmt, ns):
    return {
        "cr": mgmt.get(PROVISIONER, "hcp", ns)["metadata"]["resourceVersion"],
        "hc_spec_gen": mgmt.get(HOSTED_CLUSTER, "hcp", ns)["metadata"]["generation"],
        "np": mgmt.get(NODE_POOL, "hcp", ns)["metadata"]["resourceVersion"],
        "pull": mgmt.get(SECRET, "hcp-pull-secret", ns)["metadata"]["resourceVersion"],
        "ssh": mgmt.get(SECRET, "hcp-ssh-key", ns)["metadata"]["resourceVersion"],
    }


def test_second_reconcile_changes_nothing(env, mgmt, operator, tmp):
    ns, _ = ready_provisioner(mgmt)
    wait_settled(operator.log, ns)  # the operator's own follow-up runs are done
    before = versions(mgmt, ns)
    result = run_playbook(
        "reconcile.yml", [mgmt.get(PROVISIONER, "hcp", ns)], env.management.kubeconfig_path("dpf-hcp-operator"), tmp
    )
    assert result.returncode == 0, result.stdout + result.stderr
    recap = [line for line in result.stdout.splitlines() if f"{ns}/hcp" in line and "ok=" in line][-1]
    assert "changed=0" in recap, result.stdout
    assert "failed=0" in recap
    assert versions(mgmt, ns) == before


def test_check_mode_reports_changes_and_writes_nothing(env, mgmt, operator, tmp):
    ns, _ = ready_provisioner(mgmt)
    fresh = mgmt.get(PROVISIONER, "hcp", ns)
    fresh["spec"]["ocpReleaseImage"] = "quay.io/openshift-release-dev/ocp-release:4.18.0-x86_64"
    before = mgmt.get(HOSTED_CLUSTER, "hcp", ns)["spec"]["release"]["image"]
    result = run_playbook("reconcile.yml", [fresh], env.management.kubeconfig_path("dpf-hcp-operator"), tmp, check=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4.18.0-x86_64" in result.stdout  # the diff shows the new release
    assert mgmt.get(HOSTED_CLUSTER, "hcp", ns)["spec"]["release"]["image"] == before


def runs_for(operator, ns):
    """This provisioner's reconciles that ran Ansible, from the operator's structured log."""
    entries = [json.loads(line) for line in operator.log_text().splitlines() if line.startswith("{")]
    return [e for e in entries if e.get("msg") == "reconciled" and e.get("namespace") == ns]


def test_unchanged_provisioner_costs_no_ansible_run(mgmt, operator):
    ns, _ = ready_provisioner(mgmt)
    wait_settled(operator.log, ns)
    runs = len(runs_for(operator, ns))
    skipped = metric(operator.metrics_port, "dpfhcp_reconciles_total", {"result": "skipped"})
    # Metadata-only edits are events, but change nothing the playbook reads.
    mgmt.patch(PROVISIONER, "hcp", {"metadata": {"labels": {"team": "edge"}}}, ns)
    wait_for(
        "the label event to be seen and skipped",
        lambda: metric(operator.metrics_port, "dpfhcp_reconciles_total", {"result": "skipped"}) > skipped,
    )
    skipped = metric(operator.metrics_port, "dpfhcp_reconciles_total", {"result": "skipped"})
    mgmt.patch(PROVISIONER, "hcp", {"metadata": {"annotations": {"note": "hello"}}}, ns)
    wait_for(
        "the annotation event to be seen and skipped",
        lambda: metric(operator.metrics_port, "dpfhcp_reconciles_total", {"result": "skipped"}) > skipped,
    )
    assert len(runs_for(operator, ns)) == runs
