"""Issue 22: a Lease's expiry is judged as client-go judges it (kubernetes/client-go
tools/leaderelection/leaderelection.go, tryAcquireOrRenew and isLeaseValid): by this replica's
monotonic clock since the record last changed, never by the record's timestamps, which are another
replica's wall clock. LeaderElector._try against an in-memory Lease and a fake clock."""

from __future__ import annotations

import copy
import threading
from typing import Any

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError
from dpf_hcp_operator.leader import LeaderElector

NS, NAME = "ops", "dpf-hcp-provisioner-leader"
PAST, FUTURE = "1999-01-01T00:00:00.000000Z", "2199-01-01T00:00:00.000000Z"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Leases:
    """One Lease as the API server keeps it: a resourceVersion, 409 on a stale one."""

    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.version = 0

    def get_or_none(self, _res: Any, _name: str, _ns: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.lease)

    def get(self, res: Any, name: str, ns: str) -> dict[str, Any]:
        lease = self.get_or_none(res, name, ns)
        if lease is None:
            raise ApiError(404, "NotFound", name)
        return lease

    def create(self, _res: Any, body: dict[str, Any]) -> dict[str, Any]:
        if self.lease is not None:
            raise ApiError(409, "AlreadyExists", NAME)
        return self._store(body)

    def replace(self, _res: Any, body: dict[str, Any]) -> dict[str, Any]:
        assert self.lease is not None
        if body["metadata"].get("resourceVersion") != self.lease["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", "the object has been modified")
        return self._store(body)

    def _store(self, body: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        self.lease = copy.deepcopy(body)
        self.lease["metadata"]["resourceVersion"] = str(self.version)
        return copy.deepcopy(self.lease)

    def put(self, holder: str, renew_time: str, duration: int = 15) -> None:
        """What another replica writes: its identity, its wall clock's renewTime."""
        spec = {"holderIdentity": holder, "leaseDurationSeconds": duration, "renewTime": renew_time}
        rv = self.lease["metadata"]["resourceVersion"] if self.lease else None
        meta = {"name": NAME, "namespace": NS, **({"resourceVersion": rv} if rv else {})}
        self._store({"metadata": meta, "spec": {**(self.lease or {}).get("spec", {}), **spec}})

    @property
    def holder(self) -> str:
        return ((self.lease or {}).get("spec") or {}).get("holderIdentity") or ""


def elector(leases: Leases, clock: Clock, identity: str = "b") -> LeaderElector:
    return LeaderElector(leases, NS, NAME, 15, 10, 2, identity=identity, clock=clock)  # type: ignore[arg-type]


@pytest.mark.parametrize("stamp", [PAST, FUTURE], ids=["holder-clock-behind", "holder-clock-ahead"])
def test_a_lease_its_holder_keeps_renewing_is_never_taken_whatever_its_timestamps_say(stamp: str) -> None:
    leases, clock = Leases(), Clock()
    leases.put("a", stamp)
    b = elector(leases, clock)
    for second in range(120):  # a renews every 2 s, its renewTime an hour or a century off ours
        clock.now += 2
        leases.put("a", stamp.replace("00:00:00", f"00:{second // 60:02}:{second % 60:02}"))
        assert not b._try()
    assert leases.holder == "a"


@pytest.mark.parametrize("stamp", [PAST, FUTURE], ids=["holder-clock-behind", "holder-clock-ahead"])
def test_a_lease_whose_holder_stopped_is_taken_one_lease_duration_after_it_last_changed(stamp: str) -> None:
    leases, clock = Leases(), Clock()
    leases.put("a", stamp)
    b = elector(leases, clock)
    assert not b._try()  # first seen now: 15 s of this replica's clock from here
    clock.now += 14.9
    assert not b._try()
    assert leases.holder == "a"
    clock.now += 0.2
    assert b._try()
    spec = leases.lease["spec"]  # type: ignore[index]
    assert (spec["holderIdentity"], spec["leaseDurationSeconds"], spec["leaseTransitions"]) == ("b", 15, 1)


def test_a_renewal_seen_late_restarts_the_count() -> None:
    leases, clock = Leases(), Clock()
    leases.put("a", PAST)
    b = elector(leases, clock)
    assert not b._try()
    clock.now += 10
    leases.put("a", PAST.replace("00:00:00", "00:00:10"))
    assert not b._try()
    clock.now += 10  # 20 s since b first saw the Lease, 10 since it saw it change
    assert not b._try()
    clock.now += 5.1
    assert b._try()


def test_the_holders_own_lease_duration_is_waited_for() -> None:
    leases, clock = Leases(), Clock()
    leases.put("a", PAST, duration=40)
    b = elector(leases, clock)  # its own duration is 15 s
    assert not b._try()
    clock.now += 39
    assert not b._try()
    clock.now += 2
    assert b._try()


def test_a_released_lease_is_taken_at_once() -> None:
    leases, clock = Leases(), Clock()
    a, b = elector(leases, clock, "a"), elector(leases, clock, "b")
    assert a._try()
    a.leading.set()
    assert not b._try()
    a.release()
    spec = leases.lease["spec"]  # type: ignore[index]
    assert (spec["holderIdentity"], spec["leaseDurationSeconds"]) == ("", 1)  # client-go's ReleaseOnCancel
    assert b._try()  # no clock advance: an empty holder is free now
    assert leases.holder == "b"
    assert leases.lease["spec"]["leaseTransitions"] == 1  # type: ignore[index]


def test_the_holder_renews_its_own_lease_and_keeps_its_acquire_time() -> None:
    leases, clock = Leases(), Clock()
    a = elector(leases, clock, "a")
    assert a._try()
    acquired = leases.lease["spec"]["acquireTime"]  # type: ignore[index]
    for _ in range(20):
        clock.now += 2
        assert a._try()
    spec = leases.lease["spec"]  # type: ignore[index]
    assert (spec["holderIdentity"], spec["acquireTime"], spec["leaseTransitions"]) == ("a", acquired, 0)


def test_two_followers_racing_for_an_expired_lease_one_wins_the_other_gets_a_conflict() -> None:
    leases, clock = Leases(), Clock()
    leases.put("a", PAST)
    b, c = elector(leases, clock, "b"), elector(leases, clock, "c")
    assert not b._try() and not c._try()
    clock.now += 16
    stale = leases.get_or_none(None, NAME, NS)
    assert b._try()
    leases.get_or_none = lambda *_: copy.deepcopy(stale)  # type: ignore[method-assign]  # c read before b wrote
    with pytest.raises(ApiError) as exc:
        c._try()
    assert exc.value.conflict
    del leases.get_or_none
    assert not c._try()  # b's record is new to c: a fresh lease duration to wait
    assert leases.holder == "b"


def test_a_failed_write_does_not_change_what_was_observed() -> None:
    leases, clock = Leases(), Clock()
    leases.put("a", PAST)
    b = elector(leases, clock)
    assert not b._try()
    clock.now += 16

    def refuse(_res: Any, _body: dict[str, Any]) -> dict[str, Any]:
        raise ApiError(500, "InternalError", "etcd timeout")

    leases.replace = refuse  # type: ignore[method-assign]
    with pytest.raises(ApiError):
        b._try()
    del leases.replace
    assert b._try()  # still expired as first observed: no fresh wait after an error


def test_the_release_waits_for_a_renewal_under_way_and_no_renewal_follows_it() -> None:
    """SIGTERM while the keeper thread renews: the release read the Lease before the renewal wrote
    it, got 409 and left the Lease held until it expired (a fault test caught it once in six runs)."""
    leases, clock = Leases(), Clock()
    a = elector(leases, clock, "a")
    assert a._try()
    a.leading.set()
    renewing, go_on = threading.Event(), threading.Event()
    replace = leases.replace

    def slow_renewal(res: Any, body: dict[str, Any]) -> dict[str, Any]:
        if body["spec"]["holderIdentity"] == "a":  # the keeper's renewal, not the release
            renewing.set()
            go_on.wait(5)
        return replace(res, body)

    leases.replace = slow_renewal  # type: ignore[method-assign]
    a.retry_period = 0.01
    stop, lost = threading.Event(), threading.Event()
    keeper = threading.Thread(target=a.keep, args=(stop, lost), daemon=True)
    keeper.start()
    assert renewing.wait(5)
    releasing = threading.Thread(target=a.release, daemon=True)
    releasing.start()
    releasing.join(0.2)
    assert releasing.is_alive()  # waits for the renewal under way
    go_on.set()
    releasing.join(5)
    assert leases.holder == "" and leases.lease["spec"]["leaseDurationSeconds"] == 1  # type: ignore[index]
    keeper.join(5)
    assert not keeper.is_alive()  # it stopped renewing: the Lease stays released
    assert leases.holder == "" and not lost.is_set()
