"""The MetalLB stand-in: MetalLB's validating admission webhooks for IPAddressPool and
L2Advertisement, served over HTTPS on 127.0.0.1 and registered with the API server as MetalLB
ships them, so a pool MetalLB refuses is refused here through the same API.

Followed (metallb/metallb at 7938d3f89b8b):
- config/webhook/manifests.yaml and its patch: ValidatingWebhookConfiguration
  ``metallb-webhook-configuration``, webhooks ``ipaddresspoolvalidationwebhook.metallb.io`` and
  ``l2advertisementvalidationwebhook.metallb.io``, CREATE and UPDATE only, failurePolicy Fail,
  sideEffects None.
- internal/k8s/webhooks/webhookv1beta1/ipaddresspool_webhook.go (validateIPAddressPoolCreate,
  validateIPAddressPoolUpdate, getExistingIPAddressPools, ipAddressListWithUpdate): on create, the
  namespace must be MetalLB's; the existing pools are listed from the API server (not a cache) in
  MetalLB's namespace, one with the same name is replaced in place, else the new one goes last,
  and the whole list is validated as MetalLB's config.
- l2advertisement_webhook.go (validateL2AdvCreate): the same namespace rule; a pool name that does
  not exist is not refused (internal/config/config.go, setL2AdvertisementsToPools).
- internal/config/config.go (poolsFor, addressPoolFromCR, addressPoolServiceAllocationsFromCR,
  ParseCIDR, cidrsOverlap): the checks and their messages, in that order.
- controller-runtime pkg/webhook/admission/response.go (Denied): code 403, reason Forbidden.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import ssl
import tempfile
import threading
from dataclasses import dataclass
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.apply import apply
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import VALIDATING_WEBHOOK
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    IP_ADDRESS_POOL,
    L2_ADVERTISEMENT,
)
from dpf_hcp_operator.pki import make_ca, make_serving_cert

LOG = logging.getLogger("standins.metallb")
NAMESPACE = "metallb-system"
CONFIGURATION = "metallb-webhook-configuration"
POOL_PATH = "/validate-metallb-io-v1beta1-ipaddresspool"
L2_PATH = "/validate-metallb-io-v1beta1-l2advertisement"


class InvalidConfigError(Exception):
    """MetalLB's config would not load; the message is MetalLB's."""


def _go(text: Any) -> str:
    """Go's %q of a string (ASCII text quoted with double quotes)."""
    return json.dumps(str(text))


@dataclass(frozen=True)
class GoNet:
    """A Go net.IPNet as MetalLB holds it: an IPv4 CIDR as 4 bytes and a 4-byte mask; an IPv6 one,
    IPv4-mapped too, as 16 and 16 (go src/net/ip.go, ParseCIDR and IP.Mask)."""

    ip: bytes
    mask: bytes

    @cached_property
    def ones(self) -> int:  # net.IPMask.Size of a canonical mask; counted once (every pair of pools asks)
        return int.from_bytes(self.mask, "big").bit_count()

    def __str__(self) -> str:  # Go's IPNet.String
        address = ipaddress.ip_address(self.ip)
        return f"{address}/{self.ones}"

    def contains(self, ip: bytes) -> bool:
        """net.IPNet.Contains with networkNumberAndMask: a mapped address counts as its IPv4 form."""
        nn, m = _to4(self.ip) or self.ip, self.mask
        if len(m) == 16 and len(nn) == 4:
            m = m[12:]
        elif len(m) == 4 and len(nn) != 4:
            return False
        ip = _to4(ip) or ip
        return len(ip) == len(nn) and all(a & k == b & k for a, b, k in zip(nn, ip, m, strict=True))

    def equal_ip(self, other: GoNet) -> bool:  # net.IP.Equal
        return (_to4(self.ip) or self.ip) == (_to4(other.ip) or other.ip)


def _to4(ip: bytes) -> bytes | None:
    """net.IP.To4."""
    if len(ip) == 4:
        return ip
    if len(ip) == 16 and ip[:12] == b"\x00" * 10 + b"\xff\xff":
        return ip[12:]
    return None


def _mask(ones: int, size: int) -> bytes:
    bits = ((1 << ones) - 1) << (size * 8 - ones) if ones else 0
    return bits.to_bytes(size, "big")


def _net(address: ipaddress.IPv4Address | ipaddress.IPv6Address, ones: int) -> GoNet:
    size = 4 if address.version == 4 else 16
    mask = _mask(ones, size)
    return GoNet(bytes(a & m for a, m in zip(address.packed, mask, strict=True)), mask)


