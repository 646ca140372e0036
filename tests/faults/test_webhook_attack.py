"""Issue 15 item 3: the admission webhook stays up. Any pod on the cluster network can open
connections to it; with failurePolicy Fail a stalled webhook stops every create and update of a
provisioner (and the operator's own finalizer removal). Here an attacker holds 100 idle TCP
connections, a TLS client that says nothing after its handshake and a client that sends its
request a byte a second, while reviews go through the real API server; and malformed reviews
are answered 400, never allowed. Then the third review's attackers: one peer holding every
connection with the first byte of its next request (lockout), and clients that never read the
answers they asked for (slow readers)."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.apply import apply
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import VALIDATING_WEBHOOK
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import PROVISIONER
from dpf_hcp_dev.attackers import Attack
from dpf_hcp_dev.bench.report import percentile
from dpf_hcp_operator import https, webhook
from fault_harness import Replica
from support import dpucluster, namespace, provisioner_body, secrets, unique, wait_for

DENIED = 'admission webhook "vdpfhcpprovisioner.provisioning.dpu.hcp.io" denied the request'
ROUNDS = 3
CLOSED = "dpfhcp_webhook_connections_closed_total"
CALM_SECONDS = 6.0
ATTACK_SECONDS = 12.0  # longer than a drip's whole-request deadline: its cut is seen while reviews run


@pytest.fixture(scope="module")
def served(fault_env, tmp_path_factory) -> Iterator[tuple[Replica, dict, dict]]:
    """An operator replica serving the webhook, registered with the management API server; a valid
    provisioner body (admitted) and an invalid one (refused by the webhook, not the schema)."""
    replica = Replica(fault_env, tmp_path_factory.mktemp("webhook")).start()
    assert replica.started is not None
    client = fault_env.client()
    apply(client, replica.started.webhook_configuration())
    ns = namespace(client, unique("wh"))
    dpu_ns = namespace(client, unique("wh-dpus"))
    secrets(client, ns)
    dpucluster(client, dpu_ns, "dpucluster")
    good = provisioner_body(ns, "probe", dpu_ns, "dpucluster")
    bad = provisioner_body(ns, "probe", dpu_ns, "dpucluster")
    bad["spec"]["ocpReleaseImage"] = "quay.io/ocp/release"  # no tag: the webhook's rule
    wait_for("the webhook to refuse", lambda: _denied_by_webhook(client, bad), timeout=30)
    try:
        yield replica, good, bad
    finally:
        client.delete(VALIDATING_WEBHOOK, "dpf-hcp-provisioner")
        replica.close()


def _denied_by_webhook(client: KubeClient, body: dict) -> bool:
    try:
        client.create(PROVISIONER, body, dry_run=True)
    except ApiError as exc:
        return DENIED in exc.message
    return False


def reviews(client: KubeClient, body: dict, count: int = 0, seconds: float = 0.0) -> tuple[list[float], list[str]]:
    """Server-side dry-run creates (the API server calls the webhook for each): at least ``count``
    and for at least ``seconds``, or until 5 have failed. Returns each one's latency and the
    failures' messages."""
    latencies, failures = [], []
    started = time.monotonic()
    while (len(latencies) + len(failures) < count or time.monotonic() - started < seconds) and len(failures) < 5:
        t0 = time.monotonic()
        try:
            client.create(PROVISIONER, body, dry_run=True)
            latencies.append(time.monotonic() - t0)
        except ApiError as exc:
            failures.append(exc.message)
    return latencies, failures


