"""`make demo`: a real control plane on loopback, the stand-ins, the operator, and a sample
DPFHCPProvisioner going to Ready, shown live. `make demo-down` stops it."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import yaml

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.apply import apply
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import CSR, NODE
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    DPU,
    HOSTED_CLUSTER,
    NODE_POOL,
    PROVISIONER,
)
from dpf_hcp_dev.localcluster.controlplane import alive, terminate
from dpf_hcp_dev.localcluster.environment import REPO, Environment
from dpf_hcp_dev.processes import start_operator, start_standins, wait_ready

SAMPLE = REPO / "examples" / "sample.yaml"
BOLD, DIM, GREEN, RED, RESET = (
    ("\033[1m", "\033[2m", "\033[32m", "\033[31m", "\033[0m") if sys.stdout.isatty() else ("", "", "", "", "")
)


def up(directory: Path, timeout: float) -> int:
    state = directory / "demo.json"
    if state.exists():
        down(directory)
    t0 = time.monotonic()
    print(
        f"{BOLD}1/4 control plane{RESET}: etcd + kube-apiserver + kube-controller-manager v1.20.2, "
        "management and hosted, on 127.0.0.1"
    )
    env = Environment.up(directory / "cluster")
    print(f"    up in {time.monotonic() - t0:.1f}s")
    logs = directory / "logs"
    print(f"{BOLD}2/4 stand-ins{RESET}: HyperShift and DPF controllers acting through the management API")
    standins = start_standins(env, logs / "standins.log")
    print(
        f"{BOLD}3/4 operator{RESET}: dpf-hcp-operator as its own identity (token user dpf-hcp-operator), "
        "with its admission webhook"
    )
    operator = start_operator(env, directory / "operator", logs / "operator.log")
    metrics = operator.metrics_port
    state.write_text(
        json.dumps(
            {
                "standins": standins.pid,
                "operator": operator.process.pid,
                "health": operator.health_port,
                "metrics": metrics,
            }
        )
    )
    wait_ready(operator.health_port, operator.process, logs / "operator.log")
    client = env.client()
    apply(client, operator.webhook_configuration())  # bad input is refused before it is stored
    docs = [d for d in yaml.safe_load_all(SAMPLE.read_text()) if d]
    cr = next(d for d in docs if d["kind"] == "DPFHCPProvisioner")
    ns, name = cr["metadata"]["namespace"], cr["metadata"]["name"]
    print(f"{BOLD}4/4 sample{RESET}: {SAMPLE.relative_to(REPO)} (secrets, DPUCluster, BlueField map, CR {ns}/{name})")
    created = time.monotonic()
    for doc in docs:
        apply(client, doc)
    ok = watch(client, ns, name, created, timeout)
    dpus = [d for d in docs if d["kind"] == "DPU"]
    if ok and dpus:
        print(f"{BOLD}DPUs joining{RESET} (their CSRs approved by the operator, their Nodes in the hosted cluster)")
        ok = watch_dpus(client, env.client("hosted"), dpus, created, timeout)
    if ok:
        ok = watch_versions(client, ns, name, created, timeout)
    if ok:
        ok = watch_health(client, ns, name, created, timeout)
    kubeconfig = env.management.kubeconfig_path()
    print(f"""
{BOLD}Look around{RESET}
  export KUBECONFIG={kubeconfig}
  kubectl get dpfhcp -A -o wide               # Phase, Ready, HostedCluster, both versions, Healthy
  kubectl describe dpfhcp -n {ns} {name}       # conditions and events
  kubectl get hostedcluster,nodepool,secret -n {ns}
  kubectl get dpus -A; KUBECONFIG={env.hosted.kubeconfig_path()} kubectl get csr,nodes
  kubectl edit configmap -n dpf-hcp-standins standins   # inject faults (see dev/dpf_hcp_dev/standins/config.py)
  operator log: {logs / "operator.log"}
  metrics:      curl -s http://127.0.0.1:{metrics}/metrics | grep dpfhcp_
{BOLD}Stop{RESET}
  make demo-down
""")
    return 0 if ok else 1


def watch(client, ns: str, name: str, created: float, timeout: float) -> bool:
    """Print the CR's progress as it happens; True once Ready."""
    seen: dict[str, tuple[str, str]] = {}
    phase = None
    hc_at = np_at = None
    deadline = created + timeout
    while time.monotonic() < deadline:
        now = time.monotonic() - created
        obj = client.get_or_none(PROVISIONER, name, ns) or {}
        status = obj.get("status") or {}
        if status.get("phase") != phase:
            phase = status.get("phase")
            print(f"  {now:6.2f}s  phase {BOLD}{phase}{RESET}")
        if hc_at is None and client.get_or_none(HOSTED_CLUSTER, name, ns):
            hc_at = now
            print(f"  {now:6.2f}s  {GREEN}HostedCluster {ns}/{name} exists{RESET}")
        if np_at is None and client.get_or_none(NODE_POOL, name, ns):
            np_at = now
            print(f"  {now:6.2f}s  {GREEN}NodePool {ns}/{name} exists{RESET}")
        for c in status.get("conditions") or []:
            key = (c["status"], c["reason"])
            if seen.get(c["type"]) != key:
                seen[c["type"]] = key
                colour = GREEN if c["status"] == "True" else (DIM if c["status"] == "Unknown" else RED)
                if c["type"] in (
                    "DPUClusterMissing",
                    "DPUClusterInUse",
                    "HostedClusterDegraded",
                    "EtcdRecoveryActive",
                ):
                    colour = GREEN if c["status"] == "False" else (DIM if c["status"] == "Unknown" else RED)
                print(f"  {now:6.2f}s  {colour}{c['type']}={c['status']}{RESET} {DIM}{c['reason']}{RESET}")
        ready = next((c for c in status.get("conditions") or [] if c["type"] == "Ready"), None)
        if ready and ready["status"] == "True":
            print(
                f"\n{GREEN}{BOLD}Ready{RESET} in {now:.2f}s after the CR was created "
                f"(HostedCluster existed after {hc_at:.2f}s)"
            )
            return True
        time.sleep(0.1)
    print(f"{RED}not Ready after {timeout:.0f}s{RESET}; see the operator log")
    return False


