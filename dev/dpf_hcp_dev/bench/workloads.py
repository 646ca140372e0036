"""The benchmark's workloads, measured through watches on a real API server: provisioners
created one at a time and in bursts, CSRs, admission reviews, and a quiet steady state."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.apply import apply
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import CSR
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    DPU,
    HOSTED_CLUSTER,
    PROVISIONER,
)
from dpf_hcp_dev.certificates import request_pem
from dpf_hcp_dev.localcluster.controlplane import BOOTSTRAPPER
from dpf_hcp_dev.localcluster.environment import Environment

RELEASE = "quay.io/openshift-release-dev/ocp-release:4.19.0-ec.5-x86_64"
NAME = "hcp"  # every provisioner's name; each has a namespace of its own


def _true(obj: dict[str, Any], type_: str) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == type_ and c.get("status") == "True" for c in conditions)


# The steps every version of the operator reports, under the same names.
STEPS = ("KubeConfigInjected", "MetalLBConfigured", "IgnitionConfigured")


def _served(obj: dict[str, Any]) -> bool:
    """The HostedCluster Available and every step done: a milestone that means the same in every
    version of the operator. Ready has come to mean more (issue 20: the control plane rolled out to
    the desired release as well), so a Ready time of one version and of another are not the same
    measure; this is."""
    return _true(obj, "HostedClusterAvailable") and all(_true(obj, step) for step in STEPS)


class Stamps:
    """When each provisioner's HostedCluster first existed, the provisioner was first served (see
    _served) and first Ready, from watches started before anything is created."""

    def __init__(self, client: KubeClient, stop: threading.Event):
        self.seen: dict[tuple[str, str], float] = {}
        self.lock = threading.Lock()
        for res, stamps in (
            (HOSTED_CLUSTER, (("hc", lambda _o: True),)),
            (PROVISIONER, (("served", _served), ("ready", lambda o: _true(o, "Ready")))),
        ):
            threading.Thread(target=self._watch, args=(client, res, stamps, stop), daemon=True).start()
        time.sleep(0.5)

    def _watch(self, client: KubeClient, res: Any, stamps: Any, stop: threading.Event) -> None:
        rv = None
        while not stop.is_set():
            try:
                if rv is None:
                    rv = client.list(res)["metadata"]["resourceVersion"]
                for event, obj in client.watch(res, resource_version=rv, timeout_seconds=30):
                    rv = obj["metadata"].get("resourceVersion", rv)
                    if event not in ("ADDED", "MODIFIED"):
                        continue
                    now = time.monotonic()
                    for what, pred in stamps:
                        if pred(obj):
                            with self.lock:
                                self.seen.setdefault((what, obj["metadata"]["namespace"]), now)
            except ApiError:
                rv = None  # relist; or the environment is going away
                stop.wait(0.5)

    def get(self, what: str, namespace: str) -> float | None:
        with self.lock:
            return self.seen.get((what, namespace))


def prepare(client: KubeClient, namespace: str) -> None:
    """A namespace with the pull secret, the SSH key and a DPUCluster: a provisioner's inputs."""
    apply(client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    for name, data in (
        ("pull-secret", {".dockerconfigjson": '{"auths":{}}'}),
        ("ssh-key", {"id_rsa.pub": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBench bench@example.com"}),
    ):
        apply(
            client,
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name, "namespace": namespace},
                "stringData": data,
            },
        )
    apply(
        client,
        {
            "apiVersion": "provisioning.dpu.nvidia.com/v1alpha1",
            "kind": "DPUCluster",
            "metadata": {"name": "dpus", "namespace": namespace},
            "spec": {"type": "static"},
        },
    )


def provisioner(namespace: str, index: int) -> dict[str, Any]:
    return {
        "apiVersion": "provisioning.dpu.hcp.io/v1alpha1",
        "kind": "DPFHCPProvisioner",
        "metadata": {"name": NAME, "namespace": namespace},
        "spec": {
            "baseDomain": "example.com",
            "dpuClusterRef": {"name": "dpus", "namespace": namespace},
            "ocpReleaseImage": RELEASE,
            "pullSecretRef": {"name": "pull-secret"},
            "sshKeySecretRef": {"name": "ssh-key"},
            "virtualIP": f"10.{100 + index // 60000}.{index // 250 % 240}.{index % 250 + 1}",
        },
    }


@dataclass
class Namespaces:
    """Unique, zero-padded namespace names (none is another's prefix) and a global index for VIPs."""

    run: str = field(default_factory=lambda: uuid.uuid4().hex[:4])
    used: int = 0

    def take(self, label: str, count: int) -> list[tuple[str, int]]:
        out = [(f"bench-{self.run}-{label}-{i:03d}", self.used + i) for i in range(count)]
        self.used += count
        return out


def one_at_a_time(client: KubeClient, stamps: Stamps, names: list[tuple[str, int]], timeout: float = 120):
    """Create each provisioner after the previous one is Ready. Returns the seconds from each
    create call to its HostedCluster existing, to its being served (see _served) and to its Ready=True."""
    to_hc, to_served, to_ready = [], [], []
    for namespace, index in names:
        prepare(client, namespace)
        started = time.monotonic()
        client.create(PROVISIONER, provisioner(namespace, index))
        while stamps.get("ready", namespace) is None and time.monotonic() - started < timeout:
            time.sleep(0.01)
        if stamps.get("hc", namespace) is not None:
            to_hc.append(stamps.get("hc", namespace) - started)
        if stamps.get("served", namespace) is not None:
            to_served.append(stamps.get("served", namespace) - started)
        if stamps.get("ready", namespace) is not None:
            to_ready.append(stamps.get("ready", namespace) - started)
        time.sleep(0.5)  # the echo of one does not overlap the next
    return to_hc, to_served, to_ready


def burst(client: KubeClient, stamps: Stamps, names: list[tuple[str, int]], timeout: float) -> dict[str, Any]:
    """Create all the provisioners at once (their inputs first). Seconds from the first create call
    until every HostedCluster exists, every provisioner is served (see _served) and every one is
    Ready (None: not within timeout)."""
    for namespace, _ in names:
        prepare(client, namespace)
    started = time.monotonic()
    for namespace, index in names:
        client.create(PROVISIONER, provisioner(namespace, index))
    created = time.monotonic() - started
    while time.monotonic() - started < timeout:
        if all(stamps.get("ready", ns) is not None for ns, _ in names):
            break
        time.sleep(0.05)

    def last(what: str) -> float | None:
        stamps_ = [stamps.get(what, ns) for ns, _ in names]
        return None if None in stamps_ else max(stamps_) - started  # type: ignore[type-var,operator]

    return {
        "count": len(names),
        "create_calls_seconds": created,
        "all_hosted_clusters_seconds": last("hc"),
        "all_served_seconds": last("served"),
        "all_ready_seconds": last("ready"),
        "ready": sum(1 for ns, _ in names if stamps.get("ready", ns) is not None),
    }


def csr_latencies(env: Environment, client: KubeClient, namespace: str, count: int, at_once: bool, timeout: float):
    """Bootstrap CSRs for DPUs of the provisioner in ``namespace`` that wait in `DPU Cluster Config`:
    seconds from each create call to the Approved condition seen by a watch. One at a time, or
    all at once (for a controller that only polls)."""
    hosted = env.client("hosted")
    bootstrapper = KubeClient.from_kubeconfig(str(env.hosted.kubeconfig_path(BOOTSTRAPPER)))
    names = [f"bench-dpu-{uuid.uuid4().hex[:6]}-{i}" for i in range(count)]
    for name in names:
        obj = client.create(
            DPU,
            {
                "apiVersion": "provisioning.dpu.nvidia.com/v1alpha1",
                "kind": "DPU",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "annotations": {"standins.dpf-hcp.dev/hold": "true"},
                },
                "spec": {
                    "bfb": "b",
                    "dpuDeviceName": "d",
                    "dpuFlavor": "f",
                    "dpuNodeName": name,
                    "serialNumber": name,
                    "nodeEffect": {"noEffect": True},
                    "cluster": {"name": "dpus", "namespace": namespace},
                },
            },
        )
        client.replace(DPU, {**obj, "status": {"phase": "DPU Cluster Config"}}, subresource="status")
    time.sleep(1.0)  # the controller's DPU cache sees them
    approved_at: dict[str, float] = {}
    stop = threading.Event()
    rv = hosted.list(CSR)["metadata"]["resourceVersion"]

    def watch() -> None:
        with contextlib.suppress(ApiError):  # ends with the environment
            for event, obj in hosted.watch(CSR, resource_version=rv, timeout_seconds=int(timeout) + 120):
                conditions = (obj.get("status") or {}).get("conditions") or []
                if event == "MODIFIED" and any(c.get("type") == "Approved" for c in conditions):
                    approved_at.setdefault(obj["metadata"]["name"], time.monotonic())
                if stop.is_set():
                    return

    threading.Thread(target=watch, daemon=True).start()
    created: dict[str, float] = {}

    def create(name: str) -> None:
        created[name] = time.monotonic()
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

    def wait(wanted: list[str]) -> None:
        deadline = time.monotonic() + timeout
        while not all(n in approved_at for n in wanted) and time.monotonic() < deadline:
            time.sleep(0.002)

    if at_once:
        for name in names:
            create(name)
        wait(names)
    else:
        for name in names:
            create(name)
            wait([name])
            time.sleep(0.1)
    stop.set()
    return [approved_at[n] - created[n] for n in names if n in approved_at]


