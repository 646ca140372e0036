"""A run that fails outright (a step's error, a deadline: nothing in the status says it) is told as a
Warning Event on the object, once per distinct failure however often it is retried, and its
recovery as a Normal one. Controller._tell with its cache fed as the watch would feed it and a
client that keeps the Events it is given (no API server; through one:
tests/integration/test_provisioner_events.py)."""

from __future__ import annotations

from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import EVENT
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import PROVISIONER
from dpf_hcp_operator.controller import GONE, Controller, Outcome
from support import provisioner_watch

KEY = ("team", "hcp")


class Client:
    def __init__(self) -> None:
        self.events: dict[str, dict[str, Any]] = {}
        self.down = False

    def resource(self, _api_version: str, _kind: str):
        return PROVISIONER

    def create(self, res: Any, body: dict[str, Any]) -> dict[str, Any]:
        assert res is EVENT
        if self.down:
            raise ApiError(503, "ServiceUnavailable", "the API server is restarting")
        if body["metadata"]["name"] in self.events:
            raise ApiError(409, "AlreadyExists", "exists")
        self.events[body["metadata"]["name"]] = body
        return body


def controller() -> tuple[Controller, Client]:
    client = Client()
    c = Controller(client, provisioner_watch(), None)  # type: ignore[arg-type]
    meta = {"name": "hcp", "namespace": "team", "uid": "u1", "generation": 1, "resourceVersion": "7"}
    c.informer._apply("ADDED", {"metadata": meta, "spec": {}})  # a list item: no apiVersion nor kind
    return c, client


def told(client: Client) -> list[tuple[str, str, str]]:
    return [(e["type"], e["reason"], e["message"]) for e in client.events.values()]


def test_a_failure_is_told_once_however_often_it_is_retried_and_its_recovery_once():
    c, client = controller()
    failure = Outcome("failed", "Apply the HostedCluster: the API server said 500")
    for _retry in range(3):
        c._tell(KEY, failure)
    assert told(client) == [("Warning", "ReconcileFailed", f"A run failed: {failure.detail}")]
    (event,) = client.events.values()
    assert event["involvedObject"]["kind"] == "DPFHCPProvisioner"
    assert event["involvedObject"]["apiVersion"] == "provisioning.dpu.hcp.io/v1alpha1"
    c._tell(KEY, Outcome("failed", "(run deadline): not finished within 600s"))  # another failure: told
    c._tell(KEY, Outcome("success"))
    c._tell(KEY, Outcome("success"))  # nothing failed since: nothing to tell
    assert [t[:2] for t in told(client)] == [
        ("Warning", "ReconcileFailed"),
        ("Warning", "ReconcileFailed"),
        ("Normal", "ReconcileSucceeded"),
    ]
    assert told(client)[-1][2] == "A run succeeded again after: (run deadline): not finished within 600s"


def test_a_clean_life_and_skips_tell_nothing_and_a_deleted_object_is_forgotten():
    c, client = controller()
    for outcome in (Outcome("success"), Outcome("skipped", "nothing changed"), Outcome("requeued", "again in 5s")):
        c._tell(KEY, outcome)
    assert told(client) == []
    c._tell(KEY, Outcome("failed", "boom"))
    c._tell(KEY, Outcome("skipped", GONE))
    assert KEY not in c._told_failure


def test_an_event_that_cannot_be_written_is_logged_and_the_worker_goes_on(caplog):
    c, client = controller()
    client.down = True
    c._tell(KEY, Outcome("failed", "boom"))  # no exception reaches the worker
    assert "could not record the run's Event" in caplog.text


def test_what_a_failing_step_quoted_is_redacted_in_its_event():
    c, client = controller()
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"
    c._tell(KEY, Outcome("failed", f"Apply: refused {{'token': 'sekret-token', 'key': '{pem}'}}"))
    ((_type, _reason, message),) = told(client)
    assert "sekret-token" not in message and "MIIEow" not in message, message
