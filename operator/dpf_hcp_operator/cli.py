"""`dpf-hcp-operator`: flags -> configuration -> the running operator."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import ansible_collections.dpf_hcp.provisioner as collection
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils import release, scope
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.bfcfg import DPF_NAMESPACE, DPF_NAMESPACE_ENV
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.formats import dns1123_label_problem
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.hosted_kubeconfig import SERVICE
from dpf_hcp_operator.app import Config, run


def collection_root() -> Path:
    return Path(next(iter(collection.__path__)))


def parse(argv: list[str] | None = None) -> Config:
    p = argparse.ArgumentParser(
        prog="dpf-hcp-operator",
        description="Runs the dpf_hcp.provisioner playbooks for DPFHCPProvisioner resources, as watches.yaml says.",
    )
    p.add_argument(
        "--kubeconfig",
        default=os.environ.get("KUBECONFIG"),
        help="management cluster kubeconfig (default: $KUBECONFIG, else in-cluster)",
    )
    p.add_argument(
        "--watches-file",
        type=Path,
        default=os.environ.get("WATCHES_FILE"),
        help="watches.yaml (default: $WATCHES_FILE, else the collection's watches.yaml)",
    )
    p.add_argument(
        "--operator-namespace",
        default=os.environ.get("POD_NAMESPACE", "dpf-hcp-provisioner-system"),
        help="namespace of the operator and its ocp-bluefield-images ConfigMap (default: $POD_NAMESPACE)",
    )
    p.add_argument(
        "--watch-namespaces",
        default=os.environ.get(scope.ENV, ""),
        help="comma-separated namespaces whose provisioners, DPUClusters, DPUs, secrets and HyperShift objects "
        "the operator lists and watches, one by one (for namespaced RBAC: the chart's watchNamespaces); "
        f"empty: all namespaces (default: ${scope.ENV})",
    )
    p.add_argument(
        "--dpf-operator-namespace",
        default=os.environ.get(DPF_NAMESPACE_ENV, DPF_NAMESPACE),
        help="namespace of DPF's DPFOperatorConfig, where DPF looks for bf.cfg templates and the operator writes "
        f"them (the chart's dpfOperatorNamespace; default: ${DPF_NAMESPACE_ENV}, else {DPF_NAMESPACE})",
    )
    p.add_argument(
        "--allowed-release-repositories",
        default=os.environ.get(release.RELEASE_REPOSITORIES_ENV, ",".join(release.DEFAULT_RELEASE_REPOSITORIES)),
        help="comma-separated repositories (registry/repository, no tag) that spec.ocpReleaseImage must come "
        "from: HyperShift runs the release payload in the management cluster (the chart's "
        f"allowedReleaseRepositories; default: ${release.RELEASE_REPOSITORIES_ENV}, else "
        f"{','.join(release.DEFAULT_RELEASE_REPOSITORIES)})",
    )
    p.add_argument("--work-dir", type=Path, default=None, help="ansible-runner folders and artifacts")
    p.add_argument("--max-workers", type=int, default=2, help="ansible runs at once per kind")
    p.add_argument("--max-batch", type=int, default=50, help="objects one ansible run may serve")
    p.add_argument(
        "--max-forks",
        type=int,
        default=0,
        help="workers one ansible run may fork (hosts of a task served at once); 0: as many as the container's "
        "memory limit holds with --max-workers runs at once, at most --max-batch",
    )
    p.add_argument(
        "--skip-unchanged",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="skip the playbook for an object when nothing it depends on changed since its last good run "
        "(--no-skip-unchanged: run it on every event, as operator-sdk's Ansible operator does)",
    )
    p.add_argument(
        "--csr-watch",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="watch each hosted cluster's CSRs and approve joining DPUs' at once "
        "(--no-csr-watch: only when the playbook runs)",
    )
    p.add_argument(
        "--hosted-api-server",
        choices=["auto", "service", "published"],
        default="auto",
        help="how the CSR watch reaches each hosted API server: its in-cluster Service (see "
        "--hosted-api-server-service), the endpoint its kubeconfig names, or auto: the Service when the "
        "operator runs in a pod (KUBERNETES_SERVICE_HOST is set), else the published endpoint",
    )
    p.add_argument(
        "--hosted-api-server-service",
        default=SERVICE,
        help="host:port of the hosted API server's Service, {namespace} standing for the control-plane "
        f"namespace (default {SERVICE.replace('{', '{{').replace('}', '}}')}; HyperShift's port on IBM Cloud is 2040)",
    )
    p.add_argument("--keep-artifacts", type=int, default=10, help="ansible-runner artifact folders kept per worker")
    p.add_argument("--health-probe-bind-address", default=":8081", help="/healthz and /readyz")
    p.add_argument("--metrics-bind-address", default=":8080", help="/metrics; '0' disables")
    p.add_argument("--log-level", choices=["debug", "info", "error"], default=os.environ.get("LOG_LEVEL", "info"))
    p.add_argument("--ansible-verbosity", type=int, default=0)
    p.add_argument(
        "--webhook-bind-address",
        default="",
        help="serve the admission webhook here, e.g. :9443 (HTTPS; off when empty)",
    )
    p.add_argument(
        "--webhook-cert-dir",
        type=Path,
        default=None,
        help="tls.crt and tls.key for the webhook, reloaded when they change (default: <work-dir>/webhook)",
    )
    p.add_argument(
        "--webhook-self-signed-hosts",
        default="",
        help="comma-separated names and IPs: make a self-signed certificate for them in the cert dir "
        "when none is there (ca.crt is the caBundle)",
    )
    p.add_argument(
        "--leader-elect",
        action="store_true",
        help="reconcile only while holding a Lease "
        "(for more than one replica); the webhook and probes are served by every replica",
    )
    p.add_argument(
        "--leader-election-namespace", default="", help="namespace of the Lease (default: the operator namespace)"
    )
    p.add_argument("--leader-election-id", default="dpf-hcp-provisioner-leader", help="name of the Lease")
    p.add_argument("--lease-duration", type=float, default=15.0, help="seconds a Lease is valid without renewal")
    p.add_argument(
        "--renew-deadline", type=float, default=10.0, help="give up leading after failing to renew for this long"
    )
    p.add_argument("--retry-period", type=float, default=2.0, help="seconds between acquire and renew attempts")
    p.add_argument(
        "--graceful-shutdown-timeout",
        type=float,
        default=25.0,
        help="on SIGTERM, seconds the Ansible runs under way may take to finish before they are abandoned "
        "(their objects are reconciled again by the next leader); keep it below the pod's "
        "terminationGracePeriodSeconds",
    )
    p.add_argument(
        "--run-deadline",
        type=float,
        default=600.0,
        help="seconds an Ansible run may take before it is stopped and its objects retried with backoff; "
        "0: no deadline. Keep it well above the longest batch (metric dpfhcp_ansible_run_duration_seconds)",
    )
    a = p.parse_args(argv)
    try:
        watch_namespaces = scope.parse(a.watch_namespaces)
    except ValueError as exc:
        p.error(f"--watch-namespaces: {exc}")
    try:
        release_repositories = release.release_repositories(a.allowed_release_repositories)
    except ValueError as exc:
        p.error(f"--allowed-release-repositories: {exc}")
    problem = dns1123_label_problem(a.dpf_operator_namespace)
    if problem:
        p.error(f"--dpf-operator-namespace {a.dpf_operator_namespace!r} is not a namespace name: {problem}")
    problem = service_problem(a.hosted_api_server_service)
    if problem:
        p.error(f"--hosted-api-server-service {a.hosted_api_server_service!r}: {problem}")
    if a.run_deadline < 0:
        p.error(f"--run-deadline must be 0 (none) or more seconds, not {a.run_deadline}")
    if a.graceful_shutdown_timeout < 0:
        p.error(f"--graceful-shutdown-timeout must be 0 or more seconds, not {a.graceful_shutdown_timeout}")
    if not 0 < a.retry_period < a.renew_deadline < a.lease_duration:
        p.error(
            f"leader election timings must satisfy 0 < --retry-period ({a.retry_period}) < --renew-deadline "
            f"({a.renew_deadline}) < --lease-duration ({a.lease_duration}); e.g. 2, 10 and 15"
        )
    if a.max_forks < 0:
        p.error(f"--max-forks must be 0 (from the memory limit) or more, not {a.max_forks}")
    for flag, value in (
        ("--max-workers", a.max_workers),
        ("--max-batch", a.max_batch),
        ("--keep-artifacts", a.keep_artifacts),
    ):
        if value < 1:
            p.error(f"{flag} must be at least 1, not {value}")
    watches = a.watches_file or (collection_root() / "watches.yaml")
    work_dir = a.work_dir or Path(tempfile.gettempdir()) / "dpf-hcp-operator"
    cert_dir = a.webhook_cert_dir or work_dir / "webhook"
    return Config(
        kubeconfig=a.kubeconfig,
        watches_file=Path(watches),
        operator_namespace=a.operator_namespace,
        dpf_namespace=a.dpf_operator_namespace,
        watch_namespaces=watch_namespaces,
        release_repositories=release_repositories,
        work_dir=work_dir,
        max_workers=a.max_workers,
        max_batch=a.max_batch,
        max_forks=a.max_forks,
        skip_unchanged=a.skip_unchanged,
        csr_watch=a.csr_watch,
        hosted_api_service=hosted_api_service(a.hosted_api_server, a.hosted_api_server_service, os.environ),
        keep_artifacts=a.keep_artifacts,
        health_address=a.health_probe_bind_address,
        metrics_address=a.metrics_bind_address,
        log_level=a.log_level,
        ansible_verbosity=a.ansible_verbosity,
        webhook_address=a.webhook_bind_address,
        webhook_cert_dir=cert_dir,
        webhook_self_signed_hosts=[h for h in a.webhook_self_signed_hosts.split(",") if h],
        leader_elect=a.leader_elect,
        leader_election_namespace=a.leader_election_namespace,
        leader_election_id=a.leader_election_id,
        lease_duration=a.lease_duration,
        renew_deadline=a.renew_deadline,
        retry_period=a.retry_period,
        graceful_shutdown_timeout=a.graceful_shutdown_timeout,
        run_deadline=a.run_deadline,
    )


def main(argv: list[str] | None = None) -> int:
    config = parse(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    return run(config)


def service_problem(service: str) -> str | None:
    """What is wrong with a --hosted-api-server-service value, or None."""
    try:
        address = service.format(namespace="ns")
    except (KeyError, IndexError, ValueError):
        return "only {namespace} may stand in braces"
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536 or "/" in address or "@" in address:
        return "give host:port, e.g. kube-apiserver.{namespace}.svc.cluster.local:6443"
    return None


def hosted_api_service(mode: str, service: str, environ: Mapping[str, str]) -> str | None:
    """The Service template the CSR watch uses, or None for the published endpoint."""
    if mode == "service" or (mode == "auto" and environ.get("KUBERNETES_SERVICE_HOST")):
        return service
    return None


if __name__ == "__main__":
    sys.exit(main())
