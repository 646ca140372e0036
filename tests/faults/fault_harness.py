"""What the fault tests share: operator replicas that can be killed the way a container dies, and
the invariants a provisioner must hold after any fault (one of everything while it lives, nothing
left behind once it is gone)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
import signal
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import (
    CONFIGMAP,
    SECRET,
    Resource,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    DPU_CLUSTER,
    HOSTED_CLUSTER,
    IP_ADDRESS_POOL,
    L2_ADVERTISEMENT,
    LABEL_NAME,
    LABEL_NAMESPACE,
    NODE_POOL,
    PROVISIONER,
)
from dpf_hcp_dev.localcluster.controlplane import terminate
from dpf_hcp_dev.localcluster.environment import Environment
from dpf_hcp_dev.processes import OperatorProcess, start_operator, wait_ready
from support import (
    condition,
    dpucluster,
    metric,
    namespace,
    operator_watches,
    provisioner_body,
    secrets,
    unique,
    wait_condition,
    wait_for,
)
from support import samples as support_samples

FINALIZER = "provisioning.dpu.hcp.io/finalizer"


def seed(name: str) -> int:
    """The seed of a randomised fault test: $FAULT_SEED replays a failure, else a fresh one (printed)."""
    value = int(os.environ.get("FAULT_SEED") or random.randrange(1 << 32))  # noqa: S311 - not for secrets
    print(f"{name}: seed {value} (replay with FAULT_SEED={value})")
    return value


# -- processes ----------------------------------------------------------------------------------
def descendants(pid: int) -> set[int]:
    """Every process under ``pid`` (ansible-runner starts ansible-playbook in a session of its own,
    so the process group does not hold them all)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def kill_tree(pid: int) -> set[int]:
    """SIGKILL ``pid`` and everything under it, as the end of a container does. All are stopped
    first, so none forks a child that would escape."""
    stopped: set[int] = set()
    while True:
        tree = {pid} | descendants(pid)
        new = tree - stopped
        if not new:
            break
        for p in new:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGSTOP)
        stopped |= new
    for p in stopped:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)
    return stopped


def running(pids: set[int]) -> set[int]:
    """Those of ``pids`` still alive (not zombies)."""
    alive = set()
    for p in pids:
        try:
            state = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            alive.add(p)
    return alive


def skewed_clock(offset: str) -> dict[str, str]:
    """This environment with the wall clock moved by ``offset`` (libfaketime's syntax: "+1h",
    "-90m") for the process and all it starts: time(), clock_gettime(CLOCK_REALTIME), OpenSSL's
    certificate checks. The monotonic clock is left alone (libfaketime would hang Python's timed
    waits otherwise: wolfcw/libfaketime issue #390). Debian's faketime package, installed by
    dev/bootstrap/apt-packages.sh."""
    libs = sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))
    assert libs, "libfaketime is missing: run `make venv` (it installs Debian's faketime)"
    here = str(Path(__file__).parent / "skewed_clock")  # its sitecustomize mends time.sleep
    path = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "LD_PRELOAD": str(libs[0]),
        "FAKETIME": offset,
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "PYTHONPATH": f"{here}:{path}" if path else here,
    }


@dataclass
class Replica:
    """One operator process, started again on the same work dir and log after each fault."""

    env: Environment
    directory: Path
    flags: tuple[str, ...] = ()
    started: OperatorProcess | None = None
    starts: int = 0
    environ: dict[str, str] | None = None  # the operator's whole environment, when not this one's
    reconcile_period: str = "0"  # watches.yaml's reconcilePeriod: off unless a test asks for it

    @property
    def log(self) -> Path:
        return self.directory / "operator.log"

    @property
    def work_dir(self) -> Path:
        return self.directory / "work"

    @property
    def process(self) -> subprocess.Popen[bytes]:
        assert self.started is not None
        return self.started.process

    def start(self, wait: bool = True) -> Replica:
        self.directory.mkdir(parents=True, exist_ok=True)
        watches = operator_watches(self.directory, self.reconcile_period)
        self.started = start_operator(
            self.env,
            self.work_dir,
            self.log,
            "--log-level",
            "debug",
            "--watches-file",
            str(watches),
            *self.flags,
            environ=self.environ,
        )
        self.starts += 1
        if wait:
            wait_ready(self.started.health_port, self.process, self.log)
        return self

    def kill(self) -> set[int]:
        """SIGKILL the operator and every Ansible process it started."""
        killed = kill_tree(self.process.pid)
        self.process.wait(timeout=10)
        return killed

    def metric(self, name: str, labels: dict[str, str] | None = None) -> float:
        assert self.started is not None
        return metric(self.started.metrics_port, name, labels)

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.log.read_text(errors="replace").splitlines() if x.startswith("{")]

    def close(self) -> None:
        if self.started is not None and self.process.poll() is None:
            terminate(self.process.pid)


def last_tasks(work_dir: Path) -> list[str]:
    """For each worker, the play and task its newest Ansible run had reached (its stdout artifact)."""
    reached = []
    for slot in sorted(work_dir.glob("runner-*")):
        stamped = []
        for path in slot.glob("artifacts/*/stdout"):
            with contextlib.suppress(OSError):
                stamped.append((path.stat().st_mtime, path))
        if not stamped:
            continue
        play, task = "?", "(no task yet)"
        for line in max(stamped)[1].read_text(errors="replace").splitlines():
            if line.startswith("PLAY ["):
                play = line[6:].split("]")[0]
            elif line.startswith("TASK ["):
                task = line[6:].split("]")[0].removeprefix("dpf_hcp.provisioner.")
        reached.append(f"{play}: {task}")
    return reached


