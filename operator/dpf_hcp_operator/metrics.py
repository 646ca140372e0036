"""Prometheus metrics, through prometheus_client."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.kube import KubeClient

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
LEADER = Gauge("dpfhcp_leader", "1 while this replica holds the leader Lease (or runs without leader election)")
API_REQUESTS = Counter(
    "dpfhcp_api_requests_total",
    "Requests this process made to API servers (management and hosted), by method and HTTP status (0: no answer); "
    "WATCH counts watches opened. Requests of Ansible runs are not counted here.",
    ["method", "code"],
)


def count_api_requests() -> None:
    """Count every KubeClient request of this process in API_REQUESTS."""
    KubeClient.observer = lambda method, status: API_REQUESTS.labels(method, str(status)).inc()
