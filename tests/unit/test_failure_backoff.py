"""A failed run is retried after its backoff, not at once when the echo of its own writes (its
status, say) arrives; a change someone else made still runs it at once. Controller.process with a
runner that always fails and a cache fed as the watch would feed it (no API server)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import PROVISIONER
from dpf_hcp_operator.controller import Controller
from dpf_hcp_operator.runner import TIMED_OUT, HostResult, RunResult, host_name
from dpf_hcp_operator.watches import Finalizer
from support import provisioner_watch


class AlwaysFails:
    """A runner whose every run fails each of its hosts (by default a step failing; ``status`` and
    ``failed`` say otherwise, a run stopped at its deadline for one)."""

    def __init__(self, status: str = "failed", failed: HostResult | None = None) -> None:
        self.runs = 0
        self.status = status
        # changed=0: what its writes do to the fingerprint is ProvisionerDependencies' business
        # (test_echo_of_own_writes.py); here the echo is the provisioner's own status.
        self.failed = failed or HostResult(ok=False, failed_task="Find the NodePort address", message="no Ready Node")

    def run(self, _playbook: Path, objects: list[dict[str, Any]], *_args: Any, **_kw: Any) -> RunResult:
        self.runs += 1
        return RunResult(self.status, 0.1, {host_name(o): self.failed for o in objects})


class Client:
    def resource(self, _api_version: str, _kind: str):
        return PROVISIONER


def _cr(rv: str, generation: int) -> dict[str, Any]:
    meta = {"name": "hcp", "namespace": "team", "uid": "u1", "generation": generation, "resourceVersion": rv}
    return {"metadata": meta, "spec": {}}


def test_the_echo_of_a_failure_waits_for_the_backoff_and_a_real_change_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    watch = provisioner_watch()
    runner = AlwaysFails()
    controller = Controller(Client(), watch, runner)  # type: ignore[arg-type]
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
    later = time.monotonic() + 3600
    monkeypatch.setattr(time, "monotonic", lambda: later)
    controller.informer._apply("MODIFIED", _cr("4", 2))
    assert controller.process([key], "0")[key].result == "failed"
    assert runner.runs == 3


class CleanupWaits:
    """The finalize playbook while what it deletes is still going: it asks to look again in 2 s."""

    def __init__(self) -> None:
        self.runs = 0

    def run(self, _playbook: Path, objects: list[dict[str, Any]], *_args: Any, **_kw: Any) -> RunResult:
        self.runs += 1
        waiting = HostResult(requeue_after=2.0)
        return RunResult("successful", 0.1, {host_name(o): waiting for o in objects})


def test_a_deletion_looks_again_on_its_own_timer_not_on_its_echo_nor_held_by_an_older_timer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    watch = provisioner_watch(finalizer=Finalizer("provisioning.dpu.hcp.io/finalizer", Path("finalize.yml")))
    runner = CleanupWaits()
    controller = Controller(Client(), watch, runner)  # type: ignore[arg-type]
    key = ("team", "hcp")

    def deleting(rv: str) -> dict[str, Any]:
        cr = _cr(rv, 1)
        cr["metadata"].update(deletionTimestamp="2026-12-02T05:00:00Z", finalizers=[watch.finalizer.name])
        return cr

    controller.queue.add_after(key, 300)  # an older retry, due long after the cleanup's next look
    controller.informer._apply("MODIFIED", deleting("1"))
    assert controller.process([key], "0")[key].result == "requeued"
    controller.informer._apply("MODIFIED", deleting("2"))  # the run's own status write comes back
    assert controller.process([key], "0")[key].result == "skipped"
    assert runner.runs == 1

    later = time.monotonic() + 2.5  # the cleanup's 2 s timer is due; the 300 s one is not
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert controller.queue.backing_off(key)
    assert controller.process([key], "0")[key].result == "requeued"
    assert runner.runs == 2


def test_the_retry_timer_itself_is_never_taken_for_an_echo() -> None:
    """The window in which an unchanged world is an echo ends no later than the failure's own retry
    timer fires (it was measured after the timer was set, so the retry itself was skipped when a
    worker took it within microseconds, and no timer was left: the object waited for the next
    event). Likewise a deletion's requeue."""
    controller = Controller(Client(), provisioner_watch(), AlwaysFails())  # type: ignore[arg-type]
    key = ("team", "hcp")
    controller.informer._apply("ADDED", _cr("1", 1))
    assert controller.process([key], "0")[key].result == "failed"
    for _retry in range(3):
        (timer,) = [due for due, _seq, k in controller.queue._delayed if k == key]
        assert controller._last_pending[key][1] <= timer
        controller.queue._delayed.clear()
        with pytest.MonkeyPatch.context() as mp:  # the worker takes the key the instant its timer fires
            mp.setattr(time, "monotonic", lambda t=timer: t)
            assert controller.process([key], "0")[key].result == "failed"  # run again, not skipped


def test_a_retry_says_when_it_will_be(caplog: pytest.LogCaptureFixture) -> None:
    """Each retry is logged with its backoff, which doubles per failure of the same object."""
    controller = Controller(Client(), provisioner_watch(), AlwaysFails())  # type: ignore[arg-type]
    key = ("team", "hcp")
    with caplog.at_level("INFO", logger="dpf_hcp_operator.controller"):
        first, second = controller._retry(key), controller._retry(key)
    said = [r for r in caplog.records if r.getMessage() == "retry scheduled"]
    assert [r.fields["retry_in"] for r in said] == [round(first, 3), round(second, 3)]  # type: ignore[attr-defined]
    assert second > first and all(r.fields["namespace"] == "team" for r in said)  # type: ignore[attr-defined]


def test_a_run_stopped_at_its_deadline_is_retried_with_backoff_not_abandoned(caplog: pytest.LogCaptureFixture) -> None:
    """Unlike a run abandoned at shutdown (the next leader takes it), a run stopped by its deadline
    fails its objects, which are retried after a backoff that grows with each stop."""
    # what runner.py makes of a run it stopped at --run-deadline: every host failed, naming the deadline
    stopped = HostResult(ok=False, failed_task="(run deadline)", message="stopped after its deadline of 600s")
    runner = AlwaysFails(TIMED_OUT, stopped)
    controller = Controller(Client(), provisioner_watch(), runner)  # type: ignore[arg-type]
    key = ("team", "hcp")
    controller.informer._apply("ADDED", _cr("1", 1))
    with caplog.at_level("INFO", logger="dpf_hcp_operator.controller"):
        outcome = controller.process([key], "0")[key]
        assert (outcome.result, runner.runs) == ("failed", 1)
        assert "(run deadline)" in outcome.detail and controller.queue.backing_off(key)
        controller.queue._delayed.clear()  # the backoff is over: tried again, and stopped again
        controller.informer._apply("MODIFIED", _cr("2", 2))
        assert controller.process([key], "0")[key].result == "failed"
    delays = [r.fields["retry_in"] for r in caplog.records if r.getMessage() == "retry scheduled"]  # type: ignore[attr-defined]
    assert len(delays) == 2 and delays[1] > delays[0], delays
