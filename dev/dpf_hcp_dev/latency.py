"""`python -m dpf_hcp_dev.latency`: how fast the operator follows, measured through watches on a
running local environment (`make demo`): CR created -> HostedCluster exists, and the stand-in's
Available=True -> the provisioner's Ready=True. Prints a table; --json writes the figures."""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.apply import apply
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.kube import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.resources import (
    CSR,
    DPU,
    HOSTED_CLUSTER,
    PROVISIONER,
)
from dpf_hcp_dev.certificates import request_pem
from dpf_hcp_dev.localcluster.controlplane import BOOTSTRAPPER
from dpf_hcp_dev.localcluster.environment import REPO, Environment

RELEASE = "quay.io/openshift-release-dev/ocp-release:4.19.0-ec.5-x86_64"


class Stamps:
    """First time each (kind, namespace, name, what) was seen, from watch events."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str, str, str], float] = {}
        self.lock = threading.Lock()

    def mark(self, kind: str, obj: dict[str, Any], what: str) -> None:
        key = (kind, obj["metadata"]["namespace"], obj["metadata"]["name"], what)
        with self.lock:
            self.seen.setdefault(key, time.monotonic())

    def get(self, kind: str, ns: str, name: str, what: str) -> float | None:
        with self.lock:
            return self.seen.get((kind, ns, name, what))


def _true(obj: dict[str, Any], type_: str) -> bool:
    return any(
        c.get("type") == type_ and c.get("status") == "True" for c in (obj.get("status") or {}).get("conditions") or []
    )


def watch(client: KubeClient, stamps: Stamps, stop: threading.Event) -> None:
    def run(res, kind, marks) -> None:
        rv = client.list(res)["metadata"]["resourceVersion"]
        while not stop.is_set():
            try:
                for event, obj in client.watch(res, resource_version=rv, timeout_seconds=30):
                    rv = obj["metadata"].get("resourceVersion", rv)
                    if event not in ("ADDED", "MODIFIED"):
                        continue
                    for what, pred in marks.items():
                        if pred(obj):
                            stamps.mark(kind, obj, what)
            except ApiError:
                rv = client.list(res)["metadata"]["resourceVersion"]

    threading.Thread(
        target=run,
        args=(HOSTED_CLUSTER, "hc", {"exists": lambda o: True, "available": lambda o: _true(o, "Available")}),
        daemon=True,
    ).start()
    threading.Thread(target=run, args=(PROVISIONER, "cr", {"ready": lambda o: _true(o, "Ready")}), daemon=True).start()


def csr_latencies(env: Environment, client: KubeClient, ns: str, count: int) -> list[float]:
    """Bootstrap CSRs for DPUs held in `DPU Cluster Config` of the provisioner in ``ns``, one at a
    time; seconds from the create call to the Approved condition seen by a watch."""
    hosted = env.client("hosted")
    bootstrapper = KubeClient.from_kubeconfig(str(env.hosted.kubeconfig_path(BOOTSTRAPPER)))
    names = [f"lat-dpu-{uuid.uuid4().hex[:6]}-{i}" for i in range(count)]
    for name in names:
        obj = client.create(
            DPU,
            {
                "apiVersion": "provisioning.dpu.nvidia.com/v1alpha1",
                "kind": "DPU",
                "metadata": {"name": name, "namespace": ns, "annotations": {"standins.dpf-hcp.dev/hold": "true"}},
                "spec": {
                    "bfb": "b",
                    "dpuDeviceName": "d",
                    "dpuFlavor": "f",
                    "dpuNodeName": name,
                    "serialNumber": name,
                    "nodeEffect": {"noEffect": True},
                    "cluster": {"name": "dpus", "namespace": ns},
                },
            },
        )
        client.replace(DPU, {**obj, "status": {"phase": "DPU Cluster Config"}}, subresource="status")
    time.sleep(1.0)  # the operator's DPU cache sees them
    approved_at: dict[str, float] = {}
    stop = threading.Event()
    rv = hosted.list(CSR)["metadata"]["resourceVersion"]

    def watch_csrs() -> None:
        for event, obj in hosted.watch(CSR, resource_version=rv, timeout_seconds=120):
            if event == "MODIFIED" and any(
                c.get("type") == "Approved" for c in (obj.get("status") or {}).get("conditions") or []
            ):
                approved_at.setdefault(obj["metadata"]["name"], time.monotonic())
            if stop.is_set():
                return

    threading.Thread(target=watch_csrs, daemon=True).start()
    latencies = []
    for name in names:
        started = time.monotonic()
        bootstrapper.create(
            CSR,
            {
                "apiVersion": "certificates.k8s.io/v1",
                "kind": "CertificateSigningRequest",
                "metadata": {"name": name},
                "spec": {
                    "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
                    "request": request_pem(f"system:node:{name}", ["system:nodes"]),
                    "usages": ["digital signature", "key encipherment", "client auth"],
                },
            },
        )
        deadline = started + 10
        while name not in approved_at and time.monotonic() < deadline:
            time.sleep(0.002)
        if name in approved_at:
            latencies.append(approved_at[name] - started)
        time.sleep(0.2)
    stop.set()
    return latencies


def admission_latencies(client: KubeClient, ns: str, count: int) -> list[float]:
    """Seconds per server-side dry-run create of a valid provisioner: the API server calls the webhook."""
    apply(
        client,
        {
            "apiVersion": "provisioning.dpu.nvidia.com/v1alpha1",
            "kind": "DPUCluster",
            "metadata": {"name": "free", "namespace": ns},
            "spec": {"type": "static"},
        },
    )
    body = {
        "apiVersion": "provisioning.dpu.hcp.io/v1alpha1",
        "kind": "DPFHCPProvisioner",
        "metadata": {"name": "admission-probe", "namespace": ns},
        "spec": {
            "baseDomain": "example.com",
            "dpuClusterRef": {"name": "free", "namespace": ns},
            "ocpReleaseImage": RELEASE,
            "pullSecretRef": {"name": "pull-secret"},
            "sshKeySecretRef": {"name": "ssh-key"},
            "virtualIP": "10.77.1.1",
        },
    }
    values = []
    for _ in range(count):
        started = time.monotonic()
        client.create(PROVISIONER, body, dry_run=True)
        values.append(time.monotonic() - started)
    return values


def summarize(label: str, values: list[float], milliseconds: bool = False) -> dict[str, float]:
    """n, p50, p95, max and mean of ``values`` (seconds), printed as one line of the table."""
    if not values:
        print(f"{label:45s} n=  0  (none completed)")
        return {"n": 0}
    figures = {
        "n": len(values),
        "p50": percentile(values, 0.5),
        "p95": percentile(values, 0.95),
        "max": max(values),
        "mean": statistics.mean(values),
    }
    scale, unit, digits = (1000, "ms", 1) if milliseconds else (1, "s", 2)
    print(
        f"{label:45s} n={len(values):3d}  "
        + "  ".join(f"{k} {figures[k] * scale:.{digits}f}{unit}" for k in ("p50", "p95", "max"))
    )
    return figures


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="latency", description=__doc__)
    p.add_argument("--dir", type=Path, default=REPO / ".build" / "demo" / "cluster", help="a running environment")
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--gap", type=float, default=3.0, help="seconds between creations (one at a time)")
    p.add_argument(
        "--csrs",
        type=int,
        default=0,
        help="also time N bootstrap CSRs from creation to approval (DPUs held in DPU Cluster Config)",
    )
    p.add_argument(
        "--admission",
        type=int,
        default=0,
        help="also time N server-side dry-run creates of a valid provisioner (through the webhook)",
    )
    p.add_argument("--json", type=Path)
    a = p.parse_args(argv)
    env = Environment.load(a.dir)
    client = env.client()
    stamps, stop = Stamps(), threading.Event()
    watch(client, stamps, stop)
    time.sleep(0.5)
    run = uuid.uuid4().hex[:5]
    created: dict[str, float] = {}
    for i in range(a.count):
        ns = f"lat-{run}-{i}"
        apply(client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        for name, data in (
            ("pull-secret", {".dockerconfigjson": '{"auths":{}}'}),
            ("ssh-key", {"id_rsa.pub": "ssh-ed25519 A"}),
        ):
            apply(
                client,
                {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, "stringData": data},
            )
        apply(
            client,
            {
                "apiVersion": "provisioning.dpu.nvidia.com/v1alpha1",
                "kind": "DPUCluster",
                "metadata": {"name": "dpus", "namespace": ns},
                "spec": {"type": "static"},
            },
        )
        created[ns] = time.monotonic()
        client.create(
            PROVISIONER,
            {
                "apiVersion": "provisioning.dpu.hcp.io/v1alpha1",
                "kind": "DPFHCPProvisioner",
                "metadata": {"name": "hcp", "namespace": ns},
                "spec": {
                    "baseDomain": "example.com",
                    "dpuClusterRef": {"name": "dpus", "namespace": ns},
                    "ocpReleaseImage": RELEASE,
                    "pullSecretRef": {"name": "pull-secret"},
                    "sshKeySecretRef": {"name": "ssh-key"},
                    "virtualIP": f"10.77.0.{i + 1}",
                },
            },
        )
        time.sleep(a.gap)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not all(stamps.get("cr", ns, "hcp", "ready") for ns in created):
        time.sleep(0.1)
    stop.set()
    to_hc = [
        stamps.get("hc", ns, "hcp", "exists") - t for ns, t in created.items() if stamps.get("hc", ns, "hcp", "exists")
    ]
    to_ready = [
        stamps.get("cr", ns, "hcp", "ready") - stamps.get("hc", ns, "hcp", "available")
        for ns in created
        if stamps.get("cr", ns, "hcp", "ready") and stamps.get("hc", ns, "hcp", "available")
    ]
    figures = {
        "CR created -> HostedCluster exists": summarize("CR created -> HostedCluster exists", to_hc),
        "HostedCluster Available=True -> Ready=True": summarize("HostedCluster Available=True -> Ready=True", to_ready),
    }
    if a.csrs:
        label = "CSR created -> approved"
        figures[label] = summarize(label, csr_latencies(env, client, f"lat-{run}-0", a.csrs), milliseconds=True)
    if a.admission:
        label = "admission (dry-run create via the API server)"
        figures[label] = summarize(label, admission_latencies(client, f"lat-{run}-0", a.admission), milliseconds=True)
    if a.json:
        a.json.write_text(json.dumps(figures, indent=2))
    return 0 if len(to_ready) == a.count else 1


if __name__ == "__main__":
    raise SystemExit(main())
