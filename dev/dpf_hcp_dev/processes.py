"""Start the stand-ins and the operator as background processes next to a local environment."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import VALIDATING_WEBHOOK
from dpf_hcp_dev.localcluster.controlplane import free_port
from dpf_hcp_dev.localcluster.environment import OPERATOR_NAMESPACE, Environment
from dpf_hcp_dev.standins import metallb
from dpf_hcp_operator import webhook


def spawn(argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - owned by the child
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)


def start_standins(env: Environment, log_path: Path, timeout: float = 30.0) -> subprocess.Popen[bytes]:
    """The stand-ins, returned once MetalLB's webhook answers (before it, pools are not checked)."""
    proc = spawn(
        [
            sys.executable,
            "-m",
            "dpf_hcp_dev.standins",
            "--kubeconfig",
            str(env.management.kubeconfig_path()),
            "--hosted-kubeconfig",
            str(env.hosted.kubeconfig_path("system:admin")),
            "--hosted-kubeconfigs",
            str(env.hosted.kubeconfig_path().parent),
        ],
        log_path,
    )
    client = env.client()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"stand-ins exited ({proc.returncode}); log:\n{log_path.read_text()[-3000:]}")
        hook = client.get_or_none(VALIDATING_WEBHOOK, metallb.CONFIGURATION)
        url = urlsplit(hook["webhooks"][0]["clientConfig"]["url"]) if hook else None
        if url is not None and url.port:
            with contextlib.suppress(OSError), socket.create_connection((url.hostname, url.port), timeout=1):
                return proc
        time.sleep(0.1)
    raise TimeoutError(f"stand-ins not ready after {timeout}s; log:\n{log_path.read_text()[-3000:]}")


@dataclass
class OperatorProcess:
    process: subprocess.Popen[bytes]
    health_port: int
    metrics_port: int
    webhook_port: int
    webhook_ca: Path  # the self-signed CA: the webhook configuration's caBundle

    def webhook_configuration(self, object_selector: dict | None = None) -> dict:  # type: ignore[type-arg]
        return webhook.configuration(
            self.webhook_ca.read_bytes(), url=f"https://127.0.0.1:{self.webhook_port}", object_selector=object_selector
        )


def start_operator(
    env: Environment,
    work_dir: Path,
    log_path: Path,
    *extra: str,
    identity: str = "dpf-hcp-operator",
    kubeconfig: Path | None = None,
    python: str = sys.executable,
    environ: dict[str, str] | None = None,
) -> OperatorProcess:
    """The operator as its own identity (a token user, or whoever ``kubeconfig`` names), with its
    admission webhook on loopback; ``python`` and ``environ`` run another installation of it."""
    health, metrics, hook = free_port(), free_port(), free_port()
    certs = work_dir / "webhook"
    proc = spawn(
        [
            python,
            "-m",
            "dpf_hcp_operator.cli",
            "--kubeconfig",
            str(kubeconfig or env.management.kubeconfig_path(identity)),
            "--operator-namespace",
            OPERATOR_NAMESPACE,
            "--work-dir",
            str(work_dir),
            "--health-probe-bind-address",
            f"127.0.0.1:{health}",
            "--metrics-bind-address",
            f"127.0.0.1:{metrics}",
            "--webhook-bind-address",
            f"127.0.0.1:{hook}",
            "--webhook-cert-dir",
            str(certs),
            "--webhook-self-signed-hosts",
            "127.0.0.1,localhost",
            *extra,
        ],
        log_path,
        environ,
    )
    return OperatorProcess(proc, health, metrics, hook, certs / "ca.crt")


def wait_ready(port: int, proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"operator exited ({proc.returncode}); log:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"operator not ready after {timeout}s; log:\n{log_path.read_text()[-3000:]}")
