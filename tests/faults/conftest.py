"""Fault tests: each module gets a management and a hosted control plane of its own, with the
stand-ins, and starts, kills and restarts its own operator replicas on them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dpf_hcp_dev.localcluster.controlplane import terminate
from dpf_hcp_dev.localcluster.environment import Environment
from dpf_hcp_dev.processes import start_standins
from support import bluefield_configmap


@pytest.fixture(scope="module")
def fault_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    env = Environment.up(tmp_path_factory.mktemp("fault-env"))
    bluefield_configmap(env.client())
    standins = start_standins(env, env.directory / "standins.log")
    try:
        yield env
    finally:
        terminate(standins.pid)
        env.down()


def pytest_collection_modifyitems(items: list[Any]) -> None:
    for item in items:
        if "/faults/" in str(item.fspath):
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.integration)
