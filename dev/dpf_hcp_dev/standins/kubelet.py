"""The DPU side of DPF's stand-in: walk DPUs through their phases and, from `DPU Cluster Config`
on, join the hosted cluster the way a kubelet does: a bootstrap CSR as the node-bootstrapper, then
the Node and a serving CSR as the node itself. Level-based: each pass looks at what exists.

Phases in DPF's order for a host-trusted DPU (../shared/notes/upstream-behaviour.md, section F):
Initializing -> OS Installing -> Rebooting -> Host Network Configuration -> DPU Cluster Config ->
Node Effect Removal -> Ready.
- OS Installing lasts until the DPU's bf.cfg can be made as DPF makes it (NVIDIA/doca-platform
  internal/provisioning/controllers/dpu/bfcfg/bfcfg.go): exactly one template ConfigMap in the
  DPFOperatorConfig's namespace matching its BFB, DPUCluster and DPUFlavor, rendered within 128 KiB
  unless its DPUFlavor skips the check (dpf.template_for, dpf.render). The DPUs here name their
  cluster from the start; DPF's allocator gives only Ready clusters to those that do not (allocator.go).
- Not emulated: DPF's earlier phases (Node Effect, Pending, Config FW Parameters, Prepare BFB), and
  the newest DPF's DPU Service Readiness phase before Node Effect Removal.
- Rebooting -> Host Network Configuration (state/rebooting.go, reconcileHostRebootPhase), then
  -> DPU Cluster Config (state/gnoi/hostnetworkconfig.go, SetupNetwork).
- DPU Cluster Config reads Node <dpu name> through the DPUCluster's own kubeconfig (the secret
  spec.kubeconfig names, dpucluster.go), waits until it exists and is Ready, applies
  spec.cluster.nodeLabels to it, then Node Effect Removal (state/dpu_cluster_config.go), then
  Ready (state/node_effect_removal.go), where the DPU's status.addresses are copied from its Node
  and kept in step with it (state/ready.go). Before that the DPU carries no addresses. A wrong
  kubeconfig in the DPUCluster's secret keeps its DPUs in DPU Cluster Config, as it does in DPF.

The kubelet's requests are real ones in shape (kubernetes pkg/kubelet/certificate/kubelet.go,
client-go util/certificate): ECDSA P-256 keys, names from `generateName: csr-`, the subject
system:node:<name> in system:nodes, a serving request's SANs its Hostname and IP addresses. The
usages carry key encipherment, which an RHCOS kubelet (RSA keys only, since Kubernetes 1.27) does
not send: the local hosted cluster is Kubernetes 1.20, whose signer signs only with it.

A DPU annotated `standins.dpf-hcp.dev/hold: "true"` is left as it is (tests set its phase)."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import CSR, NODE, SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import DPU, DPU_CLUSTER
from dpf_hcp_dev.certificates import request_pem
from dpf_hcp_dev.localcluster.controlplane import BOOTSTRAPPER
from dpf_hcp_dev.standins.dpf import (
    BFCFGError,
    KubeconfigUnreadable,
    cluster_kubeconfig,
    render,
    skips_size_check,
    template_for,
)

LOG = logging.getLogger("standins")
HOLD = "standins.dpf-hcp.dev/hold"
CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
SERVING_SIGNER = "kubernetes.io/kubelet-serving"
CERTIFICATE_WAIT_SECONDS = 15 * 60
# The timed steps, each after step_seconds (OS Installing also waits for its DPUCluster).
STEPS = {
    "Initializing": "OS Installing",
    "OS Installing": "Rebooting",
    "Rebooting": "Host Network Configuration",
    "Host Network Configuration": "DPU Cluster Config",
}
CLIENT_USAGES = ["digital signature", "key encipherment", "client auth"]  # 1.20 signs exactly these
SERVING_USAGES = ["digital signature", "key encipherment", "server auth"]


def _approved(csr: dict[str, Any] | None) -> bool:
    return any(c.get("type") == "Approved" for c in ((csr or {}).get("status") or {}).get("conditions") or [])


def _issued(csr: dict[str, Any] | None) -> bool:
    return bool(((csr or {}).get("status") or {}).get("certificate"))


class DPUWalker:
    def __init__(
        self,
        mgmt: KubeClient,
        hosted_kubeconfigs: Path,
        step_seconds: float = 0.5,
        kubeconfig_key: str = "super-admin.conf",
    ):
        self.mgmt = mgmt
        self.dir = hosted_kubeconfigs
        self.step = step_seconds
        self.kubeconfig_key = kubeconfig_key
        self.since: dict[str, tuple[str, float]] = {}  # DPU uid -> (phase, when it was entered)
        self._clients: dict[str, KubeClient] = {}
        # (node name, signer) -> (CSR name, when asked): a kubelet knows the CSR it made
        self.requested: dict[tuple[str, str], tuple[str, float]] = {}
        self.bfcfg: dict[str, str] = {}  # DPU name -> its rendered bf.cfg
        self.bfcfg_errors: dict[str, str] = {}  # DPU name -> why DPF could not make it
        # DPUCluster uid and its secret's resourceVersion -> a client through that kubeconfig
        self._cluster_clients: dict[tuple[str, str], KubeClient] = {}

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
        later = STEPS.get(phase)
        if later is not None and waited >= self.step and (phase != "OS Installing" or self._installable(dpu)):
            self._set_phase(dpu, later)
        elif phase in ("DPU Cluster Config", "Node Effect Removal", "Ready"):
            node = self._join(name, _node_address(name, index))
            if node is None:
                return
            if phase == "DPU Cluster Config":
                if self._configured_through_cluster_kubeconfig(dpu):
                    self._set_phase(dpu, "Node Effect Removal")
            elif (phase == "Node Effect Removal" and waited >= self.step) or (
                phase == "Ready" and (dpu.get("status") or {}).get("addresses") != _addresses(node)
            ):
                self._set_phase(dpu, "Ready", addresses=_addresses(node))

    def _cluster(self, dpu: dict[str, Any]) -> dict[str, Any] | None:
        """The DPU's DPUCluster, named as DPF reads spec.cluster: name and namespace as written."""
        ref = (dpu.get("spec") or {}).get("cluster") or {}
        if not (ref.get("name") and ref.get("namespace")):
            return None
        return self.mgmt.get_or_none(DPU_CLUSTER, ref["name"], ref["namespace"])

    def _installable(self, dpu: dict[str, Any]) -> bool:
        """Its bf.cfg rendered as DPF would (dpf.template_for, render): the rendered text is kept in
        ``bfcfg``, DPF's error in ``bfcfg_errors``, per DPU name. (DPF checks that the cluster is
        Ready when it allocates one, in Initializing; a DPU that names its cluster goes on.)"""
        name = dpu["metadata"]["name"]
        try:
            self.bfcfg[name] = render(template_for(self.mgmt, dpu), dpu, skips_size_check(self.mgmt, dpu))
        except BFCFGError as exc:
            if self.bfcfg_errors.get(name) != str(exc):
                LOG.warning("DPU %s: %s", name, exc)
            self.bfcfg_errors[name] = str(exc)
            return False
        self.bfcfg_errors.pop(name, None)
        return True

    def _configured_through_cluster_kubeconfig(self, dpu: dict[str, Any]) -> bool:
        """DPF's DPU Cluster Config step (state/dpu_cluster_config.go, Handle): Node <dpu name> read
        with the DPUCluster's kubeconfig, Ready, spec.cluster.nodeLabels applied to it; any error
        leaves the DPU where it is."""
        cluster = self._cluster(dpu)
        if cluster is None:
            return False
        try:
            admin = self._cluster_client(cluster)
            node = admin.get(NODE, dpu["metadata"]["name"])
        except (KubeconfigUnreadable, ApiError):
            return False
        if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in _conditions(node)):
            return False
        labels = ((dpu.get("spec") or {}).get("cluster") or {}).get("nodeLabels") or {}
        have = (node.get("metadata") or {}).get("labels") or {}
        if any(have.get(k) != v for k, v in labels.items()):
            try:
                admin.patch(NODE, node["metadata"]["name"], {"metadata": {"labels": labels}})
            except ApiError:
                return False
        return True

    def _cluster_client(self, cluster: dict[str, Any]) -> KubeClient:
        """DPF builds this client on every pass (dpucluster.NewConfig(...).Client); the stand-in keeps
        one per version of the secret, which reads the same."""
        meta = cluster["metadata"]
        secret_name = (cluster.get("spec") or {}).get("kubeconfig") or ""
        secret = self.mgmt.get_or_none(SECRET, secret_name, meta["namespace"]) if secret_name else None
        key = (meta.get("uid", ""), ((secret or {}).get("metadata") or {}).get("resourceVersion", ""))
        if key not in self._cluster_clients:
            self._cluster_clients[key] = cluster_kubeconfig(self.mgmt, cluster, self.kubeconfig_key)
        return self._cluster_clients[key]

    def _request(
        self, client: KubeClient, name: str, signer: str, request: Callable[[], str], usages: list[str]
    ) -> dict[str, Any] | None:
        """The kubelet's CSR for ``signer``: the one it made, or a new one (generateName csr-) when
        it has none or has waited on it CERTIFICATE_WAIT_SECONDS (client-go certificate_manager.go,
        certificateWaitTimeout; util/certificate/csr/csr.go, RequestCertificateWithContext)."""
        known = self.requested.get((name, signer)) or self._made_before(client, name, signer)
        csr = client.get_or_none(CSR, known[0]) if known else None
        if csr is not None and (_issued(csr) or time.monotonic() - known[1] < CERTIFICATE_WAIT_SECONDS):  # type: ignore[index]
            return csr
        created = client.create(
            CSR,
            {
                "apiVersion": "certificates.k8s.io/v1",
                "kind": "CertificateSigningRequest",
                "metadata": {"generateName": "csr-"},
                "spec": {"signerName": signer, "request": request(), "usages": usages},
            },
        )
        self.requested[(name, signer)] = (created["metadata"]["name"], time.monotonic())
        return None

    def _made_before(self, client: KubeClient, name: str, signer: str) -> tuple[str, float] | None:
        """After a restart: the newest CSR of this node and signer, as the kubelet's certificate
        store remembers what it holds. Read once per node and signer."""
        mine = [
            csr
            for csr in client.list(CSR).get("items") or []
            if (csr.get("spec") or {}).get("signerName") == signer and csr_common_name(csr) == f"system:node:{name}"
        ]
        if not mine:
            return None
        newest = max(mine, key=lambda c: c["metadata"].get("creationTimestamp", ""))
        self.requested[(name, signer)] = (newest["metadata"]["name"], time.monotonic())
        return self.requested[(name, signer)]

    def _join(self, name: str, address: str) -> dict[str, Any] | None:
        """One step of a kubelet's join; its Node once it exists and is Ready."""
        bootstrapper, node_client = self.as_user(BOOTSTRAPPER), self.as_user(f"system:node:{name}")
        if bootstrapper is None or node_client is None:
            return None  # the local hosted cluster has no token for this node name
        client_csr = self._request(
            bootstrapper,
            name,
            CLIENT_SIGNER,
            lambda: request_pem(f"system:node:{name}", ["system:nodes"]),
            CLIENT_USAGES,
        )
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
        if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in _conditions(node)):
            return None
        ips = [a["address"] for a in _addresses(node) if a["type"] in ("InternalIP", "ExternalIP")]
        self._request(
            node_client,
            name,
            SERVING_SIGNER,
            lambda: request_pem(f"system:node:{name}", ["system:nodes"], dns=[name], ips=ips),
            SERVING_USAGES,
        )
        return node


def csr_common_name(csr: dict[str, Any]) -> str | None:
    """The CN of a CSR's request, None when it does not parse."""
    try:
        request = x509.load_pem_x509_csr(base64.b64decode((csr.get("spec") or {}).get("request") or ""))
        names = request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError:
        return None
    return str(names[0].value) if names else None


def _conditions(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in (node.get("status") or {}).get("conditions") or [] if isinstance(c, dict)]


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
