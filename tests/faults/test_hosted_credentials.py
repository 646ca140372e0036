"""Issue 15, item 4: the hosted cluster's kubeconfig is trusted only as far as it must be.

The tenant owns the namespace the HostedCluster and its admin kubeconfig secret live in, so it can
write that secret. Here it does, as an attacker would: a tokenFile naming the operator's own
token, key and certificate paths, insecure-skip-tls-verify, an exec plugin, a server of its own
listening on 127.0.0.1, and a secret the HostedCluster's status does not name. Each is refused
with a condition naming the field, and the attacker's server never sees a connection. And across
50 reconciles, no private key is ever written where the operator or its Ansible workers put
files."""

from __future__ import annotations

import base64
import os
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import HOSTED_CLUSTER
from dpf_hcp_operator import pki
from fault_harness import Replica, Tenant
from support import condition, standin_settings, wait_for

ATTACKER_TOKEN = "attacker-token-0123456789"


class Listener:
    """An HTTPS server of the attacker's on 127.0.0.1: it records every connection and every byte
    it is sent (a credential, if one came), and answers nothing useful."""

    def __init__(self, directory: Path):
        ca, ca_key = pki.make_ca(directory, "attacker-ca")
        crt, key = pki.make_serving_cert(directory, ca, ca_key, "attacker", ["127.0.0.1"])
        self.ca_pem = ca.read_bytes()
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(crt, key)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.received = b""
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _peer = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(2)
                try:
                    self.received += conn.recv(65536)  # a TLS ClientHello, or plain bytes
                    with self.context.wrap_socket(conn, server_side=True) as tls:
                        self.received += tls.recv(65536)
                        tls.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\n{}")
                except (OSError, ssl.SSLError):
                    pass

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    server = Listener(tmp_path)
    yield server
    server.close()


def kubeconfig(server: str, cluster: dict, user: dict) -> bytes:  # type: ignore[type-arg]
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "cluster", "cluster": {"server": server, **cluster}}],
            "users": [{"name": "admin", "user": user}],
            "contexts": [{"name": "admin", "context": {"cluster": "cluster", "user": "admin"}}],
            "current-context": "admin",
        }
    ).encode()


def refused(t: Tenant, words: str):
    """The provisioner once both conditions refuse the kubeconfig with ``words`` in the message."""
    obj = t.get()
    found = [condition(obj, c) for c in ("KubeConfigInjected", "CSRAutoApprovalActive")]
    if all(
        c and c["status"] == "False" and c["reason"] == "KubeconfigRefused" and words in c["message"] for c in found
    ):
        return obj
    return None


@pytest.fixture
def ready(fault_env, tmp_path: Path) -> Iterator[tuple[Replica, Tenant]]:
    """An operator replica of the test's own and a provisioner it brought to Ready."""
    replica = Replica(fault_env, tmp_path / "operator").start()
    try:
        tenant = Tenant.create(fault_env.client())
        tenant.assert_converged()
        yield replica, tenant
    finally:
        replica.close()


