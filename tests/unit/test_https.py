"""The webhook's TLS settings (what cannot be played over the wire from Python: renegotiation)."""

from __future__ import annotations

import ssl

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
