"""The fast path for CSRs: watch each hosted cluster's CSRs and Nodes, and approve a joining
DPU's CSR within milliseconds of its creation, with the same rules as the csr_approve module
(plugins/module_utils/csr_policy.py). Reconnects when a hosted API server goes and comes back."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils import csr_approval, csr_policy, naming
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.kube import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.resources import CSR, DPU, NODE
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.scope import Scope
from dpf_hcp_operator.informers import Informer, Key
from dpf_hcp_operator.logs import log
from dpf_hcp_operator.metrics import CSR_DECISIONS, CSR_HOSTED_CLUSTERS

LOG = logging.getLogger("dpf_hcp_operator.csr")


class HostedApprover:
    """One hosted cluster: its CSR and Node informers and the loop that decides."""

    def __init__(self, mgmt: KubeClient, provisioner: dict[str, Any], kubeconfig: str, dpus: Informer):
        self.mgmt = mgmt
        self.provisioner = provisioner
        self.dpus = dpus
        self.fingerprint = hashlib.sha256(kubeconfig.encode()).hexdigest()
        self.hosted = csr_approval.hosted_client(kubeconfig)
        self.csrs = Informer(self.hosted, CSR)
        self.nodes = Informer(self.hosted, NODE)
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.reported: set[tuple[str, str]] = set()
        for informer in (self.csrs, self.nodes):
            informer.add_handler(lambda *_: self.wake.set())

    @property
    def key(self) -> Key:
        meta = self.provisioner["metadata"]
        return meta["namespace"], meta["name"]

    def start(self) -> None:
        self.csrs.start(self.stop)
        self.nodes.start(self.stop)
        threading.Thread(target=self.loop, name=f"csr-{self.key[0]}-{self.key[1]}", daemon=True).start()

    def loop(self) -> None:
        while not self.stop.is_set():
            self.wake.wait(30)  # events wake it; the timeout re-checks DPUs that moved on
            self.wake.clear()
            if self.stop.is_set() or not (self.csrs.synced.is_set() and self.nodes.synced.is_set()):
                continue
            try:
                self.pass_once()
            except Exception:  # never let one bad object stop approvals for the cluster
                LOG.exception("CSR pass failed", extra={"fields": {"namespace": self.key[0], "name": self.key[1]}})

    def pass_once(self) -> None:
        pending = [c for c in self.csrs.items() if csr_policy.is_pending(c)]
        if not pending:
            return
        ctx = csr_approval.policy_context(self.provisioner, self.dpus.items(), self.nodes.items())
        for csr, decision in csr_approval.decide_all(pending, ctx):
            name = csr["metadata"]["name"]
            if decision.approve:
                try:
                    csr_approval.approve(self.hosted, csr, decision)
                except ApiError as exc:
                    if not (exc.conflict or exc.not_found):
                        raise
                    continue  # changed meanwhile: the next event brings it back
                CSR_DECISIONS.labels("approved", decision.reason).inc()
                log(
                    LOG,
                    logging.INFO,
                    "CSR approved",
                    csr=name,
                    node=decision.node,
                    reason=decision.reason,
                    namespace=self.key[0],
                    name=self.key[1],
                )
            elif (name, decision.reason) not in self.reported:
                self.reported.add((name, decision.reason))
                CSR_DECISIONS.labels("refused", decision.reason).inc()
                log(
                    LOG,
                    logging.WARNING,
                    "CSR left pending",
                    csr=name,
                    node=decision.node,
                    reason=decision.reason,
                    detail=decision.message,
                    namespace=self.key[0],
                    name=self.key[1],
                )
                try:
                    csr_approval.report_refusal(self.mgmt, self.provisioner, csr, decision)
                except ApiError as exc:
                    log(LOG, logging.WARNING, "could not record the refusal", csr=name, error=str(exc))

    def close(self) -> None:
        self.stop.set()
        self.wake.set()


class CSRApprovals:
    """Keeps one HostedApprover per live provisioner whose hosted cluster has published a kubeconfig."""

    def __init__(
        self,
        mgmt: KubeClient,
        secret_version: Callable[[str, str], str | None] | None = None,
        scope: Scope = (),
    ):
        """``secret_version(namespace, name)`` gives a Secret's resourceVersion from a cache, so the
        hosted kubeconfig is read only when it changed; without it, it is read on every sync. DPUs
        are watched in the namespaces of ``scope`` (all when empty)."""
        self.mgmt = mgmt
        self.secret_version = secret_version
        self._seen: dict[Key, str | None] = {}
        self.dpus = Informer(mgmt, DPU, namespaces=scope)
        self.dpus.add_handler(self._on_dpu)
        self.approvers: dict[Key, HostedApprover] = {}
        self.lock = threading.Lock()

    @property
    def informers(self) -> list[Informer]:
        return [self.dpus]

    def _on_dpu(self, _kind: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        namespace = (new or old or {}).get("metadata", {}).get("namespace")
        with self.lock:
            approvers = list(self.approvers.values())
        for approver in approvers:
            ref = (approver.provisioner.get("spec") or {}).get("dpuClusterRef") or {}
            if ref.get("namespace") == namespace:
                approver.wake.set()

    def sync(self, key: Key, provisioner: dict[str, Any] | None) -> None:
        """Start, refresh or stop the approver for ``key`` to match the provisioner as it is now."""
        live = provisioner is not None and not provisioner["metadata"].get("deletionTimestamp")
        kubeconfig = None
        version = None
        if live and self.secret_version is not None:
            version = self.secret_version(key[0], naming.admin_kubeconfig_secret(provisioner))
            with self.lock:
                current = self.approvers.get(key)
                if version is not None and current is not None and self._seen.get(key) == version:
                    current.provisioner = provisioner  # nothing new to read: keep watching
                    current.wake.set()
                    return
        if live:
            try:
                kubeconfig = csr_approval.hosted_kubeconfig(self.mgmt, provisioner)
            except ApiError as exc:  # keep watching with what we have; the next sync reads it again
                log(
                    LOG,
                    logging.WARNING,
                    "cannot read the hosted kubeconfig",
                    namespace=key[0],
                    name=key[1],
                    error=str(exc),
                )
                return
            except ValueError as exc:  # not text: as an unusable one, stop watching (the conditions say why)
                log(LOG, logging.WARNING, "hosted kubeconfig unusable", namespace=key[0], name=key[1], error=str(exc))
        with self.lock:
            current = self.approvers.get(key)
            if kubeconfig is None:
                self._seen.pop(key, None)
                if current:
                    current.close()
                    del self.approvers[key]
                    log(LOG, logging.INFO, "stopped watching CSRs", namespace=key[0], name=key[1])
            elif current is None or current.fingerprint != hashlib.sha256(kubeconfig.encode()).hexdigest():
                if current:
                    current.close()
                try:
                    approver = HostedApprover(self.mgmt, provisioner, kubeconfig, self.dpus)
                except ValueError as exc:
                    log(
                        LOG,
                        logging.WARNING,
                        "hosted kubeconfig unusable",
                        namespace=key[0],
                        name=key[1],
                        error=str(exc),
                    )
                    self.approvers.pop(key, None)
                    CSR_HOSTED_CLUSTERS.set(len(self.approvers))
                    return
                self.approvers[key] = approver
                self._seen[key] = version
                approver.start()
                log(
                    LOG,
                    logging.INFO,
                    "watching CSRs",
                    namespace=key[0],
                    name=key[1],
                    server=approver.hosted.creds.server,
                )
            else:
                self._seen[key] = version
                current.provisioner = provisioner  # a spec change (e.g. its DPUCluster) applies at once
                current.wake.set()
            CSR_HOSTED_CLUSTERS.set(len(self.approvers))

    def close(self) -> None:
        with self.lock:
            for approver in self.approvers.values():
                approver.close()
            self.approvers.clear()
