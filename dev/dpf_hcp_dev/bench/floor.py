"""The floor: what provisioning costs with no Ansible at all. A plain Python client that writes,
for every new DPFHCPProvisioner, the same objects the operator wrote for one provisioner of the
same run (captured by ``snapshot``), publishes its Ready status when the HostedCluster reports
Available, and approves every pending kubelet CSR of the hosted cluster without a policy.

`python -m dpf_hcp_dev.bench.floor --kubeconfig ... --hosted-kubeconfig ... --snapshot ...`"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path
from typing import Any

from prometheus_client import start_http_server

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.apply import strip_server_fields
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import CSR
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    DPU_CLUSTER,
    HOSTED_CLUSTER,
    LABEL_NAME,
    LABEL_NAMESPACE,
    PROVISIONER,
)
from dpf_hcp_operator import metrics, signals
from dpf_hcp_operator.informers import Informer

SNAPSHOT_KINDS = [
    ("v1", "Secret"),
    ("hypershift.openshift.io/v1beta1", "HostedCluster"),
    ("hypershift.openshift.io/v1beta1", "NodePool"),
    ("v1", "ConfigMap"),
    ("metallb.io/v1beta1", "IPAddressPool"),
    ("metallb.io/v1beta1", "L2Advertisement"),
]


def snapshot(client: KubeClient, cr: dict[str, Any]) -> dict[str, Any]:
    """What the operator made for ``cr``: its labelled objects, the DPUCluster's kubeconfig
    reference and the provisioner's status; with the namespace and VIP to substitute."""
    ns, name = cr["metadata"]["namespace"], cr["metadata"]["name"]
    selector = f"{LABEL_NAMESPACE}={ns},{LABEL_NAME}={name}"
    objects = []
    for api_version, kind in SNAPSHOT_KINDS:
        res = client.resource(api_version, kind)
        for item in client.list(res, label_selector=selector).get("items") or []:
            obj = strip_server_fields({"apiVersion": api_version, "kind": kind, **item})
            obj.pop("status", None)
            obj["metadata"].pop("ownerReferences", None)
            objects.append(obj)
    ref = cr["spec"]["dpuClusterRef"]
    dpucluster = client.get(DPU_CLUSTER, ref["name"], ref.get("namespace"))
    fresh = client.get(PROVISIONER, name, ns)
    return {
        "namespace": ns,
        "virtualIP": cr["spec"].get("virtualIP", ""),
        "objects": objects,
        "dpuclusterKubeconfig": (dpucluster.get("spec") or {}).get("kubeconfig"),
        "status": fresh.get("status") or {},
    }


def substitute(value: Any, old: str, new: str) -> Any:
    return json.loads(json.dumps(value).replace(old, new))


class Floor:
    def __init__(self, client: KubeClient, hosted: KubeClient, snap: dict[str, Any]):
        self.client, self.hosted, self.snap = client, hosted, snap
        self.provisioners = Informer(client, PROVISIONER)
        self.hosted_clusters = Informer(client, HOSTED_CLUSTER)
        self.csrs = Informer(hosted, CSR, watch_timeout=120)
        self.provisioners.add_handler(self._on_provisioner)
        self.hosted_clusters.add_handler(self._on_hosted_cluster)
        self.csrs.add_handler(self._on_csr)
        self.done: set[str] = set()

    def _for(self, cr: dict[str, Any]) -> Any:
        out = substitute(self.snap, self.snap["namespace"], cr["metadata"]["namespace"])  # no one's prefix
        if self.snap["virtualIP"]:
            out = substitute(out, self.snap["virtualIP"], cr["spec"].get("virtualIP", ""))
        return out

    def _on_provisioner(self, kind: str, _old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        if kind != "ADDED" or new is None or new.get("status"):
            return
        mine = self._for(new)
        for obj in mine["objects"]:
            res = self.client.resource(obj["apiVersion"], obj["kind"])
            try:
                self.client.create(res, obj)
            except ApiError as exc:
                if not exc.conflict:
                    raise
        ref = new["spec"]["dpuClusterRef"]
        if mine["dpuclusterKubeconfig"]:
            self.client.patch(
                DPU_CLUSTER, ref["name"], {"spec": {"kubeconfig": mine["dpuclusterKubeconfig"]}}, ref.get("namespace")
            )

    def _on_hosted_cluster(self, _kind: str, _old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        if new is None or new["metadata"]["uid"] in self.done:
            return
        conditions = (new.get("status") or {}).get("conditions") or []
        if not any(c.get("type") == "Available" and c.get("status") == "True" for c in conditions):
            return
        ns, name = new["metadata"]["namespace"], new["metadata"]["name"]
        cr = self.provisioners.get((ns, name))
        if cr is None:
            return
        self.done.add(new["metadata"]["uid"])
        status = self._for(cr)["status"]
        self.client.replace(PROVISIONER, {**cr, "status": status}, subresource="status")

    def _on_csr(self, _kind: str, _old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        if new is None or (new.get("status") or {}).get("conditions"):
            return
        body = {
            **new,
            "status": {"conditions": [{"type": "Approved", "status": "True", "reason": "Floor", "message": "floor"}]},
        }
        try:
            self.hosted.replace(CSR, body, subresource="approval")
        except ApiError as exc:
            if not (exc.conflict or exc.not_found):
                raise

    def run(self, stop: threading.Event) -> None:
        for informer in (self.hosted_clusters, self.csrs, self.provisioners):
            informer.start(stop)
        stop.wait()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="floor", description=__doc__)
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--hosted-kubeconfig", required=True)
    p.add_argument("--snapshot", type=Path, required=True)
    p.add_argument("--metrics-port", type=int, required=True)
    a = p.parse_args(argv)
    metrics.count_api_requests()
    start_http_server(a.metrics_port, addr="127.0.0.1")
    stop = threading.Event()
    signals.stop_on_signals(stop, (signal.SIGTERM,))  # never stop.set() in a handler (signals.py)
    floor = Floor(
        KubeClient.from_kubeconfig(a.kubeconfig, maxsize=16),
        KubeClient.from_kubeconfig(a.hosted_kubeconfig),
        json.loads(a.snapshot.read_text()),
    )
    floor.run(stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
