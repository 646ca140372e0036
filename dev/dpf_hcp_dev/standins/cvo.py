"""The hosted cluster's ClusterVersion and ClusterOperators, as OpenShift publishes them in a HyperShift
hosted cluster: the hosted cluster config operator's stubs for the control plane and the cluster
version operator's payload operators, of which those that run workloads on the workers stay
unavailable until a worker (here, a DPU) is Ready.

One hosted API server serves every HostedCluster of the local test bed, so it has one ClusterVersion:
it follows the newest HostedCluster that is Available. (HyperShift copies the hosted ClusterVersion into
that HostedCluster's status.version; the HyperShift stand-in computes status.version itself, since here
the one ClusterVersion cannot speak for every HostedCluster.)

Upstream, each emulated behaviour:
- Stubs: openshift/hypershift control-plane-operator/hostedclusterconfigoperator/controllers/resources/
  clusteroperators.go (reconcileClusterOperators, clusterOperatorStatus): Available=True,
  Progressing=False, Degraded=False, Upgradeable=True, reason AsExpected, lastTransitionTime kept.
- Which operators wait for workers: openshift/hypershift docs/content/how-to/none/create-none-cluster.md
  and how-to/agent/create-agent-cluster.md (operators reconcile by adding workloads to the nodes;
  image-registry and monitoring are Available=False without enough workers; ingress and console last).
- Capabilities: a disabled capability's operator is not installed (openshift/api config/v1
  types_cluster_version.go, ClusterVersionCapability; HostedCluster spec.capabilities.disabled).
- ClusterVersion: openshift/cluster-version-operator pkg/cvo/status.go (updateClusterVersionStatus,
  convertErrorToProgressing): Available once a history entry is Completed ("Done applying X"); an
  operator that is not Available fails the sync at once (pkg/cvo/internal/operatorstatus.go,
  checkOperatorHealth), so Failing=True (ClusterOperatorNotAvailable, "Cluster operator X is not
  available"; several condensed as ClusterOperatorsNotAvailable, pkg/cvo/sync_worker.go) with
  Progressing=True "Unable to apply X: ..." while a release is applied, Progressing=False "Error while
  reconciling X: ..." once installed; a Degraded operator fails it the same way once installed
  (ClusterOperatorDegraded), not while initializing; "Cluster version is X" when nothing fails. The
  required status fields: openshift/api config/v1/types_cluster_version.go (desired,
  observedGeneration, versionHash, availableUpdates). Not emulated: the CVO's progress counts of an
  update ("Working towards X: N of M done"), since the stand-in's operators take a new version at once.

Settings (the stand-ins' ConfigMap): ``degradedClusterOperators``, names separated by commas, report
Degraded=True (an operator a tenant broke, say).
"""

from __future__ import annotations

import uuid
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.conditions import merge, now_rfc3339
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    CLUSTER_OPERATOR,
    CLUSTER_VERSION,
    CLUSTER_VERSION_NAME,
)
from dpf_hcp_dev.standins.config import StandinConfig
from dpf_hcp_dev.standins.hypershift import _ocp_version, release_digest, workers_joined
from dpf_hcp_operator.informers import Informer

# The hosted cluster config operator's stubs for what runs in the control plane.
CONTROL_PLANE_STUBS = (
    "openshift-apiserver",
    "openshift-controller-manager",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "operator-lifecycle-manager-packageserver",
)
# Payload operators that HyperShift runs in the control plane's namespace: the hosted CVO removes their
# in-cluster Deployments (control-plane-operator/controllers/hostedcontrolplane/v2/cvo/deployment.go,
# resourcesToRemove), and they report their ClusterOperators from there. OLM's ClusterOperators are not
# among them: that file omits the manifest of its operatorstatus (manifestsToOmit), the packageserver
# stub above is HCCO's.
CONTROL_PLANE_PAYLOAD = ("csi-snapshot-controller", "storage")
# Payload operators whose operands run on the workers (DaemonSets, Deployments in the hosted cluster).
# kube-storage-version-migrator's Deployments are in resourcesToRemove too: not here.
WORKER_PAYLOAD = ("dns", "network", "monitoring", "service-ca")
# Capability -> its operator, when the capability is not disabled (all need workers).
CAPABILITY_OPERATORS = {
    "ImageRegistry": "image-registry",
    "Ingress": "ingress",
    "Console": "console",
    "Insights": "insights",
    "openshift-samples": "openshift-samples",
    "NodeTuning": "node-tuning",
}


