"""Start the stand-ins and the operator as background processes next to a local environment."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from dpf_hcp_dev.localcluster.controlplane import free_port
from dpf_hcp_dev.localcluster.environment import OPERATOR_NAMESPACE, Environment


def spawn(argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - owned by the child
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)


def start_standins(env: Environment, log_path: Path) -> subprocess.Popen[bytes]:
    return spawn(
        [
            sys.executable,
            "-m",
            "dpf_hcp_dev.standins",
            "--kubeconfig",
            str(env.management.kubeconfig_path()),
            "--hosted-kubeconfig",
            str(env.hosted.kubeconfig_path()),
            "--hosted-kubeconfigs",
            str(env.hosted.kubeconfig_path().parent),
        ],
        log_path,
    )


def start_operator(
    env: Environment, work_dir: Path, log_path: Path, *extra: str, identity: str = "dpf-hcp-operator"
) -> tuple[subprocess.Popen[bytes], int, int]:
    """The operator as its own identity (token user); returns (process, health port, metrics port)."""
    health, metrics = free_port(), free_port()
    proc = spawn(
        [
            sys.executable,
            "-m",
            "dpf_hcp_operator.cli",
            "--kubeconfig",
            str(env.management.kubeconfig_path(identity)),
            "--operator-namespace",
            OPERATOR_NAMESPACE,
            "--work-dir",
            str(work_dir),
            "--health-probe-bind-address",
            f"127.0.0.1:{health}",
            "--metrics-bind-address",
            f"127.0.0.1:{metrics}",
            *extra,
        ],
        log_path,
    )
    return proc, health, metrics


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
