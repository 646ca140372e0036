"""A kubeconfig someone else wrote (HyperShift's, or whoever else writes that secret) is checked
before it is used or handed on: inline credentials for an https server and verified TLS only;
whatever else is named with its fix, its content never quoted."""

from __future__ import annotations

import base64
import copy
import os
import tempfile
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import (
    KubeClient,
    KubeconfigRefusedError,
    connect,
    credentials_from_kubeconfig_text,
    ssl_context,
    task_environment,
)
from dpf_hcp_dev.certificates import client_certificate
from dpf_hcp_operator import pki
from dpf_hcp_operator.logs import redact

SECRET = "s3cr3t-token"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    ca_crt, ca_key = pki.make_ca(tmp_path_factory.mktemp("ca"), "test-ca")
    cert, key = client_certificate(ca_crt.read_bytes(), ca_key.read_bytes(), "system:admin", ["system:masters"])
    return {"ca": ca_crt.read_bytes(), "cert": cert, "key": key}


def hypershift_like(material: dict[str, bytes], **user: str) -> dict:  # type: ignore[type-arg]
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "cluster",
                "cluster": {"server": "https://127.0.0.1:6443", "certificate-authority-data": b64(material["ca"])},
            }
        ],
        "users": [
            {
                "name": "admin",
                "user": user
                or {"client-certificate-data": b64(material["cert"]), "client-key-data": b64(material["key"])},
            }
        ],
        "contexts": [{"name": "admin", "context": {"cluster": "cluster", "user": "admin", "namespace": "default"}}],
        "current-context": "admin",
    }


def test_hypershifts_kubeconfig_is_accepted_and_its_key_stays_in_memory(material, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where tempfile would put anything
    text = yaml.safe_dump(hypershift_like(material))
    creds = credentials_from_kubeconfig_text(text)
    assert creds.key_pem == material["key"]
    ssl_context(creds)
    assert list(tmp_path.iterdir()) == []  # nothing written where temporary files go
    assert SECRET not in repr(credentials_from_kubeconfig_text(yaml.safe_dump(hypershift_like(material, token=SECRET))))
    assert b64(material["key"]) not in repr(creds)


def mutate(material: dict[str, bytes], section: str, **fields: object) -> str:
    cfg = copy.deepcopy(hypershift_like(material))
    entry = cfg[section][0][section[:-1]]
    for k, v in fields.items():
        if v is None:
            entry.pop(k, None)
        else:
            entry[k] = v
    return yaml.safe_dump(cfg)


REFUSED = {  # what a tenant could write -> the field named in the refusal, and words of the fix
    "tokenFile": (("users", {"tokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token"}), "inline the token"),
    "client-key": (("users", {"client-key": "/etc/pki/key.pem", "client-key-data": None}), "client-key-data"),
    "client-certificate": (("users", {"client-certificate": "/etc/pki/c.pem"}), "client-certificate-data"),
    "certificate-authority": (("clusters", {"certificate-authority": "/etc/ssl/ca.pem"}), "certificate-authority-data"),
    "insecure-skip-tls-verify": (("clusters", {"insecure-skip-tls-verify": True}), "always verified"),
    "exec": (("users", {"exec": {"command": "/bin/sh", "args": ["-c", "id"]}}), "never run"),
    "auth-provider": (("users", {"auth-provider": {"name": "oidc"}}), "never run"),
    "username": (("users", {"username": "u"}), "basic authentication"),
    "password": (("users", {"password": SECRET}), "basic authentication"),
    "proxy-url": (("clusters", {"proxy-url": "http://127.0.0.1:3128"}), "proxies"),
    "as": (("users", {"as": "system:admin"}), "remove it"),
}


@pytest.mark.parametrize("field", sorted(REFUSED))
def test_what_is_not_inline_credentials_is_refused_by_name(material, field):
    (section, fields), fix = REFUSED[field]
    with pytest.raises(KubeconfigRefusedError) as err:
        credentials_from_kubeconfig_text(mutate(material, section, **fields))
    assert f".{field} is not accepted" in str(err.value) and fix in str(err.value), str(err.value)
    assert SECRET not in str(err.value)


def test_insecure_skip_tls_verify_false_is_harmless(material):
    credentials_from_kubeconfig_text(mutate(material, "clusters", **{"insecure-skip-tls-verify": False}))


@pytest.mark.parametrize(
    "server",
    ["http://127.0.0.1:6443", "https://user:pw@127.0.0.1:6443", "https://127.0.0.1:6443/api?x=1", "unix:///run/x.sock"],
)
def test_only_an_https_server_is_accepted(material, server):
    with pytest.raises(KubeconfigRefusedError, match=r"server .* is not an https://host\[:port\] URL"):
        credentials_from_kubeconfig_text(mutate(material, "clusters", server=server))


def test_ambiguous_or_incomplete_kubeconfigs_are_refused(material):
    cfg = hypershift_like(material)
    two = copy.deepcopy(cfg)
    two["users"].append({"name": "other", "user": {"token": SECRET}})
    cases = {
        "exactly one entry in users": yaml.safe_dump(two),
        "certificate-authority-data is missing": mutate(material, "clusters", **{"certificate-authority-data": None}),
        "both client-certificate-data and client-key-data": mutate(material, "users", **{"client-key-data": None}),
        "not one PEM PRIVATE KEY block": mutate(
            material, "users", **{"client-key-data": b64(material["key"] + material["key"])}
        ),
        "not PEM CERTIFICATE blocks": mutate(
            material, "clusters", **{"certificate-authority-data": b64(material["ca"] + b"trailing junk")}
        ),
        "twice": yaml.safe_dump(cfg).replace("current-context: admin", "current-context: admin\ncurrent-context: x"),
        "not a bearer token": yaml.safe_dump(hypershift_like(material, token=f"{SECRET}\r\nX-Injected: 1")),
    }
    for words, text in cases.items():
        with pytest.raises(ValueError) as err:
            credentials_from_kubeconfig_text(text)
        assert words in str(err.value), (words, str(err.value))
        assert SECRET not in str(err.value)


def test_a_key_that_is_not_the_certificates_is_refused(material):
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="not usable"):
        credentials_from_kubeconfig_text(mutate(material, "users", **{"client-key-data": b64(other)}))


