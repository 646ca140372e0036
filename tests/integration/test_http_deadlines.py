"""Issue 22: every HTTP exchange the operator and the modules make is over within its deadline,
however the peer behaves. The peers here play a hostile hosted API server or ignition endpoint
on loopback: silent after accepting, or dripping a TLS handshake, a status line, headers, a body
or a watch stream one byte at a time, each byte well inside urllib3's per-read timeout. Before
the whole-exchange deadlines, each drip held the caller for as long as the peer liked (bounded
here by the test's own guard)."""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import time
from collections.abc import Callable

import pytest
from kubernetes.client import Configuration

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s import client as kube
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s import deadlines
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import (
    ApiError,
    Connection,
    KubeClient,
    connect,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import CONFIGMAP, SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import ignition
from hostile_peers import hostile_peer


def client(port: int, scheme: str = "http", timeout: float = 2.0) -> KubeClient:
    configuration = Configuration(host=f"{scheme}://127.0.0.1:{port}")
    configuration.verify_ssl = False  # the test's own servers, self-signed
    return KubeClient(Connection(configuration, ssl._create_unverified_context()), timeout=timeout)  # noqa: S323


def timed(call: Callable[[], object]) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        call()
    except Exception as exc:
        return time.monotonic() - started, exc
    return time.monotonic() - started, None


@pytest.mark.parametrize("behaviour", ["silent", "status-line", "headers", "body", "body-to-eof"])
def test_a_request_is_over_within_its_deadline_however_the_peer_drips(behaviour: str):
    with hostile_peer(behaviour) as port:
        took, error = timed(lambda: client(port).request("GET", "/api/v1/namespaces"))
    print(f"{behaviour}: {took:.1f}s, {error}")
    assert isinstance(error, ApiError) and error.status == 0, error
    assert took < 2.0 + 1.5, took
    if behaviour != "silent":  # silent is also caught by the read timeout; the drips only by the deadline
        assert error.reason == "Timeout" and "within 2s" in error.message, error.message


def test_a_dripped_tls_handshake_is_over_within_the_deadline():
    with hostile_peer("tls-handshake") as port:
        took, error = timed(lambda: client(port, "https").request("GET", "/version"))
    print(f"tls-handshake: {took:.1f}s, {error}")
    assert isinstance(error, ApiError) and error.reason == "Timeout", error
    assert took < 2.0 + 1.5, took


def test_a_watch_that_drips_blank_lines_ends_at_its_deadline(monkeypatch):
    monkeypatch.setattr(kube, "WATCH_SLACK_SECONDS", 1)
    with hostile_peer("watch") as port:
        events: list[object] = []
        took, error = timed(lambda: events.extend(client(port).watch(SECRET, "ns", timeout_seconds=2)))
    print(f"watch: {took:.1f}s, {error}")
    assert events == []
    assert isinstance(error, ApiError) and error.reason == "Timeout", error
    assert took < 3 + 1.5, took


@pytest.mark.parametrize("behaviour", ["body", "body-to-eof"])
def test_an_ignition_endpoint_that_drips_is_over_within_the_deadline(behaviour: str):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with hostile_peer(behaviour) as port:
        took, error = timed(lambda: ignition._get(f"http://127.0.0.1:{port}/ignition", "t", context, 2.0))
    print(f"ignition {behaviour}: {took:.1f}s, {error}")
    assert isinstance(error, ignition.IgnitionError) and "within 2s" in str(error), error
    assert took < 2.0 + 1.5, took


def test_the_deadline_holds_in_a_forked_worker_too():
    """Ansible forks a worker per task and host after the controller has used the client: the
    reaper's thread is not inherited, so the child starts its own."""
    with hostile_peer("headers") as port:
        with contextlib.suppress(ApiError):
            client(port, timeout=0.5).request("GET", "/version")  # the parent's reaper runs
        pid = os.fork()
        if pid == 0:  # the child: exit 0 only when the deadline ended the request in time
            took, error = timed(lambda: client(port).request("GET", "/version"))
            os._exit(0 if isinstance(error, ApiError) and error.reason == "Timeout" and took < 3.5 else 1)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_late_reaper_never_shuts_down_another_socket_given_the_same_descriptor():
    with socket.create_server(("127.0.0.1", 0)) as listener:  # connections wait in its backlog
        first = socket.socket()
        stale = deadlines.socket_id(first)
        first.close()
        with socket.create_connection(listener.getsockname()) as second:
            assert second.fileno() == stale[0]  # the descriptor was given again
            deadlines._shutdown(stale)
            second.sendall(b"still open")  # a shut-down socket raises BrokenPipeError here
            deadlines._shutdown(deadlines.socket_id(second))  # its own record does shut it down
            with pytest.raises(OSError):
                second.sendall(b"now shut")


def test_a_late_reaper_leaves_a_descriptor_given_to_a_file_alone(tmp_path):
    """A descriptor given again to something that is not a socket: nothing happens, nothing raises
    (an exception would end the reaper's thread, and with it every later deadline)."""
    with socket.create_server(("127.0.0.1", 0)) as listener, socket.create_connection(listener.getsockname()) as sock:
        entry = deadlines.socket_id(sock)
    with open(tmp_path / "f", "w") as f:
        deadlines._shutdown((f.fileno(), entry[1], entry[2]))
        deadlines._shutdown((f.fileno(), *deadlines.socket_id(f)[1:]))  # type: ignore[arg-type]
        f.write("still writable")


def test_a_connection_given_back_to_the_pool_is_never_shut_down_later():
    """urllib3 takes a connection back into its pool before the exchange is finished: from then on
    it may serve another thread's request, and the reaper must let go of it. One kept is cut."""
    with contextlib.ExitStack() as stack:
        listener = stack.enter_context(socket.create_server(("127.0.0.1", 0)))
        given = stack.enter_context(socket.create_connection(listener.getsockname()))
        kept = stack.enter_context(socket.create_connection(listener.getsockname()))
        with deadlines.within(0.2) as exchange:
            deadlines.REAPER.mark(given)
            deadlines.REAPER.mark(kept)
            assert deadlines.REAPER.release(given) is False  # back in the pool in time
            until = time.monotonic() + 5  # past the deadline, the exchange not yet finished
            while not exchange.expired and time.monotonic() < until:
                time.sleep(0.01)
        assert exchange.expired
        given.sendall(b"still open")
        with pytest.raises(OSError):
            kept.sendall(b"cut")


def test_a_token_with_a_line_break_is_never_quoted_in_the_error():
    """http.client refuses such a header and quotes it in its error; that error would carry the
    operator's token into status, Events and logs. The kernel completes the connection (a listening
    socket nobody accepts on), so the request gets as far as its headers."""
    secret = "s3cr3t-token-value"
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        bad = KubeClient(connect({"host": f"http://127.0.0.1:{port}", "api_key": f"{secret}\nInjected: yes"}))
        for call in (lambda: bad.request("GET", "/api"), lambda: next(bad.watch(CONFIGMAP, "default"))):
            with pytest.raises(ApiError) as err:
                call()
            assert secret not in str(err.value) and "line break" in str(err.value)
            assert secret not in repr(err.value.__cause__)
