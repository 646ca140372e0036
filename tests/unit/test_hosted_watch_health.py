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
    w.in_run, w.health_disagreement, w.health_retells, w.health_retell_at = False, None, 0, None
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
    # The next run could not read the cluster and says so: a new difference, told once ...
    w.provisioner["status"]["conditions"] = [published("Unknown", "HostedClusterUnreachable")]
    assert w.health_changed() and len(told) == 2
    for _ in range(3):
        assert not w.health_changed()
    assert len(told) == 2
    # ... then again when its time comes, each time twice as late (30 s, 60 s, ... up to 10 minutes).
    gaps = []
    for _ in range(6):
        assert w.health_retell_at is not None
        gaps.append(round(w.health_retell_at - time.monotonic()))
        w.health_retell_at = time.monotonic() - 1
        assert w.health_changed()
    assert gaps == [30, 60, 120, 240, 480, 600] and len(told) == 8
    w.provisioner["status"]["conditions"] = [published("True", "Stable")]  # agreed again: forgotten
    assert not w.health_changed() and w.health_retell_at is None
    w.provisioner["status"]["conditions"] = [published("Unknown", "HostedClusterUnreachable")]
    assert w.health_changed() and len(told) == 9


def test_the_watcher_marks_runs_of_watched_provisioners_only():
    w, _told = watch([co("dns")], None)
    watcher = csr_watcher.CSRWatcher.__new__(csr_watcher.CSRWatcher)
    watcher.lock, watcher.approvers, watcher._running = threading.Lock(), {("ns", "hcp"): w}, set()
    watcher.runs_started([("ns", "hcp"), ("ns", "unwatched")])
    assert watcher._running == {("ns", "hcp"), ("ns", "unwatched")}  # a watch made meanwhile knows
    assert w.in_run and not w.health_wake.is_set()
    watcher.run_ended(("ns", "unwatched"))
    assert w.in_run
    watcher.run_ended(("ns", "hcp"))
    assert not w.in_run and w.health_wake.is_set() and watcher._running == set()


def test_a_change_of_the_health_a_status_shows_wakes_its_watch_and_nothing_else_does():
    w, _told = watch([co("dns")], None)
    watcher = csr_watcher.CSRWatcher.__new__(csr_watcher.CSRWatcher)
    watcher.lock, watcher.approvers = threading.Lock(), {("ns", "hcp"): w}

    def obj(name: str, *conditions: dict[str, Any]) -> dict[str, Any]:
        return {"metadata": {"namespace": "ns", "name": name}, "status": {"conditions": list(conditions)}}

    stable, unstable = published("True", "Stable"), published("False", "OperatorsNotStable")
    ready = {"type": "Ready", "status": "True", "reason": "Ready"}
    watcher.provisioner_changed(obj("hcp", stable), obj("hcp", stable, ready))  # another condition
    watcher.provisioner_changed(obj("other", stable), obj("other", unstable))  # another provisioner
    watcher.provisioner_changed(obj("hcp", stable), None)  # deleted
    assert not w.health_wake.is_set()
    watcher.provisioner_changed(obj("hcp", stable), obj("hcp", unstable))
    assert w.health_wake.is_set()


def bare_watcher() -> Any:
    """A CSRWatcher with no API behind it: its sync's bookkeeping alone (HostedWatch and the
    kubeconfig read are the tests' own)."""
    watcher = csr_watcher.CSRWatcher.__new__(csr_watcher.CSRWatcher)
    watcher.lock, watcher.approvers, watcher._running, watcher._told, watcher._seen = (
        threading.Lock(), {}, set(), {}, {}
    )  # fmt: skip
    watcher.version, watcher.mgmt, watcher.dpus, watcher.recorder, watcher.service = None, None, None, None, None
    watcher.on_health = watcher.current = None
    watcher._closed = False
    return watcher


def test_a_new_watch_of_one_provisioner_goes_on_counting_and_knows_a_run_is_under_way(monkeypatch):
    """The count of changes told is in the provisioner's fingerprint: a watch made again (its
    kubeconfig rotated, or unusable for a while) goes on from the last count, or its first change
    could equal what the last run saw and be skipped. A run under way when it is made is known."""
    made: list[Any] = []

    class Watch:
        def __init__(self, mgmt, provisioner, source, *rest):
            self.fingerprint, self.health_told, self.in_run, self.secret_name = source.text, 0, False, "s"
            self.hosted = type("Client", (), {"server": "https://hosted"})()
            made.append(self)

        def start(self) -> None: ...

        def close(self) -> None: ...

    class Source:
        def __init__(self, text: str):
            self.text, self.hosted = text, None

    sources = iter(["one", "two", None, "three"])

    def read(mgmt, provisioner):
        text = next(sources)
        if text is None:
            raise csr_watcher.hosted_kubeconfig.Unavailable("KubeconfigSecretInvalid", "garbage")
        return Source(text)

    monkeypatch.setattr(csr_watcher, "HostedWatch", Watch)
    monkeypatch.setattr(csr_watcher.hosted_kubeconfig, "read", read)
    monkeypatch.setattr(csr_watcher, "fingerprint", lambda source: source.text)
    watcher = bare_watcher()
    key, obj = ("ns", "hcp"), {"metadata": {"namespace": "ns", "name": "hcp"}}
    watcher.sync(key, obj)
    made[-1].health_told = 3
    watcher.runs_started([key])
    watcher.sync(key, obj)  # rotated while a run is under way
    assert (made[-1].health_told, made[-1].in_run, len(made)) == (3, True, 2)
    made[-1].health_told = 4
    watcher.sync(key, obj)  # unusable: not watched
    assert key not in watcher.approvers and watcher._told == {key: 4}
    watcher.run_ended(key)
    watcher.sync(key, obj)  # usable again
    assert (made[-1].health_told, made[-1].in_run, len(made)) == (4, False, 3) and watcher._told == {}


def test_a_closed_watcher_starts_no_watch_for_a_run_that_ends_during_the_shutdown(monkeypatch):
    """The operator closes its CSR watcher first, then waits for the runs under way; a run ending
    then syncs its provisioner. A watch started there began its informers' threads as the
    interpreter exited ("can't create new thread at interpreter shutdown", logged as critical)."""
    started: list[Any] = []

    class Watch:
        def __init__(self, mgmt, provisioner, source, *rest):
            self.fingerprint, self.health_told, self.in_run, self.secret_name = "k", 0, False, "s"
            self.hosted = type("Client", (), {"server": "https://hosted"})()

        def start(self) -> None:
            started.append(self)

        def close(self) -> None: ...

    monkeypatch.setattr(csr_watcher, "HostedWatch", Watch)
    monkeypatch.setattr(csr_watcher.hosted_kubeconfig, "read", lambda mgmt, provisioner: object())
    monkeypatch.setattr(csr_watcher, "fingerprint", lambda source: "k")
    watcher = bare_watcher()
    watcher.close()
    watcher.sync(("ns", "hcp"), {"metadata": {"namespace": "ns", "name": "hcp"}})
    assert started == [] and watcher.approvers == {}
