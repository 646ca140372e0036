"""The local test bed: a management cluster and a hosted cluster, and what they need installed."""

from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.apply import apply
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import CRD
from dpf_hcp_dev.localcluster.controlplane import BOOTSTRAPPER, ControlPlane, kube_binaries

REPO = Path(__file__).resolve().parents[3]
OUR_CRDS = REPO / "helm" / "dpf-hcp-provisioner-operator" / "crds"
FIXTURE_CRDS = REPO / "tests" / "fixtures" / "crds"
DPF_NAMESPACE = "dpf-operator-system"
# Node identities the hosted cluster's token file knows (a kubelet's credentials after joining).
NODE_NAMES = [f"dpu-node-{i}" for i in range(60)]
OPERATOR_NAMESPACE = "dpf-hcp-provisioner-system"


@dataclass
class Environment:
    directory: Path
    management: ControlPlane
    hosted: ControlPlane

    @property
    def state_file(self) -> Path:
        return self.directory / "state.json"

    def save(self) -> None:
        self.state_file.write_text(
            json.dumps({"management": self.management.to_dict(), "hosted": self.hosted.to_dict()}, indent=2)
        )
        self.state_file.chmod(0o600)

    @classmethod
    def load(cls, directory: Path) -> Environment:
        data = json.loads((directory / "state.json").read_text())
        return cls(directory, ControlPlane.from_dict(data["management"]), ControlPlane.from_dict(data["hosted"]))

    @classmethod
    def up(cls, directory: Path, install_fixture_crds: bool = True) -> Environment:
        bin_dir = kube_binaries()
        for stale in ("management", "hosted", "state.json"):  # a new environment starts empty
            path = directory / stale
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        directory.mkdir(parents=True, exist_ok=True)
        env = cls(
            directory,
            ControlPlane("management", directory / "management"),
            ControlPlane("hosted", directory / "hosted"),
        )
        try:
            # Side by side: each waits mostly for its own API server to come up.
            with ThreadPoolExecutor(max_workers=2) as pool:
                started = [
                    pool.submit(env.management.start, bin_dir, []),
                    pool.submit(env.hosted.start, bin_dir, NODE_NAMES),
                ]
                for future in started:
                    future.result()
            env.save()
            env.bootstrap(install_fixture_crds)
        except BaseException:
            env.down()
            raise
        return env

    def down(self) -> None:
        self.management.stop()
        self.hosted.stop()
        if self.state_file.exists():
            self.state_file.unlink()

    def client(self, cluster: str = "management", user: str = "admin"):

        cp = self.management if cluster == "management" else self.hosted
        return KubeClient.from_kubeconfig(str(cp.kubeconfig_path(user)))

    def bootstrap(self, install_fixture_crds: bool) -> None:
        """RBAC for the token users, the operator namespace, and the CRDs."""

        mgmt = self.client("management")
        # MetalLB's namespace (its fixture CRDs are installed) and DPF's (its DPFOperatorConfig)
        for ns in (OPERATOR_NAMESPACE, "metallb-system", DPF_NAMESPACE):
            apply(mgmt, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        # The operator's identity: cluster-admin until the chart's least-privilege RBAC binds it.
        apply(mgmt, _binding("dpf-hcp-operator-admin", "cluster-admin", "Group", "dpf-hcp:operators"))
        hosted = self.client("hosted")
        apply(hosted, _binding("dpf-hcp-operator-admin", "cluster-admin", "Group", "dpf-hcp:operators"))
        apply(hosted, _binding("node-bootstrapper", "system:node-bootstrapper", "User", BOOTSTRAPPER))
        # Someone allowed to ask for certificates who is not the bootstrapper (a tenant workload, say).
        apply(hosted, _binding("intruder-csr", "system:node-bootstrapper", "User", "intruder"))
        apply(hosted, _binding("nodes", "system:node", "Group", "system:nodes"))
        install_crds(mgmt, sorted(OUR_CRDS.glob("*.yaml")))
        # What OpenShift's cluster version operator publishes in a hosted cluster (the CVO stand-in writes
        # them; upstream's CRDs are not among the conformance set, so these serve every environment).
        install_crds(hosted, sorted((FIXTURE_CRDS / "hosted").glob("*.yaml")))
        if install_fixture_crds:
            install_crds(mgmt, sorted(FIXTURE_CRDS.glob("*.yaml")))
            # DPF installed as its guide says, with the bf.cfg templates the provisioner writes enabled.
            apply(
                mgmt,
                {
                    "apiVersion": "operator.dpu.nvidia.com/v1alpha1",
                    "kind": "DPFOperatorConfig",
                    "metadata": {"name": "dpfoperatorconfig", "namespace": DPF_NAMESPACE},
                    "spec": {
                        "provisioningController": {"enableDynamicBFCFGTemplates": True},
                        "networking": {"controlPlaneMTU": 1500},
                    },
                },
            )

    def describe(self) -> str:
        return "\n".join(
            [
                f"management cluster: {self.management.server}",
                f"  KUBECONFIG={self.management.kubeconfig_path()}",
                f"  operator identity: {self.management.kubeconfig_path('dpf-hcp-operator')}",
                f"hosted cluster:     {self.hosted.server}",
                f"  KUBECONFIG={self.hosted.kubeconfig_path()}",
                f"logs: {self.directory}/*/logs",
            ]
        )


def _binding(name: str, role: str, subject_kind: str, subject: str) -> dict:  # type: ignore[type-arg]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": subject_kind, "name": subject}],
    }


def install_crds(client, paths: list[Path], timeout: float = 30.0) -> list[str]:
    """Create or update CRDs from files and wait until they are Established."""

    names = []
    version = client.request("GET", "/version")
    pre_cel = int(str(version.get("minor", "99")).rstrip("+")) < 25
    for path in paths:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                apply(client, without_cel(doc) if pre_cel else doc)
                names.append(doc["metadata"]["name"])
    deadline = time.monotonic() + timeout
    for name in names:
        while True:
            crd = client.get(CRD, name)
            conds = {c["type"]: c["status"] for c in (crd.get("status") or {}).get("conditions") or []}
            if conds.get("Established") == "True":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRD {name} not Established: {conds}")
            time.sleep(0.1)
    return names


def default_directory() -> Path:
    return Path(os.environ.get("DPF_HCP_LOCALCLUSTER_DIR", REPO / ".build" / "localcluster"))


def without_cel(node):
    """The CRD without CEL rules, for API servers older than 1.25 (the webhook enforces them there)."""
    if isinstance(node, dict):
        return {k: without_cel(v) for k, v in node.items() if k != "x-kubernetes-validations"}
    if isinstance(node, list):
        return [without_cel(v) for v in node]
    return node
