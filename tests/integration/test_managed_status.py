"""operator-sdk's manageStatus (watches.yaml; its default is true, ours is false since the playbook
writes a full status): after each run the operator records a Successful or a Failure condition on
the object's status subresource, on the real API server, and writes nothing when they are unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import PROVISIONER
from dpf_hcp_operator.controller import Controller
from dpf_hcp_operator.runner import HostResult, RunResult, host_name
from support import condition, namespace, provisioner_body, provisioner_watch, unique


class Scripted:
    """A runner whose runs end as the test says."""

    def __init__(self) -> None:
        self.result = HostResult()

    def run(self, _playbook: Path, objects: list[dict[str, Any]], *_args: Any, **_kw: Any) -> RunResult:
        status = "successful" if self.result.ok else "failed"
        return RunResult(status, 0.1, {host_name(o): self.result for o in objects})


def test_managed_status_records_the_last_runs_outcome(mgmt: KubeClient) -> None:
    ns = namespace(mgmt, unique("managed"))
    mgmt.create(PROVISIONER, provisioner_body(ns, "hcp", ns, "dpucluster"))
    runner = Scripted()
    controller = Controller(mgmt, provisioner_watch(manage_status=True), runner, "ops")  # type: ignore[arg-type]
    key = (ns, "hcp")

    def run_once() -> dict[str, Any]:
        controller.informer._apply("MODIFIED", mgmt.get(PROVISIONER, "hcp", ns))
        controller._invalidate(key)
        controller.process([key], "0")
        return mgmt.get(PROVISIONER, "hcp", ns)

    runner.result = HostResult(ok=False, failed_task="Validate", message="the pull secret is missing")
    cr = run_once()
    failure, success = condition(cr, "Failure"), condition(cr, "Successful")
    assert failure and failure["status"] == "True" and failure["reason"] == "LastReconcileFailed"
    assert failure["message"] == "The last run failed: the pull secret is missing"
    assert success and success["status"] == "False"

    written = cr["metadata"]["resourceVersion"]
    again = run_once()  # the same outcome: the status is not written again
    assert again["metadata"]["resourceVersion"] == written

    runner.result = HostResult()
    cr = run_once()
    failure, success = condition(cr, "Failure"), condition(cr, "Successful")
    assert success and success["status"] == "True" and success["reason"] == "LastReconcileSucceeded"
    assert failure and failure["status"] == "False" and failure["message"] == "The last run succeeded"
    assert cr["spec"] == again["spec"]  # the spec is left alone
