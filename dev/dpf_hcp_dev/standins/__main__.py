"""`python -m dpf_hcp_dev.standins`: run the HyperShift and DPF stand-ins against the local clusters."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.apply import apply
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import CONFIGMAP, NODE, SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    CLUSTER_OPERATOR,
    CLUSTER_VERSION,
    DPU,
    DPU_CLUSTER,
    HOSTED_CLUSTER,
    NODE_POOL,
)
from dpf_hcp_dev.standins import config as cfg
from dpf_hcp_dev.standins.cvo import ClusterVersionOperatorStandin
from dpf_hcp_dev.standins.dpf import DPFStandin
from dpf_hcp_dev.standins.hypershift import HyperShiftStandin, by_namespace
from dpf_hcp_dev.standins.ignition import IgnitionServer
from dpf_hcp_dev.standins.kubelet import DPUWalker
from dpf_hcp_dev.standins.metallb import MetalLBWebhook
from dpf_hcp_operator import signals
from dpf_hcp_operator.informers import Informer

LOG = logging.getLogger("standins")
FAILED = threading.Event()  # a stand-in's loop ended with an error


def ensure_settings(client: KubeClient) -> None:
    """The stand-ins' ConfigMap with its defaults, unless someone already wrote one."""
    apply(client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": cfg.NAMESPACE}})
    try:
        client.create(
            CONFIGMAP,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": cfg.NAME, "namespace": cfg.NAMESPACE},
                "data": {"availableAfterSeconds": "2", "deleteAfterSeconds": "1"},
            },
        )
    except ApiError as exc:
        if not exc.conflict:
            raise


def run_loop(
    body: Callable[[cfg.StandinConfig], None],
    wake: threading.Event,
    stop: threading.Event,
    settings: Informer,
    tick: float,
) -> None:
    """One stand-in's passes: on each change it is told of, and every ``tick`` seconds. An error
    it does not expect stops them all, as it stopped the one loop they had before (the process
    exits with 1: a test sees its stand-ins gone, not one of them quietly stuck)."""
    try:
        while not stop.is_set():
            wake.wait(tick)
            wake.clear()
            body(cfg.StandinConfig.from_configmap(settings.get((cfg.NAMESPACE, cfg.NAME))))
    except Exception:
        LOG.exception("stand-in %s failed", threading.current_thread().name)
        FAILED.set()
        stop.set()


class Passes:
    """What each object's last completed pass read (``inputs``): an object whose inputs are the
    same again is passed over, as a controller that is not sent an event does not reconcile. An
    object whose inputs are None (it may change with time alone) is passed every time; one whose
    pass failed is passed again."""

    def __init__(self) -> None:
        self._done: dict[tuple[str, ...], tuple[Any, ...]] = {}
        self._seen: set[tuple[str, ...]] = set()

    def due(self, key: tuple[str, ...], inputs: tuple[Any, ...] | None) -> bool:
        self._seen.add(key)
        return inputs is None or self._done.get(key) != inputs

    def done(self, key: tuple[str, ...], inputs: tuple[Any, ...] | None) -> None:
        if inputs is None:
            self._done.pop(key, None)
        else:
            self._done[key] = inputs

    def run(self, key: tuple[str, ...], inputs: tuple[Any, ...] | None, work: Callable[[], None]) -> None:
        """``work`` (one object's pass) when the object is due; an API error is logged and the
        object is passed again next time."""
        if not self.due(key, inputs):
            return
        try:
            work()
        except ApiError as exc:
            self.done(key, None)
            LOG.warning("%s %s/%s: %s", *key, exc)
            return
        self.done(key, inputs)

    def end(self) -> None:
        """Forget the objects this pass did not see (deleted)."""
        self._done = {k: v for k, v in self._done.items() if k in self._seen}
        self._seen = set()


def reconcile_hypershift(
    hypershift: HyperShiftStandin,
    cvo: ClusterVersionOperatorStandin,
    hcs: Informer,
    node_pools: Informer,
    passes: Passes,
    conf: cfg.StandinConfig,
) -> None:
    """One pass of HyperShift's controllers and the hosted cluster's CVO, over the objects whose
    inputs changed since their last pass (HostedCluster.hosted_cluster_inputs, node_pool_inputs)."""
    for hc in hcs.items():
        meta = hc["metadata"]
        passes.run(
            ("HostedCluster", meta["namespace"], meta["name"]),
            hypershift.hosted_cluster_inputs(hc, conf),
            lambda hc=hc: hypershift.reconcile(hc, conf),
        )
    try:
        cvo.reconcile(hcs.items(), conf)
    except ApiError as exc:
        LOG.warning("hosted ClusterVersion and ClusterOperators: %s", exc)
    for node_pool in node_pools.items():
        meta, spec = node_pool["metadata"], node_pool.get("spec") or {}
        hc = hcs.get((meta["namespace"], str(spec.get("clusterName", ""))))
        passes.run(
            ("NodePool", meta["namespace"], meta["name"]),
            hypershift.node_pool_inputs(node_pool, hc, conf),
            lambda node_pool=node_pool, hc=hc: hypershift.reconcile_node_pool(node_pool, hc, conf),
        )
    passes.end()


def reconcile_ignition(hypershift: HyperShiftStandin, hcs: Informer, conf: cfg.StandinConfig) -> None:
    """One pass of HyperShift's ignition server over the NodePools' token secrets."""
    for hc in hcs.items():
        try:
            hypershift.serve_tokens(hc, conf)
        except ApiError as exc:
            LOG.warning("tokens of HostedCluster %s/%s: %s", hc["metadata"]["namespace"], hc["metadata"]["name"], exc)


