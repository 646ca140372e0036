"""Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
acquire when free or expired, renew every retry period, give up when renewals fail for the
renew deadline, and release on a clean stop so the next replica takes over at once."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import UTC, datetime
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.kube import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.resources import LEASE
from dpf_hcp_operator import metrics
from dpf_hcp_operator.logs import log

LOG = logging.getLogger("dpf_hcp_operator.leader")
MICRO = "%Y-%m-%dT%H:%M:%S.%fZ"


def _now() -> str:
    return datetime.now(UTC).strftime(MICRO)


def _parse(stamp: str | None) -> float:
    if not stamp:
        return 0.0
    for fmt in (MICRO, "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(stamp, fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    return 0.0


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
    ):
        self.client = client
        self.namespace = namespace
        self.name = name
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.identity = identity or f"{socket.gethostname()}_{os.getpid()}"
        self.leading = threading.Event()

    def _try(self) -> bool:
        """One attempt to acquire or renew; True while we hold the Lease."""
        lease = self.client.get_or_none(LEASE, self.name, self.namespace)
        now = _now()
        if lease is None:
            self.client.create(
                LEASE,
                {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": {
                        "holderIdentity": self.identity,
                        "leaseDurationSeconds": int(self.lease_duration),
                        "acquireTime": now,
                        "renewTime": now,
                        "leaseTransitions": 0,
                    },
                },
            )
            return True
        spec: dict[str, Any] = dict(lease.get("spec") or {})
        holder = spec.get("holderIdentity") or ""
        expired = _parse(spec.get("renewTime")) + float(spec.get("leaseDurationSeconds") or 0) < time.time()
        if holder and holder != self.identity and not expired:
            return False
        if holder != self.identity:
            spec.update(
                holderIdentity=self.identity,
                acquireTime=now,
                leaseTransitions=int(spec.get("leaseTransitions") or 0) + 1,
            )
        spec.update(renewTime=now, leaseDurationSeconds=int(self.lease_duration))
        self.client.replace(LEASE, {**lease, "spec": spec})  # resourceVersion: a racing replica gets 409
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
        last_renewed = time.monotonic()
        while not stop.wait(self.retry_period):
            try:
                if self._try():
                    last_renewed = time.monotonic()
                    continue
            except ApiError as exc:
                log(LOG, logging.WARNING, "could not renew the leader Lease", error=str(exc))
            if time.monotonic() - last_renewed > self.renew_deadline:
                self.leading.clear()
                metrics.LEADER.set(0)
                log(LOG, logging.ERROR, "lost the leader Lease", lease=f"{self.namespace}/{self.name}")
                lost.set()
                return

    def release(self) -> None:
        """Give the Lease up at once (a clean stop), so another replica need not wait for it to expire."""
        if not self.leading.is_set():
            return
        try:
            lease = self.client.get(LEASE, self.name, self.namespace)
            if (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                spec = {**lease["spec"], "holderIdentity": "", "leaseDurationSeconds": 1, "renewTime": _now()}
                self.client.replace(LEASE, {**lease, "spec": spec})
                log(LOG, logging.INFO, "released the leader Lease", lease=f"{self.namespace}/{self.name}")
        except ApiError as exc:
            log(LOG, logging.WARNING, "could not release the leader Lease", error=str(exc))
        self.leading.clear()
        metrics.LEADER.set(0)
