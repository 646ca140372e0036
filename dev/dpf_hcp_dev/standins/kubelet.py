"""The DPU side of DPF's stand-in: walk DPUs through their phases and, at `DPU Cluster Config`,
join the hosted cluster the way a kubelet does: a bootstrap CSR as the node-bootstrapper, then
the Node and a serving CSR as the node itself. Level-based: each pass looks at what exists.

A DPU annotated `standins.dpf-hcp.dev/hold: "true"` is left as it is (tests set its phase)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.kube import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.resources import CSR, DPU, DPU_CLUSTER, NODE
from dpf_hcp_dev.certificates import request_pem
from dpf_hcp_dev.localcluster.controlplane import BOOTSTRAPPER

HOLD = "standins.dpf-hcp.dev/hold"
CLIENT_USAGES = ["digital signature", "key encipherment", "client auth"]  # 1.20 signs exactly these
SERVING_USAGES = ["digital signature", "key encipherment", "server auth"]


def _approved(csr: dict[str, Any] | None) -> bool:
    return any(c.get("type") == "Approved" for c in ((csr or {}).get("status") or {}).get("conditions") or [])


def _issued(csr: dict[str, Any] | None) -> bool:
    return bool(((csr or {}).get("status") or {}).get("certificate"))


class DPUWalker:
    def __init__(self, mgmt: KubeClient, hosted_kubeconfigs: Path, step_seconds: float = 0.5):
        self.mgmt = mgmt
        self.dir = hosted_kubeconfigs
        self.step = step_seconds
        self.since: dict[str, tuple[str, float]] = {}  # DPU uid -> (phase, when it was entered)
        self._clients: dict[str, KubeClient] = {}

    def as_user(self, user: str) -> KubeClient | None:
        """A hosted cluster client acting as ``user`` (a token user of the local hosted cluster)."""
        if user not in self._clients:
            path = self.dir / f"{user.replace(':', '_')}.kubeconfig"
            if not path.exists():
                return None
            self._clients[user] = KubeClient.from_kubeconfig(str(path))
        return self._clients[user]

    def _set_phase(self, dpu: dict[str, Any], phase: str, **status: Any) -> None:
        body = {**dpu, "status": {**(dpu.get("status") or {}), "phase": phase, **status}}
        try:
            self.mgmt.replace(DPU, body, subresource="status")
        except ApiError as exc:
            if not (exc.conflict or exc.not_found):
                raise

    def _elapsed(self, dpu: dict[str, Any], phase: str) -> float:
        uid = dpu["metadata"]["uid"]
        seen = self.since.get(uid)
        if not seen or seen[0] != phase:
            self.since[uid] = (phase, time.monotonic())
            return 0.0
        return time.monotonic() - seen[1]

    def reconcile(self, dpu: dict[str, Any], index: int) -> None:
        meta = dpu["metadata"]
        if meta.get("deletionTimestamp") or (meta.get("annotations") or {}).get(HOLD) == "true":
            return
        name = meta["name"]
        phase = (dpu.get("status") or {}).get("phase") or "Initializing"
        waited = self._elapsed(dpu, phase)
        address = f"10.200.{index // 250}.{index % 250 + 1}"
        if phase == "Initializing" and waited >= self.step:
            self._set_phase(dpu, "OS Installing", addresses=[{"type": "InternalIP", "address": address}])
        elif phase == "OS Installing" and waited >= self.step and self._cluster_has_kubeconfig(dpu):
            self._set_phase(dpu, "DPU Cluster Config")
        elif phase == "DPU Cluster Config":
            if self._join(name, address):
                self._set_phase(dpu, "Host Network Configuration")
        elif phase == "Host Network Configuration" and waited >= self.step:
            self._set_phase(dpu, "Ready")

    def _cluster_has_kubeconfig(self, dpu: dict[str, Any]) -> bool:
        ref = (dpu.get("spec") or {}).get("cluster") or {}
        cluster = self.mgmt.get_or_none(
            DPU_CLUSTER, ref.get("name", ""), ref.get("namespace") or dpu["metadata"]["namespace"]
        )
        return bool(((cluster or {}).get("spec") or {}).get("kubeconfig"))

    def _join(self, name: str, address: str) -> bool:
        """One step of a kubelet's join; True once its serving certificate is approved."""
        bootstrapper, node_client = self.as_user(BOOTSTRAPPER), self.as_user(f"system:node:{name}")
        if bootstrapper is None or node_client is None:
            return False  # the local hosted cluster has no token for this node name
        client_csr = bootstrapper.get_or_none(CSR, f"{name}-bootstrap")
        if client_csr is None:
            bootstrapper.create(
                CSR,
                {
                    "apiVersion": "certificates.k8s.io/v1",
                    "kind": "CertificateSigningRequest",
                    "metadata": {"name": f"{name}-bootstrap"},
                    "spec": {
                        "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
                        "request": request_pem(f"system:node:{name}", ["system:nodes"]),
                        "usages": CLIENT_USAGES,
                    },
                },
            )
            return False
        if not (_approved(client_csr) and _issued(client_csr)):
            return False
        if node_client.get_or_none(NODE, name) is None:
            node_client.create(NODE, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
            node_client.patch(
                NODE,
                name,
                {
                    "status": {
                        "conditions": [
                            {
                                "type": "Ready",
                                "status": "True",
                                "reason": "KubeletReady",
                                "message": "kubelet is posting ready status",
                            }
                        ],
                        "addresses": [
                            {"type": "InternalIP", "address": address},
                            {"type": "Hostname", "address": name},
                        ],
                    }
                },
                subresource="status",
                kind="strategic",
            )
            return False
        serving = node_client.get_or_none(CSR, f"{name}-serving")
        if serving is None:
            node_client.create(
                CSR,
                {
                    "apiVersion": "certificates.k8s.io/v1",
                    "kind": "CertificateSigningRequest",
                    "metadata": {"name": f"{name}-serving"},
                    "spec": {
                        "signerName": "kubernetes.io/kubelet-serving",
                        "request": request_pem(f"system:node:{name}", ["system:nodes"], dns=[name], ips=[address]),
                        "usages": SERVING_USAGES,
                    },
                },
            )
            return False
        return _approved(serving)
