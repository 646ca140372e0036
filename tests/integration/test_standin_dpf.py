"""Contract of the DPF stand-in (issue 17): each test is a fact of ../shared/notes/upstream-behaviour.md,
section F, that our code depends on (NVIDIA/doca-platform files named). The stand-in must answer
as DPF does, through the same API server; where it would answer otherwise, a test fails.

- Pending -> Creating at once (provisioning dpucluster_controller.go); Created False
  EmptyKubeconfig without spec.kubeconfig (clustermanager static/handler.go):
  test_a_static_dpucluster_without_kubeconfig_waits_in_creating.
- Only `static` clusters get Created from the static manager (clustermanager controller):
  test_a_kamaji_dpucluster_gets_no_created_condition_from_the_static_manager.
- Ready only after a health check through the injected kubeconfig (key super-admin.conf, one
  cluster and one user: dpucluster.go); a failed check is Ready False HealthCheckFailed, phase
  NotReady, also for a secret it cannot read:
  test_the_health_check_goes_through_the_injected_kubeconfig.
- DPU phases ... Rebooting -> Host Network Configuration -> DPU Cluster Config -> Node Effect
  Removal -> Ready, nodeLabels applied through the DPUCluster's kubeconfig (state/*.go), kubelet
  CSRs named csr-<random>: test_a_dpu_walks_dpfs_phases_and_gets_its_node_labels.
- A DPU waits in OS Installing while DPF finds no bf.cfg template for it (bfcfg.go):
  test_a_dpu_without_a_template_dpf_can_select_stays_in_os_installing.
"""

from __future__ import annotations

import base64
import threading
import time
from typing import Any

import yaml

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import NODE, SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import DPU, DPU_CLUSTER
from support import (
    dpu,
    dpucluster,
    kubelet_csr,
    namespace,
    provisioner_of_its_own_dpucluster,
    unique,
    wait_condition,
    wait_for,
)

STEP_SECONDS = 0.5  # DPUWalker.step in the stand-ins
PHASES = [
    "OS Installing",
    "Rebooting",
    "Host Network Configuration",
    "DPU Cluster Config",
    "Node Effect Removal",
    "Ready",
]


def _status(mgmt, ns: str, name: str) -> dict[str, Any]:
    return mgmt.get(DPU_CLUSTER, name, ns).get("status") or {}


def _condition(status: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == kind), None)


def _cluster_with_secret(mgmt, ns: str, name: str, data: dict[str, str]) -> None:
    mgmt.create(
        SECRET,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"{name}-kubeconfig", "namespace": ns},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        },
    )
    dpucluster(mgmt, ns, name)
    mgmt.patch(DPU_CLUSTER, name, {"spec": {"kubeconfig": f"{name}-kubeconfig"}}, namespace=ns)


def test_a_static_dpucluster_without_kubeconfig_waits_in_creating(env, mgmt, standins):
    ns = namespace(mgmt, unique("dpf"))
    dpucluster(mgmt, ns, "plain")
    status = wait_for("Created condition", lambda: (s := _status(mgmt, ns, "plain")).get("conditions") and s)
    assert status["phase"] == "Creating"
    created = _condition(status, "Created")
    assert (created["status"], created["reason"], created["message"]) == (
        "False",
        "EmptyKubeconfig",
        "spec.kubeconfig is empty",
    )
    assert _condition(status, "Ready") is None


def test_a_kamaji_dpucluster_gets_no_created_condition_from_the_static_manager(env, mgmt, standins):
    ns = namespace(mgmt, unique("dpf"))
    dpucluster(mgmt, ns, "kamaji", cluster_type="kamaji")
    wait_for("phase Creating", lambda: _status(mgmt, ns, "kamaji").get("phase") == "Creating")
    dpucluster(mgmt, ns, "marker")  # the stand-in handles clusters in turn: once this one has its
    wait_for("the marker's Created", lambda: _status(mgmt, ns, "marker").get("conditions"))
    assert "conditions" not in _status(mgmt, ns, "kamaji")


