"""The DPU side of DPF's stand-in: walk DPUs through their phases and, from `DPU Cluster Config`
on, join the hosted cluster the way a kubelet does: a bootstrap CSR as the node-bootstrapper, then
the Node and a serving CSR as the node itself. Level-based: each pass looks at what exists.

As DPF does (NVIDIA/doca-platform internal/provisioning/controllers/dpu/state/
dpu_cluster_config.go, node_effect_removal.go, ready.go): `DPU Cluster Config` waits until the Node
exists and is Ready, then `Node Effect Removal`, then `Ready`, where the DPU's status.addresses
are copied from its Node and kept in step with it. Before that the DPU carries no addresses.

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
        address = _node_address(name, index)
        if phase == "Initializing" and waited >= self.step:
            self._set_phase(dpu, "OS Installing")
        elif phase == "OS Installing" and waited >= self.step and self._cluster_has_kubeconfig(dpu):
            self._set_phase(dpu, "DPU Cluster Config")
        elif phase in ("DPU Cluster Config", "Node Effect Removal", "Ready"):
            node = self._join(name, address)
            if phase == "DPU Cluster Config" and node is not None:
                self._set_phase(dpu, "Node Effect Removal")
            elif (phase == "Node Effect Removal" and waited >= self.step and node is not None) or (
                phase == "Ready" and node is not None and (dpu.get("status") or {}).get("addresses") != _addresses(node)
            ):
                self._set_phase(dpu, "Ready", addresses=_addresses(node))

    def _cluster_has_kubeconfig(self, dpu: dict[str, Any]) -> bool:
        ref = (dpu.get("spec") or {}).get("cluster") or {}
        cluster = self.mgmt.get_or_none(
            DPU_CLUSTER, ref.get("name", ""), ref.get("namespace") or dpu["metadata"]["namespace"]
        )
        return bool(((cluster or {}).get("spec") or {}).get("kubeconfig"))

    def _join(self, name: str, address: str) -> dict[str, Any] | None:
        """One step of a kubelet's join; its Node once it exists and is Ready."""
        bootstrapper, node_client = self.as_user(BOOTSTRAPPER), self.as_user(f"system:node:{name}")
        if bootstrapper is None or node_client is None:
            return None  # the local hosted cluster has no token for this node name
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
            return None
        if not (_approved(client_csr) and _issued(client_csr)):
            return None
        node = node_client.get_or_none(NODE, name)
        if node is None:
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
            return None
        conditions = (node.get("status") or {}).get("conditions") or []
        if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            return None
        ips = [a["address"] for a in _addresses(node) if a["type"] in ("InternalIP", "ExternalIP")]
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
                        "request": request_pem(f"system:node:{name}", ["system:nodes"], dns=[name], ips=ips),
                        "usages": SERVING_USAGES,
                    },
                },
            )
        return node


def _node_address(name: str, index: int) -> str:
    """The address a DPU's kubelet reports, one per node name for the life of the hosted cluster (two
    Nodes with one address would make it neither's): dpu-node-N, the names the local hosted cluster
    has tokens for, get 10.200.0.N+1."""
    number = name.rsplit("-", 1)[-1]
    if name.startswith("dpu-node-") and number.isdigit():
        return f"10.200.{int(number) // 250}.{int(number) % 250 + 1}"
    return f"10.200.{index // 250 + 100}.{index % 250 + 1}"


def _addresses(node: dict[str, Any]) -> list[dict[str, str]]:
    """A Node's addresses as DPF copies them into its DPU's status in phase Ready."""
    return [
        {"type": a["type"], "address": a["address"]}
        for a in (node.get("status") or {}).get("addresses") or []
        if isinstance(a, dict) and a.get("type") and a.get("address")
    ]
