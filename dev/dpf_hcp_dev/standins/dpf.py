"""A DPF stand-in: DPUClusters get the status DPF's provisioning controller would give them."""

from __future__ import annotations

from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.conditions import merge
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.kube import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.resources import DPU_CLUSTER
from dpf_hcp_dev.standins.config import StandinConfig


class DPFStandin:
    def __init__(self, client: KubeClient):
        self.client = client

    def reconcile_dpucluster(self, cluster: dict[str, Any], _config: StandinConfig) -> None:
        if cluster["metadata"].get("deletionTimestamp"):
            return
        spec = cluster.get("spec") or {}
        status = dict(cluster.get("status") or {})
        ready = bool(spec.get("kubeconfig"))
        status["phase"] = "Ready" if ready else "Pending"
        status["conditions"] = merge(
            status.get("conditions"),
            [
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "reason": "KubeconfigProvided" if ready else "WaitingForKubeconfig",
                    "message": "The cluster's kubeconfig is set" if ready else "spec.kubeconfig is not set yet",
                }
            ],
            cluster["metadata"].get("generation"),
        )
        if status != (cluster.get("status") or {}):
            try:
                self.client.replace(DPU_CLUSTER, {**cluster, "status": status}, subresource="status")
            except ApiError as exc:
                if not (exc.conflict or exc.not_found):
                    raise
