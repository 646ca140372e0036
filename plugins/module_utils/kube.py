# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""A small Kubernetes REST client: kubeconfig or in-cluster credentials, JSON over urllib3.

It imports in milliseconds, so an Ansible task, the operator and the stand-ins share it
without paying the start-up of a generated client in every Ansible worker.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.http_deadlines import REAPER, pool_manager, within
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.libraries import require
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.resources import KNOWN, Resource

try:
    import urllib3
    import yaml
except ImportError as exc:  # named in the task's error when a client is needed (see libraries.py)
    IMPORT_ERROR: ImportError | None = exc
else:
    IMPORT_ERROR = None

IN_CLUSTER_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
USER_AGENT = "dpf-hcp-provisioner/0.1"
# Ask for PartialObjectMetadata: watch a kind's metadata without its data (e.g. Secrets).
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
METADATA_ONLY_ITEM = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
CONNECT_SECONDS = 10.0  # the TCP connect; the TLS handshake counts toward the request's whole deadline
WATCH_SLACK_SECONDS = 30  # a watch ends at its timeoutSeconds; past this more, the peer is not answering


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
    """Where the API server is and how to prove who we are. Inline key material stays in memory
    (``cert_pem``/``key_pem``); file paths come only from a kubeconfig we trust (our own)."""

    server: str
    ca_file: str | None = None
    ca_pem: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    token_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    cert_pem: bytes | None = field(default=None, repr=False)
    key_pem: bytes | None = field(default=None, repr=False)
    insecure: bool = False
    #: Called for the bearer token of every request when set (a token that is renewed, say).
    token_source: Callable[[], str] | None = field(default=None, repr=False, compare=False)

    def bearer(self) -> str | None:
        if self.token_source is not None:
            return self.token_source()
        if self.token_file:
            with open(self.token_file, encoding="utf-8") as fh:
                return fh.read().strip()
        return self.token


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


def credentials_from_kubeconfig_dict(
    config: dict[str, Any], context: str | None = None, base_dir: str = "."
) -> Credentials:
    """Credentials from a parsed kubeconfig we trust (the current context unless one is named);
    ValueError naming what is wrong (never quoting it) when it is not a usable kubeconfig."""
    if not isinstance(config, dict):
        raise ValueError(f"kubeconfig is not a mapping but {type(config).__name__}")
    return _usable(config, context, base_dir, strict=False)


def credentials_from_kubeconfig_text(text: str) -> Credentials:
    """Credentials from kubeconfig content read from the API (a HostedCluster's admin kubeconfig),
    in the strict mode (see ``_credentials``), its CA, certificate and key loaded (from memory) to
    prove them usable. ValueError (KubeconfigRefusedError for what is refused on principle) naming
    the field, never quoting a credential."""
    creds = _usable(_parsed(text), None, ".", strict=True)
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
    except yaml.YAMLError:
        raise ValueError("kubeconfig is not YAML") from None
    if not isinstance(config, dict):
        raise ValueError(f"kubeconfig is not a mapping but {type(config).__name__}")
    return config


def _usable(config: dict[str, Any], context: str | None, base_dir: str, strict: bool) -> Credentials:
    try:
        return _credentials(config, context, base_dir, strict)
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