def test_idle_silent_and_slow_clients_do_not_slow_reviews(fault_env, served):
    """Rounds of reviews without, then under attack, pooled: the machine's load (other control
    planes) drifts over a minute, and each phase sees the same drift."""
    replica, good, bad = served
    assert replica.started is not None
    client = fault_env.client()
    reviews(client, good, count=20)  # warm: connections to the webhook are kept alive
    baseline, attacked, failed, cuts, held = [], [], [], [], []
    refused_meanwhile = True
    for _round in range(ROUNDS):
        calm, calm_failed = reviews(client, good, seconds=CALM_SECONDS)
        assert not calm_failed, calm_failed[:3]
        baseline += calm
        with Attack(replica.started.webhook_port, replica.started.webhook_ca) as attack:
            during, during_failed = reviews(client, good, seconds=ATTACK_SECONDS)
            refused_meanwhile &= _denied_by_webhook(client, bad)  # the webhook judged it, under attack too
            held.append(attack.open_idle)
        attacked, failed, cuts = attacked + during, failed + during_failed, cuts + attack.cuts
    drips, silent = [c.seconds for c in cuts if c.kind == "drip"], [c.seconds for c in cuts if c.kind == "silent"]
    idle = [c.seconds for c in cuts if c.kind == "idle"]

    def ms(values: list[float], q: float) -> float:
        return percentile(values, q) * 1000 if values else float("nan")

    before, after = ms(baseline, 0.95), ms(attacked, 0.95)
    print(
        f"admission p50/p95 without attack {ms(baseline, 0.5):.1f}/{before:.1f} ms "
        f"(n={len(baseline)}), under attack {ms(attacked, 0.5):.1f}/{after:.1f} ms "
        f"(n={len(attacked)}); cut after: drip {drips}, silent {silent}, idle {len(idle)} connections"
    )
    assert not failed, f"{len(failed)} of {len(failed) + len(attacked)} reviews failed under attack: {failed[:3]}"
    assert refused_meanwhile
    assert min(held) >= 100, f"the attacker held only {held} idle connections"
    assert after - before <= 50, f"p95 {before:.1f} ms without attack, {after:.1f} ms under attack"
    limits = https.Limits()
    # Each hostile connection is cut by its deadline, not held until the attacker lets go.
    assert drips and max(drips) <= limits.handshake_seconds + limits.request_seconds + 2, drips
    assert silent and max(silent) <= limits.handshake_seconds + limits.request_seconds + 2, silent
    assert idle and max(idle) <= limits.handshake_seconds + 2, idle[:5]


def test_more_connections_than_the_limit_evict_the_idle_not_the_reviews(fault_env, served):
    """300 idle connections, more than ``max_connections``: the oldest idle ones make room, and the
    API server's reviews (on kept-alive or new connections) all pass."""
    replica, good, _ca = served
    assert replica.started is not None
    limit = https.Limits().max_connections
    evicted = replica.metric("dpfhcp_webhook_connections_closed_total", {"reason": "evicted"})
    with Attack(replica.started.webhook_port, replica.started.webhook_ca, idle=limit + 44, silent=0, drips=0):
        _latencies, failed = reviews(fault_env.client(), good, count=50)
        assert replica.metric("dpfhcp_webhook_connections") <= limit
    assert not failed, failed[:3]
    assert replica.metric("dpfhcp_webhook_connections_closed_total", {"reason": "evicted"}) > evicted


def test_large_bodies_cannot_hold_the_memory_small_reviews_need(fault_env, served):
    """Clients that announce bodies near the cap and send them slowly take the few large-body slots;
    the next large one is answered 503 at once, and small reviews still pass."""
    replica, good, _ca = served
    assert replica.started is not None
    limits, port, ca = https.Limits(), replica.started.webhook_port, replica.started.webhook_ca
    context = ssl.create_default_context(cafile=str(ca))
    head = _request(b"", headers=f"Content-Type: application/json\r\nContent-Length: {limits.max_body_bytes}\r\n")
    held = []
    try:
        for _slot in range(limits.large_bodies):
            tls = context.wrap_socket(
                socket.create_connection(("127.0.0.1", port), timeout=5), server_hostname="127.0.0.1"
            )
            tls.sendall(head + b"{")
            held.append(tls)
        time.sleep(0.5)
        code, answer = _post(port, ca, head)
        assert code == 503, (code, answer)
        _latencies, failed = reviews(fault_env.client(), good, count=20)
        assert not failed, failed[:3]
    finally:
        for tls in held:
            tls.close()


