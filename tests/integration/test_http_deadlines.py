"""Issue 22: every HTTP exchange the operator and the modules make is over within its deadline,
however the peer behaves. The peers here play a hostile hosted API server or ignition endpoint
on loopback: silent after accepting, or dripping a TLS handshake, a status line, headers, a body
or a watch stream one byte at a time, each byte well inside urllib3's per-read timeout. Before
the whole-exchange deadlines, each drip held the caller for as long as the peer liked (bounded
here by the test's own guard)."""

from __future__ import annotations

import contextlib
import gzip
import http.server
import json
import os
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

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
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import CONFIGMAP, NODE, SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import ignition
from hostile_peers import hostile_peer


def client(port: int, scheme: str = "http", timeout: float = 2.0, **limits: Any) -> KubeClient:
    configuration = Configuration(host=f"{scheme}://127.0.0.1:{port}")
    configuration.verify_ssl = False  # the test's own servers, self-signed
    connection = Connection(configuration, ssl._create_unverified_context())  # noqa: S323
    return KubeClient(connection, timeout=timeout, **limits)


@contextlib.contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[int]:
    """``handler`` served on a free port of 127.0.0.1 until the block ends."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def slow_but_valid(delay: float) -> Iterator[int]:
    """An API server that answers every request correctly, each ``delay`` seconds late (just inside
    a request's deadline): no request of its is ever cut, only their sum can be bounded."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(delay)
            body = b'{"kind": "Status", "major": "1", "minor": "20"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    with serving(Handler) as port:
        yield port


def test_a_pass_of_requests_to_a_slow_but_valid_server_ends_within_its_budget():
    """The attacker answers each request at 0.8 s of its 1 s deadline: each would succeed, and a pass
    of many (a hosted cluster's approval pass) would hold a run for their sum. The pass's budget
    (2 s) gives each request what is left, and refuses to send once it is spent."""
    with slow_but_valid(0.8) as port:
        hosted = client(port, timeout=1.0, budget=deadlines.Budget(2.0))
        started, answered = time.monotonic(), 0
        with pytest.raises(ApiError) as raised:
            for _ in range(10):
                hosted.request("GET", "/version")
                answered += 1
        took = time.monotonic() - started
    print(f"slow but valid: {answered} answered, {took:.1f}s, {raised.value}")
    assert answered == 2, answered
    assert raised.value.reason == "Timeout", raised.value
    assert took < 2.0 + 0.5, took
    with pytest.raises(ApiError, match="for this pass are spent"):
        hosted.request("GET", "/version")  # nothing is sent once the budget is spent


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


@contextlib.contextmanager
def answering(head: bytes, body: Callable[[], Iterator[bytes]]) -> Iterator[int]:
    """A server that answers every request with ``head`` and then ``body``'s chunks."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.wfile.write(head)
            with contextlib.suppress(OSError):
                for chunk in body():
                    self.wfile.write(chunk)

        def log_message(self, *_args: object) -> None:
            pass

    with serving(Handler) as port:
        yield port


CAP = 1024 * 1024


def test_a_hosted_servers_answer_over_the_limit_is_refused_not_held():
    """A body without a length that goes on past the limit, one whose length says it is over, and a
    small gzip body that unpacks to far more (a bomb): refused, with at most the limit held."""
    bomb = gzip.compress(b" " * (64 * CAP))  # about 64 KiB on the wire
    plain = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
    cases = {
        "endless": (plain, lambda: iter([b" " * 65536] * 64)),
        "long": (f"HTTP/1.1 200 OK\r\nContent-Length: {CAP + 1}\r\n\r\n".encode(), lambda: iter([b" " * (CAP + 1)])),
        "gzip": (
            f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(bomb)}\r\n\r\n".encode(),
            lambda: iter([bomb]),
        ),
    }
    for what, (head, body) in cases.items():
        with answering(head, body) as port, pytest.raises(ApiError) as raised:
            client(port, max_answer_bytes=CAP).request("GET", "/api/v1/nodes")
        print(f"{what}: {raised.value}")
        assert raised.value.reason == ("AnswerRefused" if what == "gzip" else "AnswerTooLarge"), raised.value


def test_a_watch_event_over_the_limit_is_refused_and_lines_are_found_in_one_scan():
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
    long_event = [b'{"type": "ADDED", "object": {"a": "' + b"x" * 65536] * 64
    with answering(head, lambda: iter(long_event)) as port, pytest.raises(ApiError, match="an event over"):
        list(client(port, max_answer_bytes=CAP).watch(SECRET, "ns", timeout_seconds=5))
    event = b'{"type": "ADDED", "object": {"metadata": {"name": "a"}}}\n'
    chunks = [event[:7], event[7:] + event[:3], event[3:], b"\n\n" + event]
    assert list(kube._lines(iter(chunks), 1000, "x")) == [event[:-1], event[:-1], b"", b"", event[:-1]]


@contextlib.contextmanager
def listing(page: Callable[[dict[str, str]], dict[str, Any]]) -> Iterator[tuple[int, list[str]]]:
    """A server that answers each GET with ``page(its query)`` as JSON; yields its port and the paths asked."""
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            body = json.dumps(page(dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *_args: object) -> None:
            pass

    with serving(Handler) as port:
        yield port, asked


def paging(pages: int | None) -> contextlib.AbstractContextManager[tuple[int, list[str]]]:
    """A server that lists in pages of one item each: ``pages`` of them, or without end (None)."""

    def page(query: dict[str, str]) -> dict[str, Any]:
        n = int(query.get("continue") or 0)
        more = pages is None or n + 1 < pages
        meta = {"resourceVersion": "42", **({"continue": str(n + 1)} if more else {})}
        return {"kind": "NodeList", "metadata": meta, "items": [{"metadata": {"name": f"n{n}"}}]}

    return listing(page)


def test_a_hosted_list_is_read_in_pages_and_an_endless_one_is_refused():
    with paging(3) as (port, asked):
        listed = client(port, max_answer_bytes=CAP).list(NODE)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["n0", "n1", "n2"]
    assert listed["metadata"] == {"resourceVersion": "42"}
    assert all(f"limit={kube.LIST_PAGE_ITEMS}" in path for path in asked), asked
    with paging(None) as (port, asked), pytest.raises(ApiError, match="more than 64 pages"):
        client(port, max_answer_bytes=CAP).list(NODE)
    assert len(asked) == kube.LIST_MAX_PAGES
    with paging(3) as (port, asked):
        assert len(client(port).list(NODE)["items"]) == 1  # the management cluster's: one request, as before


def test_a_page_over_the_answer_limit_is_asked_again_with_fewer_items():
    """Attacker: anyone who may create CSRs in a hosted cluster makes a few dozen, each with 256 KiB
    of annotations, so that a page of 500 is over the answer limit. The list was refused, and with it
    every approval pass and the operator's CSR informer (forgeries made after it were never told);
    now the page is asked again with a quarter of the items, down to one object a page."""
    fat = "x" * (CAP // 40)  # 40 of these are a limit's worth

    def page(query: dict[str, str]) -> dict[str, Any]:
        start, limit = int(query.get("continue") or 0), int(query["limit"])
        more = start + limit < 300
        meta = {"resourceVersion": "42", **({"continue": str(start + limit)} if more else {})}
        items = [
            {"metadata": {"name": f"c{n}", "annotations": {"a": fat}}} for n in range(start, min(start + limit, 300))
        ]
        return {"kind": "CertificateSigningRequestList", "metadata": meta, "items": items}

    with listing(page) as (port, asked):
        listed = client(port, max_answer_bytes=CAP).list(NODE)
    assert [i["metadata"]["name"] for i in listed["items"]] == [f"c{n}" for n in range(300)]
    limits = [dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(p).query))["limit"] for p in asked]
    assert limits[:3] == ["500", "125", "31"] and set(limits[2:]) == {"31"}, limits


@pytest.mark.parametrize("behaviour", ["watch", "silent"])
def test_a_watch_is_ended_at_once_by_its_abort(behaviour: str):
    """A hosted cluster dropped (its provisioner deleted) while its informers' watches are open, to
    a server that keeps a watch alive (blank lines) or says nothing: Informer.abort ends them now,
    where they held their threads and connections until the server ended them (300 s)."""
    abort = deadlines.Abort()
    with hostile_peer(behaviour) as port:
        ended: list[BaseException | None] = []

        def watch() -> None:
            try:
                list(client(port).watch(SECRET, "ns", timeout_seconds=300, abort=abort))
                ended.append(None)
            except ApiError as exc:
                ended.append(exc)

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        time.sleep(1.0)  # the watch is open (or waiting for its answer)
        assert thread.is_alive()
        started = time.monotonic()
        abort.abort()
        thread.join(5)
        took = time.monotonic() - started
        assert not thread.is_alive() and took < 1.0, took
        assert isinstance(ended[0], ApiError), ended
        later = time.monotonic()  # a watch begun after the abort is cut at once
        with pytest.raises(ApiError):
            list(client(port).watch(SECRET, "ns", timeout_seconds=300, abort=abort))
        assert time.monotonic() - later < 1.0
