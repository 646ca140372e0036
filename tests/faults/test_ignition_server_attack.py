"""Whoever answers at the HostedCluster's ignitionEndpoint (a status field another controller
writes) with a certificate the ignition CA secret verifies cannot hold an Ansible run, nor take
its memory: the fetch has a deadline for the whole exchange and a cap on what it reads, and the
gzip inside the ignition a cap on what it unpacks. One TLS server per test on loopback."""

from __future__ import annotations

import base64
import gzip
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import ignition
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.ignition import IgnitionError
from dpf_hcp_operator.pki import make_ca, make_serving_cert

Handler = Callable[[ssl.SSLSocket], None]


def drip(conn: ssl.SSLSocket) -> None:
    """Headers at once, then one byte of body every second: each read finishes within its timeout."""
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    for _second in range(60):
        conn.sendall(b" ")
        time.sleep(1.0)


def flood(conn: ssl.SSLSocket) -> None:
    """A body without end (chunked), as fast as the reader takes it."""
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b" " * 65536
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    for _frame in range(1000):  # 64 MiB at most
        conn.sendall(frame)


def serve(directory: Path, handler: Handler) -> Iterator[tuple[str, str]]:
    ca_crt, ca_key = make_ca(directory, "ignition-ca")
    crt, key = make_serving_cert(directory, ca_crt, ca_key, "ignition", ["127.0.0.1"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(crt, key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                raw, _peer = listener.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(raw,), daemon=True).start()

    def handle(raw: socket.socket) -> None:
        try:
            with context.wrap_socket(raw, server_side=True) as conn:
                handler(conn)
        except OSError:
            pass  # the client gave up: what the test wants

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"127.0.0.1:{port}", ca_crt.read_text()
    finally:
        stop.set()
        listener.close()


@pytest.fixture
def dripping(tmp_path: Path) -> Iterator[tuple[str, str]]:
    yield from serve(tmp_path, drip)


@pytest.fixture
def flooding(tmp_path: Path) -> Iterator[tuple[str, str]]:
    yield from serve(tmp_path, flood)


def test_a_server_that_drips_its_answer_is_given_up_on_at_the_deadline(dripping):
    endpoint, ca = dripping
    started = time.monotonic()
    with pytest.raises(IgnitionError) as refused:
        ignition.fetch_ignition(endpoint, "token", ca, timeout=5.0, deadline=3.0)
    elapsed = time.monotonic() - started
    assert refused.value.reason == "EndpointUnreachable"
    assert "did not answer within 3s" in str(refused.value)
    assert elapsed < 4.0, elapsed  # not 60 one-second reads, nor one read timeout after another


def test_a_server_that_never_ends_its_answer_is_read_only_to_the_cap(flooding, monkeypatch):
    monkeypatch.setattr(ignition, "MAX_IGNITION_BYTES", 1024 * 1024)
    endpoint, ca = flooding
    with pytest.raises(IgnitionError) as refused:
        ignition.fetch_ignition(endpoint, "token", ca, timeout=5.0, deadline=20.0)
    assert refused.value.reason == "InvalidIgnition"
    assert f"more than {1024 * 1024} bytes" in str(refused.value)


def test_a_gzip_bomb_in_the_ignition_is_not_unpacked_past_the_cap():
    bomb = gzip.compress(b"{" + b" " * (ignition.MAX_UNPACKED_BYTES + 1) + b"}")  # ~8 KiB packed
    assert len(bomb) < 64 * 1024
    contents = {"source": "data:;base64," + base64.b64encode(bomb).decode(), "compression": "gzip"}
    config = {"storage": {"files": [{"path": ignition.ENCAPSULATED_PATH, "contents": contents}]}}
    with pytest.raises(IgnitionError) as refused:
        ignition.override_os_image(config, "quay.io/example/bluefield:4.19")
    assert refused.value.reason == "InvalidIgnition"
    assert f"more than {ignition.MAX_UNPACKED_BYTES} bytes" in str(refused.value)


def test_an_ignition_within_the_caps_still_reads():
    machine = {"kind": "MachineConfig", "spec": {"osImageURL": "quay.io/rhcos@sha256:abc"}}
    packed = gzip.compress(json.dumps(machine).encode())
    contents = {"source": "data:;base64," + base64.b64encode(packed).decode(), "compression": "gzip"}
    config = {"storage": {"files": [{"path": ignition.ENCAPSULATED_PATH, "contents": contents}]}}
    assert ignition.os_image(ignition.override_os_image(config, "quay.io/example/bluefield:4.19")) == (
        "quay.io/example/bluefield:4.19"
    )
