"""Helpers for tests against the real API servers: inputs, waits, ansible runs, metrics."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.apply import apply
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import CSR, NAMESPACE
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import DPU, PROVISIONER
from dpf_hcp_dev.standins.kubelet import CLIENT_SIGNER, SERVING_SIGNER, csr_common_name
from dpf_hcp_operator.warm import WarmInterpreter
from dpf_hcp_operator.watches import Watch

REPO = Path(__file__).resolve().parents[1]
RELEASE = "quay.io/openshift-release-dev/ocp-release:4.19.0-ec.5-x86_64"
BLUEFIELD_IMAGES = {
    "4.19.0-ec.5": "quay.io/example/bluefield:4.19.0-ec.5",
    "4.18.0": "quay.io/example/bluefield:4.18.0",
}
CLEANUP_TIMEOUT = 6  # the test operator's cleanup_timeout_seconds
PULL_SECRET_VALUE = '{"auths":{"quay.io":{"auth":"c2VjcmV0LXB1bGwtdmFsdWU="}}}'
SSH_KEY_VALUE = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIsecretsshkeyvalue test@example"


def wait_for(what: str, predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.1) -> Any:
    """Poll until ``predicate`` returns something truthy; fail naming ``what`` and the last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def namespace(client: KubeClient, name: str) -> str:
    apply(client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def namespaces(client: KubeClient) -> set[str]:
    return {n["metadata"]["name"] for n in client.list(NAMESPACE).get("items") or []}


def discard(client: KubeClient, names: list[str]) -> None:
    """The namespaces go, with their provisioners at once: their finalizers are dropped, no cleanup
    runs (an operator still running must not find and adopt them), the rest goes with the namespace."""
    for ns in names:
        for obj in client.list(PROVISIONER, ns).get("items") or []:
            name = obj["metadata"]["name"]
            try:
                client.patch(PROVISIONER, name, {"metadata": {"finalizers": None}}, ns)
            except ApiError as exc:
                if not exc.not_found:
                    raise
            client.delete(PROVISIONER, name, ns)
        client.delete(NAMESPACE, ns)


def secrets(
    client: KubeClient,
    ns: str,
    pull: dict[str, str] | None = None,
    ssh: dict[str, str] | None = None,
    names: tuple[str, str] = ("pull-secret", "ssh-key"),
) -> None:
    pull = {".dockerconfigjson": PULL_SECRET_VALUE} if pull is None else pull
    ssh = {"id_rsa.pub": SSH_KEY_VALUE} if ssh is None else ssh
    for name, data in zip(names, (pull, ssh), strict=True):
        apply(
            client,
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, "stringData": data},
        )


def dpucluster(client: KubeClient, ns: str, name: str, cluster_type: str = "static") -> dict[str, Any]:
    return apply(
        client,
        {
            "apiVersion": "provisioning.dpu.nvidia.com/v1alpha1",
            "kind": "DPUCluster",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"type": cluster_type, "maxNodes": 10},
        },
    ).object