def test_the_health_check_goes_through_the_injected_kubeconfig(env, mgmt, standins):
    """DPF reads the secret spec.kubeconfig names, key super-admin.conf, with one cluster and one user,
    and calls /version through it: Ready HealthCheckPassed (status.version the server's), or NotReady
    HealthCheckFailed, also for a secret it cannot read (wrong key, two users)."""
    ns = namespace(mgmt, unique("dpf"))
    good = env.hosted.kubeconfig_path().read_text()
    parsed = yaml.safe_load(good)
    unreachable = yaml.safe_load(good)
    unreachable["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:1"
    two_users = {**parsed, "users": parsed["users"] + [{**parsed["users"][0], "name": "second"}]}
    _cluster_with_secret(mgmt, ns, "good", {"super-admin.conf": good})
    _cluster_with_secret(mgmt, ns, "down", {"super-admin.conf": yaml.safe_dump(unreachable)})
    _cluster_with_secret(mgmt, ns, "wrongkey", {"admin.conf": good, "kubeconfig": good})
    _cluster_with_secret(mgmt, ns, "twousers", {"super-admin.conf": yaml.safe_dump(two_users)})

    ready = wait_for("good Ready", lambda: (s := _status(mgmt, ns, "good")).get("phase") == "Ready" and s)
    assert _condition(ready, "Ready")["reason"] == "HealthCheckPassed"
    assert _condition(ready, "Created")["reason"] == "Created"
    assert ready["version"].startswith("v1.20")
    down = wait_for("down NotReady", lambda: (s := _status(mgmt, ns, "down")).get("phase") == "NotReady" and s)
    assert (_condition(down, "Ready")["status"], _condition(down, "Ready")["reason"]) == ("False", "HealthCheckFailed")
    for name, says in (("wrongkey", "data.super-admin.conf not found"), ("twousers", "auth info list")):
        status = wait_for(
            f"{name} NotReady", lambda n=name: (s := _status(mgmt, ns, n)).get("phase") == "NotReady" and s
        )
        ready = _condition(status, "Ready")
        assert (ready["status"], ready["reason"]) == ("False", "HealthCheckFailed") and says in ready["message"]


def _phases(mgmt, ns: str, name: str, stop: threading.Event, seen: list[str]) -> None:
    """Every phase the DPU passes through, from a watch (a poll could miss a short one)."""
    while not stop.is_set():
        for _kind, obj in mgmt.watch(DPU, ns, field_selector=f"metadata.name={name}", timeout_seconds=5):
            phase = (obj.get("status") or {}).get("phase")
            if phase and (not seen or seen[-1] != phase):
                seen.append(phase)
            if stop.is_set():
                return


def test_a_dpu_walks_dpfs_phases_and_gets_its_node_labels(env, mgmt, operator):
    ns, dpu_ns = provisioner_of_its_own_dpucluster(mgmt)
    wait_condition(mgmt, ns, "hcp", "KubeConfigInjected", "True")
    body = dpu(dpu_ns, "dpu-node-17")
    body["spec"]["cluster"]["nodeLabels"] = {"dpf.example/role": "dpu"}
    seen: list[str] = []
    stop = threading.Event()
    watcher = threading.Thread(target=_phases, args=(mgmt, dpu_ns, "dpu-node-17", stop, seen), daemon=True)
    watcher.start()
    try:
        mgmt.create(DPU, body)
        wait_for("DPU Ready", lambda: seen and seen[-1] == "Ready", timeout=90)
    finally:
        stop.set()
    assert [p for p in seen if p in PHASES] == PHASES, seen
    hosted = env.client("hosted")
    assert hosted.get(NODE, "dpu-node-17")["metadata"]["labels"]["dpf.example/role"] == "dpu"
    csr = kubelet_csr(hosted, "dpu-node-17")
    assert csr["metadata"]["name"].startswith("csr-") and csr["metadata"].get("generateName") == "csr-"


def test_a_dpu_without_a_template_dpf_can_select_stays_in_os_installing(env, mgmt, standins):
    ns = namespace(mgmt, unique("dpf"))
    dpucluster(mgmt, ns, "dpucluster")  # no provisioner: no bf.cfg template for its DPUs
    mgmt.create(DPU, dpu(ns, "waiting-dpu"))
    phase = lambda: (mgmt.get(DPU, "waiting-dpu", ns).get("status") or {}).get("phase")  # noqa: E731
    wait_for("OS Installing", lambda: phase() == "OS Installing")
    time.sleep(4 * STEP_SECONDS)  # an absence cannot be awaited: four steps of the walker
    assert phase() == "OS Installing"
