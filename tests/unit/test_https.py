"""The HTTPS server under the webhook and the probes: its TLS settings (what cannot be played over the
wire from Python: renegotiation) and its loop's sleep when idle."""

from __future__ import annotations

import json
import selectors
import ssl
import time
import urllib.request

from dpf_hcp_operator import https


def test_tls_context_is_modern_only() -> None:
    context = https.tls_context()
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.options & ssl.OP_NO_RENEGOTIATION
    assert context.options & ssl.OP_NO_COMPRESSION
    assert context.options & ssl.OP_CIPHER_SERVER_PREFERENCE
    for cipher in context.get_ciphers():
        if cipher["protocol"] == "TLSv1.2":
            assert cipher["kea"] == "kx-ecdhe" and cipher["aead"], cipher["name"]
        else:
            assert cipher["protocol"] == "TLSv1.3", cipher["name"]


class CountingSelector:
    """The server's selector, counting the loop's turns."""

    def __init__(self, inner: selectors.BaseSelector) -> None:
        self.inner, self.turns = inner, 0

    def select(self, timeout: float | None = None) -> list:
        self.turns += 1
        return self.inner.select(timeout)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def test_an_idle_server_sleeps_until_a_request_or_the_shutdown_wakes_it() -> None:
    """No connection, no deadline: the loop blocks (it turned once a second before, three servers
    in an operator: most of its CPU in a steady state). A request and the shutdown still wake it."""
    server = https.Server(("127.0.0.1", 0), None, {"/ping": lambda _body: (200, {"ok": True})}, name="t", method="GET")
    counting = CountingSelector(server.selector)
    server.selector = counting  # type: ignore[assignment]
    server.start()
    try:
        time.sleep(2.5)  # the absence of turns is what is looked at: a window, not a wait for a condition
        assert counting.turns <= 1, counting.turns
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5) as answer:
            assert json.loads(answer.read()) == {"ok": True}
    finally:
        server.shutdown()
    assert not server._thread.is_alive()
