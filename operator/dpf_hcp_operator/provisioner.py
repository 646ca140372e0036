"""What the operator does for DPFHCPProvisioners beyond what it does for any watched kind: follow
the objects their outcome depends on (dependencies.py) and watch their hosted clusters' CSRs
(csr_watcher.py). The controller and the queue are generic; this is where they meet the domain."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import PROVISIONER
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.scope import Scope
from dpf_hcp_operator.csr_watcher import CSRWatcher
from dpf_hcp_operator.dependencies import Change, Fingerprint, ProvisionerDependencies
from dpf_hcp_operator.informers import Informer, Key
from dpf_hcp_operator.watches import Watch

KIND = PROVISIONER.kind
HEALTH = "HostedClusterHealth"  # the fingerprint's entry for the hosted cluster's health (not an API kind)


def serves(watch: Watch) -> bool:
    """Whether ``watch`` is the provisioners' own."""
    return watch.kind == KIND and watch.api_version == PROVISIONER.api_version


@dataclass
class Followers:
    """What follows a provisioner watch's objects besides its own informer: the informers of what
    their runs read (``dependencies``) and the CSR watcher of their hosted clusters (None with
    --no-csr-watch). The controller knows them only through the methods below."""

    dependencies: ProvisionerDependencies
    csr_watcher: CSRWatcher | None

    @property
    def informers(self) -> list[Informer]:
        return self.dependencies.informers + (self.csr_watcher.informers if self.csr_watcher else [])

    def fingerprint(self, obj: dict[str, Any]) -> Fingerprint:
        """What a run's outcome for ``obj`` depends on, beyond the object itself: with how many changes
        of its hosted cluster's health the CSR watcher told (each one runs it again)."""
        fp = self.dependencies.fingerprint(obj)
        if self.csr_watcher is not None:
            key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            fp[(HEALTH, *key)] = str(self.csr_watcher.health_told(key))
        return fp

    def track(self, keys: list[Key]) -> None:
        """A run for ``keys`` starts: record the changes seen meanwhile."""
        self.dependencies.track(keys)
        if self.csr_watcher is not None:
            self.csr_watcher.runs_started(keys)

    def untrack(self, key: Key) -> list[Change]:
        """The run for ``key`` ended: the changes seen while it ran."""
        if self.csr_watcher is not None:
            self.csr_watcher.run_ended(key)
        return self.dependencies.untrack(key)

    def expected_after(
        self, obj: dict[str, Any], before: Fingerprint, journal: list[dict[str, Any]], seen: list[Change]
    ) -> Fingerprint | None:
        """The fingerprint the run left (its own writes), or None when someone else's change may be unseen."""
        return self.dependencies.expected_after(obj, before, journal, seen)

    def after_run(self, key: Key, obj: dict[str, Any] | None) -> None:
        """The object's batch is done: the CSR watch follows its hosted cluster as it now is."""
        if self.csr_watcher is not None:
            self.csr_watcher.sync(key, obj)

    def close(self) -> None:
        if self.csr_watcher is not None:
            self.csr_watcher.close()


def follow(
    client: KubeClient,
    watch: Watch,
    provisioners: Informer,
    enqueue: Callable[[Key], None],
    *,
    operator_namespace: str,
    scope: Scope,
    dpf_namespace: str,
    csr_watch: bool,
    hosted_api_service: str | None,
) -> Followers | None:
    """What follows ``watch``'s objects besides its own informer; None for any other watch, or one
    that does not watch dependent resources (watches.yaml's watchDependentResources: false)."""
    if not (serves(watch) and watch.watch_dependent_resources):
        return None
    dependencies = ProvisionerDependencies(
        client, operator_namespace, provisioners, enqueue, scope=scope, dpf_namespace=dpf_namespace
    )
    caches = {"Secret": dependencies.secrets, "HostedCluster": dependencies.hosted_clusters}
    watcher = None
    if csr_watch:
        watcher = csrs = CSRWatcher(
            client,
            lambda kind, ns, name: _version(caches[kind].get((ns, name))),
            scope,
            dpus=dependencies.dpus,
            service=hosted_api_service,
            on_health=enqueue,
            current=provisioners.get,
        )
        provisioners.add_handler(lambda _kind, old, new: csrs.provisioner_changed(old, new))
    return Followers(dependencies, watcher)


def _version(obj: dict[str, Any] | None) -> str | None:
    return obj["metadata"].get("resourceVersion") if obj else None
