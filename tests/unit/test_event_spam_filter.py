"""The CSR Events' spam filter (csr_watcher.EventSpamFilter, client-go's per-object filter) and the
recorder that applies it: a tenant whose hosted cluster makes CSR after CSR under new names, each
one refused with an Event of its own, gets a burst of them on its provisioner and then one per five
minutes; another tenant's Events keep their place."""

from __future__ import annotations

import threading
import time
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.csr.policy import Decision
from dpf_hcp_operator import csr_watcher
from dpf_hcp_operator.csr_watcher import EventRecorder, EventSpamFilter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def provisioner(uid: str) -> dict[str, Any]:
    return {"metadata": {"namespace": f"tenant-{uid}", "name": "hcp", "uid": uid}}


def csr(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}}


def test_a_burst_of_25_then_one_per_five_minutes_per_provisioner() -> None:
    clock = Clock()
    spam = EventSpamFilter(clock)
    assert [spam.allow("a") for _ in range(30)] == [True] * 25 + [False] * 5
    assert spam.allow("b")  # another provisioner has its own burst
    clock.now += 299.0
    assert not spam.allow("a")
    clock.now += 1.0
    assert spam.allow("a")
    assert not spam.allow("a")
    clock.now += 25 * 300.0 + 10_000.0  # refilled to the burst, never beyond it
    assert [spam.allow("a") for _ in range(26)] == [True] * 25 + [False]


def test_the_filter_forgets_the_oldest_objects_beyond_its_bound() -> None:
    spam = EventSpamFilter(Clock())
    for i in range(EventSpamFilter.OBJECTS + 10):
        spam.allow(str(i))
    assert len(spam.tokens) == EventSpamFilter.OBJECTS
    assert "0" not in spam.tokens and str(EventSpamFilter.OBJECTS + 9) in spam.tokens


def test_a_flooding_tenant_does_not_crowd_out_another_tenants_events(monkeypatch: Any) -> None:
    """The recorder's queue (here 100 places, its writer held) takes the flooding tenant's first 25
    Events and every Event of the quiet one; the flood is logged once, not once per CSR."""
    held = threading.Event()
    written: list[str] = []
    logged: list[str] = []

    def report(_mgmt: Any, prov: dict[str, Any], c: dict[str, Any], _decision: Decision) -> bool:
        held.wait(10)
        written.append(f"{prov['metadata']['uid']}/{c['metadata']['name']}")
        return True

    monkeypatch.setattr(csr_watcher.approver, "report", report)
    monkeypatch.setattr(csr_watcher, "log", lambda _logger, _level, message, **_fields: logged.append(message))
    recorder = EventRecorder(mgmt=None, bound=100, spam=EventSpamFilter(Clock()))  # type: ignore[arg-type]
    refused = Decision(False, "UnknownNode", "no DPU of this name")
    for i in range(5000):
        recorder.put(provisioner("flood"), csr(f"csr-{i}"), refused)
    for i in range(3):
        recorder.put(provisioner("quiet"), csr(f"quiet-{i}"), refused)
    held.set()
    until = time.monotonic() + 10
    while len(written) < 28 and time.monotonic() < until:
        time.sleep(0.02)
    assert recorder.pending.empty()  # every put came before the writer was let go: nothing more comes
    assert sorted(w for w in written if w.startswith("quiet/")) == ["quiet/quiet-0", "quiet/quiet-1", "quiet/quiet-2"]
    assert len([w for w in written if w.startswith("flood/")]) == 25
    assert logged.count("CSR events held back: too many about one provisioner") == 1
    assert "CSR event dropped: too many waiting" not in logged


def test_approvals_are_never_held_back_by_refusals(monkeypatch: Any) -> None:
    """A tenant spends the burst on junk refusals; the approvals that follow are still told (they
    are the record of certificates issued)."""
    written: list[str] = []
    monkeypatch.setattr(
        csr_watcher.approver, "report", lambda _m, _p, c, _d: written.append(c["metadata"]["name"]) or True
    )
    recorder = EventRecorder(mgmt=None, spam=EventSpamFilter(Clock()))  # type: ignore[arg-type]
    for i in range(100):
        recorder.put(provisioner("t"), csr(f"junk-{i}"), Decision(False, "UnknownNode", "no DPU of this name"))
    for i in range(3):
        recorder.put(provisioner("t"), csr(f"dpu-{i}"), Decision(True, "DPUJoining", "joins", node=f"dpu-{i}"))
    until = time.monotonic() + 10
    while len(written) < 28 and time.monotonic() < until:
        time.sleep(0.02)
    assert len([w for w in written if w.startswith("junk-")]) == 25
    assert [w for w in written if w.startswith("dpu-")] == ["dpu-0", "dpu-1", "dpu-2"]