def parse_cidr(cidr: str) -> list[GoNet]:
    """internal/config/config.go (ParseCIDR): a CIDR as net.ParseCIDR takes it (host bits
    allowed, no bare IP), or ``start-end`` summarised into CIDRs (ipaddr.Summarize: IPv4, the
    mapped form included, when both ends have one)."""
    if "-" not in cidr:
        try:
            text, _, ones = cidr.partition("/")
            if not ones.isdigit() or "%" in text:
                raise ValueError(cidr)
            address = ipaddress.ip_address(text)
            if int(ones) > address.max_prefixlen:
                raise ValueError(cidr)
            return [_net(address, int(ones))]
        except ValueError:
            raise InvalidConfigError(f"invalid CIDR {_go(cidr)}") from None
    first, last = cidr.split("-", 1)
    try:
        start = ipaddress.ip_address(first.strip())
    except ValueError:
        raise InvalidConfigError(f"invalid IP range {_go(cidr)}: invalid start IP {_go(first)}") from None
    try:
        end = ipaddress.ip_address(last.strip())
    except ValueError:
        raise InvalidConfigError(f"invalid IP range {_go(cidr)}: invalid end IP {_go(last)}") from None
    start4, end4 = _to4(_sixteen(start)), _to4(_sixteen(end))
    if _sixteen(start) > _sixteen(end):  # bytes.Compare of net.ParseIP's 16-byte forms
        raise InvalidConfigError(f"invalid IP range {_go(cidr)}: start IP {_go(start)} is after the end IP {_go(end)}")
    if start4 and end4:
        pieces = ipaddress.summarize_address_range(ipaddress.IPv4Address(start4), ipaddress.IPv4Address(end4))
    elif not start4 and not end4:
        pieces = ipaddress.summarize_address_range(start, end)  # type: ignore[arg-type]
    else:
        return []  # Summarize of mixed families yields nothing
    return [_net(p.network_address, p.prefixlen) for p in pieces]


