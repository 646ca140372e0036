"""Session fixtures: a management and a hosted kube-apiserver on loopback, the stand-ins, the operator."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import DPU_CLUSTER, PROVISIONER
from dpf_hcp_dev.localcluster.controlplane import terminate
from dpf_hcp_dev.localcluster.environment import Environment
from dpf_hcp_dev.processes import OperatorProcess, start_operator, start_standins, wait_ready
from support import bluefield_configmap, discard, management_node, namespaces, operator_watches


@dataclass
class Operator:
    health_port: int
    metrics_port: int
    log: Path
    process: OperatorProcess

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


# The session's control planes once up, and the namespaces its fixtures made (never discarded).
SESSION: dict[str, Any] = {"env": None, "namespaces": set()}


@pytest.fixture(scope="session")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    environment = Environment.up(tmp_path_factory.mktemp("env"))
    try:
        bluefield_configmap(environment.client())
        SESSION.update(env=environment, namespaces=namespaces(environment.client()))
        yield environment
    finally:
        SESSION.update(env=None, namespaces=set())
        environment.down()


@pytest.fixture(scope="module", autouse=True)
def discard_module_namespaces() -> Iterator[None]:
    """After each module, the namespaces its tests made for provisioners and DPUClusters go (the
    provisioners without a cleanup run, the rest by the namespace controller). The session's operator
    and stand-ins serve every module, and one hosted API server serves every HostedCluster: a change
    of the hosted cluster's health would otherwise rerun every provisioner every earlier module left,
    and each module's runs would batch with theirs. Namespaces the session's fixtures made stay."""
    before = namespaces(SESSION["env"].client()) if SESSION["env"] else set()
    yield
    if SESSION["env"] is not None:
        client = SESSION["env"].client()
        driving = {
            item["metadata"]["namespace"]
            for kind in (PROVISIONER, DPU_CLUSTER)
            for item in client.list(kind).get("items") or []
        }
        discard(client, sorted((driving & namespaces(client)) - before - SESSION["namespaces"]))


@pytest.fixture(scope="session")
def mgmt(env: Environment) -> KubeClient:
    return env.client()


@pytest.fixture(scope="session")
def standins(env: Environment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The stand-ins, with a worker already joined to the hosted cluster. One hosted API server
    serves every HostedCluster of the session, and HyperShift reports an install Completed and the
    data plane connected once the hosted cluster has a Ready node: with one from the start, no test's
    nodes flip that for every earlier test's HostedCluster (tests/unit/test_standin_hypershift.py
    shows the install before workers join)."""
    with management_node(env.client("hosted"), "10.6.0.1", "joined-worker"):
        proc = start_standins(env, tmp_path_factory.mktemp("logs") / "standins.log")
        yield
        terminate(proc.pid)


@pytest.fixture(scope="session")
def operator(env: Environment, standins: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    logs = tmp_path_factory.mktemp("operator")
    log = logs / "operator.log"
    watches = operator_watches(logs)
    started = start_operator(env, logs / "work", log, "--log-level", "debug", "--watches-file", str(watches))
    try:
        wait_ready(started.health_port, started.process, log)
        SESSION["namespaces"] |= namespaces(env.client())  # the stand-ins' and the operator's own
        yield Operator(started.health_port, started.metrics_port, log, started)
    finally:
        terminate(started.process.pid)
        if os.environ.get("DPF_HCP_SHOW_OPERATOR_LOG"):
            print(log.read_text())


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path


def pytest_collection_modifyitems(items: list[Any]) -> None:
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