def test_unusable_kubeconfigs_are_named_not_quoted(material):
    good = yaml.safe_dump(hypershift_like(material, token=SECRET))
    credentials_from_kubeconfig_text(good)
    for text, words in {
        "{{{ s3cr3t-token": "not YAML",
        "- s3cr3t-token": "not a mapping but list",
        good.replace(b64(material["ca"]), "s3cr3t!!"): "malformed",
        good.replace("current-context: admin", "current-context: s3cr3t"): "current-context",
    }.items():
        with pytest.raises(ValueError) as err:
            credentials_from_kubeconfig_text(text)
        assert words in str(err.value), (words, str(err.value))
        assert SECRET not in str(err.value)


def test_our_own_kubeconfig_is_loaded_by_the_kubernetes_client(tmp_path: Path, material):
    """The operator's own kubeconfig (or a user's KUBECONFIG for one-off playbooks) is trusted: the
    kubernetes client loads it, relative file paths and all."""
    (tmp_path / "ca.crt").write_bytes(material["ca"])
    (tmp_path / "token").write_text(SECRET)
    cfg = hypershift_like(material)
    cfg["clusters"][0]["cluster"] = {"server": "https://127.0.0.1:6443", "certificate-authority": "ca.crt"}
    cfg["users"][0]["user"] = {"tokenFile": "token"}
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(cfg))
    connection = connect({"kubeconfig": str(path)})
    settings = connection.configuration.auth_settings()["BearerToken"]
    assert settings["value"] == f"Bearer {SECRET}"
    assert connection.configuration.ssl_ca_cert == str(tmp_path / "ca.crt")
    assert connection.server == "https://127.0.0.1:6443"


def test_inline_keys_of_our_own_kubeconfig_do_not_stay_on_disk(tmp_path: Path, material, monkeypatch):
    """The client's loader writes inline certificates and keys to files; they are read back into
    memory and removed before the connection is used."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(hypershift_like(material)))
    before = {p.name for p in Path("/dev/shm").iterdir()} if os.path.isdir("/dev/shm") else set()
    connection = connect({"kubeconfig": str(path)})
    assert connection.configuration.cert_file is None and connection.configuration.key_file is None
    assert connection.tls is not None
    assert list((tmp_path / "tmp").iterdir()) == []
    after = {p.name for p in Path("/dev/shm").iterdir()} if os.path.isdir("/dev/shm") else set()
    assert not {n for n in after - before if n.startswith("dpfhcp-kubeconfig-")}


def test_k8s_auth_variables_of_the_task_environment_win(tmp_path: Path, material):
    """K8S_AUTH_* as kubernetes.core reads them, from the task's environment when one is set."""
    with task_environment({"K8S_AUTH_HOST": "https://10.0.0.1:6443/", "K8S_AUTH_API_KEY": SECRET}):
        connection = connect({"validate_certs": False})
    assert connection.server == "https://10.0.0.1:6443"
    assert connection.configuration.auth_settings()["BearerToken"]["value"] == f"Bearer {SECRET}"
    assert connection.configuration.verify_ssl is False
    explicit = connect({"host": "https://10.0.0.2", "api_key": "other", "impersonate_groups": ["a", "b"]})
    assert explicit.server == "https://10.0.0.2"
    assert explicit.headers == (("Impersonate-Group", "a"), ("Impersonate-Group", "b"))