def admission_latencies(client: KubeClient, namespace: str, count: int) -> list[float]:
    """Seconds per server-side dry-run create of a valid provisioner (the API server calls the
    webhook when one is registered)."""
    prepare(client, namespace)
    body = provisioner(namespace, 0)
    body["metadata"]["name"] = "admission-probe"
    values = []
    for _ in range(count):
        started = time.monotonic()
        client.create(PROVISIONER, body, dry_run=True)
        values.append(time.monotonic() - started)
    return values


# -- process and server figures for the steady state ---------------------------------------------
CLOCK_TICKS = 100  # os.sysconf("SC_CLK_TCK") on Linux


def cpu_seconds(pid: int) -> float:
    """User and system CPU of the process and of its children it waited for (ansible-runner's runs)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
    return (utime + stime + cutime + cstime) / CLOCK_TICKS


def tree_cpu_seconds(pid: int) -> float:
    """CPU of the process and of its descendants, each with what it waited for: the operator, its
    warm interpreter and the runs that forks (an operator without one waits for its runs itself).
    A descendant that ended and is not yet waited for (a zombie: the warm interpreter that ended
    after its idle time, until the operator next looks) still counts; once waited for, its CPU is
    its parent's."""
    try:
        own = cpu_seconds(pid)
    except OSError:  # gone meanwhile: its CPU is its parent's now
        return 0.0
    return own + sum(tree_cpu_seconds(child) for child in children(pid, ended=True))


