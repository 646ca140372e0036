"""Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
acquire when free or expired, renew every retry period, give up when renewals fail for the
renew deadline, and release on a clean stop so the next replica takes over at once.

Expiry is judged only by this replica's monotonic clock, never by the record's timestamps (they
are another replica's wall clock): a Lease held by another is expired once its record has not
changed for its ``leaseDurationSeconds`` as observed here (kubernetes/client-go
``tools/leaderelection/leaderelection.go``: ``tryAcquireOrRenew``, ``setObservedRecord``,
``isLeaseValid``). Replicas whose wall clocks disagree by any amount still never lead at once."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import LEASE
from dpf_hcp_operator import metrics
from dpf_hcp_operator.logs import log

LOG = logging.getLogger("dpf_hcp_operator.leader")
MICRO = "%Y-%m-%dT%H:%M:%S.%fZ"


def _now() -> str:
    return datetime.now(UTC).strftime(MICRO)


class LeaderElector:
    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        name: str,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        identity: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.client = client
        self.namespace = namespace
        self.name = name
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.identity = identity or f"{socket.gethostname()}_{os.getpid()}"
        self.leading = threading.Event()
        self.clock = clock  # monotonic: the only clock expiry is judged by
        self._observed: dict[str, Any] | None = None  # the Lease's spec as last read or written
        self._observed_at = 0.0  # self.clock() when it last changed (client-go's observedTime)
        # A renewal and the release never overlap, and nothing is renewed once released: client-go
        # stops its renew loop before it releases (ReleaseOnCancel; kubernetes/client-go
        # tools/leaderelection/leaderelection.go, Run and release). A release that read the Lease
        # while a renewal wrote it would be refused (409) and leave the Lease held until it expires.
        self._writing = threading.Lock()
        self._released = False

    def _observe(self, record: dict[str, Any], written: bool = False) -> None:
        """client-go's setObservedRecord: the clock restarts when the record changes (a renewal by
        its holder), or when we wrote it ourselves."""
        if written or record != self._observed:
            self._observed = dict(record)
            self._observed_at = self.clock()

    def _held_by_another(self) -> bool:
        """client-go's check before it updates: a holder, not us, whose record changed less than
        its own leaseDurationSeconds ago as this replica's clock counts (isLeaseValid). An empty
        holder is a released Lease: free at once."""
        record = self._observed or {}
        holder = record.get("holderIdentity") or ""
        if not holder or holder == self.identity:
            return False
        return self.clock() < self._observed_at + float(record.get("leaseDurationSeconds") or 0)

    def _try(self) -> bool:
        """One attempt to acquire or renew; True while we hold the Lease."""
        lease = self.client.get_or_none(LEASE, self.name, self.namespace)
        now = _now()  # written for readers; never compared with anything
        if lease is None:
            spec = {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": int(self.lease_duration),
                "acquireTime": now,
                "renewTime": now,
                "leaseTransitions": 0,
            }
            head = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease"}
            self.client.create(
                LEASE, {**head, "metadata": {"name": self.name, "namespace": self.namespace}, "spec": spec}
            )
            self._observe(spec, written=True)
            return True
        self._observe(dict(lease.get("spec") or {}))
        if self._held_by_another():
            return False
        spec: dict[str, Any] = dict(self._observed or {})
        if spec.get("holderIdentity") != self.identity:
            spec.update(
                holderIdentity=self.identity,
                acquireTime=now,
                leaseTransitions=int(spec.get("leaseTransitions") or 0) + 1,
            )
        spec.update(renewTime=now, leaseDurationSeconds=int(self.lease_duration))
        self.client.replace(LEASE, {**lease, "spec": spec})  # resourceVersion: a racing replica gets 409
        self._observe(spec, written=True)
        return True

    def acquire(self, stop: threading.Event) -> bool:
        """Block until we lead (True) or ``stop`` is set (False)."""
        log(
            LOG,
            logging.INFO,
            "waiting for the leader Lease",
            lease=f"{self.namespace}/{self.name}",
            identity=self.identity,
        )
        while not stop.is_set():
            try:
                if self._try():
                    self.leading.set()
                    metrics.LEADER.set(1)
                    log(
                        LOG,
                        logging.INFO,
                        "became leader",
                        lease=f"{self.namespace}/{self.name}",
                        identity=self.identity,
                    )
                    return True
            except ApiError as exc:
                if not exc.conflict:
                    log(LOG, logging.WARNING, "leader election attempt failed", error=str(exc))
            stop.wait(self.retry_period)
        return False

    def keep(self, stop: threading.Event, lost: threading.Event) -> None:
        """Renew until ``stop``; set ``lost`` when renewals failed for the renew deadline."""
        last_renewed = self.clock()
        while not stop.wait(self.retry_period):
            try:
                with self._writing:
                    if self._released:
                        return
                    renewed = self._try()
                if renewed:
                    last_renewed = self.clock()
                    continue
            except ApiError as exc:
                log(LOG, logging.WARNING, "could not renew the leader Lease", error=str(exc))
            if self.clock() - last_renewed > self.renew_deadline:
                self.leading.clear()
                metrics.LEADER.set(0)
                log(LOG, logging.ERROR, "lost the leader Lease", lease=f"{self.namespace}/{self.name}")
                lost.set()
                return

    def release(self) -> None:
        """Give the Lease up at once (a clean stop), so another replica need not wait for it to expire."""
        if not self.leading.is_set():
            return
        with self._writing:  # waits for a renewal under way; none follows
            self._released = True
            try:
                lease = self.client.get(LEASE, self.name, self.namespace)
                if (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                    # client-go's tryRelease (ReleaseOnCancel): no holder, a duration of 1 s
                    now = _now()
                    spec = {**lease["spec"], "holderIdentity": "", "leaseDurationSeconds": 1}
                    spec.update(acquireTime=now, renewTime=now)
                    self.client.replace(LEASE, {**lease, "spec": spec})
                    self._observe(spec, written=True)
                    log(LOG, logging.INFO, "released the leader Lease", lease=f"{self.namespace}/{self.name}")
            except ApiError as exc:
                log(LOG, logging.WARNING, "could not release the leader Lease", error=str(exc))
        self.leading.clear()
        metrics.LEADER.set(0)