def test_a_kubeconfig_read_from_the_api_never_goes_through_a_proxy(material, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://attacker.example:3128")
    monkeypatch.setenv("https_proxy", "http://attacker.example:3128")
    creds = credentials_from_kubeconfig_text(yaml.safe_dump(hypershift_like(material)))
    client = KubeClient(creds)
    assert client.connection.configuration.proxy is None
    assert type(client._api.rest_client.pool_manager).__name__ == "PoolManager"


def test_the_server_has_one_spelling(material):
    """A tenant cycling spellings of one server (case, leading zeros) gets the same URL each time."""
    for spelling in ("https://API.T.example:0006443/", "https://api.t.example:6443"):
        text = yaml.safe_dump(hypershift_like(material)).replace("https://127.0.0.1:6443", spelling)
        assert credentials_from_kubeconfig_text(text).server == "https://api.t.example:6443"
    text = yaml.safe_dump(hypershift_like(material)).replace("https://127.0.0.1:6443", "https://[FD00::1]:6443")
    assert credentials_from_kubeconfig_text(text).server == "https://[fd00::1]:6443"


def test_an_encrypted_key_is_refused_before_openssl_could_prompt(material):
    key = ec.generate_private_key(ec.SECP256R1())
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    text = mutate(material, "users", **{"client-key-data": b64(encrypted)})
    with pytest.raises(ValueError, match="client-key-data is not one PEM PRIVATE KEY block"):
        credentials_from_kubeconfig_text(text)


def test_a_deeply_nested_kubeconfig_is_refused_as_such():
    with pytest.raises(ValueError, match="not YAML"):
        credentials_from_kubeconfig_text("[" * 5000 + "]" * 5000)


def test_a_refused_server_is_quoted_without_its_userinfo_or_query(material):
    hostile = "https://user:hunter2@api.example:6443/x?token=s3cr3t#frag"
    text = yaml.safe_dump(hypershift_like(material)).replace("https://127.0.0.1:6443", hostile)
    with pytest.raises(KubeconfigRefusedError) as err:
        credentials_from_kubeconfig_text(text)
    assert "hunter2" not in str(err.value) and "s3cr3t" not in str(err.value) and "api.example" in str(err.value)


def test_bearer_tokens_are_redacted_in_logs():
    line = f"GET failed: Invalid header value b'Bearer eyJhbGciOiJSUzI1NiJ9.{SECRET}payload'"
    assert SECRET not in redact(line)
    assert redact("basic authentication is not sent") == "basic authentication is not sent"


def _count_proxy_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each time the client's Configuration reads the proxy variables (its host setter does)."""
    from kubernetes.client import configuration as client_configuration

    calls: list[int] = []
    real = client_configuration.getproxies
    monkeypatch.setattr(client_configuration, "getproxies", lambda: calls.append(1) or real())
    return calls


def test_a_host_given_over_a_kubeconfig_holds_for_every_request(tmp_path: Path, material, monkeypatch):
    """kubernetes.core's options override what the kubeconfig says, for every request. The client's
    loader installs a hook that sets the kubeconfig's token, server, CA and proxy again before each
    request: the host given was lost at the first one, and every request read each proxy variable
    of the environment. A token that never expires is now left as loaded."""
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(hypershift_like(material, token=SECRET)))
    reads = _count_proxy_reads(monkeypatch)
    connection = connect({"kubeconfig": str(path), "host": "https://10.0.0.9:6443"})
    reads.clear()
    for _ in range(3):  # what each request asks before it is sent (ApiClient.update_params_for_auth)
        assert connection.configuration.auth_settings()["BearerToken"]["value"] == f"Bearer {SECRET}"
    assert connection.server == "https://10.0.0.9:6443"
    assert reads == []


