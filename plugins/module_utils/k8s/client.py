# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Kubernetes connections and requests, on the kubernetes Python client.

A connection is made as kubernetes.core makes it (its options, its ``K8S_AUTH_*`` variables, the
client's kubeconfig and in-cluster loading, exec credential plugins), from the task's environment
when Ansible runs the module in the controller. Requests go through the client's HTTP layer
(``ApiClient``/``RESTClientObject``); this module adds only what the provisioner needs on top:
whole-exchange deadlines, the journal of what a run read and wrote, metadata-only lists and
watches, and typed helpers over the resource table in resources.py.

Kubeconfigs read from the API (a HostedCluster's admin kubeconfig) never reach the client's
kubeconfig loader, which would read files and run plugins for them: they are parsed here, in the
strict mode (``credentials_from_kubeconfig_text``), and their key material stays in memory.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import http.client
import json
import os
import re
import shutil
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.deadlines import (
    REAPER,
    Abort,
    Budget,
    with_deadlines,
    within,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.journal import field_digests
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.libraries import require
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import KNOWN, Resource

try:
    import urllib3
    import yaml
    from kubernetes.client import ApiClient, Configuration
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config import kube_config
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.incluster_config import (
        SERVICE_CERT_FILENAME,
        SERVICE_TOKEN_FILENAME,
        InClusterConfigLoader,
    )
except ImportError as exc:  # named in the task's error when a client is needed (see libraries.py)
    IMPORT_ERROR: ImportError | None = exc
else:
    IMPORT_ERROR = None

USER_AGENT = "dpf-hcp-provisioner/0.1"
# Said instead of the error's own words, which may quote a header (a bearer token).
_UNSENDABLE = "the request could not be sent: a header is not valid (is there a line break in the token?)"
# Ask for PartialObjectMetadata: watch a kind's metadata without its data (e.g. Secrets).
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
METADATA_ONLY_ITEM = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
CONNECT_SECONDS = 10.0  # the TCP connect; the TLS handshake counts toward the request's whole deadline
LIST_PAGE_ITEMS = 500  # a page of a list from a server that is not ours
LIST_MAX_PAGES = 64  # and at most this many pages of it (of LIST_PAGE_ITEMS: LIST_MAX_ITEMS items)
LIST_MAX_ITEMS = LIST_PAGE_ITEMS * LIST_MAX_PAGES
LIST_SHRINK = 4  # a page over the answer limit is asked again with a quarter of the items, down to one
TOO_LARGE = "AnswerTooLarge"
BUDGET_FLOOR_SECONDS = 0.05  # less than this left of a budget: the request is not sent
WATCH_SLACK_SECONDS = 30  # a watch ends at its timeoutSeconds; past this more, the peer is not answering
_PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}


class ApiError(Exception):
    """A non-2xx answer from the API server, or no answer at all (status 0)."""

    def __init__(self, status: int, reason: str, message: str, body: dict[str, Any] | None = None):
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body or {}

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409

    @property
    def transient(self) -> bool:
        """Worth retrying: no answer, conflict, throttling or a server-side failure."""
        return self.status in (0, 409, 429) or self.status >= 500


class KubeconfigRefusedError(ValueError):
    """A kubeconfig read from the API asks for what is never done for it (a file read, a plugin
    run, TLS unverified...): the message names the field and the fix."""


@dataclass
class Credentials:
    """A connection described in memory: where the API server is, the CA it is verified against
    and how we prove who we are, for a kubeconfig read from the API (parsed strictly) or a client
    derived from one. Nothing here names a file."""

    server: str
    ca_pem: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    cert_pem: bytes | None = field(default=None, repr=False)
    key_pem: bytes | None = field(default=None, repr=False)
    #: Called for the bearer token of every request when set (a token that is renewed, say).
    token_source: Callable[[], str] | None = field(default=None, repr=False, compare=False)

    def bearer(self) -> str | None:
        return self.token_source() if self.token_source is not None else self.token


# What a kubeconfig read from the API may hold (strict mode): inline credentials, nothing that
# names a file, runs a program, sends a password, goes through a proxy or skips TLS verification.
STRICT_CLUSTER_FIELDS = {"server", "certificate-authority-data", "insecure-skip-tls-verify", "extensions"}
STRICT_USER_FIELDS = {"token", "client-certificate-data", "client-key-data", "extensions"}
STRICT_CONTEXT_FIELDS = {"cluster", "user", "namespace", "extensions"}
_STRICT_FIXES = {
    "certificate-authority": "file paths are not read: inline the CA as certificate-authority-data",
    "client-certificate": "file paths are not read: inline the certificate as client-certificate-data",
    "client-key": "file paths are not read: inline the key as client-key-data",
    "tokenFile": "file paths are not read: inline the token as token",
    "exec": "credential plugins are never run: use client-certificate-data and client-key-data, or token",
    "auth-provider": "credential plugins are never run: use client-certificate-data and client-key-data, or token",
    "username": "basic authentication is not sent (the API server removed it in 1.19): use a client certificate "
    "or token",
    "password": "basic authentication is not sent (the API server removed it in 1.19): use a client certificate "
    "or token",
    "insecure-skip-tls-verify": "TLS is always verified: remove it and give certificate-authority-data",
    "proxy-url": "proxies are not used: remove it",
    "tls-server-name": "the server's name is the one in server: remove it",
}
_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n[A-Za-z0-9+/=\r\n]+-----END \1-----")


def _over(exchange: Any, abort: Abort | None) -> None:
    """A watch's exchange is over: the reaper (and its abort, if any) let go of it."""
    REAPER.finish(exchange)
    if abort is not None:
        abort.discard(exchange)


def credentials_from_kubeconfig_text(text: str) -> Credentials:
    """Credentials from kubeconfig content read from the API (a HostedCluster's admin kubeconfig),
    in the strict mode (see ``_credentials``), its CA, certificate and key loaded (from memory) to
    prove them usable. ValueError (KubeconfigRefusedError for what is refused on principle) naming
    the field, never quoting a credential."""
    creds = _usable(_parsed(text))
    ssl_context(creds)
    return creds


class _NoDuplicates(yaml.SafeLoader if IMPORT_ERROR is None else object):  # type: ignore[misc]
    """A YAML loader that refuses a key given twice: Go's YAML and PyYAML would read different values."""


def _construct_mapping(loader: Any, node: Any, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            if key in seen:
                raise ValueError(f"kubeconfig gives the key {str(key)[:60]!r} twice")
            seen.add(key)
        except TypeError:  # an unhashable key: the SafeLoader refuses it itself
            continue
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


if IMPORT_ERROR is None:
    _NoDuplicates.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _parsed(text: str) -> dict[str, Any]:
    require(IMPORT_ERROR)
    try:
        config = yaml.load(text, Loader=_NoDuplicates)  # noqa: S506 - a SafeLoader
    except (yaml.YAMLError, RecursionError):
        raise ValueError("kubeconfig is not YAML (or nests deeper than YAML is read here)") from None
    if not isinstance(config, dict):
        raise ValueError(f"kubeconfig is not a mapping but {type(config).__name__}")
    return config


def _usable(config: dict[str, Any]) -> Credentials:
    try:
        return _credentials(config)
    except (KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise ValueError(f"kubeconfig is malformed or incomplete ({type(exc).__name__}: {exc})") from None


def _refuse_unknown(where: str, entry: dict[str, Any], allowed: set[str]) -> None:
    """Refuse, by name and with the fix, a field outside ``allowed`` (insecure-skip-tls-verify only
    when true)."""
    for key, value in entry.items():
        if key not in allowed or (key == "insecure-skip-tls-verify" and value is not False):
            fix = _STRICT_FIXES.get(key, "only inline credentials are accepted: remove it")
            raise KubeconfigRefusedError(f"{where}.{str(key)[:60]} is not accepted: {fix}")


def _only_one(config: dict[str, Any], section: str) -> dict[str, Any]:
    entries = config.get(section)
    if not isinstance(entries, list) or len(entries) != 1:
        count = len(entries) if isinstance(entries, list) else 0
        raise ValueError(f"kubeconfig must have exactly one entry in {section}, it has {count}")
    return entries[0]


# Unencrypted keys only: OpenSSL would ask a terminal for an encrypted one's passphrase.
_PEM_KINDS = {"CERTIFICATE": ("CERTIFICATE",), "PRIVATE KEY": ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY")}


def _pem(data_b64: str, where: str, kind: str, many: bool) -> bytes:
    """Inline PEM content: base64 of ``kind`` blocks only (one unless ``many``), nothing else."""
    raw = base64.b64decode(data_b64, validate=True)
    blocks = list(_PEM_BLOCK.finditer(raw))
    rest = _PEM_BLOCK.sub(b"", raw).strip()
    if (
        not blocks
        or rest
        or any(b.group(1).decode() not in _PEM_KINDS[kind] for b in blocks)
        or (len(blocks) > 1 and not many)
    ):
        raise ValueError(f"{where} is not {'PEM ' + kind + ' blocks' if many else 'one PEM ' + kind + ' block'}")
    return raw


def https_server(server: Any, where: str = "clusters[0].cluster.server") -> tuple[str, int]:
    """(host, port) of an ``https://host[:port]`` URL, nothing else in it; ValueError otherwise."""
    parts = urlsplit(server) if isinstance(server, str) else None
    try:
        port = parts.port if parts else None
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme != "https"
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        shown = re.sub(r"[?#].*|(?<=//)[^/@]*@", "", str(server))[:200]  # never a userinfo, query or fragment
        raise KubeconfigRefusedError(f"{where} {shown!r} is not an https://host[:port] URL: give the API server's")
    return parts.hostname.lower(), port or 443


def server_url(host: str, port: int) -> str:
    """The one spelling of an API server's URL, for (host, port) as https_server gives them."""
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


def _credentials(config: dict[str, Any]) -> Credentials:
    """Credentials from a kubeconfig read from the API: exactly one cluster, user and context; an
    https server; certificate-authority-data required and TLS always verified; a client
    certificate and key, or a token, inline; anything else refused by name."""
    entries = {s: _only_one(config, s) for s in ("clusters", "users", "contexts")}
    names = {s: entries[s].get("name") for s in entries}
    ctx = entries["contexts"].get("context") or {}
    _refuse_unknown("contexts[0].context", ctx, STRICT_CONTEXT_FIELDS)
    if config.get("current-context") != names["contexts"]:
        raise ValueError("kubeconfig's current-context does not name its one context")
    if ctx.get("cluster") != names["clusters"] or ctx.get("user") != names["users"]:
        raise ValueError("kubeconfig's context does not name its one cluster and its one user")
    cluster = entries["clusters"]["cluster"]
    user = entries["users"].get("user") or {}
    _refuse_unknown("clusters[0].cluster", cluster, STRICT_CLUSTER_FIELDS)
    _refuse_unknown("users[0].user", user, STRICT_USER_FIELDS)
    server = server_url(*https_server(cluster.get("server")))
    if not cluster.get("certificate-authority-data"):
        raise KubeconfigRefusedError(
            "clusters[0].cluster.certificate-authority-data is missing: the server is verified against the "
            "CA HyperShift writes there, never against the system's trust store"
        )
    if bool(user.get("client-certificate-data")) != bool(user.get("client-key-data")):
        raise ValueError("users[0].user needs both client-certificate-data and client-key-data, or neither")
    if not (user.get("token") or user.get("client-certificate-data")):
        raise ValueError("users[0].user has no credential: give client-certificate-data and client-key-data, or token")
    if user.get("token") and not (isinstance(user["token"], str) and _TOKEN.fullmatch(user["token"])):
        raise ValueError("users[0].user.token is not a bearer token (letters, digits, -._~+/ and trailing =)")
    creds = Credentials(
        server=server,
        ca_pem=_pem(cluster["certificate-authority-data"], "certificate-authority-data", "CERTIFICATE", True).decode(
            "ascii"
        ),
    )
    if user.get("token"):
        creds.token = str(user["token"])
    if user.get("client-certificate-data"):
        creds.cert_pem = _pem(user["client-certificate-data"], "client-certificate-data", "CERTIFICATE", True)
        creds.key_pem = _pem(user["client-key-data"], "client-key-data", "PRIVATE KEY", False)
    return creds


# -- TLS, built once per process for the same material ----------------------
_SSL_CONTEXTS: dict[tuple[Any, ...], ssl.SSLContext] = {}
_CACHE_LOCK = threading.Lock()  # the operator's threads share these caches


def _file_key(path: str | None) -> tuple[Any, ...]:
    if not path:
        return (None,)
    try:
        stat = os.stat(path)
    except OSError:
        return (path,)
    return (path, stat.st_mtime_ns, stat.st_size)


def _digest(*parts: str | bytes | None) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(b"\0" if part is None else (part.encode() if isinstance(part, str) else part) + b"\1")
    return h.hexdigest()


def load_chain_from_memory(ctx: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    """Load a certificate chain and its key without writing them anywhere: OpenSSL reads them only
    from a path, so they go into an anonymous memory file (memfd_create), which no filesystem
    holds, read through /proc/self/fd and gone when closed."""
    if not hasattr(os, "memfd_create"):
        raise ValueError(
            "inline client certificates need Linux (memfd_create); use client-certificate and client-key files"
        )
    fd = os.memfd_create("dpfhcp-client-credentials", os.MFD_CLOEXEC)
    try:
        data = memoryview(cert_pem.rstrip(b"\n") + b"\n" + key_pem)
        while data:
            data = data[os.write(fd, data) :]
        ctx.load_cert_chain(f"/proc/self/fd/{fd}", password=b"")  # never a prompt for a passphrase
    finally:
        os.close(fd)


def _tls(
    verify: bool,
    ca_file: str | None = None,
    ca_pem: str | bytes | None = None,
    cert_file: str | None = None,
    key_file: str | None = None,
    cert_pem: bytes | None = None,
    key_pem: bytes | None = None,
) -> ssl.SSLContext:
    """The TLS context for this material, made once per process (loading a CA and a client key
    costs milliseconds; an Ansible run asks once per task and host). ValueError when the
    certificates or the key do not load."""
    key = (
        verify,
        _file_key(ca_file),
        _file_key(cert_file),
        _file_key(key_file),
        _digest(ca_pem, cert_pem, key_pem),
    )
    with _CACHE_LOCK:
        cached = _SSL_CONTEXTS.get(key)
    if cached is None:
        try:
            # Unverified only when the user's own connection options say so (validate_certs: false,
            # or insecure-skip-tls-verify in their kubeconfig); never for a kubeconfig read from the API.
            if verify:
                cadata = ca_pem.decode("ascii") if isinstance(ca_pem, bytes) else ca_pem
                ctx = ssl.create_default_context(cafile=ca_file, cadata=cadata)
                # As urllib3's own contexts (and so the kubernetes client, kubernetes.core) check:
                # Python 3.13 adds X.509 strict checks that Kubernetes' own certificates can fail.
                ctx.verify_flags &= ~ssl.VERIFY_X509_STRICT
            else:
                ctx = ssl._create_unverified_context()  # noqa: S323
            if cert_pem is not None and key_pem is not None:
                load_chain_from_memory(ctx, cert_pem, key_pem)
            elif cert_file:
                ctx.load_cert_chain(cert_file, key_file)
        except (ssl.SSLError, OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"the connection's certificates or key are not usable ({type(exc).__name__})") from None
        with _CACHE_LOCK:
            if len(_SSL_CONTEXTS) >= 64:  # e.g. many hosted kubeconfigs over a long life: start over
                _SSL_CONTEXTS.clear()
            _SSL_CONTEXTS[key] = cached = ctx
    return cached


def ssl_context(creds: Credentials) -> ssl.SSLContext:
    """The TLS context for credentials held in memory (always verified against their CA)."""
    return _tls(True, ca_pem=creds.ca_pem, cert_pem=creds.cert_pem, key_pem=creds.key_pem)


# -- connections, as kubernetes.core makes them ------------------------------
@contextlib.contextmanager
def task_environment(task_env: Mapping[str, Any]) -> Iterator[None]:
    """This process's environment is ``task_env`` over its own meanwhile: a module run in the
    controller (in the worker Ansible forks for one task and host) sees what a module process
    would, for K8S_AUTH_*, KUBECONFIG, HOME, proxies and exec credential plugins alike."""
    saved = dict(os.environ)
    os.environ.update({str(k): str(v) for k, v in task_env.items()})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _auth_map() -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
    """kubernetes.core's connection options: client attribute -> option, the options' spec and
    proxy_headers' spec (kubernetes.core plugins/module_utils/args_common.py)."""
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import (  # noqa: PLC0415
        AUTH_ARG_MAP,
        AUTH_ARG_SPEC,
        AUTH_PROXY_HEADERS_SPEC,
    )

    return AUTH_ARG_MAP, AUTH_ARG_SPEC, AUTH_PROXY_HEADERS_SPEC


def _env_bool(value: str) -> bool:
    return value.lower() not in ("0", "false", "no")


def auth_settings(params: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """The connection settings, by the client's attribute names: each option as given, else its
    ``K8S_AUTH_*`` variable from ``env``, as kubernetes.core reads them
    (kubernetes.core plugins/module_utils/k8s/client.py, _create_auth_spec)."""
    arg_map, arg_spec, proxy_spec = _auth_map()
    auth: dict[str, Any] = {}
    for true_name, arg_name in arg_map.items():
        value = params.get(arg_name)
        if value is None and arg_name == "proxy_headers":
            headers = {}
            for key, spec in proxy_spec.items():
                raw = env.get(f"K8S_AUTH_PROXY_HEADERS_{key.upper()}")
                if raw is not None:
                    headers[key] = _env_bool(raw) if spec.get("type") == "bool" else raw
            value = headers or None
        elif value is None:
            raw = env.get(f"K8S_AUTH_{arg_name.upper()}") or env.get(f"K8S_AUTH_{true_name.upper()}")
            if raw is not None:
                value = _env_bool(raw) if arg_spec[arg_name].get("type") == "bool" else raw
        if value is not None:
            auth[true_name] = value
    return auth


def impersonation(params: Mapping[str, Any], env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Impersonate-User and Impersonate-Group headers from the options or their K8S_AUTH_*
    variables (kubernetes.core plugins/module_utils/k8s/client.py, _create_headers)."""
    user = params.get("impersonate_user")
    if user is None:
        user = env.get("K8S_AUTH_IMPERSONATE_USER")
    groups = params.get("impersonate_groups")
    if groups is None and env.get("K8S_AUTH_IMPERSONATE_GROUPS") is not None:
        groups = [g for g in env["K8S_AUTH_IMPERSONATE_GROUPS"].split(",") if g]
    headers = [("Impersonate-User", str(user))] if user else []
    return (*headers, *(("Impersonate-Group", str(g)) for g in groups or []))


@dataclass(frozen=True)
class Connection:
    """A loaded connection: the client's Configuration, the TLS context requests use, and the
    headers every request carries (impersonation)."""

    configuration: Configuration
    tls: ssl.SSLContext | None
    headers: tuple[tuple[str, str], ...] = ()
    #: The files it was loaded from, as (path, their _file_key then): reloaded when one changes.
    files: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    #: False when loading it runs or reads something that may answer differently each time (an
    #: exec or auth-provider plugin, a tokenFile): made again for every task, as kubernetes.core does.
    reusable: bool = True

    @property
    def server(self) -> str:
        return str(self.configuration.host).rstrip("/")

    @classmethod
    def from_credentials(cls, creds: Credentials) -> Connection:
        require(IMPORT_ERROR)
        cfg = Configuration(host=creds.server)
        cfg.proxy = cfg.no_proxy = None  # a kubeconfig read from the API: straight to its server, never a proxy
        if creds.token is not None or creds.token_source is not None:
            cfg.api_key = {"BearerToken": creds.token or ""}
            cfg.api_key_prefix = {"BearerToken": "Bearer"}
            if creds.token_source is not None:
                source = creds.token_source

                def renew(configuration: Configuration) -> None:
                    configuration.api_key["BearerToken"] = source()

                cfg.refresh_api_key_hook = renew
        return cls(cfg, ssl_context(creds))


_CONNECTIONS: dict[str, Connection] = {}


def _private_dir() -> str:
    """A directory only this process can read, in memory when the machine has /dev/shm: the
    client's kubeconfig loader writes inline certificates and keys to files there, which are read
    back into memory and removed as soon as the kubeconfig is loaded."""
    shm = "/dev/shm"  # noqa: S108 - a tmpfs; mkdtemp makes a 0700 directory in it
    return tempfile.mkdtemp(prefix="dpfhcp-kubeconfig-", dir=shm if os.access(shm, os.W_OK) else None)


def _refresh_when_due(cfg: Configuration, due: Callable[[], bool]) -> None:
    """The loader's refresh hook, run only when ``due`` (its token has expired, or is to be read
    again from its file), and then for the token alone. The client's loaders install a hook that
    sets the token, host, CA, client certificate and proxy again before every request (their
    _set_config): a host, proxy or CA given over the loaded ones was lost at the first request,
    and every request paid for the host setter reading each proxy variable of the environment.
    The hook writes on a scratch object, one thread at a time: the Configuration the requests
    read changes only in its token, never for a moment in its server."""
    hook = cfg.refresh_api_key_hook
    if hook is None:
        return
    lock = threading.Lock()

    def refresh(configuration: Configuration) -> None:
        if not due():
            return
        with lock:
            if not due():  # another thread refreshed it meanwhile
                return
            scratch = SimpleNamespace(api_key={}, refresh_api_key_hook=None)
            hook(scratch)
        token = scratch.api_key.get("BearerToken")
        if token is not None:
            configuration.api_key["BearerToken"] = token

    cfg.refresh_api_key_hook = refresh


def _load_kubeconfig(cfg: Configuration, auth: Mapping[str, Any], memory: dict[str, bytes]) -> bool:
    """The client's kubeconfig loader, for kubeconfig (a path, several joined by ':', or the
    content as a mapping) or $KUBECONFIG, else ~/.kube/config (kubernetes.core
    plugins/module_utils/k8s/client.py, _load_config). True when the result may be reused."""
    kubeconfig = auth.get("kubeconfig")
    scratch = _private_dir()
    try:
        loader = kube_config._get_kube_config_loader(
            filename=None
            if isinstance(kubeconfig, dict) and kubeconfig
            else (kubeconfig or os.environ.get("KUBECONFIG", "~/.kube/config")),
            config_dict=kubeconfig if isinstance(kubeconfig, dict) and kubeconfig else None,
            active_context=auth.get("context"),
            persist_config=bool(auth.get("persist_config")),
            temp_file_path=scratch,
        )
        loader.load_and_set(cfg)
        _refresh_when_due(cfg, lambda: "expiry" in loader.__dict__ and kube_config._is_expired(loader.expiry))
        user = loader._user or {}
        return not any(key in user for key in ("exec", "auth-provider", "tokenFile"))
    finally:
        for attr in ("ssl_ca_cert", "cert_file", "key_file"):
            path = getattr(cfg, attr, None)
            if path and os.path.dirname(os.path.abspath(path)) == scratch:
                with open(path, "rb") as fh:
                    memory[attr] = fh.read()
                setattr(cfg, attr, None)
        for content, path in list(kube_config._temp_files.items()):  # the loader's own cache of them
            if os.path.dirname(path) == scratch:
                del kube_config._temp_files[content]
        shutil.rmtree(scratch, ignore_errors=True)


def _configuration(auth: dict[str, Any]) -> tuple[Configuration, dict[str, bytes], bool]:
    """The client's Configuration for these settings, in kubernetes.core's order
    (kubernetes.core plugins/module_utils/k8s/client.py, _create_configuration): enough given to
    connect, else the kubeconfig or context given, else in-cluster, else the default kubeconfig;
    then every option given overrides what was loaded. Also the key material the loader wrote
    to files, now in memory, and whether the result may be reused."""
    cfg = Configuration()
    memory: dict[str, bytes] = {}
    reusable = True
    if auth.get("host"):
        auth["host"] = str(auth["host"]).rstrip("/")

    def given(*names: str) -> bool:
        return all(auth.get(name) for name in names)

    if given("username", "password", "host") or given("api_key", "host") or given("cert_file", "key_file", "host"):
        pass
    elif given("kubeconfig") or given("context"):
        reusable = _load_kubeconfig(cfg, auth, memory)
    else:
        try:
            in_cluster = InClusterConfigLoader(SERVICE_TOKEN_FILENAME, SERVICE_CERT_FILENAME)
            in_cluster.load_and_set(cfg)
            _refresh_when_due(cfg, lambda: in_cluster.token_expires_at <= datetime.now())
        except ConfigException:
            reusable = _load_kubeconfig(cfg, auth, memory)
    for name, value in auth.items():
        if name in ("kubeconfig", "context", "persist_config"):
            continue
        if name == "api_key":
            # The token given wins over the loaded one. kubernetes.core keeps the loader's refresh
            # hook, whose token then replaces it on the first request: that is not followed.
            cfg.api_key = {"authorization": f"Bearer {value}"}
            cfg.refresh_api_key_hook = None
        elif name == "proxy_headers":
            cfg.proxy_headers = urllib3.util.make_headers(**value)
        else:
            setattr(cfg, name, value)
            memory.pop(name, None)
    return cfg, memory, reusable


_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "HOME")


def connect(params: Mapping[str, Any]) -> Connection:
    """The connection kubernetes.core's options in ``params`` (and their K8S_AUTH_* variables in
    this process's environment) describe. Made once per process for the same settings and files,
    unless it came from a plugin or a token file (see Connection.reusable)."""
    require(IMPORT_ERROR)
    env = os.environ
    auth = auth_settings(params, env)
    headers = impersonation(params, env)
    paths = auth.get("kubeconfig") if isinstance(auth.get("kubeconfig"), str) else env.get("KUBECONFIG")
    files = [_file_key(os.path.expanduser(p)) for p in (paths or "~/.kube/config").split(os.pathsep)]
    key = _digest(
        json.dumps(auth, sort_keys=True, default=str),
        repr(headers),
        repr(files),
        *(env.get(name) for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT")),
        *(env.get(name) for name in _PROXY_VARIABLES),
    )
    with _CACHE_LOCK:
        cached = _CONNECTIONS.get(key)
    if cached is not None and all(_file_key(path) == seen for path, seen in cached.files):
        return cached
    try:
        cfg, memory, reusable = _configuration(auth)
    except (ConfigException, OSError, yaml.YAMLError, TypeError, KeyError, ValueError) as exc:
        raise ValueError(f"could not load the connection: {exc}") from None
    tls = _tls(
        bool(cfg.verify_ssl),
        ca_file=cfg.ssl_ca_cert,
        ca_pem=memory.get("ssl_ca_cert") or cfg.ca_cert_data,
        cert_file=cfg.cert_file,
        key_file=cfg.key_file,
        cert_pem=memory.get("cert_file"),
        key_pem=memory.get("key_file"),
    )
    watched = tuple((p, _file_key(p)) for p in (cfg.ssl_ca_cert, cfg.cert_file, cfg.key_file) if p)
    connection = Connection(cfg, tls, headers, watched, reusable)
    if reusable:
        with _CACHE_LOCK:
            if len(_CONNECTIONS) >= 64:
                _CONNECTIONS.clear()
            _CONNECTIONS[key] = connection
    return connection


def _lines(chunks: Iterator[bytes], cap: int | None, what: str) -> Iterator[bytes]:
    """The lines of a stream of chunks, each found in one scan of the bytes (a buffer that grows by
    appending, searched from where the last search ended); a line longer than ``cap`` is an error."""
    buf = bytearray()
    scanned = 0
    for chunk in chunks:
        buf += chunk
        start = 0
        while (end := buf.find(b"\n", scanned)) >= 0:
            yield bytes(buf[start:end])
            start = scanned = end + 1
        del buf[:start]
        scanned = len(buf)
        if cap is not None and len(buf) > cap:
            raise ApiError(0, "AnswerRefused", f"watch {what}: an event over {cap} bytes")


class KubeClient:
    """JSON requests against one API server; one connection pool, safe to share across threads."""

    #: Called as ``observer(method, status, server)`` after every request of every client in the
    #: process (status 0: no answer; method WATCH for a watch opened; server: the API server's URL);
    #: the operator counts them in metrics.
    observer: Callable[[str, int, str], None] | None = None
    #: When a list, every object a request of this process read (GET by name) or wrote (created,
    #: replaced or patched; dry runs excepted) is recorded in it, in order, as op (read or write),
    #: kind, namespace, name, resourceVersion, generation and labels (and the digests of the
    #: fields journal.FIELDS registers for its kind; journal.decided_on marks a read further): so
    #: the operator knows which changes it will see were its own, and which version of an object a
    #: run last saw (plugins/action/in_controller.py).
    journal: list[dict[str, Any]] | None = None

    def __init__(
        self,
        source: Connection | Credentials,
        timeout: float = 30.0,
        maxsize: int = 8,
        budget: Budget | None = None,
        max_answer_bytes: int | None = None,
    ):
        """``budget``: the time all this client's requests (and those of clients made from it with
        ``with_token``) may take in all; a request gets at most what is left of it.
        ``max_answer_bytes``: the most an answer's body, or one watch event, may hold (a server that
        is not ours, e.g. a hosted cluster's); such a server's answers must also come unencoded (a
        small gzip body can unpack to gigabytes). None: no limit (the management cluster's)."""
        require(IMPORT_ERROR)
        self.budget = budget
        self.max_answer_bytes = max_answer_bytes
        self.connection = source if isinstance(source, Connection) else Connection.from_credentials(source)
        #: The in-memory credentials this client was made from, if it was.
        self.credentials = source if isinstance(source, Credentials) else None
        self.server = self.connection.server
        self.timeout = timeout
        self._api = ApiClient(self.connection.configuration)
        self._api.user_agent = USER_AGENT
        pools = self._api.rest_client.pool_manager
        for name in ("ca_certs", "cert_file", "key_file", "ca_cert_data"):  # all in the one TLS context
            pools.connection_pool_kw.pop(name, None)
        pools.connection_pool_kw.update(maxsize=maxsize, block=False, retries=False)
        if self.connection.tls is not None:
            pools.connection_pool_kw["ssl_context"] = self.connection.tls
        if type(pools).__name__ != "SOCKSProxyManager":  # its pools are its own: per-socket timeouts only
            with_deadlines(pools)
        self._discovered: dict[tuple[str, str], Resource] = {}

    @classmethod
    def from_kubeconfig(cls, kubeconfig: str | None = None, context: str | None = None, **kw: Any) -> KubeClient:
        return cls(connect({"kubeconfig": kubeconfig, "context": context}), **kw)

    @classmethod
    def from_params(cls, params: Mapping[str, Any], **kw: Any) -> KubeClient:
        """A client for kubernetes.core's connection options (see ``connect``)."""
        return cls(connect(params), **kw)

    def with_token(self, token_source: Callable[[], str], timeout: float = 10.0) -> KubeClient:
        """A client for the same server, verified against the same CA (a client made from
        in-memory credentials), that proves itself with ``token_source``'s token only."""
        if self.credentials is None:
            raise ValueError("with_token needs a client made from in-memory credentials")
        return KubeClient(
            Credentials(server=self.server, ca_pem=self.credentials.ca_pem, token_source=token_source),
            timeout=timeout,
            budget=self.budget,
            max_answer_bytes=self.max_answer_bytes,
        )

    def reset_connections(self) -> None:
        """Drop pooled sockets, e.g. after a fork: a child must not share its parent's sockets."""
        self._api.rest_client.pool_manager.clear()

    # -- raw requests -------------------------------------------------------
    def _observe(self, method: str, status: int) -> None:
        if KubeClient.observer is not None:
            KubeClient.observer(method, status, self.server)

    def _send(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        body: Any,
        content_type: str,
        accept: str,
        timeout: tuple[float, float],
    ) -> Any:
        """One request through the client's ApiClient (its auth settings: bearer tokens, renewed
        by its hooks) and RESTClientObject; the urllib3 response, its body not read yet."""
        _method, url, headers, data, _post = self._api.param_serialize(
            method,
            path,
            query_params=query,
            header_params={"Accept": accept, "Content-Type": content_type},
            body=body,
            auth_settings=["BearerToken"],
        )
        all_headers = urllib3.HTTPHeaderDict(headers)
        for name, value in self.connection.headers:
            all_headers.add(name, value)
        return self._api.call_api(method, url, all_headers, data, None, _request_timeout=timeout).response

    def _list_in_pages(self, path: str, params: dict[str, Any], accept: str) -> dict[str, Any]:
        """A list read LIST_PAGE_ITEMS at a time (limit and continue, as client-go's pager), joined:
        the first page's metadata (its resourceVersion is the list's), every page's items. A page over
        the answer limit (a few hundred objects carrying 256 KiB of annotations each, made by anyone
        who may create them) is asked again with fewer items, down to one object a page (which etcd
        holds to 1.5 MiB), so such objects cannot keep the list, and all it serves, from being read."""
        listed: dict[str, Any] = {}
        items: list[Any] = []
        token: str | None = None
        limit, pages = LIST_PAGE_ITEMS, 0
        while pages < LIST_MAX_PAGES * (LIST_PAGE_ITEMS // limit):
            paged = {**params, "limit": limit, "continue": token}
            try:
                page = self.request("GET", path, params=paged, accept=accept)
            except ApiError as exc:
                if exc.reason != TOO_LARGE or limit == 1:
                    raise
                limit = max(1, limit // LIST_SHRINK)
                continue
            pages += 1
            listed = listed or page
            items.extend(page.get("items") or [])
            if len(items) > LIST_MAX_ITEMS:
                break
            token = str((page.get("metadata") or {}).get("continue") or "") or None
            if token is None:
                meta = dict(listed.get("metadata") or {})
                meta.pop("continue", None)
                meta.pop("remainingItemCount", None)
                return {**listed, "metadata": meta, "items": items}
        raise ApiError(
            0, "AnswerRefused", f"{self.server}: a list of more than {LIST_MAX_PAGES} pages or {LIST_MAX_ITEMS} items"
        )

    def _body(self, resp: Any) -> bytes:
        """The answer's body; within ``max_answer_bytes`` and unencoded when this client has a limit."""
        cap = self.max_answer_bytes
        if cap is None:
            return resp.data
        encoding = (resp.headers.get("Content-Encoding") or "identity").strip().lower()
        length = resp.headers.get("Content-Length") or ""
        if encoding != "identity" or (length.isdigit() and int(length) > cap):
            resp.close()  # not read to its end: the connection is not reused
            what = f"an answer encoded {encoding[:20]!r}" if encoding != "identity" else f"{length} bytes"
            reason = "AnswerRefused" if encoding != "identity" else TOO_LARGE
            raise ApiError(0, reason, f"{self.server}: {what}; answers of at most {cap} bytes, unencoded")
        parts, size = [], 0
        for chunk in resp.stream(65536, decode_content=False):
            size += len(chunk)
            if size > cap:
                resp.close()
                raise ApiError(0, TOO_LARGE, f"{self.server}: an answer over {cap} bytes")
            parts.append(chunk)
        return b"".join(parts)

    def _exchange(
        self, method: str, path: str, body: Any, query: list[tuple[str, str]], ctype: str, seconds: float, accept: str
    ) -> tuple[int, bytes]:
        """(status, body) of one request, over within ``seconds``; ApiError status 0 without an answer."""
        error: Exception | None = None
        status, data = 0, b""
        cut = ""
        if self.budget is not None:
            left = self.budget.left()
            if left < BUDGET_FLOOR_SECONDS:
                self._observe(method, 0)
                raise ApiError(
                    0, "Timeout", f"{method} {self.server}: its {self.budget.seconds:g}s for this pass are spent"
                )
            if left < seconds:
                seconds = left
                cut = f" (what was left of its {self.budget.seconds:g}s for this pass)"
        with within(seconds) as exchange:  # the whole exchange, however slowly the peer drips it
            try:
                resp = self._send(method, path, query, body, ctype, accept, (min(CONNECT_SECONDS, seconds), seconds))
                try:
                    status, data = resp.status, self._body(resp)
                finally:
                    resp.release_conn()
            except ApiError:  # an answer refused (over the limit, encoded)
                self._observe(method, 0)
                raise
            except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
                error = exc
            except (ValueError, TypeError, http.client.HTTPException) as exc:  # e.g. a token with a line break
                self._observe(method, 0)
                raise ApiError(0, "RequestInvalid", f"{method} {self.server}: {_UNSENDABLE}") from type(exc)()
        # Past the deadline: also when the cut read as the end of an answer without a length, or the
        # socket's own read timeout (the same seconds) went off just before the reaper.
        if exchange.expired or (error is not None and time.monotonic() >= exchange.deadline - 0.01):
            self._observe(method, 0)
            message = f"{method} {self.server}: no whole answer within {seconds:.3g}s{cut}"
            raise ApiError(0, "Timeout", message) from error
        if error is not None:
            self._observe(method, 0)
            reason = getattr(error, "reason", None) or error
            raise ApiError(0, "Unreachable", f"{method} {self.server}: {reason}") from error
        self._observe(method, status)
        return status, data

    def text(self, path: str, timeout: float | None = None) -> str:
        """The body of a GET that answers text (``/metrics``, say)."""
        status, data = self._exchange("GET", path, None, [], "application/json", timeout or self.timeout, "*/*")
        if status >= 300:
            raise ApiError(status, "Error", data.decode(errors="replace")[:500])
        return data.decode(errors="replace")

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        content_type: str = "application/json",
        timeout: float | None = None,
        accept: str = "application/json",
    ) -> dict[str, Any]:
        query = [(k, str(v)) for k, v in (params or {}).items() if v is not None]
        status, data = self._exchange(method, path, body, query, content_type, timeout or self.timeout, accept)
        payload: dict[str, Any] = {}
        if data:
            try:
                payload = json.loads(data)
            except ValueError:
                payload = {"message": data.decode(errors="replace")[:500]}
            if not isinstance(payload, dict):
                payload = {"message": data.decode(errors="replace")[:500]}
        if status >= 300:
            raise ApiError(status, payload.get("reason", "Error"), payload.get("message", ""), payload)
        if KubeClient.journal is not None and not (params or {}).get("dryRun"):
            if method in ("POST", "PUT", "PATCH"):
                self._record("write", payload)
            elif method == "GET" and not str(payload.get("kind", "")).endswith("List"):
                self._record("read", payload)
        return payload

    @staticmethod
    def _record(op: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        if obj.get("kind") and meta.get("name") and meta.get("resourceVersion") and KubeClient.journal is not None:
            entry = {
                "op": op,
                "kind": obj["kind"],
                "namespace": meta.get("namespace", ""),
                "name": meta["name"],
                "resourceVersion": meta["resourceVersion"],
                "generation": meta.get("generation"),
                "labels": dict(meta.get("labels") or {}),
            }
            fields = field_digests(obj)
            if fields:
                entry["fields"] = fields
            KubeClient.journal.append(entry)

    # -- typed helpers ------------------------------------------------------
    def resource(self, api_version: str, kind: str) -> Resource:
        """The Resource for a kind: from the known table, else discovered once and cached."""
        key = (api_version, kind)
        if key in KNOWN:
            return KNOWN[key]
        if key not in self._discovered:
            group, _sep, version = api_version.rpartition("/")
            path = f"/apis/{api_version}" if group else f"/api/{version}"
            for r in self.request("GET", path).get("resources", []):
                if r.get("kind") == kind and "/" not in r["name"]:
                    self._discovered[key] = Resource(group, version, r["name"], kind, r["namespaced"])
                    break
            else:
                raise ApiError(404, "NotFound", f"the server has no kind {kind} in {api_version}")
        return self._discovered[key]

    def serves(self, res: Resource) -> bool:
        """Whether the server serves this kind now (asks discovery; e.g. is a CRD installed)."""
        path = f"/apis/{res.group}/{res.version}" if res.group else f"/api/{res.version}"
        try:
            listing = self.request("GET", path)
        except ApiError as exc:
            if exc.not_found:
                return False
            raise
        return any(r.get("name") == res.plural for r in listing.get("resources") or [])

    def get(
        self,
        res: Resource,
        name: str,
        namespace: str | None = None,
        timeout: float | None = None,
        metadata_only: bool = False,
    ) -> dict[str, Any]:
        """The object; with ``metadata_only`` its PartialObjectMetadata (never a Secret's data)."""
        accept = METADATA_ONLY_ITEM if metadata_only else "application/json"
        return self.request("GET", res.path(namespace, name), timeout=timeout, accept=accept)

    def get_or_none(
        self,
        res: Resource,
        name: str,
        namespace: str | None = None,
        timeout: float | None = None,
        metadata_only: bool = False,
    ) -> dict[str, Any] | None:
        try:
            return self.get(res, name, namespace, timeout, metadata_only)
        except ApiError as exc:
            if exc.not_found:
                if KubeClient.journal is not None:  # seen absent: a read without a version
                    KubeClient.journal.append(
                        {
                            "op": "read",
                            "kind": res.kind,
                            "namespace": namespace or "",
                            "name": name,
                            "resourceVersion": None,
                            "generation": None,
                            "labels": {},
                        }
                    )
                return None
            raise

    def list(
        self,
        res: Resource,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        metadata_only: bool = False,
    ) -> dict[str, Any]:
        params = {"labelSelector": label_selector, "fieldSelector": field_selector, "resourceVersion": resource_version}
        accept = METADATA_ONLY if metadata_only else "application/json"
        if self.max_answer_bytes is None:
            listed = self.request("GET", res.path(namespace), params=params, accept=accept)
        else:  # a server not ours: in pages, each an answer within the limit, and a bounded number of them
            listed = self._list_in_pages(res.path(namespace), params, accept)
        if KubeClient.journal is not None:  # what was there, and (without a selector) what was not
            versions = {}
            for item in listed.get("items") or []:
                meta = item.get("metadata") or {}
                versions[meta.get("namespace", "") + "/" + meta.get("name", "")] = meta.get("resourceVersion")
            KubeClient.journal.append(
                {
                    "op": "list",
                    "kind": res.kind,
                    "namespace": namespace or "",
                    "name": "",
                    "selector": bool(label_selector or field_selector),
                    "items": versions,  # "namespace/name": resourceVersion
                }
            )
        return listed

    def create(
        self, res: Resource, body: dict[str, Any], namespace: str | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        ns = namespace or body.get("metadata", {}).get("namespace")
        return self.request("POST", res.path(ns), body, params={"dryRun": "All" if dry_run else None})

    def replace(
        self, res: Resource, body: dict[str, Any], subresource: str | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        meta = body["metadata"]
        return self.request(
            "PUT",
            res.path(meta.get("namespace"), meta["name"], subresource),
            body,
            params={"dryRun": "All" if dry_run else None},
        )

    def patch(
        self,
        res: Resource,
        name: str,
        patch: Any,
        namespace: str | None = None,
        kind: str = "merge",
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        force: bool = False,
    ) -> dict[str, Any]:
        content_type = _PATCH_TYPES[kind]
        params = {
            "dryRun": "All" if dry_run else None,
            "fieldManager": field_manager,
            "force": "true" if force else None,
        }
        return self.request(
            "PATCH", res.path(namespace, name, subresource), patch, params=params, content_type=content_type
        )

    def delete(
        self,
        res: Resource,
        name: str,
        namespace: str | None = None,
        propagation: str = "Background",
        dry_run: bool = False,
    ) -> dict[str, Any] | None:
        """Delete; None when it was already gone.

        A DELETE with a body takes its options from the body only (query parameters are then
        ignored), so dryRun goes in the DeleteOptions."""
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        if dry_run:
            body["dryRun"] = ["All"]
        try:
            return self.request("DELETE", res.path(namespace, name), body)
        except ApiError as exc:
            if exc.not_found:
                return None
            raise

    def watch(
        self,
        res: Resource,
        namespace: str | None = None,
        resource_version: str | None = None,
        timeout_seconds: int = 300,
        label_selector: str | None = None,
        field_selector: str | None = None,
        metadata_only: bool = False,
        abort: Abort | None = None,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield (type, object) from a watch until the server ends it (or ``abort`` does: it raises
        ApiError as a cut at the deadline does). 410 Gone raises ApiError."""
        params = {
            "watch": "1",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
            "labelSelector": label_selector,
            "fieldSelector": field_selector,
        }
        query = [(k, str(v)) for k, v in params.items() if v]
        # The server ends a watch at timeoutSeconds; one silent, or dripping bytes that hold no
        # event, past that and the slack is cut, and the caller watches again.
        seconds = timeout_seconds + WATCH_SLACK_SECONDS
        exchange = REAPER.start(seconds)
        if abort is not None:
            abort.add(exchange)
        try:
            accept = METADATA_ONLY_ITEM if metadata_only else "application/json"
            with REAPER.marking(exchange):
                resp = self._send(
                    "GET", res.path(namespace), query, None, "application/json", accept, (CONNECT_SECONDS, seconds)
                )
        except (ValueError, TypeError, http.client.HTTPException) as exc:
            _over(exchange, abort)
            self._observe("WATCH", 0)
            raise ApiError(0, "RequestInvalid", f"watch {res.plural}: {_UNSENDABLE}") from type(exc)()
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            _over(exchange, abort)
            self._observe("WATCH", 0)
            raise ApiError(0, "Unreachable", f"watch {res.plural}: {getattr(exc, 'reason', None) or exc}") from exc
        except BaseException:  # a token's renewal failing, say: the exchange is over all the same
            _over(exchange, abort)
            raise
        self._observe("WATCH", resp.status)
        try:
            if resp.status >= 300:
                data = self._body(resp)
                try:
                    body = json.loads(data) if data else {}
                except ValueError:
                    body = {}
                body = body if isinstance(body, dict) else {}
                raise ApiError(resp.status, body.get("reason", "Error"), body.get("message", ""), body)
            if self.max_answer_bytes is not None:
                encoding = (resp.headers.get("Content-Encoding") or "identity").strip().lower()
                if encoding != "identity":
                    raise ApiError(0, "AnswerRefused", f"watch {res.plural}: a stream encoded {encoding[:20]!r}")
            for line in _lines(resp.stream(65536), self.max_answer_bytes, res.plural):
                if not line.strip():
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object", {})
                    raise ApiError(
                        status.get("code", 500),
                        status.get("reason", "Error"),
                        status.get("message", ""),
                        status,
                    )
                yield event["type"], event["object"]
            if exchange.expired:  # the cut read as the stream's end
                raise ApiError(0, "Timeout", f"watch {res.plural}: no end within {seconds}s")
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            if exchange.expired:
                raise ApiError(0, "Timeout", f"watch {res.plural}: no end within {seconds}s") from exc
            raise ApiError(0, "Unreachable", f"watch {res.plural} ended: {exc}") from exc
        finally:
            _over(exchange, abort)  # first: the reaper lets go of the socket before the pool takes it
            if not resp.isclosed():  # left before its end: the stream is not given back to the pool open
                resp.close()
            resp.release_conn()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until /readyz answers ok."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                self.request("GET", "/readyz", timeout=5)
                return
            except ApiError as exc:
                last = exc
                time.sleep(0.2)
        raise TimeoutError(f"API server {self.server} not ready after {timeout}s: {last}")
