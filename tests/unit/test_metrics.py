"""controller-runtime's metric names beside our dpfhcp_* ones: reconciles, the work queue, API
requests and leader election, each with the labels and values a Go operator's dashboards expect."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, Credentials, KubeClient
from dpf_hcp_operator import metrics
from dpf_hcp_operator.queue import WorkQueue


def value(metric: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(metric, labels) or 0.0


def all_adds() -> float:
    return sum(s.value for m in REGISTRY.collect() for s in m.samples if s.name == "workqueue_adds_total")


def test_a_controller_starts_with_every_result_at_zero_and_its_worker_count():
    metrics.start_controller("StartedKind", workers=3)
    for result in ("success", "error", "requeue", "requeue_after"):
        assert (
            REGISTRY.get_sample_value(
                "controller_runtime_reconcile_total", {"controller": "startedkind", "result": result}
            )
            == 0.0
        )
    assert REGISTRY.get_sample_value("controller_runtime_reconcile_errors_total", {"controller": "startedkind"}) == 0.0
    assert value("controller_runtime_max_concurrent_reconciles", controller="startedkind") == 3


def test_each_outcome_counts_as_controller_runtimes_result_and_ours_are_kept():
    kind, name = "CountedKind", "countedkind"
    for result in ("success", "skipped", "failed", "abandoned", "requeued", "failed"):
        metrics.observe_reconcile(kind, result, 1.5)

    def total(result: str) -> float:
        return value("controller_runtime_reconcile_total", controller=name, result=result)

    assert (total("success"), total("error"), total("requeue_after"), total("requeue")) == (2, 3, 1, 0)
    assert value("controller_runtime_reconcile_errors_total", controller=name) == 3
    # A skipped key ran nothing: no duration, in either histogram.
    assert value("controller_runtime_reconcile_time_seconds_count", controller=name) == 5
    assert value("controller_runtime_reconcile_time_seconds_bucket", controller=name, le="1.25") == 0
    assert value("controller_runtime_reconcile_time_seconds_bucket", controller=name, le="1.5") == 5
    assert value("dpfhcp_reconcile_duration_seconds_count", kind=kind) == 5
    assert value("dpfhcp_reconciles_total", kind=kind, result="failed") == 2
    assert value("dpfhcp_reconciles_total", kind=kind, result="skipped") == 1


def test_a_named_queue_reports_client_gos_workqueue_metrics():
    q = WorkQueue(name="queue-under-test")

    def queue_metric(metric: str) -> float:
        return value(metric, name="queue-under-test", controller="queue-under-test")

    q.add("a")
    q.add("a")  # waits already: not another add
    q.add("b")
    assert (queue_metric("workqueue_adds_total"), queue_metric("workqueue_depth")) == (2, 2)
    assert q.get_batch(1, timeout=0) == ["a"]
    assert queue_metric("workqueue_depth") == 1
    assert queue_metric("workqueue_queue_duration_seconds_count") == 1
    q.add("a")  # added while a worker has it: waits again
    assert (queue_metric("workqueue_adds_total"), queue_metric("workqueue_depth")) == (3, 2)
    q.done("a")
    assert queue_metric("workqueue_work_duration_seconds_count") == 1
    assert sorted(q.get_batch(5, timeout=0)) == ["a", "b"]
    assert queue_metric("workqueue_depth") == 0
    assert queue_metric("workqueue_queue_duration_seconds_count") == 3
    q.add_rate_limited("c")
    q.add_after("d", 0.01)
    assert queue_metric("workqueue_retries_total") == 2
    assert queue_metric("workqueue_depth") == 0  # delayed keys are not yet in the queue
    assert sorted(q.get_batch(5, timeout=2) + q.get_batch(5, timeout=2)) == ["c", "d"]
    assert queue_metric("workqueue_adds_total") == 5


def test_an_unnamed_queue_reports_nothing():
    before = all_adds()
    q = WorkQueue()
    q.add("k")
    assert q.get_batch(1, timeout=0) == ["k"]
    q.done("k")
    assert all_adds() == before


def test_api_requests_count_as_rest_client_requests_by_code_method_and_host():
    metrics.count_api_requests()
    try:
        metrics.observe_api_request("GET", 200, "https://api.example.test:6443")
        metrics.observe_api_request("WATCH", 200, "https://api.example.test:6443")
        metrics.observe_api_request("PATCH", 409, "https://[fd00::1]:6443")
        assert value("rest_client_requests_total", code="200", method="GET", host="api.example.test:6443") == 2
        assert value("rest_client_requests_total", code="409", method="PATCH", host="[fd00::1]:6443") == 1
        assert value("dpfhcp_api_requests_total", method="WATCH", code="200") >= 1
        # A request with no answer is client-go's "<error>"; the host is the client's server.
        client = KubeClient(Credentials(server="https://127.0.0.1:1"), timeout=2)
        with pytest.raises(ApiError):
            client.request("GET", "/version")
        assert value("rest_client_requests_total", code="<error>", method="GET", host="127.0.0.1:1") == 1
    finally:
        KubeClient.observer = None


def test_one_set_reports_leadership_in_both_gauges_once_a_lease_is_named():
    status = metrics.LeaderStatus()
    try:
        status.set(1)  # no leader election: dpfhcp_leader only
        assert value("dpfhcp_leader") == 1
        assert REGISTRY.get_sample_value("leader_election_master_status", {"name": "lease-under-test"}) is None
        status.elect_on("lease-under-test")
        assert value("leader_election_master_status", name="lease-under-test") == 0  # a backup until it leads
        status.set(1)
        assert value("leader_election_master_status", name="lease-under-test") == 1
        status.set(0)
        assert (value("dpfhcp_leader"), value("leader_election_master_status", name="lease-under-test")) == (0, 0)
    finally:
        status.set(0)
