"""The order of the provisioning playbooks' tasks, as ansible-playbook lists them: the HostedCluster
is held back by no task it does not read (each task before it costs a worker process per host),
and the NodePool never names a MachineConfig ConfigMap that is not there yet."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

HOSTED_CLUSTER = "dpf_hcp.provisioner.hosted_cluster : Apply the HostedCluster"
MACHINE_CONFIG = "dpf_hcp.provisioner.ignition : Apply the MachineConfig ConfigMap that NodePool.spec.config names"
NODE_POOL = "dpf_hcp.provisioner.hosted_cluster : Apply the NodePool (DPUs join by CSR, so it asks for no machines)"
# What decides whether the HostedCluster is made at all (the input's checks), and MetalLB's pool,
# which must hold the virtual IP before HyperShift makes the LoadBalancer Service.
BEFORE_HOSTED_CLUSTER = (
    "dpf_hcp.provisioner.validate : ",
    "dpf_hcp.provisioner.metallb : ",
    # provision.yml's own checks of its input
    "Require the provisioner's name, namespace and spec",
    "Refuse what the admission webhook would refuse",
    "Stop on invalid input, naming what to fix",
)
# What the HostedCluster reads.
ITS_INPUTS = (
    "dpf_hcp.provisioner.hosted_cluster : Copy the pull secret and the SSH public key for the HostedCluster",
    "dpf_hcp.provisioner.hosted_cluster : Make the etcd encryption key of the HostedCluster, once",
    "dpf_hcp.provisioner.hosted_cluster : Choose the management address for NodePort publishing",
    # provision.yml checks a role's arguments (meta/argument_specs.yml) before its first task.
    "dpf_hcp.provisioner.hosted_cluster : Validating arguments against arg spec 'control_plane'",
)


def listed_tasks(playbook: str, tmp_path: Path) -> list[str]:
    inventory = tmp_path / "hosts.json"
    inventory.write_text(json.dumps({"all": {"hosts": {"one": {}}}}))
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".venv" / "collections"), "ANSIBLE_NOCOLOR": "1"}
    out = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "--list-tasks", "-i", str(inventory), playbook],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    # Each task is a line "<role> : <name>\tTAGS: [...]", or "<name>\tTAGS: [...]" for a play's own task.
    lines = [line.strip() for line in out.stdout.splitlines() if "\tTAGS: " in line]
    return [line.split("\t")[0].strip() for line in lines if not line.startswith("play #")]


@pytest.mark.parametrize("playbook", ["playbooks/reconcile.yml", "playbooks/provision.yml"])
def test_the_hosted_cluster_waits_for_no_task_it_does_not_read(playbook: str, tmp_path: Path) -> None:
    tasks = listed_tasks(playbook, tmp_path)
    assert HOSTED_CLUSTER in tasks and MACHINE_CONFIG in tasks and NODE_POOL in tasks, tasks
    before = tasks[: tasks.index(HOSTED_CLUSTER)]
    held_back = [t for t in before if not t.startswith(BEFORE_HOSTED_CLUSTER + ITS_INPUTS)]
    assert held_back == [], f"{playbook}: the HostedCluster waits for {held_back}"
    # The MachineConfig ConfigMap after the HostedCluster, and still before the NodePool that names it.
    assert tasks.index(HOSTED_CLUSTER) < tasks.index(MACHINE_CONFIG) < tasks.index(NODE_POOL), tasks
    assert tasks.count(NODE_POOL) == 1 and tasks.count(HOSTED_CLUSTER) == 1, tasks
