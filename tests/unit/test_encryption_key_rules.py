"""Which keys the encryption_key module accepts in a Secret it made: what the kube-apiserver's
AES-CBC provider takes (16, 24 or 32 bytes, base64 in ``key``); anything else is reported."""

from __future__ import annotations

import base64

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.modules.encryption_key import key_problem


@pytest.mark.parametrize("size", [16, 24, 32])
def test_aes_keys_of_the_three_sizes_are_usable(size):
    assert key_problem({"data": {"key": base64.b64encode(b"k" * size).decode()}}) is None


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({}, "has no 'key'"),
        ({"key": None}, "has no 'key'"),
        ({"key": "not base64!"}, "not base64"),
        ({"key": base64.b64encode(b"k" * 31).decode()}, "31 bytes, and AES-CBC takes 16, 24 or 32"),
        ({"key": base64.b64encode(b"").decode()}, "0 bytes"),
    ],
)
def test_a_tampered_key_is_named_not_replaced(data, says):
    assert says in key_problem({"data": data})