HOST = "https://10.0.0.9:6443"  # given beside a kubeconfig that names another server


def _expired_exec_kubeconfig(tmp_path: Path, material, before: str, token: str) -> str:
    """A kubeconfig whose user is an exec credential plugin (shell ``before``, then an ExecCredential
    of ``token``, expanded by the shell) that says its token expired long ago."""
    plugin = tmp_path / "plugin.sh"
    credential = (
        '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential",'
        f'"status":{{"token":"{token}","expirationTimestamp":"2000-01-01T00:00:00Z"}}}}'
    )
    quoted = credential.replace('"', '\\"')  # inside the shell's double quotes, so that $n expands
    plugin.write_text(f"#!/bin/sh\n{before}printf '%s' \"{quoted}\"\n")
    plugin.chmod(0o700)
    exec_user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": str(plugin)}}
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(hypershift_like(material, **exec_user)))  # type: ignore[arg-type]
    return str(path)


def test_an_expiring_token_is_fetched_again_and_the_host_given_still_holds(tmp_path: Path, material):
    """An exec credential plugin's token that has expired is fetched again before the next request,
    as the client's loader does; the settings given over the kubeconfig stay."""
    runs = tmp_path / "runs"
    count = f'echo x >> "{runs}"\nn=$(wc -l < "{runs}")\n'
    connection = connect({"kubeconfig": _expired_exec_kubeconfig(tmp_path, material, count, "t$n"), "host": HOST})
    first = connection.configuration.auth_settings()["BearerToken"]["value"]
    second = connection.configuration.auth_settings()["BearerToken"]["value"]
    assert first != second and second.startswith("Bearer t")
    assert connection.server == HOST


def test_the_in_cluster_token_is_read_again_when_due_and_not_before(tmp_path: Path, monkeypatch):
    """In a pod, the client's loader reads the service account token file again a minute after it
    last did (bound tokens rotate); in between a request sets nothing (the proxy variables are not
    read again), and the read sets the token alone (a host given stays)."""
    import datetime as dt
    import types

    from kubernetes.config import incluster_config

    from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s import client as client_module

    token, ca = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text("first")
    ca.write_text("not read here")
    monkeypatch.setattr(client_module, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(client_module, "SERVICE_CERT_FILENAME", str(ca))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    monkeypatch.delenv("KUBECONFIG", raising=False)
    reads = _count_proxy_reads(monkeypatch)
    cfg, _memory, _reusable = client_module._configuration({"host": "https://10.0.0.9:6443"})
    reads.clear()
    token.write_text("second")
    assert cfg.auth_settings()["BearerToken"]["value"] == "bearer first"
    assert reads == []

    class Later(dt.datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[no-untyped-def,override]
            return dt.datetime.now(tz) + dt.timedelta(minutes=2)

    monkeypatch.setattr(client_module, "datetime", Later)
    monkeypatch.setattr(incluster_config, "datetime", types.SimpleNamespace(datetime=Later, timedelta=dt.timedelta))
    assert cfg.auth_settings()["BearerToken"]["value"] == "bearer second"
    assert cfg.host == "https://10.0.0.9:6443"  # the host given, not the loader's service address


def test_threads_refreshing_an_expired_token_never_send_a_request_elsewhere(tmp_path: Path, material):
    """Many threads ask for the token while it keeps expiring: the loader's hook runs on a scratch
    object, so the server the requests are sent to never changes, not even for a moment."""
    import sys
    import threading

    cfg = connect({"kubeconfig": _expired_exec_kubeconfig(tmp_path, material, "", "t"), "host": HOST}).configuration
    seen: set[str] = set()
    done = threading.Event()

    def watch_the_server() -> None:
        while not done.is_set():
            seen.add(cfg.host)

    def ask() -> None:
        for _ in range(10):
            assert cfg.auth_settings()["BearerToken"]["value"] == "Bearer t"

    watcher = threading.Thread(target=watch_the_server)
    askers = [threading.Thread(target=ask) for _ in range(4)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns as often as the interpreter lets them
    try:
        watcher.start()
        for t in askers:
            t.start()
        for t in askers:
            t.join(30)
    finally:
        done.set()
        watcher.join(5)
        sys.setswitchinterval(interval)
    assert seen == {HOST}
