"""Prometheus metrics, through prometheus_client: our dpfhcp_* domain metrics, and beside them
controller-runtime's for what they measure (reconciles, the work queue, API requests, leader
election), with its names, labels and values, so dashboards and alerts written for a Go operator
read this one too."""

from __future__ import annotations

import time
from collections.abc import Hashable
from urllib.parse import urlsplit

from prometheus_client import Counter, Gauge, Histogram

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import KubeClient

RECONCILES = Counter(
    "dpfhcp_reconciles_total",
    "Reconciles by kind and result (success, failed, skipped, requeued, abandoned)",
    ["kind", "result"],
)
RECONCILE_DURATION = Histogram(
    "dpfhcp_reconcile_duration_seconds",
    "Time from taking a key to finishing it",
    ["kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120),
)
QUEUE_DEPTH = Gauge("dpfhcp_queue_depth", "Keys waiting in the work queue (ready or delayed)", ["kind"])
RETRIES = Counter("dpfhcp_retries_total", "Keys re-queued with backoff after a failure", ["kind"])
BACKOFF_SECONDS = Histogram(
    "dpfhcp_retry_backoff_seconds",
    "Backoff delays chosen after failures",
    ["kind"],
    buckets=(0.5, 1, 2, 4, 8, 16, 32, 64, 128, 300),
)
ANSIBLE_RUNS = Counter(
    "dpfhcp_ansible_runs_total", "ansible-runner runs by playbook and status", ["playbook", "status"]
)
ANSIBLE_RUNS_IN_PROGRESS = Gauge("dpfhcp_ansible_runs_in_progress", "ansible-runner runs under way", ["playbook"])
ANSIBLE_FORKS = Gauge("dpfhcp_ansible_forks", "Workers one Ansible run may fork (--max-forks, else the memory limit's)")
ANSIBLE_RUN_DURATION = Histogram(
    "dpfhcp_ansible_run_duration_seconds",
    "Duration of one ansible-runner run",
    ["playbook"],
    buckets=(0.5, 1, 1.5, 2, 3, 5, 8, 13, 21, 34, 60),
)
ANSIBLE_BATCH_SIZE = Histogram(
    "dpfhcp_ansible_batch_size",
    "Objects served by one ansible-runner run",
    ["playbook"],
    buckets=(1, 2, 5, 10, 20, 50, 100),
)
WATCH_EVENTS = Counter("dpfhcp_watch_events_total", "Watch events by informer and type", ["informer", "type"])
WATCH_ERRORS = Counter("dpfhcp_watch_errors_total", "Watches that failed and were restarted", ["informer"])
CSR_DECISIONS = Counter("dpfhcp_csr_decisions_total", "CSR decisions by result and reason", ["result", "reason"])
CSR_HOSTED_CLUSTERS = Gauge("dpfhcp_csr_hosted_clusters_watched", "Hosted clusters whose CSRs are watched")
ADMISSION_REVIEWS = Counter("dpfhcp_admission_reviews_total", "Admission reviews by result", ["result"])
ADMISSION_DURATION = Histogram(
    "dpfhcp_admission_duration_seconds",
    "Time to answer one admission review",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)
WEBHOOK_CONNECTIONS = Gauge("dpfhcp_webhook_connections", "Open connections to the admission webhook")
WEBHOOK_CONNECTIONS_CLOSED = Counter(
    "dpfhcp_webhook_connections_closed_total",
    "Webhook connections the server closed before the client did, by reason (deadline-handshake, "
    "deadline-reading, deadline-idle, evicted, full, error)",
    ["reason"],
)
_DPFHCP_LEADER = Gauge("dpfhcp_leader", "1 while this replica holds the leader Lease (or runs without leader election)")
API_REQUESTS = Counter(
    "dpfhcp_api_requests_total",
    "Requests this process made to API servers (management and hosted), by method and HTTP status (0: no answer); "
    "WATCH counts watches opened. Requests of Ansible runs are not counted here.",
    ["method", "code"],
)


# -- controller-runtime's metrics -----------------------------------------------------------------
# Names, help, labels and buckets as in kubernetes-sigs/controller-runtime:
#   pkg/internal/controller/metrics/metrics.go   controller_runtime_* (results: pkg/internal/controller/controller.go)
#   pkg/metrics/workqueue.go                     the workqueue_* names; labels and buckets in
#                                                pkg/internal/metrics/workqueue.go, observed as in
#                                                kubernetes/client-go util/workqueue/metrics.go
#   pkg/metrics/client_go_adapter.go             rest_client_requests_total (code and host as
#                                                kubernetes/client-go rest/request.go `sanitize` gives them)
#   pkg/metrics/leaderelection.go                leader_election_master_status
# A controller is named by its kind in lower case, as controller-runtime's builder names it; its
# work queue has the same name. Not reported: workqueue_depth's `priority` label (empty unless a
# priority queue), workqueue_unfinished_work_seconds and _longest_running_processor_seconds (they
# need a periodic update), controller_runtime_active_workers, _reconcile_panics_total,
# _terminal_reconcile_errors_total, _reconcile_timeouts_total, and the opt-in rest_client_* ones.

RECONCILE_TOTAL = Counter(
    "controller_runtime_reconcile_total", "Total number of reconciliations per controller", ["controller", "result"]
)
RECONCILE_ERRORS = Counter(
    "controller_runtime_reconcile_errors_total", "Total number of reconciliation errors per controller", ["controller"]
)
RECONCILE_TIME = Histogram(
    "controller_runtime_reconcile_time_seconds",
    "Length of time per reconciliation per controller",
    ["controller"],
    buckets=(
        *(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
        *(1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60),
    ),
)
MAX_CONCURRENT_RECONCILES = Gauge(
    "controller_runtime_max_concurrent_reconciles",
    "Maximum number of concurrent reconciles per controller",
    ["controller"],
)
# Our outcomes as controller-runtime's results: a failed run is a Reconcile that returned an error,
# and so is a run abandoned at shutdown (its context was canceled); a requeue is a RequeueAfter; a
# skipped key is a Reconcile that found nothing to do.
RESULTS = {
    "success": "success",
    "skipped": "success",
    "failed": "error",
    "abandoned": "error",
    "requeued": "requeue_after",
}

_QUEUE_SECONDS = tuple(float(f"1e{n}") for n in range(-8, 4))  # prometheus.ExponentialBuckets(10e-9, 10, 12)
WORKQUEUE_DEPTH = Gauge("workqueue_depth", "Current depth of workqueue", ["name", "controller"])
WORKQUEUE_ADDS = Counter("workqueue_adds_total", "Total number of adds handled by workqueue", ["name", "controller"])
WORKQUEUE_QUEUE_DURATION = Histogram(
    "workqueue_queue_duration_seconds",
    "How long in seconds an item stays in workqueue before being requested",
    ["name", "controller"],
    buckets=_QUEUE_SECONDS,
)
WORKQUEUE_WORK_DURATION = Histogram(
    "workqueue_work_duration_seconds",
    "How long in seconds processing an item from workqueue takes.",
    ["name", "controller"],
    buckets=_QUEUE_SECONDS,
)
WORKQUEUE_RETRIES = Counter(
    "workqueue_retries_total",
    "Total number of items added to the workqueue with a non-zero delay (rate-limited requeues, explicit "
    "RequeueAfter or AddAfter calls)",
    ["name", "controller"],
)

REST_CLIENT_REQUESTS = Counter(
    "rest_client_requests_total",
    "Number of HTTP requests, partitioned by status code, method, and host.",
    ["code", "method", "host"],
)

LEADER_ELECTION_MASTER_STATUS = Gauge(
    "leader_election_master_status",
    "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. "
    "'name' is the string used to identify the lease. Please make sure to group by name.",
    ["name"],
)


def controller_name(kind: str) -> str:
    return kind.lower()


def start_controller(kind: str, workers: int) -> None:
    """A controller's series from its start, at 0, as controller-runtime's initMetrics makes them."""
    name = controller_name(kind)
    for result in sorted(set(RESULTS.values()) | {"requeue"}):
        RECONCILE_TOTAL.labels(name, result)
    RECONCILE_ERRORS.labels(name)
    MAX_CONCURRENT_RECONCILES.labels(name).set(workers)


def observe_reconcile(kind: str, result: str, duration: float) -> None:
    """One key's reconcile, ``result`` one of RESULTS, in our metrics and controller-runtime's.
    ``duration`` is its batch's; a skipped key (no run, microseconds) adds none to either histogram."""
    name = controller_name(kind)
    RECONCILES.labels(kind, result).inc()
    RECONCILE_TOTAL.labels(name, RESULTS[result]).inc()
    if RESULTS[result] == "error":
        RECONCILE_ERRORS.labels(name).inc()
    if result != "skipped":
        RECONCILE_DURATION.labels(kind).observe(duration)
        RECONCILE_TIME.labels(name).observe(duration)


class WorkQueueMetrics:
    """client-go's workqueue metrics for one queue, called where client-go calls them: ``add`` when
    a key becomes waiting (not when it waits already), ``get`` when a worker takes it, ``done``
    when the worker is through, ``retry`` for every delayed add. The queue calls them under its lock."""

    def __init__(self, name: str) -> None:
        self.depth = WORKQUEUE_DEPTH.labels(name, name)
        self.adds = WORKQUEUE_ADDS.labels(name, name)
        self.queue_duration = WORKQUEUE_QUEUE_DURATION.labels(name, name)
        self.work_duration = WORKQUEUE_WORK_DURATION.labels(name, name)
        self.retries = WORKQUEUE_RETRIES.labels(name, name)
        self._added: dict[Hashable, float] = {}
        self._started: dict[Hashable, float] = {}

    def add(self, key: Hashable) -> None:
        self.adds.inc()
        self.depth.inc()
        self._added.setdefault(key, time.monotonic())

    def get(self, key: Hashable) -> None:
        now = time.monotonic()
        self.depth.dec()
        self._started[key] = now
        if key in self._added:
            self.queue_duration.observe(now - self._added.pop(key))

    def done(self, key: Hashable) -> None:
        if key in self._started:
            self.work_duration.observe(time.monotonic() - self._started.pop(key))

    def retry(self) -> None:
        self.retries.inc()


class LeaderStatus:
    """``dpfhcp_leader`` and, once a Lease is named (under leader election), controller-runtime's
    ``leader_election_master_status{name=<lease>}``: one ``set`` for both."""

    def __init__(self) -> None:
        self.lease: str | None = None

    def elect_on(self, lease: str) -> None:
        """Leader election on the Lease ``lease``: reported from now on, 0 (backup) until set to 1."""
        self.lease = lease
        LEADER_ELECTION_MASTER_STATUS.labels(lease).set(0)

    def set(self, value: float) -> None:
        _DPFHCP_LEADER.set(value)
        if self.lease is not None:
            LEADER_ELECTION_MASTER_STATUS.labels(self.lease).set(value)


LEADER = LeaderStatus()


def observe_api_request(method: str, status: int, server: str) -> None:
    """One KubeClient request: WATCH is a GET that opened a watch, status 0 no answer."""
    API_REQUESTS.labels(method, str(status)).inc()
    host = urlsplit(server).netloc.rpartition("@")[2] or "none"
    REST_CLIENT_REQUESTS.labels(
        str(status) if status else "<error>", "GET" if method == "WATCH" else method, host
    ).inc()


def count_api_requests() -> None:
    """Count every KubeClient request of this process in API_REQUESTS and REST_CLIENT_REQUESTS."""
    KubeClient.observer = observe_api_request