class Lockout:
    """The third review's lockout: from the API server's own address, connections each answered
    once and holding the first byte of its next request (no longer unproven, not idle), finished and
    begun again every 6 s (within the 10 s request deadline); one the server closes is opened again."""

    def __init__(self, port: int, ca: Path, count: int):
        self.port, self.ca, self.count = port, ca, count
        self.stop = threading.Event()
        self.held: list[ssl.SSLSocket] = []
        self.opened = 0
        self.thread = threading.Thread(target=self.run, name="lockout", daemon=True)

    def run(self) -> None:
        refreshed = time.monotonic()
        try:
            while not self.stop.is_set():
                if len(self.held) < self.count:
                    try:
                        tls = _tls(self.port, self.ca)
                        tls.sendall(PASSING + PASSING[:1])
                        _read_answer(tls)
                        self.held.append(tls)
                        self.opened += 1
                    except (OSError, ssl.SSLError, ValueError, IndexError):
                        self.stop.wait(0.01)
                else:
                    self.stop.wait(0.05)
                if time.monotonic() - refreshed > 6:
                    refreshed = time.monotonic()
                    for tls in list(self.held):
                        try:
                            tls.sendall(PASSING[1:] + PASSING[:1])
                            _read_answer(tls)
                        except (OSError, ssl.SSLError, ValueError, IndexError):
                            self.held.remove(tls)
                            tls.close()
        finally:
            for tls in self.held:
                tls.close()

    def __enter__(self) -> Lockout:
        self.thread.start()
        deadline = time.monotonic() + 15
        while self.opened < self.count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def test_one_peer_holding_every_connection_cannot_push_the_api_server_out(fault_env, served):
    """lockout.py: the attacker shares the API server's address (127.0.0.1), opens more connections
    than the global limit and keeps each one mid-request. It keeps at most the per-peer cap; its
    stalest go first, and the API server's (newer: answered a moment ago, or just opened) are
    answered throughout."""
    replica, good, _bad = served
    assert replica.started is not None
    limits, client = https.Limits(), fault_env.client()
    reviews(client, good, count=5)
    evicted = replica.metric("dpfhcp_webhook_connections_closed_total", {"reason": "evicted"})
    with Lockout(replica.started.webhook_port, replica.started.webhook_ca, limits.max_connections + 16) as attack:
        latencies, failed = reviews(client, good, seconds=10)
        held = replica.metric("dpfhcp_webhook_connections")  # all of them 127.0.0.1's
    evicted = replica.metric("dpfhcp_webhook_connections_closed_total", {"reason": "evicted"}) - evicted
    print(f"lockout: {attack.opened} opened, {held:.0f} open, {evicted:.0f} evicted; {len(latencies)} reviews")
    assert not failed, f"{len(failed)} reviews failed under the lockout: {failed[:3]}"
    assert attack.opened > limits.max_connections
    assert held <= limits.max_connections_per_peer and evicted > 0, (held, evicted)


def test_clients_that_never_read_their_answers_hold_no_worker(fault_env, served):
    """stall3.py: pipelined reviews with a 250 KB uid (echoed in the answer before the fix) on
    connections with a 4 KiB receive buffer that never read, more connections than workers, opened
    again as the server cuts them: the API server's reviews still pass, none near its 5 s timeout."""
    replica, good, _bad = served
    assert replica.started is not None
    port, ca = replica.started.webhook_port, replica.started.webhook_ca
    big = _request(_review(_valid(uid="u" * 250_000, kind=POD)), close=False)
    stop = threading.Event()

    def stall() -> None:
        while not stop.is_set():
            try:
                with _tls(port, ca, timeout=30, rcvbuf=4096) as tls:
                    tls.sendall(big * 32)
                    stop.wait(25)
            except (OSError, ssl.SSLError):
                stop.wait(0.1)

    stallers = [threading.Thread(target=stall, daemon=True) for _staller in range(2 * https.Limits().workers)]
    for t in stallers:
        t.start()
    try:
        time.sleep(2)
        latencies, failed = reviews(fault_env.client(), good, seconds=12)
    finally:
        stop.set()
    print(f"slow readers: {len(latencies)} reviews, slowest {max(latencies, default=0):.2f} s")
    assert not failed, f"{len(failed)} reviews failed: {failed[:3]}"
    assert max(latencies) < 2.0, sorted(latencies)[-5:]