def test_hostile_hosted_kubeconfigs_are_refused_and_nothing_is_sent(fault_env, tmp_path, listener, ready):
    client = fault_env.client()
    _replica, tenant = ready
    good = client.get(SECRET, "hcp-admin-kubeconfig", tenant.ns)
    given = client.get(SECRET, "dpucluster-admin-kubeconfig", tenant.dpu_ns)["data"]
    published = yaml.safe_load(base64.b64decode(good["data"]["kubeconfig"]))
    real_cert = published["users"][0]["user"]["client-certificate-data"]
    # What the operator's ServiceAccount token is in a cluster: a file only the operator reads.
    operator_token = fault_env.management.token("dpf-hcp-operator")
    token_file = tmp_path / "serviceaccount-token"
    token_file.write_text(operator_token)
    pwned = tmp_path / "pwned"
    key_file = fault_env.hosted.directory / "pki" / "ca.key"
    attacker_ca = {"certificate-authority-data": base64.b64encode(listener.ca_pem).decode()}
    cases = {  # the field the refusal must name -> the kubeconfig the tenant writes
        "users[0].user.tokenFile": kubeconfig(listener.server, attacker_ca, {"tokenFile": str(token_file)}),
        "users[0].user.client-key": kubeconfig(
            listener.server,
            attacker_ca,
            {"client-certificate-data": real_cert, "client-key": str(key_file)},
        ),
        "clusters[0].cluster.insecure-skip-tls-verify": kubeconfig(
            listener.server, {"insecure-skip-tls-verify": True}, {"token": ATTACKER_TOKEN}
        ),
        "clusters[0].cluster.certificate-authority": kubeconfig(
            listener.server, {"certificate-authority": str(token_file)}, {"token": ATTACKER_TOKEN}
        ),
        "users[0].user.exec": kubeconfig(
            listener.server,
            attacker_ca,
            {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "touch", "args": [str(pwned)]}},
        ),
        # Inline credentials and a CA that verifies the attacker's server: only the address is wrong.
        "clusters[0].cluster.server": kubeconfig(listener.server, attacker_ca, {"token": ATTACKER_TOKEN}),
    }
    for field, text in cases.items():
        hostile = {"data": {"kubeconfig": base64.b64encode(text).decode()}}
        client.patch(SECRET, "hcp-admin-kubeconfig", hostile, tenant.ns)
        obj = wait_for(f"both conditions naming {field}", lambda f=field: refused(tenant, f), timeout=60)
        message = condition(obj, "KubeConfigInjected")["message"]
        print(f"{field}: {message[:300]}")
        assert operator_token not in str(obj["status"]) and ATTACKER_TOKEN not in str(obj["status"])
        assert client.get(SECRET, "dpucluster-admin-kubeconfig", tenant.dpu_ns)["data"] == given, field
        assert listener.connections == 0, (field, listener.received[:200])
    assert "127.0.0.1:" in message and "status.controlPlaneEndpoint" in message  # the server case names both
    assert not pwned.exists()
    # Mended: Ready again, and the attacker's server never heard from the operator.
    client.patch(SECRET, "hcp-admin-kubeconfig", {"data": good["data"]}, tenant.ns)
    tenant.assert_converged()
    assert listener.connections == 0 and operator_token.encode() not in listener.received


def test_only_the_secret_hypershift_publishes_for_the_owned_hosted_cluster_is_read(fault_env, listener, ready):
    """A writer of HostedCluster status points status.kubeconfig at another secret of the namespace
    (another hosted cluster's, or one it wrote for its own server); or the published secret is one
    HyperShift did not make (no ownerReference to the HostedCluster). Neither is read: both
    conditions say why, DPF keeps the last good copy, and the attacker's server never hears from
    the operator."""
    client = fault_env.client()
    _replica, tenant = ready
    good = client.get(SECRET, "hcp-admin-kubeconfig", tenant.ns)
    given = client.get(SECRET, "dpucluster-admin-kubeconfig", tenant.dpu_ns)["data"]
    lure = kubeconfig(listener.server, {"insecure-skip-tls-verify": True}, {"token": ATTACKER_TOKEN})
    try:
        standin_settings(client, **{f"{tenant.ns}.hcp.statusFrozen": "true"})
        client.create(
            SECRET,
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "other-admin-kubeconfig", "namespace": tenant.ns},
            }
            | {"data": {"kubeconfig": base64.b64encode(lure).decode()}},
        )
        hc = client.get(HOSTED_CLUSTER, "hcp", tenant.ns)
        hc["status"]["kubeconfig"] = {"name": "other-admin-kubeconfig"}
        client.replace(HOSTED_CLUSTER, hc, subresource="status")
        obj = wait_for("a refusal naming status.kubeconfig.name", lambda: refused(tenant, "status.kubeconfig.name"))
        print(condition(obj, "KubeConfigInjected")["message"][:300])
        assert client.get(SECRET, "dpucluster-admin-kubeconfig", tenant.dpu_ns)["data"] == given
        assert listener.connections == 0, listener.received[:200]

        hc = client.get(HOSTED_CLUSTER, "hcp", tenant.ns)
        hc["status"]["kubeconfig"] = {"name": "hcp-admin-kubeconfig"}
        client.replace(HOSTED_CLUSTER, hc, subresource="status")
        # The published secret, its ownerReference gone (as when a tenant writes one of that name itself).
        client.patch(SECRET, "hcp-admin-kubeconfig", {"metadata": {"ownerReferences": None}}, tenant.ns)
        obj = wait_for("a refusal naming the missing ownerReference", lambda: refused(tenant, "no ownerReference"))
        print(condition(obj, "KubeConfigInjected")["message"][:300])
        assert client.get(SECRET, "dpucluster-admin-kubeconfig", tenant.dpu_ns)["data"] == given
        client.patch(
            SECRET,
            "hcp-admin-kubeconfig",
            {"metadata": {"ownerReferences": good["metadata"]["ownerReferences"]}},
            tenant.ns,
        )
        tenant.assert_converged()
        assert listener.connections == 0, listener.received[:200]
    finally:
        standin_settings(client, **{f"{tenant.ns}.hcp.statusFrozen": ""})


