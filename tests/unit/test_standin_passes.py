"""Which objects the HyperShift stand-in's loop passes over: those whose inputs changed since their
last completed pass, and always those that time alone may change (openshift/hypershift's controllers
run on watch events of what they read, and requeue while they wait). Pure logic over fake caches."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError
from dpf_hcp_dev.standins.__main__ import Passes, reconcile_hypershift
from dpf_hcp_dev.standins.config import StandinConfig
from dpf_hcp_dev.standins.hypershift import HyperShiftStandin

KUBECONFIG = yaml.safe_dump({"clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}]})
CONTROL_PLANE = "t-hcp"


class Cache:
    """An informer's reads: get by (namespace, name), indexed by (namespace, ""), items."""

    def __init__(self, *objects: dict[str, Any]) -> None:
        self.objects = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objects}

    def get(self, key: tuple[str, str]) -> dict[str, Any] | None:
        return self.objects.get(key)

    def indexed(self, key: tuple[str, str]) -> list[dict[str, Any]]:
        return [o for (ns, _), o in self.objects.items() if ns == key[0]]

    def items(self) -> list[dict[str, Any]]:
        return list(self.objects.values())

    def put(self, obj: dict[str, Any]) -> None:
        self.objects[(obj["metadata"]["namespace"], obj["metadata"]["name"])] = obj

    def drop(self, namespace: str, name: str) -> None:
        del self.objects[(namespace, name)]