# -- provisioners -------------------------------------------------------------------------------
@dataclass
class Tenant:
    """A DPFHCPProvisioner with its secrets and DPUCluster, each in a namespace of its own."""

    client: KubeClient
    ns: str
    dpu_ns: str
    name: str = "hcp"

    @classmethod
    def create(
        cls,
        client: KubeClient,
        pull: dict[str, bytes] | None = None,
        ssh: dict[str, bytes] | None = None,
        dpu_body: dict[str, Any] | None = None,
        ns: str | None = None,
        **spec: Any,
    ) -> Tenant:
        """``pull`` and ``ssh``: the secrets' data as bytes (any content, text or not); ``dpu_body``:
        the DPUCluster's fields besides apiVersion, kind and metadata; ``ns``: its namespace (one a
        test named for the stand-ins' settings beforehand). Defaults: valid ones."""
        ns = namespace(client, ns or unique("tenant"))
        dpu_ns = namespace(client, unique("dpus"))
        secrets(client, ns)
        for name, data in (("pull-secret", pull), ("ssh-key", ssh)):
            if data is not None:
                encoded = {k: base64.b64encode(v).decode() for k, v in data.items()}
                client.replace(SECRET, {**client.get(SECRET, name, ns), "data": encoded})
        if dpu_body is None:
            dpucluster(client, dpu_ns, "dpucluster")
        else:
            head = {"apiVersion": "provisioning.dpu.nvidia.com/v1alpha1", "kind": "DPUCluster"}
            client.create(DPU_CLUSTER, {**head, "metadata": {"name": "dpucluster", "namespace": dpu_ns}, **dpu_body})
        client.create(PROVISIONER, provisioner_body(ns, "hcp", dpu_ns, "dpucluster", **spec))
        return cls(client, ns, dpu_ns)

    def get(self) -> dict[str, Any] | None:
        return self.client.get_or_none(PROVISIONER, self.name, self.ns)

    def delete(self) -> None:
        self.client.delete(PROVISIONER, self.name, self.ns)

    def labelled(self, res: Resource, where: str) -> list[str]:
        selector = f"{LABEL_NAME}={self.name},{LABEL_NAMESPACE}={self.ns}"
        items = self.client.list(res, where, label_selector=selector).get("items") or []
        return sorted(o["metadata"]["name"] for o in items)

    def owned(self) -> dict[str, list[str]]:
        """Everything that exists for this provisioner, by kind and namespace."""
        hosted = self.client.list(HOSTED_CLUSTER, self.ns).get("items") or []
        pools = self.client.list(NODE_POOL, self.ns).get("items") or []
        return {
            f"HostedCluster in {self.ns}": sorted(o["metadata"]["name"] for o in hosted),
            f"NodePool in {self.ns}": sorted(o["metadata"]["name"] for o in pools),
            f"Secret in {self.ns} (copies, etcd key)": self.labelled(SECRET, self.ns),
            f"ConfigMap in {self.ns}": self.labelled(CONFIGMAP, self.ns),
            f"Secret in {self.dpu_ns} (kubeconfig)": self.labelled(SECRET, self.dpu_ns),
            f"ConfigMap in {self.dpu_ns}": self.labelled(CONFIGMAP, self.dpu_ns),
            "IPAddressPool": self.labelled(IP_ADDRESS_POOL, "metallb-system"),
            "L2Advertisement": self.labelled(L2_ADVERTISEMENT, "metallb-system"),
        }

    def assert_converged(self, timeout: float = 90.0, metallb: bool = True) -> dict[str, Any]:
        """Ready, with its finalizer, its phase Ready for its generation, and one of everything
        (MetalLB's objects only for a virtual IP: ``metallb``)."""
        obj = wait_condition(self.client, self.ns, self.name, "Ready", "True", timeout=timeout)
        obj = wait_for(
            f"{self.ns}/{self.name} phase Ready for its generation",
            self._settled,
            timeout=timeout,
        )
        assert FINALIZER in (obj["metadata"].get("finalizers") or []), obj["metadata"]
        owned = self.owned()
        expected = {
            f"HostedCluster in {self.ns}": ["hcp"],
            f"NodePool in {self.ns}": ["hcp"],
            "IPAddressPool": [f"dpfhcp-{self.ns}-hcp"] if metallb else [],
            "L2Advertisement": [f"dpfhcp-{self.ns}-hcp"] if metallb else [],
        }
        for what, names in expected.items():
            assert owned[what] == names, (what, owned)
        assert len(owned[f"Secret in {self.ns} (copies, etcd key)"]) == 3, owned
        assert len(owned[f"Secret in {self.dpu_ns} (kubeconfig)"]) == 1, owned
        return obj

    def _settled(self) -> dict[str, Any] | None:
        obj = self.get()
        ready = condition(obj, "Ready")
        if not (obj and ready and ready["status"] == "True"):
            return None
        current = ready.get("observedGeneration") in (None, obj["metadata"]["generation"])
        return obj if current and (obj.get("status") or {}).get("phase") == "Ready" else None

    def assert_gone(self, timeout: float = 90.0) -> None:
        """The provisioner is gone and nothing it made is left."""
        wait_for(f"{self.ns}/{self.name} gone", lambda: self.get() is None, timeout=timeout)
        left = {what: names for what, names in self.owned().items() if names}
        assert not left, f"left behind by {self.ns}/{self.name}: {left}"


def samples(replica: Replica, name: str) -> dict[str, float]:
    """Each sample of a Prometheus metric of ``replica``, by its label text."""
    assert replica.started is not None
    return support_samples(replica.started.metrics_port, name)


def healthy(replica: Replica) -> bool:
    assert replica.started is not None
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{replica.started.health_port}/healthz", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False
