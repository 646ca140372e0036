"""/healthz and /readyz (and /metrics when served on the same port).

Any pod on the network reaches these ports, so they are served as the webhook is (https.py, plain
HTTP here): one selector thread accepts and reads, two workers answer, no thread per connection,
so a flood of connections costs file descriptors and loop turns, not threads, and the kubelet's
probe is accepted and answered among them. One GET per connection, whole within
``REQUEST_SECONDS`` of the accept (a client dripping a byte at a time is cut too); at most
``MAX_CONNECTIONS``, ``MAX_CONNECTIONS_PER_PEER`` of them from one address: beyond either, the
stalest connection gives way to the new one.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from dpf_hcp_operator import https

REQUEST_SECONDS = 5.0
MAX_CONNECTIONS = 64
MAX_CONNECTIONS_PER_PEER = 32
LIMITS = https.Limits(
    request_seconds=REQUEST_SECONDS,
    idle_seconds=0.0,  # one request per connection
    write_seconds=REQUEST_SECONDS,
    max_unsent_bytes=8 * https.MiB,  # a /metrics answer may be large, and is ours: bounded by the deadline
    max_connections=MAX_CONNECTIONS,
    max_connections_per_peer=MAX_CONNECTIONS_PER_PEER,
    accepts_per_turn=8,  # a probe just accepted outlives 4 turns of churn from its own address
    max_head_bytes=8 * 1024,
    max_body_bytes=0,
    large_body_bytes=0,
    large_bodies=0,
    workers=2,
)


def serve(address: str, checks: dict[str, Callable[[], tuple[bool, str]]], with_metrics: bool = False) -> https.Server:
    """Serve ``checks`` (path -> check) on ``host:port``; a check returns (ok, detail)."""

    def check(run: Callable[[], tuple[bool, str]]) -> https.Route:
        def route(_body: bytes) -> tuple[int, https.Answer]:
            ok, detail = run()
            return (200 if ok else 500), ("text/plain", (detail or ("ok" if ok else "failed")).encode())

        return route

    routes = {path: check(run) for path, run in checks.items()}
    if with_metrics:
        routes["/metrics"] = lambda _body: (200, (CONTENT_TYPE_LATEST, generate_latest()))
    _host, _, port = address.rpartition(":")
    return https.serve(address, None, routes, LIMITS, name=f"http-{port}", method="GET", metered=False)