def dpu(ns: str, name: str, cluster: str = "dpucluster", annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """A DPF DPU of ``cluster`` (in the same namespace); the stand-in kubelet walks it through its join."""
    return {
        "apiVersion": "provisioning.dpu.nvidia.com/v1alpha1",
        "kind": "DPU",
        "metadata": {"name": name, "namespace": ns, "annotations": annotations or {}},
        "spec": {
            "bfb": "bfb",
            "dpuDeviceName": "bf3",
            "dpuFlavor": "flavor",
            "dpuNodeName": f"host-{name}",
            "serialNumber": name,
            "nodeEffect": {"noEffect": True},
            "cluster": {"name": cluster, "namespace": ns},
        },
    }


def provisioner_of_its_own_dpucluster(client: KubeClient, name: str = "hcp") -> tuple[str, str]:
    """A provisioner of its own DPUCluster, in namespaces of their own: (its namespace, the DPUs')."""
    ns = namespace(client, unique("tenant"))
    dpu_ns = namespace(client, unique("dpus"))
    secrets(client, ns)
    dpucluster(client, dpu_ns, "dpucluster")
    client.create(PROVISIONER, provisioner_body(ns, name, dpu_ns, "dpucluster"))
    return ns, dpu_ns


HOLD = {"standins.dpf-hcp.dev/hold": "true"}  # the stand-ins leave such a DPU as the test sets it


def kubelet_csr(hosted: KubeClient, node: str, serving: bool = False) -> dict[str, Any] | None:
    """The newest CSR a kubelet made for ``node`` (its client certificate, or its serving one): the
    stand-in names them as a kubelet does, csr-<random>."""
    signer = SERVING_SIGNER if serving else CLIENT_SIGNER
    mine = [
        c
        for c in hosted.list(CSR).get("items") or []
        if c["spec"].get("signerName") == signer and csr_common_name(c) == f"system:node:{node}"
    ]
    return max(mine, key=lambda c: c["metadata"]["creationTimestamp"]) if mine else None


def held_dpu(
    client: KubeClient, ns: str, name: str, phase: str, cluster: str | None = "dpucluster", **status: Any
) -> dict[str, Any]:
    """A DPU the stand-ins do not walk, in ``phase`` (``cluster`` None: spec.cluster unset)."""
    body = dpu(ns, name, cluster or "", HOLD)
    if cluster is None:
        del body["spec"]["cluster"]
    obj = client.create(DPU, body)
    return client.replace(DPU, {**obj, "status": {"phase": phase, **status}}, subresource="status")


# Each provisioner a test makes gets a virtual IP of its own: MetalLB (and its stand-in) refuses a
# pool whose address is in another pool, and many provisioners share one management cluster.
_VIRTUAL_IPS = itertools.count()


def unused_virtual_ip() -> str:
    n = next(_VIRTUAL_IPS)
    return f"198.18.{n // 250 % 256}.{n % 250 + 1}"


def provisioner_body(ns: str, name: str, dpu_ns: str, dpu_name: str, **spec: Any) -> dict[str, Any]:
    body = {
        "apiVersion": "provisioning.dpu.hcp.io/v1alpha1",
        "kind": "DPFHCPProvisioner",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "baseDomain": "clusters.example.com",
            "dpuClusterRef": {"name": dpu_name, "namespace": dpu_ns},
            "ocpReleaseImage": RELEASE,
            "pullSecretRef": {"name": "pull-secret"},
            "sshKeySecretRef": {"name": "ssh-key"},
            "virtualIP": unused_virtual_ip(),
            "controlPlaneAvailabilityPolicy": "HighlyAvailable",
        },
    }
    body["spec"].update(spec)
    return body


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any] | None:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c["type"] == type_:
            return c
    return None


