"""The operator's watch of a hosted cluster's health (csr_watcher.HostedWatch): it tells the controller
only when which operators are unstable changes, not on a message, not for the state the provisioner's
status already shows when the watch starts, once when a run wrote a state gone by the next look, and at
a bounded pace however fast a tenant flaps an operator. Fake informers: the logic only
(tests/integration/test_hosted_health.py runs it for real)."""

from __future__ import annotations

import threading
import time
from typing import Any

from dpf_hcp_operator import csr_watcher
from dpf_hcp_operator.csr_watcher import HostedWatch


class FakeInformer:
    def __init__(self, items: list[dict[str, Any]]):
        self.objects = items
        self.synced = threading.Event()
        self.synced.set()

    def items(self) -> list[dict[str, Any]]:
        return list(self.objects)


def co(name: str, available: str = "True", message: str = "") -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "status": {
            "conditions": [
                {"type": "Available", "status": available, "message": message},
                {"type": "Progressing", "status": "False"},
                {"type": "Degraded", "status": "False"},
            ]
        },
    }


CV = {"metadata": {"name": "version"}, "status": {"conditions": [{"type": "Available", "status": "True"}]}}


def watch(operators: list[dict[str, Any]], published: dict[str, Any] | None) -> tuple[HostedWatch, list[Any]]:
    told: list[Any] = []
    w = HostedWatch.__new__(HostedWatch)
    w.provisioner = {
        "metadata": {"namespace": "ns", "name": "hcp"},
        "status": {"conditions": [published] if published else []},
    }
    w.cluster_versions, w.cluster_operators = FakeInformer([CV]), FakeInformer(operators)
    w.on_health, w.current, w.health_digest, w.health_told = told.append, None, None, 0
    w.in_run, w.health_disagreement = False, None
    w.stop, w.health_wake = threading.Event(), threading.Event()
    return w, told


def test_a_new_watch_that_sees_what_the_status_says_tells_nothing():
    w, told = watch([co("dns")], {"type": "HostedClusterHealthy", "status": "True", "reason": "Stable"})
    assert not w.health_changed() and told == [] and w.health_told == 0
    w, told = watch([co("dns")], {"type": "HostedClusterHealthy", "status": "Unknown", "reason": "NotReported"})
    assert w.health_changed() and told == [("ns", "hcp")] and w.health_told == 1


def test_only_a_change_of_which_operators_are_unstable_is_told():
    w, _told = watch([co("dns", "False", "attempt 1")], None)
    assert w.health_changed()
    w.cluster_operators.objects = [co("dns", "False", "attempt 2")]  # a message: nothing
    assert not w.health_changed()
    w.cluster_operators.objects = [co("dns")]
    assert w.health_changed() and w.health_told == 2


def test_a_flapping_operator_is_told_at_a_bounded_pace(monkeypatch):
    monkeypatch.setattr(csr_watcher, "HEALTH_SETTLE", 0.01)
    monkeypatch.setattr(csr_watcher, "HEALTH_MIN_GAP", 0.5)
    w, told = watch([co("dns")], None)
    thread = threading.Thread(target=w.health_loop, daemon=True)
    thread.start()
    started = time.monotonic()
    flips = 0
    while time.monotonic() - started < 1.6:
        w.cluster_operators.objects = [co(f"op-{flips}", "False")]  # a new unstable set at each step
        w.health_wake.set()
        flips += 1
        time.sleep(0.005)
    w.stop.set()
    w.health_wake.set()
    thread.join(2)
    assert flips > 100
    assert 3 <= len(told) <= 5, told  # the first look, then one per 0.5 s at most


def published(status: str, reason: str) -> dict[str, Any]:
    return {"type": "HostedClusterHealthy", "status": status, "reason": reason}


def test_a_run_that_read_a_state_gone_by_the_next_look_is_told_once_it_ended():
    """The race stop 33's CI met: the watch told the cluster stable; a run read it degraded for a moment
    and wrote so; the next look sees it stable again, as last told. The status is wrong until someone
    tells: the watch does once the run has ended, not while it runs."""
    w, told = watch([co("dns")], published("True", "Stable"))
    assert not w.health_changed()  # the first look agrees with the status
    w.in_run = True
    w.provisioner["status"]["conditions"] = [published("False", "OperatorsNotStable")]  # what the run wrote
    assert not w.health_changed() and told == []  # the run may write again before it ends
    w.run_ended()
    assert w.health_wake.is_set()
    assert w.health_changed() and told == [("ns", "hcp")]
    # The next run could not read the cluster and says so: that is told no more, however often looked at.
    w.provisioner["status"]["conditions"] = [published("Unknown", "HostedClusterUnreachable")]
    assert w.health_changed() and len(told) == 2  # a new difference: once
    for _ in range(3):
        assert not w.health_changed()
    assert len(told) == 2
    w.provisioner["status"]["conditions"] = [published("True", "Stable")]  # agreed again: forgotten
    assert not w.health_changed()
    w.provisioner["status"]["conditions"] = [published("Unknown", "HostedClusterUnreachable")]
    assert w.health_changed() and len(told) == 3


def test_the_watcher_marks_runs_of_watched_provisioners_only():
    w, _told = watch([co("dns")], None)
    watcher = csr_watcher.CSRWatcher.__new__(csr_watcher.CSRWatcher)
    watcher.lock, watcher.approvers = threading.Lock(), {("ns", "hcp"): w}
    watcher.runs_started([("ns", "hcp"), ("ns", "unwatched")])
    assert w.in_run and not w.health_wake.is_set()
    watcher.run_ended(("ns", "unwatched"))
    assert w.in_run
    watcher.run_ended(("ns", "hcp"))
    assert not w.in_run and w.health_wake.is_set()