def obj(namespace: str, name: str, version: str, **rest: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": name, "resourceVersion": version}, **rest}


def hosted_cluster(age: float = 60.0, history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    hc = obj("t", "hcp", "10", spec={"secretEncryption": {"type": "aescbc", "aescbc": {"activeKey": {"name": "k"}}}})
    hc["metadata"]["creationTimestamp"] = (datetime.now(UTC) - timedelta(seconds=age)).strftime("%Y-%m-%dT%H:%M:%SZ")
    hc["status"] = {"version": {"history": history or [{"state": "Completed"}]}}
    return hc


def world() -> tuple[HyperShiftStandin, Cache, Cache, Cache, Cache]:
    secrets = Cache(
        obj("t", "k", "1"),
        obj("t", "hcp-admin-kubeconfig", "2"),
        obj(CONTROL_PLANE, "ignition-server-ca-cert", "3"),
        obj(CONTROL_PLANE, "token-hcp-abc", "4"),
    )
    node_pools = Cache(obj("t", "hcp", "20", spec={"clusterName": "hcp", "config": [{"name": "mc"}]}))
    config_maps = Cache(obj("t", "mc", "30"))
    nodes = Cache()
    standin = HyperShiftStandin(
        client=None,  # type: ignore[arg-type]
        hosted_admin_kubeconfig=KUBECONFIG,
        secrets=secrets,  # type: ignore[arg-type]
        node_pools=node_pools,  # type: ignore[arg-type]
        hosted_nodes=nodes,  # type: ignore[arg-type]
        config_maps=config_maps,  # type: ignore[arg-type]
    )
    return standin, secrets, node_pools, config_maps, nodes


def test_a_hosted_cluster_time_can_still_change_is_passed_every_time():
    standin, *_ = world()
    conf = StandinConfig({})
    assert standin.hosted_cluster_inputs(hosted_cluster(), conf) is not None
    assert standin.hosted_cluster_inputs(hosted_cluster(age=0.5), conf) is None  # waits out availableAfterSeconds
    upgrading = hosted_cluster(history=[{"state": "Partial"}, {"state": "Completed"}])
    assert standin.hosted_cluster_inputs(upgrading, conf) is None  # waits out upgradeAfterSeconds
    cp_upgrading = hosted_cluster()
    cp_upgrading["status"]["controlPlaneVersion"] = {"history": [{"state": "Partial"}, {"state": "Completed"}]}
    assert standin.hosted_cluster_inputs(cp_upgrading, conf) is None
    installing = hosted_cluster(history=[{"state": "Partial"}])  # waits for workers: an event, not time
    assert standin.hosted_cluster_inputs(installing, conf) is not None
    deleting = hosted_cluster()
    deleting["metadata"]["deletionTimestamp"] = "2026-12-05T00:00:00Z"
    assert standin.hosted_cluster_inputs(deleting, conf) is None
    standin._last_created[CONTROL_PLANE] = time.monotonic()  # a secret created moments ago may not be cached yet
    assert standin.hosted_cluster_inputs(hosted_cluster(), conf) is None
    standin._last_created = {"t-other": time.monotonic()}  # another cluster's secret: no matter
    assert standin.hosted_cluster_inputs(hosted_cluster(), conf) is not None
    standin._last_created = {"t": time.monotonic()}
    assert standin.hosted_cluster_inputs(hosted_cluster(), conf) is None


def test_a_hosted_cluster_is_passed_again_when_anything_its_pass_reads_changes():
    standin, secrets, node_pools, config_maps, nodes = world()
    conf = StandinConfig({})
    before = standin.hosted_cluster_inputs(hosted_cluster(), conf)
    assert standin.hosted_cluster_inputs(hosted_cluster(), conf) == before
    changes = {
        "the HostedCluster": lambda: None,
        "the settings": lambda: None,
        "a worker joined": lambda: nodes.put(
            obj("", "dpu-0", "1", status={"conditions": [{"type": "Ready", "status": "True"}]})
        ),
        "the encryption key": lambda: secrets.put(obj("t", "k", "5")),
        "the admin kubeconfig deleted": lambda: secrets.drop("t", "hcp-admin-kubeconfig"),
        "a token secret": lambda: secrets.put(obj(CONTROL_PLANE, "token-hcp-def", "6")),
        "the NodePool": lambda: node_pools.put(
            obj("t", "hcp", "21", spec={"clusterName": "hcp", "config": [{"name": "mc"}]})
        ),
        "its MachineConfig ConfigMap": lambda: config_maps.put(obj("t", "mc", "31")),
    }
    for what, change in changes.items():
        hc, settings = hosted_cluster(), conf
        change()
        if what == "the HostedCluster":
            hc["metadata"]["resourceVersion"] = "11"
        if what == "the settings":
            settings = StandinConfig({"t.hcp.degraded": "true"})
        after = standin.hosted_cluster_inputs(hc, settings)
        assert after is not None and after != before, what
        before = standin.hosted_cluster_inputs(hosted_cluster(), conf)


def test_a_node_pool_is_passed_again_when_anything_its_pass_reads_changes_and_always_while_deleting():
    standin, secrets, node_pools, config_maps, _ = world()
    conf, node_pool, hc = StandinConfig({}), node_pools.get(("t", "hcp")), hosted_cluster()
    before = standin.node_pool_inputs(node_pool, hc, conf)
    assert before is not None and standin.node_pool_inputs(node_pool, hc, conf) == before
    assert standin.node_pool_inputs(node_pool, None, conf) != before  # its HostedCluster gone
    newer_hc = hosted_cluster()
    newer_hc["metadata"]["resourceVersion"] = "12"
    assert standin.node_pool_inputs(node_pool, newer_hc, conf) != before
    assert standin.node_pool_inputs(node_pool, hc, StandinConfig({"t.hcp.coreConfigsMissing": "true"})) != before
    secrets.put(obj(CONTROL_PLANE, "token-hcp-abc", "7", data={"reason": "QXNFeHBlY3RlZA=="}))  # the payload's result
    assert standin.node_pool_inputs(node_pool, hc, conf) != before
    before = standin.node_pool_inputs(node_pool, hc, conf)
    config_maps.put(obj("t", "mc", "32"))
    assert standin.node_pool_inputs(node_pool, hc, conf) != before
    deleting = {**node_pool, "metadata": {**node_pool["metadata"], "deletionTimestamp": "2026-12-05T00:00:00Z"}}
    assert standin.node_pool_inputs(deleting, hc, conf) is None


def test_passes_skip_what_is_unchanged_retry_what_failed_and_forget_what_is_gone():
    passes = Passes()
    key = ("NodePool", "t", "hcp")
    assert passes.due(key, ("1",))
    passes.done(key, ("1",))
    passes.end()
    assert not passes.due(key, ("1",))
    assert passes.due(key, ("2",))
    passes.done(key, None)  # the pass failed: the next one tries again
    passes.end()
    assert passes.due(key, ("2",))
    passes.done(key, ("2",))
    passes.end()
    assert passes.due(key, None)  # time may change it: always due
    passes.end()
    passes.end()  # not seen in a pass: forgotten
    assert passes.due(key, ("2",))


class Recorder:
    """The stand-in as the loop sees it: the inputs it is told, and the passes it is given."""

    def __init__(self) -> None:
        self.inputs: dict[str, tuple[Any, ...] | None] = {"hcp": ("1",)}
        self.failing: set[str] = set()
        self.passed: list[str] = []

    def hosted_cluster_inputs(self, hc: dict[str, Any], conf: StandinConfig) -> tuple[Any, ...] | None:
        return self.inputs[hc["metadata"]["name"]]

    def node_pool_inputs(self, node_pool: dict[str, Any], hc: Any, conf: StandinConfig) -> tuple[Any, ...] | None:
        return self.inputs[node_pool["metadata"]["name"]]

    def reconcile(self, hc: dict[str, Any], conf: StandinConfig) -> None:
        self.passed.append(hc["metadata"]["name"])
        if hc["metadata"]["name"] in self.failing:
            raise ApiError(500, "InternalError", "etcd is away")

    def reconcile_node_pool(self, node_pool: dict[str, Any], hc: Any, conf: StandinConfig) -> None:
        self.passed.append("np-" + node_pool["metadata"]["name"])


class NoCVO:
    def reconcile(self, hcs: list[dict[str, Any]], conf: StandinConfig) -> None:
        pass


def test_the_loop_passes_what_changed_or_failed_and_skips_the_rest():
    recorder, passes = Recorder(), Passes()
    hcs, node_pools = Cache(obj("t", "hcp", "1")), Cache(obj("t", "np", "1", spec={"clusterName": "hcp"}))
    recorder.inputs["np"] = ("1",)

    def one_pass() -> list[str]:
        recorder.passed = []
        reconcile_hypershift(recorder, NoCVO(), hcs, node_pools, passes, StandinConfig({}))  # type: ignore[arg-type]
        return recorder.passed

    assert one_pass() == ["hcp", "np-np"]
    assert one_pass() == []  # nothing changed
    recorder.inputs["np"] = ("2",)
    assert one_pass() == ["np-np"]
    recorder.inputs["hcp"], recorder.failing = ("2",), {"hcp"}
    assert one_pass() == ["hcp"]
    assert one_pass() == ["hcp"]  # a failed pass is tried again
    recorder.failing = set()
    assert one_pass() == ["hcp"]
    assert one_pass() == []
    recorder.inputs["hcp"] = None  # time may change it
    assert one_pass() == ["hcp"]
    assert one_pass() == ["hcp"]
