# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""A small Kubernetes REST client: kubeconfig or in-cluster credentials, JSON over urllib3.

It imports in milliseconds, so an Ansible task, the operator and the stand-ins share it
without paying the start-up of a generated client in every Ansible worker.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import json
import os
import shutil
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

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


@dataclass
class Credentials:
    """Where the API server is and how to prove who we are."""

    server: str
    ca_file: str | None = None
    token: str | None = None
    token_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False
    _tmpdir: str | None = field(default=None, repr=False)

    def bearer(self) -> str | None:
        if self.token_file:
            with open(self.token_file, encoding="utf-8") as fh:
                return fh.read().strip()
        return self.token


def _materialise(data_b64: str, name: str, creds: Credentials) -> str:
    """Write inline kubeconfig data (CA, client cert/key) to a private file urllib3 can read."""
    if creds._tmpdir is None:
        creds._tmpdir = tempfile.mkdtemp(prefix="dpfhcp-kube-")
        atexit.register(shutil.rmtree, creds._tmpdir, True)
    path = os.path.join(creds._tmpdir, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(base64.b64decode(data_b64))
    return path


def credentials_from_kubeconfig_dict(
    config: dict[str, Any], context: str | None = None, base_dir: str = "."
) -> Credentials:
    """Credentials from a parsed kubeconfig (the current context unless one is named); ValueError
    naming what is wrong (never quoting it) when it is not a usable kubeconfig."""
    if not isinstance(config, dict):
        raise ValueError(f"kubeconfig is not a mapping but {type(config).__name__}")
    return _usable(config, context, base_dir, materialise=True)


def check_kubeconfig_text(text: str) -> None:
    """ValueError naming what is wrong (never quoting it) unless ``text`` is a usable kubeconfig;
    nothing is written (inline certificates are only decoded)."""
    _usable(_parsed(text), None, ".", materialise=False)


def _parsed(text: str) -> dict[str, Any]:
    require(IMPORT_ERROR)
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError:
        raise ValueError("kubeconfig is not YAML") from None
    if not isinstance(config, dict):
        raise ValueError(f"kubeconfig is not a mapping but {type(config).__name__}")
    return config


def _usable(config: dict[str, Any], context: str | None, base_dir: str, materialise: bool) -> Credentials:
    try:
        return _credentials(config, context, base_dir, materialise)
    except (KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise ValueError(f"kubeconfig is malformed or incomplete ({type(exc).__name__}: {exc})") from None


def _credentials(config: dict[str, Any], context: str | None, base_dir: str, materialise: bool) -> Credentials:
    ctx_name = context or config.get("current-context")
    contexts = {c["name"]: c["context"] for c in config.get("contexts") or []}
    if ctx_name not in contexts:
        raise ValueError(f"kubeconfig has no context {ctx_name!r}; it has {sorted(contexts)}")
    ctx = contexts[ctx_name]
    cluster = {c["name"]: c["cluster"] for c in config.get("clusters") or []}[ctx["cluster"]]
    user = {u["name"]: u["user"] for u in config.get("users") or []}.get(ctx.get("user"), {}) or {}

    def rel(p: str) -> str:
        return p if os.path.isabs(p) else os.path.join(base_dir, p)

    creds = Credentials(server=cluster["server"].rstrip("/"), insecure=bool(cluster.get("insecure-skip-tls-verify")))

    def write(data_b64: str, name: str, creds: Credentials) -> str:
        if materialise:
            return _materialise(data_b64, name, creds)
        base64.b64decode(data_b64, validate=True)
        return name

    if cluster.get("certificate-authority-data"):
        creds.ca_file = write(cluster["certificate-authority-data"], "ca.crt", creds)
    elif cluster.get("certificate-authority"):
        creds.ca_file = rel(cluster["certificate-authority"])
    if user.get("token"):
        creds.token = user["token"]
    elif user.get("tokenFile"):
        creds.token_file = rel(user["tokenFile"])
    if user.get("client-certificate-data"):
        creds.cert_file = write(user["client-certificate-data"], "client.crt", creds)
    elif user.get("client-certificate"):
        creds.cert_file = rel(user["client-certificate"])
    if user.get("client-key-data"):
        creds.key_file = write(user["client-key-data"], "client.key", creds)
    elif user.get("client-key"):
        creds.key_file = rel(user["client-key"])
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


def ssl_context(creds: Credentials) -> ssl.SSLContext:
    """The TLS context for ``creds``, built once per process for the same files (loading a CA and a
    client key costs milliseconds; an Ansible run asks for it once per task and host)."""
    key = (creds.insecure, _file_key(creds.ca_file), _file_key(creds.cert_file), _file_key(creds.key_file))
    if key not in _SSL_CONTEXTS:
        # An unverified context only when the kubeconfig says insecure-skip-tls-verify.
        ctx = (
            ssl._create_unverified_context()  # noqa: S323
            if creds.insecure
            else ssl.create_default_context(cafile=creds.ca_file)
        )
        if creds.cert_file:
            ctx.load_cert_chain(creds.cert_file, creds.key_file)
        if len(_SSL_CONTEXTS) >= 64:  # e.g. many hosted kubeconfigs over a long life: start over
            _SSL_CONTEXTS.clear()
        _SSL_CONTEXTS[key] = ctx
    return _SSL_CONTEXTS[key]


def load_credentials(kubeconfig: str | None = None, context: str | None = None) -> Credentials:
    """Kubeconfig file (argument, $K8S_AUTH_KUBECONFIG, $KUBECONFIG, ~/.kube/config) or in-cluster."""
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


def credentials_from_kubeconfig_text(text: str) -> Credentials:
    """Credentials from kubeconfig content, e.g. a HostedCluster's admin kubeconfig secret."""
    return _usable(_parsed(text), None, ".", materialise=True)


class KubeClient:
    """JSON requests against one API server; one connection pool, safe to share across threads."""

    #: Called as ``observer(method, status)`` after every request of every client in the process
    #: (status 0: no answer; method WATCH for a watch opened); the operator counts them in a metric.
    observer: Callable[[str, int], None] | None = None
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
        self._pool = urllib3.PoolManager(ssl_context=ssl_context(creds), maxsize=maxsize, block=False, retries=False)
        self._discovered: dict[tuple[str, str], Resource] = {}

    @classmethod
    def from_kubeconfig(cls, kubeconfig: str | None = None, context: str | None = None, **kw: Any) -> KubeClient:
        return cls(load_credentials(kubeconfig, context), **kw)

    def reset_connections(self) -> None:
        """Drop pooled sockets, e.g. after a fork: a child must not share its parent's sockets."""
        self._pool.clear()

    # -- raw requests -------------------------------------------------------
    @classmethod
    def _observe(cls, method: str, status: int) -> None:
        if cls.observer is not None:
            cls.observer(method, status)

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
        try:
            resp = self._pool.request(
                method,
                url,
                body=data,
                headers=self._headers(content_type, accept),
                timeout=timeout or self.timeout,
            )
        except urllib3.exceptions.HTTPError as exc:
            self._observe(method, 0)
            raise ApiError(0, "Unreachable", f"{method} {self.creds.server}: {exc}") from exc
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

    def get(self, res: Resource, name: str, namespace: str | None = None) -> dict[str, Any]:
        return self.request("GET", res.path(namespace, name))

    def get_or_none(self, res: Resource, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        try:
            return self.get(res, name, namespace)
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
        try:
            accept = METADATA_ONLY_ITEM if metadata_only else "application/json"
            resp = self._pool.request(
                "GET",
                url,
                headers=self._headers("application/json", accept),
                preload_content=False,
                timeout=urllib3.Timeout(connect=10, read=timeout_seconds + 30),
            )
        except urllib3.exceptions.HTTPError as exc:
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
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ApiError(0, "Unreachable", f"watch {res.plural} ended: {exc}") from exc
        finally:
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