def _available(hc: dict[str, Any]) -> bool:
    conds = (hc.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Available" and c.get("status") == "True" for c in conds)


def _condition(type_: str, status: str, reason: str, message: str) -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": message}


def _merged(existing: list[dict[str, Any]] | None, conds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``conds`` over ``existing``, lastTransitionTime kept while a status holds; reason and message
    are optional upstream and left out when empty (the 1.20 API server stores "" as null, which the
    schema refuses)."""
    return [{k: v for k, v in c.items() if v != ""} for c in merge(existing, conds, None)]


def operator_conditions(name: str, workers: bool, degraded: set[str]) -> list[dict[str, Any]]:
    """An operator's Available, Progressing, Degraded and Upgradeable as the stand-in reports them."""
    waiting = not workers and (name in WORKER_PAYLOAD or name in CAPABILITY_OPERATORS.values())
    if waiting:
        out = [
            _condition("Available", "False", "NoWorkers", f"{name} waits for a Ready node to run its workloads on"),
            _condition("Progressing", "True", "Deploying", f"{name} is deploying its workloads"),
        ]
    else:
        out = [
            _condition("Available", "True", "AsExpected", ""),
            _condition("Progressing", "False", "AsExpected", ""),
        ]
    if name in degraded:
        out.append(_condition("Degraded", "True", "StandinDegraded", "degraded as the stand-ins' ConfigMap says"))
    else:
        out.append(_condition("Degraded", "False", "AsExpected", ""))
    out.append(_condition("Upgradeable", "True", "AsExpected", ""))
    return out


def _progress(
    version: str, names: list[str], unavailable: list[str], degraded: list[str], initializing: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Progressing and Failing as the CVO writes them (pkg/cvo/status.go, updateClusterVersionStatus and
    convertErrorToProgressing; the texts of pkg/payload/task.go SummaryForReason). An operator that is not
    Available fails the sync at once (checkOperatorHealth, UpdateEffectFail), several are condensed into
    one reason (sync_worker.go, condenseClusterOperators); a Degraded one fails it once the cluster
    installed (while initializing, UpdateEffectReport: nothing)."""
    failed = ""
    if unavailable:
        many = len(unavailable) > 1
        failed = "ClusterOperatorsNotAvailable" if many else "ClusterOperatorNotAvailable"
        said = f"Cluster operator{'s' if many else ''} {', '.join(unavailable)} {'are' if many else 'is'} not available"
        summary = (
            "some cluster operators are not available"
            if many
            else f"the cluster operator {unavailable[0]} is not available"
        )
    elif degraded and not initializing:
        many = len(degraded) > 1
        failed = "ClusterOperatorsDegraded" if many else "ClusterOperatorDegraded"
        said = f"Cluster operator{'s' if many else ''} {', '.join(degraded)} {'are' if many else 'is'} degraded"
        summary = "some cluster operators are degraded" if many else f"the cluster operator {degraded[0]} is degraded"
    if not failed:  # nothing holds the release: applied (an unavailable operator is what holds it here)
        return (
            _condition("Progressing", "False", "", f"Cluster version is {version}"),
            _condition("Failing", "False", "", ""),
        )
    failing = _condition("Failing", "True", failed, said)
    if initializing:  # applying a release: "Unable to apply"
        return _condition("Progressing", "True", failed, f"Unable to apply {version}: {summary}"), failing
    return _condition("Progressing", "False", failed, f"Error while reconciling {version}: {summary}"), failing


class ClusterVersionOperatorStandin:
    """Publishes the ClusterVersion and the ClusterOperators in the hosted API server."""

    def __init__(self, hosted: KubeClient, nodes: Informer, operators: Informer, versions: Informer):
        self.hosted = hosted
        self.nodes = nodes
        self.operators = operators
        self.versions = versions

    def expected(self, hc: dict[str, Any]) -> list[str]:
        disabled = set(((hc.get("spec") or {}).get("capabilities") or {}).get("disabled") or [])
        optional = [op for cap, op in CAPABILITY_OPERATORS.items() if cap not in disabled]
        return sorted({*CONTROL_PLANE_STUBS, *CONTROL_PLANE_PAYLOAD, *WORKER_PAYLOAD, *optional})

    def reconcile(self, hcs: list[dict[str, Any]], config: StandinConfig) -> None:
        live = [hc for hc in hcs if _available(hc) and not hc["metadata"].get("deletionTimestamp")]
        if not live:
            return  # no control plane runs: no CVO writes anything
        hc = max(live, key=lambda h: (h["metadata"].get("creationTimestamp", ""), h["metadata"]["name"]))
        image = str(((hc.get("spec") or {}).get("release") or {}).get("image") or "")
        version = _ocp_version(image)
        workers = workers_joined(self.nodes.items())
        degraded = {n.strip() for n in config.data.get("degradedClusterOperators", "").split(",") if n.strip()}
        names = self.expected(hc)
        unavailable, broken = [], []
        for name in names:
            conds = operator_conditions(name, workers, degraded)
            self._publish_operator(name, conds, version)
            statuses = {c["type"]: c["status"] for c in conds}
            if statuses["Available"] != "True":
                unavailable.append(name)
            elif statuses["Degraded"] == "True":
                broken.append(name)
        self._publish_version(release_digest(image) if image else "", version, names, unavailable, broken)

    def _publish_operator(self, name: str, conds: list[dict[str, Any]], version: str) -> None:
        current = self.operators.get(("", name))
        if current is None:
            try:
                current = self.hosted.create(
                    CLUSTER_OPERATOR,
                    {
                        "apiVersion": "config.openshift.io/v1",
                        "kind": "ClusterOperator",
                        "metadata": {"name": name},
                        "spec": {},
                    },
                )
            except ApiError as exc:
                if not exc.conflict:
                    raise
                current = self.hosted.get(CLUSTER_OPERATOR, name)
        status = dict(current.get("status") or {})
        merged = _merged(status.get("conditions"), conds)
        # "Available operators must report the version of the operator itself with the name operator";
        # until then the version is left out (openshift/api config/v1/types_cluster_operator.go).
        available = any(c["type"] == "Available" and c["status"] == "True" for c in conds)
        versions = [{"name": "operator", "version": version}] if version and available else []
        if merged == status.get("conditions") and status.get("versions", []) == versions:
            return
        status.update(conditions=merged, versions=versions)
        self.hosted.replace(CLUSTER_OPERATOR, {**current, "status": status}, subresource="status")

    def _publish_version(
        self, image: str, version: str, names: list[str], unavailable: list[str], degraded: list[str]
    ) -> None:
        current = self.versions.get(("", CLUSTER_VERSION_NAME))
        if current is None:
            try:
                current = self.hosted.create(
                    CLUSTER_VERSION,
                    {
                        "apiVersion": "config.openshift.io/v1",
                        "kind": "ClusterVersion",
                        "metadata": {"name": CLUSTER_VERSION_NAME},
                        "spec": {"clusterID": str(uuid.uuid4())},
                    },
                )
            except ApiError as exc:
                if not exc.conflict:
                    raise
                current = self.hosted.get(CLUSTER_VERSION, CLUSTER_VERSION_NAME)
        status = dict(current.get("status") or {})
        history = [dict(h) for h in status.get("history") or []]
        stamp = now_rfc3339()
        if not history or history[0].get("image") != image:
            for entry in history[:1]:
                entry["completionTime"] = entry.get("completionTime") or stamp
            history.insert(
                0,
                {"state": "Partial", "startedTime": stamp, "completionTime": None, "version": version,
                 "image": image, "verified": False},
            )  # fmt: skip
        if not unavailable and history[0]["state"] == "Partial":
            history[0].update(state="Completed", completionTime=stamp)
        completed = any(h.get("state") == "Completed" for h in history)
        progressing, failing = _progress(version, names, unavailable, degraded, initializing=not completed)
        conds = [
            _condition(
                "Available", "True" if completed else "False", "", f"Done applying {version}" if completed else ""
            ),
            progressing,
            failing,
            _condition("RetrievedUpdates", "False", "NoChannel", "The update channel has not been configured."),
            _condition(
                "ReleaseAccepted", "True", "PayloadLoaded", f'Payload loaded version="{version}" image="{image}"'
            ),
        ]
        wanted = {
            **status,
            "desired": {"version": version, "image": image},
            "history": history,
            "observedGeneration": current["metadata"].get("generation", 1),
            "versionHash": status.get("versionHash") or "standin",
            "availableUpdates": None,
            "conditions": _merged(status.get("conditions"), conds),
        }
        if wanted == current.get("status"):
            return
        self.hosted.replace(CLUSTER_VERSION, {**current, "status": wanted}, subresource="status")
