"""A failed run is retried after its backoff, not at once when the echo of its own writes (its
status, say) arrives; a change someone else made still runs it at once. Controller.process with a
runner that always fails and a cache fed as the watch would feed it (no API server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.resources import PROVISIONER
from dpf_hcp_operator.controller import Controller
from dpf_hcp_operator.runner import HostResult, RunResult, host_name
from dpf_hcp_operator.watches import Watch


class AlwaysFails:
    def __init__(self) -> None:
        self.runs = 0

    def run(self, _playbook: Path, objects: list[dict[str, Any]], *_args: Any, **_kw: Any) -> RunResult:
        self.runs += 1
        # changed=0: what its writes do to the fingerprint is ProvisionerDependencies' business
        # (test_echo_of_own_writes.py); here the echo is the provisioner's own status.
        failed = HostResult(ok=False, failed_task="Find the NodePort address", message="no Ready Node")
        return RunResult("failed", 0.1, {host_name(o): failed for o in objects})


class Client:
    def resource(self, _api_version: str, _kind: str):
        return PROVISIONER


def _cr(rv: str, generation: int) -> dict[str, Any]:
    meta = {"name": "hcp", "namespace": "team", "uid": "u1", "generation": generation, "resourceVersion": rv}
    return {"metadata": meta, "spec": {}}


def test_the_echo_of_a_failure_waits_for_the_backoff_and_a_real_change_does_not() -> None:
    watch = Watch(
        "provisioning.dpu.hcp.io",
        "v1alpha1",
        "DPFHCPProvisioner",
        Path("reconcile.yml"),
        manage_status=False,
        watch_dependent_resources=False,
    )
    runner = AlwaysFails()
    controller = Controller(Client(), watch, runner, "ops")  # type: ignore[arg-type]
    key = ("team", "hcp")
    controller.informer._apply("ADDED", _cr("1", 1))

    assert controller.process([key], "0")[key].result == "failed"
    assert controller.queue.backing_off(key) and runner.runs == 1

    controller.informer._apply("MODIFIED", _cr("2", 1))  # the failed run's status write comes back
    outcome = controller.process([key], "0")[key]
    assert (outcome.result, runner.runs) == ("skipped", 1), outcome

    controller.informer._apply("MODIFIED", _cr("3", 2))  # the user edits the spec: at once
    assert controller.process([key], "0")[key].result == "failed"
    assert runner.runs == 2

    controller.queue._delayed.clear()  # both backoffs over
    controller.informer._apply("MODIFIED", _cr("4", 2))
    assert controller.process([key], "0")[key].result == "failed"
    assert runner.runs == 3