def test_an_answer_nobody_reads_is_written_by_the_loop_and_cut_at_its_deadline(tmp_path):
    """The write path alone (a route with large answers, as no webhook answer is): clients that
    pipeline requests and never read hold no worker (two here); another client is answered at once;
    the stalled connections are closed by the write deadline, or at once when their unsent output
    passes the bound."""
    webhook.ensure_self_signed(tmp_path, ["127.0.0.1"])
    context = https.tls_context()
    context.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    limits = https.Limits(workers=2, write_seconds=3.0)
    # More than a loopback socket takes (tcp_wmem's 4 MiB and the client's buffer): the rest waits.
    sizes = {"/big": 200_000, "/huge": 8 * 1024 * 1024, "/small": 10}
    routes = {path: (lambda body, n=n: (200, {"pad": "x" * n})) for path, n in sizes.items()}
    server = https.Server(("127.0.0.1", 0), context, routes, limits).start()
    port, ca = server.server_address[1], tmp_path / "ca.crt"
    stallers = []
    try:
        for _answer in range(4 * limits.workers):
            tls = _tls(port, ca, rcvbuf=4096)
            tls.setblocking(False)
            with contextlib.suppress(BlockingIOError, ssl.SSLWantWriteError):
                tls.send(_request(b"{}", path="/big", close=False) * 40)
            stallers.append(tls)
        unsent = REGISTRY.get_sample_value(CLOSED, {"reason": "unsent"}) or 0.0
        huge = _tls(port, ca, rcvbuf=4096)
        stallers.append(huge)
        huge.sendall(_request(b"{}", path="/huge", close=False))
        time.sleep(0.5)
        started = time.monotonic()
        code, _answer = _post(port, ca, _request(b"{}", path="/small"))
        took = time.monotonic() - started
        assert code == 200 and took < 1.0, (code, took)
        # closed at once, not at its deadline
        assert REGISTRY.get_sample_value(CLOSED, {"reason": "unsent"}) == unsent + 1
        wait_for(  # the write deadline closes the stalled ones
            "the stalled connections to be closed",
            lambda: len(server.connections) == 0,
            timeout=limits.write_seconds + 2,
        )
    finally:
        for tls in stallers:
            tls.close()
        server.shutdown()


def test_names_in_a_refusal_are_cut(served):
    """A review straight to the port (the API server would refuse such names first) with a name and
    namespace of 100 000 characters: refused as forged, and the answer quotes neither."""
    replica, _good, _bad = served
    assert replica.started is not None
    long = "n" * 100_000
    obj = {"apiVersion": "provisioning.dpu.hcp.io/v1alpha1", "kind": "DPFHCPProvisioner", "spec": {}}
    obj["metadata"] = {"name": long, "namespace": long}
    for request in (_valid(object=obj), _valid(object=obj, name=long, namespace=long)):
        code, answer = _post(replica.started.webhook_port, replica.started.webhook_ca, _request(_review(request)))
        assert code == 400 and "response" not in answer, answer
        assert len(json.dumps(answer)) < 2000, len(json.dumps(answer))


# A review straight to the port that names, as its namespace, an API path with a watch in it: the
# operator would read objects by that name (round 4 of the attacker review: four such reviews held
# every admission read for 30 s, and a watch on a busy ConfigMap grew the operator's memory).
INJECTED = "att/secrets?watch=1&fieldSelector=metadata.name%3Dnone#"


