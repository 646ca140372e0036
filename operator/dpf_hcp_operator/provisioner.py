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
from dpf_hcp_operator.dependencies import ProvisionerDependencies
from dpf_hcp_operator.informers import Informer, Key
from dpf_hcp_operator.watches import Watch

KIND = PROVISIONER.kind


def serves(watch: Watch) -> bool:
    """Whether ``watch`` is the provisioners' own."""
    return watch.kind == KIND and watch.api_version == PROVISIONER.api_version


@dataclass
class Followers:
    """For a provisioner watch: the informers of its dependencies, and its CSR watcher (None when
    the operator runs with --no-csr-watch)."""

    dependencies: ProvisionerDependencies
    csr_watcher: CSRWatcher | None


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
        watcher = CSRWatcher(
            client,
            lambda kind, ns, name: _version(caches[kind].get((ns, name))),
            scope,
            dpus=dependencies.dpus,
            service=hosted_api_service,
        )
    return Followers(dependencies, watcher)


def _version(obj: dict[str, Any] | None) -> str | None:
    return obj["metadata"].get("resourceVersion") if obj else None