def wait_condition(
    client: KubeClient, ns: str, name: str, type_: str, status: str, reason: str | None = None, timeout: float = 60.0
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        obj = client.get_or_none(PROVISIONER, name, ns)
        c = condition(obj, type_)
        if c and c["status"] == status and (reason is None or c["reason"] == reason):
            return obj
        return None

    return wait_for(f"{ns}/{name} {type_}={status} {reason or ''}", check, timeout)


def run_playbook(
    playbook: str,
    objects: list[dict[str, Any]],
    kubeconfig: Path,
    tmp: Path,
    extra_vars: dict[str, Any] | None = None,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    """ansible-playbook with each object an inventory host, as the operator runs it: through the
    objects inventory plugin, which trusts none of its values."""
    from dpf_hcp_operator.runner import INVENTORY_PLUGIN, host_name, inventory

    hosts = {host_name(o): {"_provisioning_dpu_hcp_io_dpfhcpprovisioner": o} for o in objects}
    inv = tmp / f"inventory-{uuid.uuid4().hex[:6]}.json"
    inv.write_text(json.dumps(inventory(hosts)))
    return ansible_playbook(
        playbook,
        kubeconfig,
        "-i",
        str(inv),
        extra_vars=extra_vars,
        check=check,
        environ={"ANSIBLE_INVENTORY_ENABLED": INVENTORY_PLUGIN},
    )


def ansible_playbook(
    playbook: str,
    kubeconfig: Path,
    *args: str,
    extra_vars: dict[str, Any] | None = None,
    check: bool = False,
    environ: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """One of the collection's playbooks (or one at an absolute path), as a user runs it: the
    cluster in $KUBECONFIG."""
    env = {
        **os.environ,
        **(environ or {}),
        "KUBECONFIG": str(kubeconfig),
        "POD_NAMESPACE": "dpf-hcp-provisioner-system",
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".venv" / "collections"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
    }
    env.pop("K8S_AUTH_KUBECONFIG", None)
    path = Path(playbook) if os.path.isabs(playbook) else REPO / "playbooks" / playbook
    argv = [str(Path(sys.executable).parent / "ansible-playbook"), *args, str(path)]
    if extra_vars:
        argv += ["-e", json.dumps(extra_vars)]
    if check:
        argv += ["--check", "--diff"]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)


def samples(port: int, name: str) -> dict[str, float]:
    """Each sample of a Prometheus metric, by its label text (e.g. '{kind="X",le="2.0"}'; '' without labels)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            head, value = line.rsplit(" ", 1)
            out[head[len(name) :]] = float(value)
    return out


def metric(port: int, name: str, labels: dict[str, str] | None = None) -> float:
    """Sum of a Prometheus metric's samples whose labels include ``labels``."""
    wanted = [f'{k}="{v}"' for k, v in (labels or {}).items()]
    return sum(v for head, v in samples(port, name).items() if all(w in head for w in wanted))


def wait_idle(metrics_port: int, quiet: float = 1.5, timeout: float = 60.0) -> float:
    """Wait until the operator has run no Ansible for ``quiet`` seconds and its queue is empty;
    returns the Ansible run count then."""
    deadline = time.monotonic() + timeout
    runs = metric(metrics_port, "dpfhcp_ansible_runs_total")
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = metric(metrics_port, "dpfhcp_ansible_runs_total")
        busy = metric(metrics_port, "dpfhcp_queue_depth") + metric(metrics_port, "dpfhcp_ansible_runs_in_progress")
        if now != runs or busy > 0:
            runs, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return runs
    raise AssertionError(f"operator still busy after {timeout}s")


def wait_settled(log: Path, namespace: str, name: str = "hcp", quiet: float = 1.5, timeout: float = 90.0) -> None:
    """Wait until the operator (its debug log at ``log``) has finished every reconcile of
    ``namespace/name`` it started, the last one did not ask to run again, and none started for
    ``quiet`` seconds. Other provisioners (earlier tests') may keep it busy meanwhile."""

    def state() -> tuple[int, int, str]:
        started = finished = 0
        last = ""
        for line in log.read_text(errors="replace").splitlines():
            if not line.startswith("{") or f'"namespace": "{namespace}"' not in line:
                continue
            entry = json.loads(line)
            if entry.get("namespace") != namespace or entry.get("name") != name:
                continue
            if entry.get("msg") == "reconciling":
                started += 1
            elif entry.get("msg") in ("reconciled", "skipped"):
                finished += 1
                last = entry.get("result", "skipped")
        return started, finished, last

    deadline = time.monotonic() + timeout
    seen = state()
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = state()
        if now != seen:
            seen, since = now, time.monotonic()
        elif seen[0] == seen[1] and seen[2] in ("success", "skipped") and time.monotonic() - since >= quiet:
            return
    raise AssertionError(f"{namespace}/{name} still reconciling after {timeout}s: (started, finished, last) {seen}")


def operator_watches(directory: Path, reconcile_period: str = "0") -> Path:
    """The shipped watches.yaml with short waits, set the way a user would: through its vars.

    The period's full pass is off unless a test asks for one: the suite's provisioners are never
    deleted, and every pass reruns all of them, which only delays the tests that come after."""
    import yaml

    (watch,) = yaml.safe_load((REPO / "watches.yaml").read_text())
    watch["reconcilePeriod"] = reconcile_period
    watch["playbook"] = str(REPO / watch["playbook"])
    watch["vars"] = {"metallb_recheck_seconds": 2}
    watch["finalizer"]["playbook"] = str(REPO / watch["finalizer"]["playbook"])
    watch["finalizer"]["vars"] = {"cleanup_timeout_seconds": CLEANUP_TIMEOUT}
    path = directory / "watches.yaml"
    path.write_text(yaml.safe_dump([watch]))
    return path


def wide_row(client: KubeClient, ns: str) -> tuple[dict[str, Any], set[str]]:
    """What `kubectl get dpfhcp -n <ns> -o wide` prints for the one provisioner there: the API server's
    Table, priority 1 columns included, as cells by column name; and the names of the wide-only columns."""
    table = client.request(
        "GET",
        f"/apis/provisioning.dpu.hcp.io/v1alpha1/namespaces/{ns}/dpfhcpprovisioners",
        accept="application/json;as=Table;v=v1;g=meta.k8s.io",
    )
    names = [c["name"] for c in table["columnDefinitions"]]
    (row,) = table["rows"]
    wide = {c["name"] for c in table["columnDefinitions"] if c.get("priority")}
    return dict(zip(names, row["cells"], strict=True)), wide


def standin_settings(client: KubeClient, **data: str) -> None:
    """Set keys of the stand-ins' ConfigMap (see dev/dpf_hcp_dev/standins/config.py); "" removes one."""
    from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import CONFIGMAP

    client.patch(CONFIGMAP, "standins", {"data": {k: (v or None) for k, v in data.items()}}, "dpf-hcp-standins")


def bluefield_configmap(client: KubeClient) -> None:
    """The ocp-bluefield-images ConfigMap the tests' releases map through."""
    apply(
        client,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "ocp-bluefield-images", "namespace": "dpf-hcp-provisioner-system"},
            "data": BLUEFIELD_IMAGES,
        },
    )