def _pem(data_b64: str, where: str, kind: str, many: bool) -> bytes:
    """Inline PEM content: base64 of ``kind`` blocks only (one unless ``many``), nothing else."""
    raw = base64.b64decode(data_b64, validate=True)
    blocks = list(_PEM_BLOCK.finditer(raw))
    rest = _PEM_BLOCK.sub(b"", raw).strip()
    if (
        not blocks
        or rest
        or any(not b.group(1).endswith(kind.encode()) for b in blocks)
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
        raise KubeconfigRefusedError(
            f"{where} {str(server)[:200]!r} is not an https://host[:port] URL: give the API server's"
        )
    return parts.hostname.lower(), port or 443


def _credentials(config: dict[str, Any], context: str | None, base_dir: str, strict: bool) -> Credentials:
    """Credentials from a kubeconfig. ``strict`` (for kubeconfigs read from the API): exactly one
    cluster, user and context; an https server; certificate-authority-data required and TLS always
    verified; a client certificate and key, or a token, inline; anything else refused by name."""
    if strict:
        entries = {s: _only_one(config, s) for s in ("clusters", "users", "contexts")}
        names = {s: entries[s].get("name") for s in entries}
        ctx_entry = entries["contexts"].get("context") or {}
        _refuse_unknown("contexts[0].context", ctx_entry, STRICT_CONTEXT_FIELDS)
        if config.get("current-context") != names["contexts"]:
            raise ValueError("kubeconfig's current-context does not name its one context")
        if ctx_entry.get("cluster") != names["clusters"] or ctx_entry.get("user") != names["users"]:
            raise ValueError("kubeconfig's context does not name its one cluster and its one user")
    ctx_name = context or config.get("current-context")
    contexts = {c["name"]: c["context"] for c in config.get("contexts") or []}
    if ctx_name not in contexts:
        raise ValueError(f"kubeconfig has no context {ctx_name!r}; it has {sorted(contexts)}")
    ctx = contexts[ctx_name]
    cluster = {c["name"]: c["cluster"] for c in config.get("clusters") or []}[ctx["cluster"]]
    user = {u["name"]: u["user"] for u in config.get("users") or []}.get(ctx.get("user"), {}) or {}
    if strict:
        _refuse_unknown("clusters[0].cluster", cluster, STRICT_CLUSTER_FIELDS)
        _refuse_unknown("users[0].user", user, STRICT_USER_FIELDS)
        https_server(cluster.get("server"))
        if not cluster.get("certificate-authority-data"):
            raise KubeconfigRefusedError(
                "clusters[0].cluster.certificate-authority-data is missing: the server is verified against the "
                "CA HyperShift writes there, never against the system's trust store"
            )
        if bool(user.get("client-certificate-data")) != bool(user.get("client-key-data")):
            raise ValueError("users[0].user needs both client-certificate-data and client-key-data, or neither")
        if not (user.get("token") or user.get("client-certificate-data")):
            raise ValueError(
                "users[0].user has no credential: give client-certificate-data and client-key-data, or token"
            )
        if user.get("token") and not (isinstance(user["token"], str) and _TOKEN.fullmatch(user["token"])):
            raise ValueError("users[0].user.token is not a bearer token (letters, digits, -._~+/ and trailing =)")

    def rel(p: str) -> str:
        return p if os.path.isabs(p) else os.path.join(base_dir, p)

    def read(p: str) -> bytes:
        with open(rel(p), "rb") as fh:
            return fh.read()

    creds = Credentials(server=cluster["server"].rstrip("/"), insecure=bool(cluster.get("insecure-skip-tls-verify")))
    if cluster.get("certificate-authority-data"):
        creds.ca_pem = _pem(
            cluster["certificate-authority-data"], "certificate-authority-data", "CERTIFICATE", True
        ).decode("ascii")
    elif cluster.get("certificate-authority"):
        creds.ca_file = rel(cluster["certificate-authority"])
    if user.get("token"):
        creds.token = str(user["token"])
    elif user.get("tokenFile"):
        creds.token_file = rel(user["tokenFile"])
    inline_cert, inline_key = user.get("client-certificate-data"), user.get("client-key-data")
    if inline_cert or inline_key:  # in memory; a file named beside inline data is read into memory too
        creds.cert_pem = (
            _pem(inline_cert, "client-certificate-data", "CERTIFICATE", True)
            if inline_cert
            else read(user["client-certificate"])
        )
        creds.key_pem = (
            _pem(inline_key, "client-key-data", "PRIVATE KEY", False) if inline_key else read(user["client-key"])
        )
    else:
        creds.cert_file = rel(user["client-certificate"]) if user.get("client-certificate") else None
        creds.key_file = rel(user["client-key"]) if user.get("client-key") else None
    return creds


_CREDENTIALS: dict[tuple[Any, ...], Credentials] = {}
_SSL_CONTEXTS: dict[tuple[Any, ...], ssl.SSLContext] = {}


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
        ctx.load_cert_chain(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def ssl_context(creds: Credentials) -> ssl.SSLContext:
    """The TLS context for ``creds``, built once per process for the same files and content
    (loading a CA and a client key costs milliseconds; an Ansible run asks for it once per task and
    host). ValueError when the certificates or the key do not load."""
    key = (
        creds.insecure,
        _file_key(creds.ca_file),
        _file_key(creds.cert_file),
        _file_key(creds.key_file),
        _digest(creds.ca_pem, creds.cert_pem, creds.key_pem),
    )
    if key not in _SSL_CONTEXTS:
        try:
            # An unverified context only when a kubeconfig we trust says insecure-skip-tls-verify.
            ctx = (
                ssl._create_unverified_context()  # noqa: S323
                if creds.insecure
                else ssl.create_default_context(cafile=creds.ca_file, cadata=creds.ca_pem)
            )
            if creds.cert_pem is not None and creds.key_pem is not None:
                load_chain_from_memory(ctx, creds.cert_pem, creds.key_pem)
            elif creds.cert_file:
                ctx.load_cert_chain(creds.cert_file, creds.key_file)
        except (ssl.SSLError, OSError) as exc:
            raise ValueError(f"kubeconfig's certificates or key are not usable ({type(exc).__name__})") from None
        if len(_SSL_CONTEXTS) >= 64:  # e.g. many hosted kubeconfigs over a long life: start over
            _SSL_CONTEXTS.clear()
        _SSL_CONTEXTS[key] = ctx
    return _SSL_CONTEXTS[key]


def load_credentials(kubeconfig: str | None = None, context: str | None = None) -> Credentials:
    """Kubeconfig file (argument, $K8S_AUTH_KUBECONFIG, $KUBECONFIG, ~/.kube/config) or in-cluster:
    the operator's own identity, trusted (file paths allowed)."""
    path = (
        kubeconfig
        or os.environ.get("K8S_AUTH_KUBECONFIG")
        or os.environ.get("KUBECONFIG")
        or os.path.expanduser("~/.kube/config")
    )
    path = path.split(os.pathsep)[0]
    require(IMPORT_ERROR)
    if os.path.exists(path):
        stat = os.stat(path)
        key = (os.path.abspath(path), context, stat.st_mtime_ns, stat.st_size)
        if key not in _CREDENTIALS:  # parsed once per process (and inherited by forked workers)
            with open(path, encoding="utf-8") as fh:
                config = yaml.safe_load(fh)
            base_dir = os.path.dirname(os.path.abspath(path))
            _CREDENTIALS[key] = credentials_from_kubeconfig_dict(config, context, base_dir)
        return _CREDENTIALS[key]
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    if host and os.path.exists(os.path.join(IN_CLUSTER_DIR, "token")):
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        return Credentials(
            server=f"https://{host}:{port}",
            ca_file=os.path.join(IN_CLUSTER_DIR, "ca.crt"),
            token_file=os.path.join(IN_CLUSTER_DIR, "token"),
        )
    raise ValueError(f"no kubeconfig at {path!r} and not running in a cluster: set KUBECONFIG or kubeconfig")


class KubeClient:
    """JSON requests against one API server; one connection pool, safe to share across threads."""

    #: Called as ``observer(method, status, server)`` after every request of every client in the
    #: process (status 0: no answer; method WATCH for a watch opened; server: the API server's URL);
    #: the operator counts them in metrics.
    observer: Callable[[str, int, str], None] | None = None
    #: When a list, every object a request of this process read (GET by name) or wrote (created,
    #: replaced or patched; dry runs excepted) is recorded in it, in order, as op (read or write),
    #: kind, namespace, name, resourceVersion, generation and labels: so the operator knows which
    #: changes it will see were its own, and which version of an object a run last saw
    #: (plugin_utils/local_module.py).
    journal: list[dict[str, Any]] | None = None

    def __init__(self, creds: Credentials, timeout: float = 30.0, maxsize: int = 8):
        require(IMPORT_ERROR)
        self.creds = creds
        self.timeout = timeout
        self._pool = pool_manager(ssl_context=ssl_context(creds), maxsize=maxsize, block=False, retries=False)
        self._discovered: dict[tuple[str, str], Resource] = {}

    @classmethod
    def from_kubeconfig(cls, kubeconfig: str | None = None, context: str | None = None, **kw: Any) -> KubeClient:
        return cls(load_credentials(kubeconfig, context), **kw)

    def reset_connections(self) -> None:
        """Drop pooled sockets, e.g. after a fork: a child must not share its parent's sockets."""
        self._pool.clear()

    # -- raw requests -------------------------------------------------------
    def _observe(self, method: str, status: int) -> None:
        if KubeClient.observer is not None:
            KubeClient.observer(method, status, self.creds.server)

    def _headers(self, content_type: str, accept: str = "application/json") -> dict[str, str]:
        headers = {"Accept": accept, "Content-Type": content_type, "User-Agent": USER_AGENT}
        token = self.creds.bearer()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

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
        url = self.creds.server + path
        query = {k: v for k, v in (params or {}).items() if v is not None}
        if query:
            url += "?" + urlencode(query)
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        seconds = timeout or self.timeout
        error: Exception | None = None
        with within(seconds) as exchange:  # the whole exchange, however slowly the peer drips it
            try:
                resp = self._pool.request(
                    method,
                    url,
                    body=data,
                    headers=self._headers(content_type, accept),
                    timeout=urllib3.Timeout(connect=min(CONNECT_SECONDS, seconds), read=seconds),
                )
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                error = exc
        if exchange.expired:  # also when the cut read as the end of an answer without a length
            self._observe(method, 0)
            message = f"{method} {self.creds.server}: no whole answer within {seconds:g}s"
            raise ApiError(0, "Timeout", message) from error
        if error is not None:
            self._observe(method, 0)
            raise ApiError(0, "Unreachable", f"{method} {self.creds.server}: {error}") from error
        self._observe(method, resp.status)
        payload: dict[str, Any] = {}
        if resp.data:
            try:
                payload = json.loads(resp.data)
            except ValueError:
                payload = {"message": resp.data.decode(errors="replace")[:500]}
        if resp.status >= 300:
            raise ApiError(resp.status, payload.get("reason", "Error"), payload.get("message", ""), payload)
        if KubeClient.journal is not None and not query.get("dryRun"):
            if method in ("POST", "PUT", "PATCH"):
                self._record("write", payload)
            elif method == "GET" and not str(payload.get("kind", "")).endswith("List"):
                self._record("read", payload)
        return payload

    @staticmethod
    def _record(op: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        if obj.get("kind") and meta.get("name") and meta.get("resourceVersion") and KubeClient.journal is not None:
            KubeClient.journal.append(
                {
                    "op": op,
                    "kind": obj["kind"],
                    "namespace": meta.get("namespace", ""),
                    "name": meta["name"],
                    "resourceVersion": meta["resourceVersion"],
                    "generation": meta.get("generation"),
                    "labels": dict(meta.get("labels") or {}),
                }
            )

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
        self, res: Resource, name: str, namespace: str | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        return self.request("GET", res.path(namespace, name), timeout=timeout)

    def get_or_none(
        self, res: Resource, name: str, namespace: str | None = None, timeout: float | None = None
    ) -> dict[str, Any] | None:
        try:
            return self.get(res, name, namespace, timeout)
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
        listed = self.request(
            "GET",
            res.path(namespace),
            params={
                "labelSelector": label_selector,
                "fieldSelector": field_selector,
                "resourceVersion": resource_version,
            },
            accept=METADATA_ONLY if metadata_only else "application/json",
        )
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
        content_type = {
            "merge": "application/merge-patch+json",
            "json": "application/json-patch+json",
            "strategic": "application/strategic-merge-patch+json",
            "apply": "application/apply-patch+yaml",
        }[kind]
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
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield (type, object) from a watch until the server ends it. 410 Gone raises ApiError."""
        params = {
            "watch": "1",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
            "labelSelector": label_selector,
            "fieldSelector": field_selector,
        }
        url = self.creds.server + res.path(namespace) + "?" + urlencode({k: v for k, v in params.items() if v})
        # The server ends a watch at timeoutSeconds; one silent, or dripping bytes that hold no
        # event, past that and the slack is cut, and the caller watches again.
        seconds = timeout_seconds + WATCH_SLACK_SECONDS
        exchange = REAPER.start(seconds)
        try:
            accept = METADATA_ONLY_ITEM if metadata_only else "application/json"
            with REAPER.marking(exchange):
                resp = self._pool.request(
                    "GET",
                    url,
                    headers=self._headers("application/json", accept),
                    preload_content=False,
                    timeout=urllib3.Timeout(connect=CONNECT_SECONDS, read=seconds),
                )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            REAPER.finish(exchange)
            self._observe("WATCH", 0)
            raise ApiError(0, "Unreachable", f"watch {res.plural}: {exc}") from exc
        self._observe("WATCH", resp.status)
        try:
            if resp.status >= 300:
                data = resp.read()
                body = json.loads(data) if data else {}
                raise ApiError(resp.status, body.get("reason", "Error"), body.get("message", ""), body)
            buf = b""
            for chunk in resp.stream(65536):
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
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
            REAPER.finish(exchange)  # first: the reaper lets go of the socket before the pool takes it
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
        raise TimeoutError(f"API server {self.creds.server} not ready after {timeout}s: {last}")