def reconcile_dpf(dpf: DPFStandin, clusters: Informer, conf: cfg.StandinConfig) -> None:
    """One pass of DPF's DPUCluster controllers."""
    for cluster in clusters.items():
        try:
            dpf.reconcile_dpucluster(cluster, conf)
        except ApiError as exc:
            LOG.warning("DPUCluster %s: %s", cluster["metadata"]["name"], exc)


def reconcile_dpus(walker: DPUWalker, dpus: Informer) -> None:
    """One pass of the DPUs: each boots, joins the hosted cluster and becomes Ready."""
    for index, dpu in enumerate(sorted(dpus.items(), key=lambda d: d["metadata"]["name"])):
        try:
            walker.reconcile(dpu, index)
        except ApiError as exc:
            LOG.warning("DPU %s: %s", dpu["metadata"]["name"], exc)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="standins", description=__doc__)
    p.add_argument("--kubeconfig", required=True, help="management cluster (admin)")
    p.add_argument(
        "--hosted-kubeconfig",
        required=True,
        type=Path,
        help="the hosted cluster's admin kubeconfig, published as <hc>-admin-kubeconfig",
    )
    p.add_argument(
        "--hosted-kubeconfigs",
        type=Path,
        help="folder of the hosted cluster's per-user kubeconfigs (node-bootstrapper, nodes); "
        "without it DPUs are not walked",
    )
    p.add_argument(
        "--metallb-namespace",
        default="metallb-system",
        help="MetalLB's namespace: its webhooks refuse pools and advertisements created elsewhere",
    )
    p.add_argument("--tick", type=float, default=0.2, help="seconds between passes")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s standins %(levelname)s %(message)s")
    client = KubeClient.from_kubeconfig(args.kubeconfig, maxsize=8)
    secrets = Informer(client, SECRET, index=by_namespace)
    node_pools = Informer(client, NODE_POOL)
    hosted = KubeClient.from_kubeconfig(str(args.hosted_kubeconfig), maxsize=2)
    hosted_nodes = Informer(hosted, NODE)
    # The hosted cluster's ClusterVersion and ClusterOperators, as its CVO and HCCO publish them.
    cluster_operators = Informer(hosted, CLUSTER_OPERATOR)
    cluster_versions = Informer(hosted, CLUSTER_VERSION)
    cvo = ClusterVersionOperatorStandin(hosted, hosted_nodes, cluster_operators, cluster_versions)
    config_maps = Informer(client, CONFIGMAP)  # the NodePools' spec.config
    hypershift = HyperShiftStandin(
        client, args.hosted_kubeconfig.read_text(), secrets, IgnitionServer(), node_pools, hosted_nodes, config_maps
    )
    dpf = DPFStandin(client)  # reads key super-admin.conf, as current DPF does
    stop = threading.Event()
    signals.stop_on_signals(stop)  # not stop.set() in a handler: it can wait for its own thread's lock
    ensure_settings(client)
    metallb = MetalLBWebhook(client, args.metallb_namespace)
    metallb.register()
    hcs = Informer(client, HOSTED_CLUSTER)
    clusters = Informer(client, DPU_CLUSTER)
    dpus = Informer(client, DPU)
    walker = DPUWalker(client, args.hosted_kubeconfigs) if args.hosted_kubeconfigs else None
    settings = Informer(client, CONFIGMAP, namespace=cfg.NAMESPACE, field_selector=f"metadata.name={cfg.NAME}")
    # HyperShift, its ignition server, DPF and the DPUs' kubelets are separate processes upstream: each has a loop
    # (a thread) of its own, so one held by a peer (DPF's health check of a DPUCluster whose API
    # server never answers waits out its deadline) holds no other.
    passes = Passes()
    loops = {
        "hypershift": lambda conf: reconcile_hypershift(hypershift, cvo, hcs, node_pools, passes, conf),
        "ignition-tokens": lambda conf: reconcile_ignition(hypershift, hcs, conf),
        "dpf": lambda conf: reconcile_dpf(dpf, clusters, conf),
    }
    if walker is not None:
        loops["kubelet"] = lambda conf: reconcile_dpus(walker, dpus)
    wakes = {name: threading.Event() for name in loops}
    for inf in (hcs, clusters, settings, dpus, secrets, node_pools, hosted_nodes, config_maps):
        inf.add_handler(lambda *_: [wake.set() for wake in wakes.values()])
        inf.start(stop)
    for inf in (cluster_operators, cluster_versions):  # read back only: their events need no pass
        inf.start(stop)
    for inf in (
        hcs,
        clusters,
        settings,
        dpus,
        secrets,
        node_pools,
        hosted_nodes,
        config_maps,
        cluster_operators,
        cluster_versions,
    ):  # what is missing is judged from full caches
        while not inf.synced.wait(0.2) and not stop.is_set():
            pass
    LOG.info("running")
    threads = [
        threading.Thread(target=run_loop, args=(body, wakes[name], stop, settings, args.tick), name=name, daemon=True)
        for name, body in loops.items()
    ]
    for thread in threads:
        thread.start()
    stop.wait()
    for thread in threads:
        thread.join(timeout=30)
    metallb.unregister()  # with failurePolicy Fail, a webhook nobody serves would refuse every pool
    metallb.stop()
    return 1 if FAILED.is_set() else 0


if __name__ == "__main__":
    sys.exit(main())