@contextlib.contextmanager
def management_node(client: KubeClient, address: str, prefix: str = "mgmt-node") -> Iterator[str]:
    """A Ready Node with an InternalIP (of the cluster ``client`` talks to), registered as a kubelet
    would; removed after."""
    from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import NODE

    name = unique(prefix)
    client.create(NODE, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
    client.patch(
        NODE,
        name,
        {
            "status": {
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ok"}],
                "addresses": [{"type": "InternalIP", "address": address}],
            }
        },
        subresource="status",
    )
    try:
        yield name
    finally:
        client.delete(NODE, name)


def someone_elses_hosted_cluster(ns: str, name: str) -> dict[str, Any]:
    """A HostedCluster no provisioner made (a platform team's), valid for HyperShift's schema."""
    return {
        "apiVersion": "hypershift.openshift.io/v1beta1",
        "kind": "HostedCluster",
        "metadata": {"name": name, "namespace": ns, "labels": {"team": "platform"}},
        "spec": {
            "release": {"image": "quay.io/openshift-release-dev/ocp-release:4.19.0-multi"},
            "pullSecret": {"name": "platform-pull-secret"},
            "sshKey": {"name": "platform-ssh-key"},
            "dns": {"baseDomain": "platform.example.com"},
            "platform": {"type": "None"},
            "networking": {"networkType": "Other"},
            "etcd": {"managementType": "Managed"},
            "services": [
                {
                    "service": service,
                    "servicePublishingStrategy": {"type": "NodePort", "nodePort": {"address": "10.0.0.1"}},
                }
                for service in ("APIServer", "OAuthServer", "Konnectivity", "Ignition")
            ],
        },
    }


def provisioner_watch(**kw: Any) -> Watch:
    """The provisioner's watch for a Controller in unit tests: its status and dependencies left out
    (no API server there); ``kw`` as Watch takes them (a finalizer, say)."""
    return Watch(
        "provisioning.dpu.hcp.io",
        "v1alpha1",
        "DPFHCPProvisioner",
        Path("reconcile.yml"),
        **{"manage_status": False, "watch_dependent_resources": False, **kw},
    )


def wait_listening(interpreter: WarmInterpreter, timeout: float = 30.0) -> None:
    """Until the warm interpreter takes connections (it imports first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(interpreter.socket))
            return
        except OSError:
            time.sleep(0.05)
        finally:
            probe.close()
    raise AssertionError("the warm interpreter never listened")


def descendants(roots: set[int], besides: set[int] = frozenset()) -> set[int]:
    """Every process descending from ``roots`` now (by their parents in /proc), leaving out the
    subtrees of the processes in ``besides`` (those that were there before, say)."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found: set[int] = set()
    frontier = set(roots)
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found - besides
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False