def _sixteen(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bytes:
    return address.packed if address.version == 6 else b"\x00" * 10 + b"\xff\xff" + address.packed


def _overlap(a: GoNet, b: GoNet) -> bool:
    """internal/config/config.go (cidrsOverlap, cidrContainsCIDR): by mask size, then Contains,
    with Go's byte lengths (so an IPv4 pool and a mapped IPv6 one overlap as Go finds them)."""

    def contains(outer: GoNet, inner: GoNet) -> bool:
        if outer.ones == inner.ones and outer.equal_ip(inner):
            return True
        return outer.ones < inner.ones and outer.contains(inner.ip)

    return contains(a, b) or contains(b, a)


def validate_pools(pools: list[dict[str, Any]]) -> None:
    """internal/config/config.go (poolsFor, addressPoolFromCR): raise MetalLB's first error."""
    seen: set[str] = set()
    every: list[GoNet] = []
    for pool in pools:
        name = (pool.get("metadata") or {}).get("name") or ""
        spec = pool.get("spec") or {}
        try:
            if not name:
                raise InvalidConfigError("missing pool name")
            addresses = spec.get("addresses") or []
            if not addresses:
                raise InvalidConfigError("pool has no prefixes defined")
            cidrs: list[GoNet] = []
            for cidr in addresses:
                try:
                    cidrs += parse_cidr(str(cidr))
                except InvalidConfigError as exc:
                    raise InvalidConfigError(f"invalid CIDR {_go(cidr)} in pool {_go(name)}: {exc}") from None
            namespaces = ((spec.get("serviceAllocation") or {}).get("namespaces")) or []
            if len(set(namespaces)) != len(namespaces):
                raise InvalidConfigError("duplicate definition in namespaces field")
        except InvalidConfigError as exc:
            raise InvalidConfigError(f"parsing address pool {name}: {exc}") from None
        if name in seen:
            raise InvalidConfigError(f"duplicate definition of pool {_go(name)}")
        seen.add(name)
        for cidr in cidrs:
            for other in every:
                if _overlap(cidr, other):
                    raise InvalidConfigError(
                        f"CIDR {_go(cidr)} in pool {_go(name)} overlaps with already defined CIDR {_go(other)}"
                    )
            every.append(cidr)


class MetalLBWebhook:
    """MetalLB's webhook server for one MetalLB namespace, reading pools through ``client``."""

    def __init__(self, client: KubeClient, namespace: str = NAMESPACE):
        self.client = client
        self.namespace = namespace
        directory = Path(tempfile.mkdtemp(prefix="standin-metallb-"))
        ca_crt, ca_key = make_ca(directory, "metallb-webhook-ca")
        crt, key = make_serving_cert(directory, ca_crt, ca_key, "webhook", ["127.0.0.1"])
        self.ca_pem = ca_crt.read_bytes()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(crt, key)
        server = self

        class Handler(BaseHTTPRequestHandler):
            # The API server keeps its connections to a webhook open between calls, and MetalLB's
            # webhook server (controller-runtime's, on Go's net/http) keeps them: one TLS handshake
            # per connection, not one per call as HTTP/1.0 made it.
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: the body must not wait for an ACK
            timeout = 90  # controller-runtime pkg/internal/httpserver/server.go: IdleTimeout 90 s

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                review = json.loads(self.rfile.read(length) or b"{}")
                request = review.get("request") or {}
                answer = server.review(urlsplit(self.path).path, request)  # the API server adds ?timeout=
                body = json.dumps(
                    {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": answer}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, fmt: str, *args: Any) -> None:
                LOG.debug(fmt, *args)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, name="metallb-webhook", daemon=True).start()

    def review(self, path: str, request: dict[str, Any]) -> dict[str, Any]:
        uid = request.get("uid", "")
        obj = request.get("object") or {}
        try:
            if path == POOL_PATH:
                self._validate_pool(request.get("operation"), obj)
            elif path == L2_PATH:
                self._validate_l2(request.get("operation"), obj)
            else:
                return {"uid": uid, "allowed": False, "status": {"code": 404, "message": f"no webhook at {path}"}}
        except InvalidConfigError as exc:
            return {"uid": uid, "allowed": False, "status": {"code": 403, "reason": "Forbidden", "message": str(exc)}}
        except ApiError as exc:  # errors.Join(err, "failed to get existing ... objects"), then Denied: 403
            message = f"{exc}\nfailed to get existing IPAddressPool objects"
            return {"uid": uid, "allowed": False, "status": {"code": 403, "reason": "Forbidden", "message": message}}
        return {"uid": uid, "allowed": True}

    def _check_namespace(self, operation: Any, obj: dict[str, Any]) -> None:
        if operation == "CREATE" and (obj.get("metadata") or {}).get("namespace") != self.namespace:
            raise InvalidConfigError(f"resource must be created in {self.namespace} namespace")

    def _pools_with(self, obj: dict[str, Any] | None) -> list[dict[str, Any]]:
        """ipaddresspool_webhook.go (getExistingIPAddressPools, ipAddressListWithUpdate)."""
        pools = self.client.list(IP_ADDRESS_POOL, self.namespace).get("items") or []
        if obj is None:
            return pools
        name = (obj.get("metadata") or {}).get("name")
        for index, pool in enumerate(pools):
            if pool["metadata"]["name"] == name:
                pools[index] = obj
                return pools
        return [*pools, obj]

    def _validate_pool(self, operation: Any, obj: dict[str, Any]) -> None:
        self._check_namespace(operation, obj)
        validate_pools(self._pools_with(obj))

    def _validate_l2(self, operation: Any, obj: dict[str, Any]) -> None:
        """l2advertisement_webhook.go (validateL2AdvCreate, l2AdvListWithUpdate): the pools are
        parsed first (poolsFor), then every advertisement, the new one in place of its old self."""
        self._check_namespace(operation, obj)
        validate_pools(self._pools_with(None))
        name = (obj.get("metadata") or {}).get("name")
        existing = self.client.list(L2_ADVERTISEMENT, self.namespace).get("items") or []
        merged = [obj if a["metadata"]["name"] == name else a for a in existing]
        if not any(a["metadata"]["name"] == name for a in existing):
            merged.append(obj)
        for advertisement in merged:
            pools = (advertisement.get("spec") or {}).get("ipAddressPools") or []
            for pool in pools:
                if pools.count(pool) > 1:
                    raise InvalidConfigError(f'duplicate definition of ipAddressPools "{pool}"')

    def configuration(self) -> dict[str, Any]:
        """The ValidatingWebhookConfiguration MetalLB ships, pointed at this server."""

        def webhook(name: str, path: str, resource: str) -> dict[str, Any]:
            return {
                "name": name,
                "admissionReviewVersions": ["v1"],
                "clientConfig": {"url": self.url + path, "caBundle": base64.b64encode(self.ca_pem).decode()},
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "rules": [
                    {
                        "apiGroups": ["metallb.io"],
                        "apiVersions": ["v1beta1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": [resource],
                    }
                ],
            }

        return {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": CONFIGURATION},
            "webhooks": [
                webhook("ipaddresspoolvalidationwebhook.metallb.io", POOL_PATH, "ipaddresspools"),
                webhook("l2advertisementvalidationwebhook.metallb.io", L2_PATH, "l2advertisements"),
            ],
        }

    def register(self) -> None:
        apply(self.client, self.configuration())

    def unregister(self) -> None:
        try:
            self.client.delete(VALIDATING_WEBHOOK, CONFIGURATION)
        except ApiError as exc:
            if not exc.not_found:
                raise

    def stop(self) -> None:
        self.httpd.shutdown()
