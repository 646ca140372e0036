# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""The BlueField OS image in what the DPUs boot with, two ways.

- HyperShift's own: a MachineConfig whose ``osImageURL`` is the image, in a ConfigMap (key
  ``config``) that ``NodePool.spec.config`` names; HyperShift merges it into the ignition.
- DPF's: the ignition HyperShift's ignition server hands out, with the ``osImageURL`` of the
  MachineConfig it carries (the file ``/etc/ignition-machine-config-encapsulated.json``)
  rewritten, stored for DPF's provisioning controller as a bf.cfg template ConfigMap.

Pure functions, except ``fetch_ignition`` (HTTPS, verified against the ignition server's CA).
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
import re
import ssl
import threading
import zlib
from typing import Any
from urllib.parse import quote_from_bytes, unquote_to_bytes

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.deadlines import pool_manager, within
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.libraries import require
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.conditions import (
    WAITING_FOR_IGNITION_PAYLOAD as WAITING_FOR_PAYLOAD,
)

try:
    import urllib3
except ImportError as exc:  # the module names it in the task's error (see libraries.py)
    IMPORT_ERROR: ImportError | None = exc
else:
    IMPORT_ERROR = None

ENCAPSULATED_PATH = "/etc/ignition-machine-config-encapsulated.json"
MACHINE_CONFIG_NAME = "99-dpf-hcp-bluefield-os"
BFCFG_KEY = "BF_CFG_TEMPLATE"
BFCFG_LABEL = "provisioning.dpu.nvidia.com/bfcfg-template"
CA_SECRET = "ignition-server-ca-cert"  # noqa: S105 - the name of HyperShift's secret, not a secret
# The bf.cfg template ends in a ConfigMap (1 MiB in etcd): an ignition many times that is not one
# HyperShift serves. Bounds on what a server, or whoever wrote the HostedCluster's status, can make us
# read, unpack and wait for.
MAX_IGNITION_BYTES = 8 * 1024 * 1024
MAX_UNPACKED_BYTES = 8 * 1024 * 1024
FETCH_DEADLINE_SECONDS = 30.0
_CHUNK = 64 * 1024
# What HyperShift writes on a NodePool's token secret: the NodePool (<namespace>/<name>), and, on a token
# being retired, when it expires. openshift/hypershift hypershift-operator/controllers/nodepool/token.go
# (reconcileTokenSecret: tokenSecret.Annotations[nodePoolAnnotation] = client.ObjectKeyFromObject(nodePool)),
# nodepool_controller.go (nodePoolAnnotation = "hypershift.openshift.io/nodePool"),
# api/hypershift/v1beta1/nodepool_types.go (IgnitionServerTokenExpirationTimestampAnnotation).
TOKEN_NODEPOOL_ANNOTATION = "hypershift.openshift.io/nodePool"  # noqa: S105 - an annotation key
TOKEN_EXPIRATION_ANNOTATION = "hypershift.openshift.io/ignition-token-expiration-timestamp"  # noqa: S105
# On a NodePool of platform None, the hash of its current config: its token secret is
# token-<nodepool>-<hash>. openshift/hypershift hypershift-operator/controllers/nodepool/
# nodepool_controller.go (nodePoolAnnotationCurrentConfigVersion, reconcile).
NODEPOOL_CURRENT_CONFIG_VERSION = "hypershift.openshift.io/nodePoolCurrentConfigVersion"
# The ignition server's answer for a token it has not cached (yet): "back off and retry".
# openshift/hypershift ignition-server/cmd/start.go (run: http.StatusNetworkAuthenticationRequired).
NOT_CACHED_YET = 511


class IgnitionError(ValueError):
    """The ignition cannot be fetched or does not carry what we rewrite; ``reason`` is the condition's."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def machine_config(image: str) -> dict[str, Any]:
    """The MachineConfig that sets the OS image of the NodePool's machines (the DPUs)."""
    return {
        "apiVersion": "machineconfiguration.openshift.io/v1",
        "kind": "MachineConfig",
        "metadata": {
            "name": MACHINE_CONFIG_NAME,
            "labels": {"machineconfiguration.openshift.io/role": "worker"},
        },
        "spec": {"osImageURL": image},
    }


def _decode_source(source: str, compression: str | None) -> bytes:
    """The bytes of an ignition ``data:`` URL (base64 or percent-encoded, optionally gzip)."""
    if not source.startswith("data:") or "," not in source:
        raise IgnitionError("InvalidIgnition", f"{ENCAPSULATED_PATH} is not inline (source {source[:40]!r}...)")
    header, payload = source[5:].split(",", 1)
    raw = base64.b64decode(payload) if header.endswith(";base64") else unquote_to_bytes(payload)
    return _gunzip(raw) if compression == "gzip" else raw


def _gunzip(raw: bytes) -> bytes:
    """gzip, unpacked to at most MAX_UNPACKED_BYTES (a small bomb must not take the worker's memory)."""
    unpacker = zlib.decompressobj(wbits=31)
    data = unpacker.decompress(raw, MAX_UNPACKED_BYTES)
    if unpacker.unconsumed_tail:
        raise ValueError(f"it unpacks to more than {MAX_UNPACKED_BYTES} bytes")
    if not unpacker.eof:
        raise ValueError("the gzip stream is truncated")
    return data


def _encode_source(data: bytes) -> str:
    """A plain ``data:,`` URL, percent-escaped, as MCO writes the encapsulated MachineConfig
    (openshift/machine-config-operator pkg/server/server.go, getEncodedContent) and as the upstream
    operator requires it (internal/ignition/machineos.go, ReplaceMachineOSURL)."""
    return "data:," + quote_from_bytes(data, safe="")


def _encapsulated(ignition: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ignition's file entry for the encapsulated MachineConfig, and that MachineConfig."""
    files = ((ignition.get("storage") or {}).get("files")) or []
    entry = next((f for f in files if isinstance(f, dict) and f.get("path") == ENCAPSULATED_PATH), None)
    if entry is None:
        raise IgnitionError(
            "InvalidIgnition", f"the ignition carries no MachineConfig ({ENCAPSULATED_PATH} is missing)"
        )
    contents = entry.get("contents") or {}
    try:
        config = json.loads(_decode_source(str(contents.get("source", "")), contents.get("compression")))
    except (ValueError, OSError) as exc:
        raise IgnitionError("InvalidIgnition", f"{ENCAPSULATED_PATH} is not a MachineConfig: {exc}") from exc
    if not isinstance(config, dict):
        raise IgnitionError("InvalidIgnition", f"{ENCAPSULATED_PATH} is not a MachineConfig")
    return entry, config


def override_os_image(ignition: dict[str, Any], image: str) -> dict[str, Any]:
    """A copy of ``ignition`` whose encapsulated MachineConfig boots ``image``."""
    out = copy.deepcopy(ignition)
    entry, config = _encapsulated(out)
    config.setdefault("spec", {})["osImageURL"] = image
    replaced = ("source", "compression", "verification")
    kept = {k: v for k, v in (entry.get("contents") or {}).items() if k not in replaced}
    entry["contents"] = kept | {"source": _encode_source(json.dumps(config, separators=(",", ":")).encode())}
    return out


def compress_files(ignition: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``ignition`` with every inline file not compressed yet gzip-compressed (Ignition
    3's contents.compression): what lands on disk is the same, the ignition a fraction of its size."""
    out = copy.deepcopy(ignition)
    for entry in (out.get("storage") or {}).get("files") or []:
        contents = entry.get("contents") if isinstance(entry, dict) else None
        source = contents.get("source") if isinstance(contents, dict) else None
        if not isinstance(source, str) or not source.startswith("data:") or contents.get("compression"):
            continue
        try:
            data = _decode_source(source, None)
        except (IgnitionError, ValueError):
            continue  # left as HyperShift wrote it
        contents["source"] = "data:;base64," + base64.b64encode(gzip.compress(data, mtime=0)).decode()
        contents["compression"] = "gzip"
    return out


def os_image(ignition: dict[str, Any]) -> str:
    """The ``osImageURL`` of the MachineConfig an ignition carries."""
    return str((_encapsulated(ignition)[1].get("spec") or {}).get("osImageURL", ""))


# What HyperShift publishes as HostedCluster status.ignitionEndpoint: a route's hostname, or
# net.JoinHostPort(address, nodePort) (openshift/hypershift hypershift-operator/controllers/
# hostedcluster/hostedcluster_controller.go, "Set Ignition Server endpoint"). Whoever writes that
# status must not choose a path, a query, a fragment or credentials for the NodePool's token.
_ENDPOINT = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?")


def is_endpoint(endpoint: object) -> bool:
    """Whether ``endpoint`` is host[:port] (a DNS name, an IPv4 address or a bracketed IPv6 one)."""
    if not isinstance(endpoint, str) or not _ENDPOINT.fullmatch(endpoint):
        return False
    port = endpoint.rsplit("]", 1)[-1].rpartition(":")[2] if ":" in endpoint.rsplit("]", 1)[-1] else "443"
    return 0 < int(port) < 65536


def fetch_ignition(
    endpoint: str, token: str, ca_pem: str, timeout: float = 10.0, deadline: float = FETCH_DEADLINE_SECONDS
) -> dict[str, Any]:
    """GET ``https://<endpoint>/ignition`` with the NodePool's token, the server verified against
    ``ca_pem``: ``timeout`` per connect and read, ``deadline`` for the whole exchange, at most
    MAX_IGNITION_BYTES read. A server that drips its answer is given up on at the deadline."""
    require(IMPORT_ERROR)
    if not is_endpoint(endpoint):
        raise IgnitionError("InvalidIgnitionEndpoint", "the ignition endpoint is not host[:port]")
    url = f"https://{endpoint}/ignition"
    try:
        context = ssl.create_default_context(cadata=ca_pem)
        context.verify_flags &= ~ssl.VERIFY_X509_STRICT  # Python 3.13's strict checks; not Go's
    except (ssl.SSLError, ValueError) as exc:
        raise IgnitionError("EndpointUnreachable", f"the CA in secret {CA_SECRET} is not a certificate: {exc}") from exc
    outcome: dict[str, Any] = {}

    def exchange() -> None:
        try:
            outcome["answer"] = _get(url, token, context, timeout)
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=exchange, name="ignition-fetch", daemon=True)
    worker.start()
    worker.join(deadline)
    if worker.is_alive():  # the thread ends at its next read timeout; its socket is not ours to wait on
        raise IgnitionError("EndpointUnreachable", f"{url} did not answer within {deadline:g}s")
    if "error" in outcome:
        raise outcome["error"]
    status, body = outcome["answer"]
    if status == NOT_CACHED_YET:
        raise IgnitionError(
            WAITING_FOR_PAYLOAD,
            f"{url} has not generated the NodePool's ignition for this token yet (HTTP 511); asked again shortly",
        )
    if status in (401, 403):
        raise IgnitionError(
            "EndpointUnreachable", f"{url} refused the NodePool's token (HTTP {status}); HyperShift rotates it"
        )
    if status != 200:
        raise IgnitionError("EndpointUnreachable", f"{url} answered HTTP {status}")
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise IgnitionError("InvalidIgnition", f"{url} did not return an ignition JSON: {exc}") from exc
    if not isinstance(payload, dict) or "ignition" not in payload:
        raise IgnitionError("InvalidIgnition", f"{url} did not return an ignition config")
    return payload


def bearer(token: str) -> str:
    """The Authorization value for a NodePool's token: HyperShift's ignition server base64-decodes
    what follows ``Bearer `` (openshift/hypershift ignition-server/cmd/start.go, run), and its
    user-data sends ``base64(token)`` (hypershift-operator/controllers/nodepool/token.go, ignConfig)."""
    return "Bearer " + base64.b64encode(token.encode()).decode()


def _get(url: str, token: str, context: ssl.SSLContext, timeout: float) -> tuple[int, bytes]:
    """The status and at most MAX_IGNITION_BYTES of the body, all within ``timeout`` seconds."""
    pool = pool_manager(ssl_context=context, retries=False, timeout=timeout)
    try:
        with within(timeout) as exchange:
            try:
                resp = pool.request("GET", url, headers={"Authorization": bearer(token)}, preload_content=False)
                try:
                    body = bytearray()
                    while chunk := resp.read(_CHUNK):
                        body += chunk
                        if len(body) > MAX_IGNITION_BYTES:
                            raise IgnitionError(
                                "InvalidIgnition", f"{url} returned more than {MAX_IGNITION_BYTES} bytes"
                            )
                    if exchange.expired:  # the cut read as the end of a body without a length
                        raise IgnitionError("EndpointUnreachable", f"{url}: no whole answer within {timeout:g}s")
                    return resp.status, bytes(body)
                finally:
                    resp.release_conn()
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                if exchange.expired:
                    raise IgnitionError("EndpointUnreachable", f"{url}: no whole answer within {timeout:g}s") from exc
                raise
    except urllib3.exceptions.SSLError as exc:
        raise IgnitionError(
            "EndpointUnreachable",
            f"{url}: the server's certificate does not verify against secret {CA_SECRET}: {exc}",
        ) from exc
    except urllib3.exceptions.HTTPError as exc:
        raise IgnitionError("EndpointUnreachable", f"{url}: {exc}") from exc
    finally:
        pool.clear()