def reset_peak_rss(pid: int) -> None:
    """Start the process's peak RSS (VmHWM) over from its current RSS (proc(5), clear_refs "5")."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def children(pid: int, ended: bool = False) -> list[int]:
    """The live child processes of ``pid`` (the operator's: its warm interpreter, when idle); with
    ``ended``, also those that ended and are not waited for yet (zombies)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid and (ended or stat[0] != "Z"):
                found.append(int(entry.name))
    return found


def helper_peaks_mib(pid: int, seconds: float, every: float = 1.0) -> dict[int, float]:
    """Watch ``pid``'s children for ``seconds``: the peak RSS of each seen meanwhile, looked at
    every ``every`` seconds, so that a helper that ends within the window (the warm interpreter
    after its idle time) counts with its last reading, and one started within it counts too."""
    peaks: dict[int, float] = {}
    deadline = time.monotonic() + seconds
    while True:
        for child in children(pid):
            peaks[child] = max(peaks.get(child, 0.0), peak_rss_mib(child))
        left = deadline - time.monotonic()
        if left <= 0:
            return peaks
        time.sleep(min(every, left))


def peak_rss_mib(pid: int) -> float:
    """The process's peak RSS (0 when it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def scrape(url: str, names: tuple[str, ...]) -> dict[str, float]:
    """Sum of each named Prometheus series (all labels) at ``url``."""
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - the controller on loopback
        text = resp.read().decode()
    return _sum_series(text, names)


def _sum_series(text: str, names: tuple[str, ...]) -> dict[str, float]:
    sums = dict.fromkeys(names, 0.0)
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        metric = line.split("{", 1)[0].split(" ", 1)[0]
        if metric in sums:
            sums[metric] += float(line.rsplit(" ", 1)[1])
    return sums


def run_durations(log: Path, namespaces: set[str]) -> list[tuple[float, int]]:
    """(seconds, provisioners) of the Ansible runs that served any of ``namespaces``, longest first,
    from the operator's "reconciled" log lines (each provisioner's names its run's duration and size)."""
    runs: set[tuple[float, int]] = set()
    with contextlib.suppress(OSError), log.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if '"reconciled"' not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("msg") == "reconciled" and entry.get("namespace") in namespaces and "duration" in entry:
                runs.add((float(entry["duration"]), int(entry.get("batch", 1))))
    return sorted(runs, reverse=True)


def apiserver_requests(client: KubeClient) -> float:
    """All requests the management API server has served (apiserver_request_total, every client)."""
    return _sum_series(client.text("/metrics"), ("apiserver_request_total",))["apiserver_request_total"]


def _children() -> dict[int, list[int]]:
    """Every process's children, from /proc (processes that end meanwhile are passed over)."""
    out: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            out.setdefault(ppid, []).append(int(stat.parent.name))
    return out


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants: the operator, its ansible-playbook runs and their workers."""
    children, found, todo = _children(), [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, ()))
    return found


def pss_mib(pid: int) -> float:
    """The process's proportional set size: shared pages (a forked worker's copy-on-write ones) counted
    once across the processes sharing them, so a tree's sum is the memory it holds."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    return 0.0


class TreeMemory:
    """Samples the memory (PSS) of a process tree once a second in a thread of its own: its peak and
    how many processes the tree had then, and the most it had."""

    def __init__(self, pid: int, interval: float = 1.0):
        self.pid, self.interval = pid, interval
        self.peak_mib, self.processes_at_peak, self.most_processes, self.samples = 0.0, 0, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-memory", daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = tree(self.pid)
            total = sum(pss_mib(p) for p in pids)
            self.samples += 1
            self.most_processes = max(self.most_processes, len(pids))
            if total > self.peak_mib:
                self.peak_mib, self.processes_at_peak = total, len(pids)
            self._stop.wait(self.interval)
