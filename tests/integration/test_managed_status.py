"""operator-sdk's manageStatus (watches.yaml; its default is true, ours is false since the playbook
writes a full status): after each run the operator records a Successful or a Failure condition on
the object's status subresource, on the real API server, and writes nothing when they are unchanged.
The watched kind is a CRD of this test's own, which the session's operator does not watch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import CRD, Resource
from dpf_hcp_operator.controller import Controller
from dpf_hcp_operator.runner import HostResult, RunResult, host_name
from dpf_hcp_operator.watches import Watch
from support import condition, namespace, unique, wait_for

GROUP = "managedstatus.test.dpf-hcp.dev"
WIDGET = Resource(GROUP, "v1", "widgets", "Widget")
WIDGETS_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"widgets.{GROUP}"},
    "spec": {
        "group": GROUP,
        "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            }
        ],
    },
}


class Scripted:
    """A runner whose runs end as the test says."""

    def __init__(self) -> None:
        self.result = HostResult()

    def run(self, _playbook: Path, objects: list[dict[str, Any]], *_args: Any, **_kw: Any) -> RunResult:
        status = "successful" if self.result.ok else "failed"
        return RunResult(status, 0.1, {host_name(o): self.result for o in objects})


def test_managed_status_records_the_last_runs_outcome(mgmt: KubeClient) -> None:
    try:
        mgmt.create(CRD, WIDGETS_CRD)
    except ApiError as exc:
        if not exc.conflict:
            raise

    def served() -> bool:
        try:
            return mgmt.serves(WIDGET)
        except ApiError:
            return False

    wait_for("the Widget kind served", served, timeout=30)
    ns = namespace(mgmt, unique("managed"))
    body = {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": ns}, "spec": {}}
    wait_for("a Widget made", lambda: _create(mgmt, body), timeout=30)
    runner = Scripted()
    watch = Watch(GROUP, "v1", "Widget", Path("widget.yml"), manage_status=True, watch_dependent_resources=False)
    controller = Controller(mgmt, watch, runner)  # type: ignore[arg-type]
    key = (ns, "w")

    def run_once() -> dict[str, Any]:
        controller.informer._apply("MODIFIED", mgmt.get(WIDGET, "w", ns))
        controller._invalidate(key)
        controller.process([key], "0")
        return mgmt.get(WIDGET, "w", ns)

    runner.result = HostResult(ok=False, failed_task="Validate", message="the pull secret is missing")
    obj = run_once()
    failure, success = condition(obj, "Failure"), condition(obj, "Successful")
    assert failure and failure["status"] == "True" and failure["reason"] == "LastReconcileFailed"
    assert failure["message"] == "The last run failed: the pull secret is missing"
    assert success and success["status"] == "False"

    written = obj["metadata"]["resourceVersion"]
    again = run_once()  # the same outcome: the status is not written again
    assert again["metadata"]["resourceVersion"] == written

    runner.result = HostResult()
    obj = run_once()
    failure, success = condition(obj, "Failure"), condition(obj, "Successful")
    assert success and success["status"] == "True" and success["reason"] == "LastReconcileSucceeded"
    assert failure and failure["status"] == "False" and failure["message"] == "The last run succeeded"
    assert obj["spec"] == again["spec"]  # the spec is left alone


def _create(client: KubeClient, body: dict[str, Any]) -> bool:
    try:
        client.create(WIDGET, body)
    except ApiError as exc:
        if exc.not_found:  # the new kind not served everywhere yet
            return False
        raise
    return True