def _provisioner(name: str, namespace: str) -> dict:
    spec = {
        "dpuClusterRef": {"name": "dpucluster", "namespace": "dpus"},
        "baseDomain": "example.com",
        "ocpReleaseImage": "quay.io/openshift-release-dev/ocp-release:4.19.0-x86_64",
        "pullSecretRef": {"name": "pull-secret"},
        "sshKeySecretRef": {"name": "ssh-key"},
    }
    head = {"apiVersion": "provisioning.dpu.hcp.io/v1alpha1", "kind": "DPFHCPProvisioner"}
    return {**head, "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def test_forged_names_never_become_api_paths_and_do_not_hold_reviews(served):
    replica, _good, _bad = served
    assert replica.started is not None
    port, ca = replica.started.webhook_port, replica.started.webhook_ca
    forged = [
        _valid(namespace="dpus", object=_provisioner("p", INJECTED)),  # object and request disagree
        _valid(namespace=INJECTED, object=_provisioner("p", INJECTED)),  # agree, but no namespace name
        _valid(name="x/../../secrets?watch=1#", object=_provisioner("x/../../secrets?watch=1#", "ns")),
        _valid(name="..", object=_provisioner("..", "ns")),
        _valid(name="", object=_provisioner("../secrets", "ns")),  # a create by generateName
    ]
    for request in forged * 2:
        code, answer = _post(port, ca, _request(_review(request)))
        assert code == 400, answer
        assert "Kubernetes name" in answer["error"] or "is not request." in answer["error"], answer
    started = time.monotonic()
    code, answer = _post(port, ca, _request(_review(_valid(namespace="ns", object=_provisioner("p", "ns")))))
    assert code == 200 and "allowed" in answer["response"], answer
    assert time.monotonic() - started < 2.0


def _post(port: int, ca, raw: bytes) -> tuple[int, dict]:
    """Send ``raw`` (a whole HTTP request) over TLS; the status and the JSON answer."""
    with _tls(port, ca) as tls:
        tls.sendall(raw)
        return _read_answer(tls)


def _tls(port: int, ca, timeout: float = 5.0, rcvbuf: int = 0) -> ssl.SSLSocket:
    raw = socket.socket()
    if rcvbuf:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    raw.settimeout(timeout)
    raw.connect(("127.0.0.1", port))
    return ssl.create_default_context(cafile=str(ca)).wrap_socket(raw, server_hostname="127.0.0.1")


def _read_answer(tls: ssl.SSLSocket) -> tuple[int, dict]:
    """One HTTP answer (head and Content-Length body) from ``tls``: its status and JSON body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = tls.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        data += chunk
    head, _blank, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    while len(body) < length:
        chunk = tls.recv(65536)
        if not chunk:
            raise ConnectionError("closed mid-body")
        body += chunk
    return int(head.split(b" ")[1]), json.loads(body[:length])


def _request(
    body: bytes, path: str = webhook.PATH, method: str = "POST", headers: str | None = None, close: bool = True
) -> bytes:
    if headers is None:
        headers = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    connection = "Connection: close\r\n" if close else ""
    return f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{connection}{headers}\r\n".encode() + body


def _review(request: object, api_version: str = "admission.k8s.io/v1", kind: str = "AdmissionReview") -> bytes:
    return json.dumps({"apiVersion": api_version, "kind": kind, "request": request}).encode()


def _valid(**change: object) -> dict:
    """An AdmissionRequest as the API server sends one (k8s.io/api/admission/v1 types.go)."""
    request = {
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": "provisioning.dpu.hcp.io", "version": "v1alpha1", "kind": "DPFHCPProvisioner"},
        "resource": {"group": "provisioning.dpu.hcp.io", "version": "v1alpha1", "resource": "dpfhcpprovisioners"},
        "name": "p",
        "namespace": "ns",
        "operation": "CREATE",
        "userInfo": {"username": "tenant", "groups": ["system:authenticated"]},
        "object": {"apiVersion": "provisioning.dpu.hcp.io/v1alpha1", "kind": "DPFHCPProvisioner", "spec": {}},
        "oldObject": None,
        "dryRun": False,
    }
    request.update(change)
    return {k: v for k, v in request.items() if v is not ...}


POD = {"group": "", "version": "v1", "kind": "Pod"}  # not ours: allowed at once, the connection kept
PASSING = _request(_review(_valid(kind=POD)), close=False)

MALFORMED = [
    # (id, raw HTTP request, status, fragment of the error)
    ("empty-object", _request(b"{}"), 400, "apiVersion"),
    ("json-list", _request(b"[]"), 400, "list"),
    ("json-string", _request(b'"review"'), 400, "str"),
    ("not-json", _request(b"{not json"), 400, "JSON"),
    ("not-utf8", _request(b'{"a": "\xff\xfe"}'), 400, "JSON"),
    ("request-string", _request(_review("x")), 400, "request"),
    ("request-list", _request(_review([])), 400, "request"),
    ("no-request", _request(_review(None)), 400, "request"),
    ("v1beta1", _request(_review(_valid(), api_version="admission.k8s.io/v1beta1")), 400, "apiVersion"),
    ("wrong-kind", _request(_review(_valid(), kind="AdmissionResponse")), 400, "kind"),
    ("no-uid", _request(_review(_valid(uid=...))), 400, "request.uid"),
    ("uid-not-string", _request(_review(_valid(uid=7))), 400, "request.uid"),
    ("uid-too-long", _request(_review(_valid(uid="u" * 129))), 400, "at most 128"),
    ("no-kind", _request(_review(_valid(kind=...))), 400, "request.kind"),
    ("kind-string", _request(_review(_valid(kind="DPFHCPProvisioner"))), 400, "request.kind"),
    ("no-operation", _request(_review(_valid(operation=...))), 400, "request.operation"),
    ("bad-operation", _request(_review(_valid(operation="PATCH"))), 400, "request.operation"),
    ("object-list", _request(_review(_valid(object=[]))), 400, "request.object"),
    ("create-without-object", _request(_review(_valid(object=None))), 400, "request.object"),
    ("update-without-oldObject", _request(_review(_valid(operation="UPDATE"))), 400, "request.oldObject"),
    ("oldObject-string", _request(_review(_valid(operation="UPDATE", oldObject="x"))), 400, "request.oldObject"),
    ("userInfo-list", _request(_review(_valid(userInfo=[]))), 400, "request.userInfo"),
    ("dryRun-string", _request(_review(_valid(dryRun="yes"))), 400, "request.dryRun"),
    ("namespace-list", _request(_review(_valid(namespace=["a"]))), 400, "request.namespace"),
    ("namespace-not-a-name", _request(_review(_valid(namespace="a/b"))), 400, "request.namespace"),
    ("name-not-a-name", _request(_review(_valid(name="a?watch=1"))), 400, "request.name"),
    (
        "object-in-another-namespace",
        _request(_review(_valid(object={"metadata": {"name": "p", "namespace": "other"}}))),
        400,
        "is not request.namespace",
    ),
    (
        "object-named-otherwise",
        _request(_review(_valid(object={"metadata": {"name": "q", "namespace": "ns"}}))),
        400,
        "is not request.name",
    ),
    ("metadata-list", _request(_review(_valid(object={"metadata": []}))), 400, "request.object.metadata"),
    ("no-content-length", _request(b"{}", headers="Content-Type: application/json\r\n"), 411, "Content-Length"),
    (
        "two-content-lengths",
        _request(b"{}", headers="Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n"),
        400,
        "Content-Length",
    ),
    (
        "content-length-not-a-number",
        _request(b"{}", headers="Content-Type: application/json\r\nContent-Length: +2\r\n"),
        400,
        "Content-Length",
    ),
    (
        "too-large",
        _request(
            b"", headers=f"Content-Type: application/json\r\nContent-Length: {https.Limits().max_body_bytes + 1}\r\n"
        ),
        413,
        "at most",
    ),
    (
        "chunked",
        _request(b"2\r\n{}\r\n0\r\n\r\n", headers="Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"),
        501,
        "Transfer-Encoding",
    ),
    ("not-json-media", _request(b"{}", headers="Content-Type: text/plain\r\nContent-Length: 2\r\n"), 415, "json"),
    ("get", _request(b"", method="GET", headers=""), 405, "POST"),
    ("other-path", _request(b"{}", path="/mutate"), 404, "/mutate"),
]


@pytest.mark.parametrize(("case", "raw", "status", "fragment"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_reviews_are_answered_400_never_allowed(served, case, raw, status, fragment):
    replica, _good, _ca = served
    assert replica.started is not None
    port, ca = replica.started.webhook_port, replica.started.webhook_ca
    code, answer = _post(port, ca, raw)
    assert code == status, (case, code, answer)
    assert "response" not in answer and "allowed" not in json.dumps(answer), answer
    assert fragment in answer["error"], (fragment, answer)
    # and the webhook still answers a well-formed review
    code, answer = _post(port, ca, _request(_review(_valid())))
    assert code == 200 and answer["response"]["uid"] == _valid()["uid"], answer


def test_only_modern_tls_is_spoken(served):
    replica, _good, _ca = served
    assert replica.started is not None
    port, ca = replica.started.webhook_port, replica.started.webhook_ca

    def handshake(configure) -> str | None:
        context = ssl.create_default_context(cafile=str(ca))
        configure(context)
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=5) as s,
                context.wrap_socket(s, server_hostname="127.0.0.1") as tls,
            ):
                assert tls.compression() is None
                return tls.cipher()[0]
        except (ssl.SSLError, ConnectionResetError):
            return None

    def old(context: ssl.SSLContext) -> None:
        context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")

    def cbc(context: ssl.SSLContext) -> None:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA256")

    def modern12(context: ssl.SSLContext) -> None:
        context.maximum_version = ssl.TLSVersion.TLSv1_2

    assert handshake(old) is None
    assert handshake(cbc) is None
    assert handshake(modern12) in (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
    )
    assert handshake(lambda c: None) is not None  # TLS 1.3