def watch_versions(client, ns: str, name: str, created: float, timeout: float) -> bool:
    """Once the DPUs joined, the hosted ClusterVersion completes: print both rollouts as -o wide shows them."""
    deadline = created + timeout
    while time.monotonic() < deadline:
        status = (client.get_or_none(PROVISIONER, name, ns) or {}).get("status") or {}
        done = next((c for c in status.get("conditions") or [] if c["type"] == "DataPlaneRolledOut"), None)
        if done and done["status"] == "True":
            now = time.monotonic() - created
            print(f"  {now:6.2f}s  {GREEN}DataPlaneRolledOut=True{RESET} {DIM}{done['reason']}{RESET}")
            versions = status.get("versions") or {}
            for key, label in (("controlPlane", "control plane"), ("dataPlane", "hosted cluster")):
                v = versions.get(key) or {}
                print(f"  {label:>14}: {v.get('version')} {v.get('state')}")
            return True
        time.sleep(0.2)
    print(f"{RED}the hosted ClusterVersion did not complete in {timeout:.0f}s{RESET}; see the stand-in log")
    return False


def watch_health(client, ns: str, name: str, created: float, timeout: float) -> bool:
    """Ready said the control plane serves and DPUs may join; the hosted cluster's own operators settle
    after they did: print HostedClusterHealthy as it changes, until True."""
    deadline = created + timeout
    said = None
    while time.monotonic() < deadline:
        status = (client.get_or_none(PROVISIONER, name, ns) or {}).get("status") or {}
        c = next((c for c in status.get("conditions") or [] if c["type"] == "HostedClusterHealthy"), None)
        if c and (c["status"], c["message"]) != said:
            said = (c["status"], c["message"])
            now = time.monotonic() - created
            colour = GREEN if c["status"] == "True" else (DIM if c["status"] == "Unknown" else RED)
            print(
                f"  {now:6.2f}s  {colour}HostedClusterHealthy={c['status']}{RESET} "
                f"{DIM}{c['reason']}: {c['message']}{RESET}"
            )
            if c["status"] == "True":
                return True
        time.sleep(0.2)
    print(f"{RED}the hosted cluster's operators did not settle in {timeout:.0f}s{RESET}; see the stand-in log")
    return False


def watch_dpus(client, hosted, dpus: list[dict], created: float, timeout: float) -> bool:
    """Print each DPU's phase, its approved CSRs and its Node as they appear; True when all are Ready."""
    seen: set[tuple[str, str]] = set()
    deadline = created + timeout
    while time.monotonic() < deadline:
        now = time.monotonic() - created
        phases = {}
        for d in dpus:
            obj = client.get_or_none(DPU, d["metadata"]["name"], d["metadata"]["namespace"]) or {}
            phases[d["metadata"]["name"]] = phase = (obj.get("status") or {}).get("phase", "Initializing")
            if (d["metadata"]["name"], phase) not in seen:
                seen.add((d["metadata"]["name"], phase))
                print(f"  {now:6.2f}s  DPU {d['metadata']['name']}: {phase}")
        for csr in hosted.list(CSR).get("items") or []:
            approved = any(c.get("type") == "Approved" for c in (csr.get("status") or {}).get("conditions") or [])
            if approved and (csr["metadata"]["name"], "approved") not in seen:
                seen.add((csr["metadata"]["name"], "approved"))
                print(
                    f"  {now:6.2f}s  {GREEN}CSR {csr['metadata']['name']} approved{RESET} "
                    f"{DIM}({csr['spec']['signerName']}){RESET}"
                )
        for node in hosted.list(NODE).get("items") or []:
            if (node["metadata"]["name"], "node") not in seen:
                seen.add((node["metadata"]["name"], "node"))
                print(f"  {now:6.2f}s  {GREEN}Node {node['metadata']['name']} joined the hosted cluster{RESET}")
        if all(p == "Ready" for p in phases.values()):
            print(f"\n{GREEN}{BOLD}All {len(dpus)} DPUs joined{RESET} in {now:.2f}s after the CR was created")
            return True
        time.sleep(0.1)
    print(f"{RED}DPUs not all Ready after {timeout:.0f}s{RESET}; see the operator and stand-in logs")
    return False


def down(directory: Path) -> int:
    state = directory / "demo.json"
    if state.exists():
        data = json.loads(state.read_text())
        for what in ("operator", "standins"):
            if alive(data[what]):
                terminate(data[what])
        state.unlink()
    if (directory / "cluster" / "state.json").exists():
        Environment.load(directory / "cluster").down()
    print("demo stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="demo", description=__doc__)
    p.add_argument("command", choices=["up", "down"])
    p.add_argument("--dir", type=Path, default=Path(os.environ.get("DEMO_DIR", REPO / ".build" / "demo")))
    p.add_argument("--timeout", type=float, default=120.0)
    a = p.parse_args(argv)
    a.dir.mkdir(parents=True, exist_ok=True)
    return up(a.dir, a.timeout) if a.command == "up" else down(a.dir)


if __name__ == "__main__":
    sys.exit(main())
