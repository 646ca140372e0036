"""Wiring: client, watches, controllers, informers, workers, probes; and an orderly stop."""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import (
    capabilities,
    metallb,
    release,
    scope,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.bfcfg import DPF_NAMESPACE_ENV
from dpf_hcp_operator import health, logs, memory, metrics, provisioner, signals, watches, webhook
from dpf_hcp_operator.controller import Controller
from dpf_hcp_operator.leader import LeaderElector
from dpf_hcp_operator.logs import log
from dpf_hcp_operator.runner import PlaybookRunner, default_collections_path
from dpf_hcp_operator.settings import Config
from dpf_hcp_operator.warm import WarmInterpreter

LOG = logging.getLogger("dpf_hcp_operator")


def run(config: Config, stop: threading.Event | None = None) -> int:
    memory.tune_malloc()  # before any thread
    logs.setup(config.log_level)
    metrics.count_api_requests()
    stop = stop or threading.Event()
    restore = signals.stop_on_signals(stop)  # SIGTERM and SIGINT set stop (from a thread of their own)
    try:
        return _run(config, stop)
    finally:
        restore()


def _run(config: Config, stop: threading.Event) -> int:
    try:
        watch_list = watches.load(config.watches_file)
        client = KubeClient.from_kubeconfig(config.kubeconfig, maxsize=32)
    except (watches.WatchesError, ValueError) as exc:
        log(LOG, logging.ERROR, "cannot start", error=str(exc))
        return 2
    # The playbooks' modules list per watched namespace too (scope.ENV, as operator-sdk names it).
    env = {
        "POD_NAMESPACE": config.operator_namespace,
        scope.ENV: ",".join(config.watch_namespaces),
        release.RELEASE_REPOSITORIES_ENV: ",".join(config.allowed_release_repositories),  # the validate role's default
        DPF_NAMESPACE_ENV: config.dpf_operator_namespace,  # the ignition and cleanup roles' default
        capabilities.ENV: ",".join(config.disabled_capabilities),  # the hosted_cluster role's default
        metallb.MANAGE_ENV: "true" if config.manage_metallb else "false",  # the metallb role's default
    }
    if config.kubeconfig:
        env["K8S_AUTH_KUBECONFIG"] = str(Path(config.kubeconfig).resolve())
    limit = memory.memory_limit_mib()
    forks = config.max_forks or memory.forks_within(
        limit, config.max_workers, config.max_batch, warm=config.warm_interpreter
    )
    metrics.ANSIBLE_FORKS.set(forks)
    log(
        LOG,
        logging.INFO,
        "Ansible forks per run",
        forks=forks,
        memory_limit_mib=round(limit) if limit is not None else None,
        runs_at_once=config.max_workers,
        set_by="--max-forks" if config.max_forks else "the memory limit" if limit is not None else "--max-batch",
    )
    runner = PlaybookRunner(
        config.runs_dir,
        default_collections_path(),
        env,
        config.keep_artifacts,
        forks=forks,
        verbosity=config.ansible_verbosity,
        deadline=config.run_deadline,
        warm=WarmInterpreter(
            config.runs_dir / "warm", log_level=config.log_level, idle_seconds=config.warm_interpreter_idle
        )
        if config.warm_interpreter
        else None,
    )
    if runner.warm is not None:
        runner.warm.start()  # warm before the first run
    follow = functools.partial(
        provisioner.follow,
        client,
        operator_namespace=config.operator_namespace,
        scope=config.watch_namespaces,
        dpf_namespace=config.dpf_operator_namespace,
        csr_watch=config.csr_watch,
        hosted_api_service=config.hosted_api_service(os.environ),
    )
    controllers = [
        Controller(
            client,
            w,
            runner,
            config.max_batch,
            skip_unchanged=config.skip_unchanged,
            workers=config.max_workers,
            scope=config.watch_namespaces,
            follow=follow,
        )
        for w in watch_list
    ]
    informers = [i for c in controllers for i in c.informers]
    threads: list[threading.Thread] = []

    elector = None
    if config.leader_elect:
        elector = LeaderElector(
            client,
            config.leader_election_namespace or config.operator_namespace,
            config.leader_election_id,
            config.lease_duration,
            config.renew_deadline,
            config.retry_period,
        )
        metrics.LEADER.elect_on(config.leader_election_id)

    def healthz() -> tuple[bool, str]:
        dead = [t.name for t in threads if not t.is_alive()]
        return (not dead, "ok" if not dead else f"stopped threads: {dead}")

    def readyz() -> tuple[bool, str]:
        if elector is not None and not elector.leading.is_set():
            return True, "ok (standby: another replica leads; the webhook is served here too)"
        waiting = [i.name for i in informers if not i.synced.is_set()]
        return (not waiting, "ok" if not waiting else f"caches not synced: {waiting}")

    servers: list[Any] = []
    # The webhook first, its self-signed certificate made: /readyz must not answer before it serves.
    if config.webhook_bind_address:  # every replica answers admission
        if config.webhook_self_signed_hosts:
            webhook.ensure_self_signed(config.cert_dir, list(config.webhook_self_signed_hosts))
        if not (config.cert_dir / "tls.crt").exists() or not (config.cert_dir / "tls.key").exists():
            log(
                LOG,
                logging.ERROR,
                "cannot start",
                error=f"--webhook-bind-address is set but "
                f"{config.cert_dir} has no tls.crt and tls.key: mount the serving certificate there "
                "(--webhook-cert-dir) or pass --webhook-self-signed-hosts to make one",
            )
            return _shutdown(servers, controllers, runner, [], None, 2, 0.0)
        served = next((c for c in controllers if provisioner.serves(c.watch)), None)
        followers = served.followers if served else None
        reviewer = webhook.Reviewer(
            client,
            config.operator_namespace,
            served.informer if served else None,
            config.watch_namespaces,
            config.allowed_release_repositories,
            # the cache of Secrets' metadata the provisioners' runs are followed by, when they are
            secrets=followers.dependencies.secrets if isinstance(followers, provisioner.Followers) else None,
        )
        servers.append(webhook.serve(config.webhook_bind_address, reviewer, config.cert_dir, stop))
    servers.append(
        health.serve(
            config.health_probe_bind_address,
            {"/healthz": healthz, "/readyz": readyz},
            with_metrics=config.metrics_bind_address == config.health_probe_bind_address,
        )
    )
    if config.metrics_bind_address not in ("0", "", config.health_probe_bind_address):
        servers.append(health.serve(config.metrics_bind_address, {}, with_metrics=True))

    lost = threading.Event()
    if elector is not None:
        if not elector.acquire(stop):
            return _shutdown(servers, controllers, runner, [], None, 0, 0.0)
        keeper = threading.Thread(target=elector.keep, args=(stop, lost), name="leader-lease", daemon=True)
        keeper.start()
    else:
        metrics.LEADER.set(1)

    threads += [i.start(stop) for i in informers]
    workers = []
    for c in controllers:
        for n in range(config.max_workers):
            t = threading.Thread(
                target=c.work,
                args=(stop, f"{c.watch.kind.lower()}-{n}"),
                name=f"worker-{c.watch.kind}-{n}",
                daemon=True,
            )
            t.start()
            workers.append(t)
    threads += workers
    log(
        LOG,
        logging.INFO,
        "started",
        watches=[w.gvk for w in watch_list],
        namespace=config.operator_namespace,
        watch_namespaces=list(config.watch_namespaces) or "all",
        workers=config.max_workers,
        max_batch=config.max_batch,
        skip_unchanged=config.skip_unchanged,
        csr_watch=config.csr_watch,
        leader_election=config.leader_elect,
        pid=os.getpid(),
    )
    memory.freeze_what_is_loaded()
    trimmed_at = runner.finished
    while not stop.wait(0.5):
        if runner.finished != trimmed_at and runner.under_way == 0:  # the runs' garbage is gone
            trimmed_at = runner.finished
            memory.give_back_free_memory()
        if lost.is_set():  # another replica may lead already: abandon the runs now, as controller-runtime does
            stop.set()
            return _shutdown(servers, controllers, runner, workers, None, 1, 0.0)
    return _shutdown(servers, controllers, runner, workers, elector, 0, config.graceful_shutdown_timeout)


def _shutdown(
    servers: list[Any],
    controllers: list[Controller],
    runner: PlaybookRunner,
    workers: list[threading.Thread],
    elector: LeaderElector | None,
    code: int,
    grace: float,
) -> int:
    """Stop taking work; let the runs under way finish for ``grace`` seconds, then abandon them
    (the next leader reconciles their objects again); then give up the Lease."""
    for c in controllers:
        c.queue.shutdown()
        c.close()
    running = [t for t in workers if t.is_alive()]
    if running:
        log(LOG, logging.INFO, "waiting for runs under way", grace_seconds=grace)
    deadline = time.monotonic() + grace
    for t in running:
        t.join(timeout=max(0.0, deadline - time.monotonic()))
    if any(t.is_alive() for t in running):
        log(LOG, logging.WARNING, "abandoning the runs under way", grace_seconds=grace)
        runner.cancel.set()
        for t in running:
            t.join(timeout=30)
    if elector is not None:
        elector.release()
    for s in servers:
        s.shutdown()
    if runner.warm is not None:
        runner.warm.stop()
    log(LOG, logging.INFO, "stopped", code=code)
    return code
