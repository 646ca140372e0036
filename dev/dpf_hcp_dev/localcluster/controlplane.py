"""One Kubernetes v1.20 control plane on loopback: etcd, kube-apiserver, kube-controller-manager."""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import KubeClient
from dpf_hcp_dev.certificates import client_certificate
from dpf_hcp_operator import pki

REPO = Path(__file__).resolve().parents[3]
BUILD_SCRIPT = REPO / "dev" / "bootstrap" / "kube-binaries.sh"

BOOTSTRAPPER = "system:serviceaccount:openshift-machine-config-operator:node-bootstrapper"
BOOTSTRAPPER_GROUPS = [
    "system:serviceaccounts:openshift-machine-config-operator",
    "system:serviceaccounts",
    "system:authenticated",
]


def kube_binaries() -> Path:
    """The directory of the cached v1.20.2 binaries; built from Debian's source on first use."""
    out = subprocess.run(["bash", str(BUILD_SCRIPT)], check=True, stdout=subprocess.PIPE, text=True)
    return Path(out.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class User:
    name: str
    uid: str
    groups: list[str]
    token: str = field(default_factory=lambda: secrets.token_hex(16))


def default_users(node_names: list[str]) -> list[User]:
    users = [
        User("admin", "uid-admin", ["system:masters"]),
        User("dpf-hcp-operator", "uid-operator", ["dpf-hcp:operators"]),
        User("system:kube-controller-manager", "uid-kcm", ["system:masters"]),
        User(BOOTSTRAPPER, "uid-bootstrapper", BOOTSTRAPPER_GROUPS),
        User("intruder", "uid-intruder", ["system:authenticated"]),
    ]
    users += [User(f"system:node:{n}", f"uid-node-{n}", ["system:nodes", "system:authenticated"]) for n in node_names]
    return users


@dataclass
class ControlPlane:
    """A control plane's files live in ``directory``; ``state`` is what `down` needs to stop it."""

    name: str
    directory: Path
    etcd_port: int = 0
    etcd_peer_port: int = 0
    api_port: int = 0
    pids: dict[str, int] = field(default_factory=dict)
    argv: dict[str, list[str]] = field(default_factory=dict)
    users: list[User] = field(default_factory=list)

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    def kubeconfig_path(self, user: str = "admin") -> Path:
        safe = user.replace(":", "_")
        return self.directory / "kubeconfigs" / f"{safe}.kubeconfig"

    def token(self, user: str) -> str:
        return next(u.token for u in self.users if u.name == user)

    def kubeconfig_text(self, user: str = "admin", token: str | None = None) -> str:
        """A kubeconfig for one of the token users, or for ``user`` holding ``token`` (a ServiceAccount's, say)."""
        ca = base64.b64encode((self.directory / "pki" / "ca.crt").read_bytes()).decode()
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": self.name,
            "clusters": [{"name": self.name, "cluster": {"server": self.server, "certificate-authority-data": ca}}],
            "users": [{"name": user, "user": {"token": token or self.token(user)}}],
            "contexts": [{"name": self.name, "context": {"cluster": self.name, "user": user}}],
        }
        return yaml.safe_dump(cfg, sort_keys=False)

    def admin_certificate_kubeconfig_text(self) -> str:
        """The admin kubeconfig as HyperShift publishes it: cluster ``cluster``, user ``admin`` with an
        inline system:admin (system:masters) client certificate, context ``admin``, the server's CA
        inline (hypershift v2/kas/kubeconfig.go, generateKubeConfig)."""
        ca_crt = (self.directory / "pki" / "ca.crt").read_bytes()
        cert, key = client_certificate(
            ca_crt, (self.directory / "pki" / "ca.key").read_bytes(), "system:admin", ["system:masters"]
        )

        def b64(data: bytes) -> str:
            return base64.b64encode(data).decode()

        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": "cluster", "cluster": {"server": self.server, "certificate-authority-data": b64(ca_crt)}}
            ],
            "users": [{"name": "admin", "user": {"client-certificate-data": b64(cert), "client-key-data": b64(key)}}],
            "contexts": [{"name": "admin", "context": {"cluster": "cluster", "user": "admin", "namespace": "default"}}],
            "current-context": "admin",
        }
        return yaml.safe_dump(cfg, sort_keys=False)

    # -- lifecycle ----------------------------------------------------------
    def start(self, bin_dir: Path, node_names: list[str]) -> None:
        d = self.directory
        (d / "pki").mkdir(parents=True, exist_ok=True)
        (d / "logs").mkdir(exist_ok=True)
        (d / "kubeconfigs").mkdir(exist_ok=True)
        ca_crt, ca_key = pki.make_ca(d / "pki", f"{self.name}-ca")
        serving_crt, serving_key = pki.make_serving_cert(
            d / "pki", ca_crt, ca_key, "apiserver", ["127.0.0.1", "localhost"]
        )
        sa_pub, sa_key = pki.make_service_account_keys(d / "pki")
        self.users = default_users(node_names)
        tokens = d / "pki" / "tokens.csv"
        tokens.write_text("".join(f'{u.token},{u.name},{u.uid},"{",".join(u.groups)}"\n' for u in self.users))
        tokens.chmod(0o600)
        self.etcd_port, self.etcd_peer_port, self.api_port = free_port(), free_port(), free_port()
        for u in self.users:
            path = self.kubeconfig_path(u.name)
            path.write_text(self.kubeconfig_text(u.name))
            path.chmod(0o600)
        admin = self.kubeconfig_path("system:admin")  # what HyperShift publishes for a hosted cluster
        admin.write_text(self.admin_certificate_kubeconfig_text())
        admin.chmod(0o600)
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        self._spawn(
            "etcd",
            [
                "etcd",
                "--name",
                "default",
                "--data-dir",
                str(d / "etcd"),
                "--listen-client-urls",
                f"http://127.0.0.1:{self.etcd_port}",
                "--advertise-client-urls",
                f"http://127.0.0.1:{self.etcd_port}",
                "--listen-peer-urls",
                peer,
                "--initial-advertise-peer-urls",
                peer,
                "--initial-cluster",
                f"default={peer}",
                "--log-level",
                "warn",
            ],
            env={"ETCD_UNSUPPORTED_ARCH": "", **os.environ},
        )
        self._spawn(
            "kube-apiserver",
            [
                str(bin_dir / "kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.api_port}",
                "--insecure-port=0",
                f"--cert-dir={d / 'pki'}",
                f"--tls-cert-file={serving_crt}",
                f"--tls-private-key-file={serving_key}",
                f"--client-ca-file={ca_crt}",
                f"--token-auth-file={tokens}",
                "--authorization-mode=RBAC",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-account-key-file={sa_pub}",
                f"--service-account-signing-key-file={sa_key}",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--enable-priority-and-fairness=false",
                "--v=1",
            ],
        )
        self.wait_ready()
        self._spawn(
            "kube-controller-manager",
            [
                str(bin_dir / "kube-controller-manager"),
                f"--kubeconfig={self.kubeconfig_path('system:kube-controller-manager')}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                "--secure-port=0",
                "--port=0",
                # csrapproving would approve kubelet CSRs by RBAC alone; approval is the operator's job here.
                "--controllers=*,-csrapproving,-nodeipam,-nodelifecycle,-serviceaccount-token",
                f"--cluster-signing-cert-file={ca_crt}",
                f"--cluster-signing-key-file={ca_key}",
                f"--service-account-private-key-file={sa_key}",
                "--concurrent-gc-syncs=5",
                "--v=1",
            ],
        )

    def _spawn(self, what: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = open(self.directory / "logs" / f"{what}.log", "ab")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        self.pids[what] = proc.pid
        self.argv[what] = argv

    def wait_ready(self, timeout: float = 90.0) -> None:
        client = KubeClient.from_kubeconfig(str(self.kubeconfig_path()))
        deadline = time.monotonic() + timeout
        while True:
            for what, pid in self.pids.items():
                if not alive(pid):
                    tail = (self.directory / "logs" / f"{what}.log").read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"{self.name}: {what} exited during start-up:\n{tail}")
            try:
                client.wait_ready(timeout=1)
                return
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise

    def restart(self, what: str = "kube-apiserver", down_seconds: float = 0.0) -> None:
        """Stop one process and start it again as it was (same port, certificates and data):
        what clients see when an API server goes away and comes back."""
        terminate(self.pids[what])
        time.sleep(down_seconds)
        self._spawn(what, self.argv[what])
        if what == "kube-apiserver":
            self.wait_ready()

    def stop(self) -> None:
        """Stop in the reverse order of start: an API server whose etcd is gone waits out its
        whole grace period (10 s) before it exits; with etcd still there it takes about one."""
        for pid in reversed(list(self.pids.values())):
            terminate(pid)
        self.pids = {}

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["directory"] = str(self.directory)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ControlPlane:  # type: ignore[type-arg]
        cp = cls(**{**data, "directory": Path(data["directory"]), "users": [User(**u) for u in data["users"]]})
        return cp


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == 0


def terminate(pid: int, grace: float = 10.0) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.05)
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