PRIVATE_KEY = b"PRIVATE KEY-----"


def private_keys(*roots: Path, skip: Path) -> list[str]:
    """Files under ``roots`` (but not under ``skip``) holding a PEM private key. Files and folders
    come and go meanwhile (Ansible's temporary files, rotated artifacts): those are passed over."""
    found = []
    for root in roots:
        for folder, _dirs, files in os.walk(root):  # errors (a folder gone meanwhile) are ignored
            if Path(folder) == skip or skip in Path(folder).parents:
                continue
            for name in files:
                path = Path(folder) / name
                try:
                    if PRIVATE_KEY in path.read_bytes():
                        found.append(str(path))
                except OSError:
                    continue
    return found


TENANTS, ROUNDS = 10, 5  # 50 reconciles, ten at a time (one Ansible run serves a batch)


@pytest.mark.timeout(1800)  # 50 reconciles take long on a shared 2-core machine; not a flake guard
def test_no_key_material_is_written_in_50_reconciles(fault_env, tmp_path):
    """HyperShift's kubeconfig carries a client key. The operator and its Ansible workers (forked,
    they end with os._exit) read it on every reconcile: nothing of it may reach a file, while they
    run or after. TMPDIR and HOME point into the test's directory so every temporary file they make
    is found; the webhook's own serving key (--webhook-self-signed-hosts, in the work dir's
    webhook/) is the one key the operator is asked to write."""
    client = fault_env.client()
    scratch = tmp_path / "tmp"
    home = tmp_path / "home"
    scratch.mkdir()
    home.mkdir()
    replica = Replica(fault_env, tmp_path / "operator")
    replica.environ = {**os.environ, "TMPDIR": str(scratch), "HOME": str(home)}
    replica.start()
    try:
        tenants = [Tenant.create(client) for _tenant in range(TENANTS)]
        for tenant in tenants:
            tenant.assert_converged(timeout=300)
        secret = client.get(SECRET, "hcp-admin-kubeconfig", tenants[0].ns)
        published = yaml.safe_load(base64.b64decode(secret["data"]["kubeconfig"]))
        assert published["users"][0]["user"]["client-key-data"]  # there is a key to leak
        roots = (scratch, home, replica.work_dir)
        webhook = replica.work_dir / "webhook"

        def reconciled() -> float:
            return replica.metric("dpfhcp_reconciles_total", {"result": "success"})

        leaked: set[str] = set()

        def done_and_scanned(n: float) -> bool:  # looked for keys while the runs are under way, too
            leaked.update(private_keys(*roots, skip=webhook))
            return reconciled() >= n

        start = reconciled()
        for i in range(ROUNDS):
            # A change to an input secret: each provisioner is reconciled again (Ansible run and CSR sync).
            for tenant in tenants:
                client.patch(SECRET, "hcp-admin-kubeconfig", {"metadata": {"labels": {"round": str(i)}}}, tenant.ns)
            wait_for(
                f"round {i + 1} of reconciles",
                lambda n=start + (i + 1) * TENANTS: done_and_scanned(n),
                timeout=300,
                interval=0.5,
            )
            assert not leaked, (i, sorted(leaked))
        assert reconciled() - start >= TENANTS * ROUNDS
        replica.close()
        replica.process.wait(timeout=30)
        assert not private_keys(*roots, skip=webhook)
    finally:
        replica.close()
