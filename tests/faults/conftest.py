"""Fault tests: each module gets a management and a hosted control plane of its own, with the
stand-ins, and starts, kills and restarts its own operator replicas on them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dpf_hcp_dev.localcluster.controlplane import terminate
from dpf_hcp_dev.localcluster.environment import Environment
from dpf_hcp_dev.processes import start_standins
from support import bluefield_configmap, discard, namespaces


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


# The namespaces tests make for tenants (Tenant.create, the canary tenants) and HyperShift's
# control-plane namespaces made from them; never the stand-ins' or the operator's own.
TENANT_PREFIXES = ("tenant-", "dpus-", "dnc-")


@pytest.fixture(autouse=True)
def discard_tenants(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test, the tenant namespaces it made go (their provisioners without a finalizer
    run, the rest by the namespace controller). A module's next test starts a replica of its own,
    which would otherwise reconcile every tenant the earlier tests left before it gets to its own.
    Tenants made by wider fixtures (made before this one) stay; the test's replicas are closed."""
    if "fault_env" not in request.fixturenames:
        yield
        return
    client = request.getfixturevalue("fault_env").client()
    before = namespaces(client)
    yield
    discard(client, sorted(ns for ns in namespaces(client) - before if ns.startswith(TENANT_PREFIXES)))


def pytest_collection_modifyitems(items: list[Any]) -> None:
    for item in items:
        if "/faults/" in str(item.fspath):
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.integration)
