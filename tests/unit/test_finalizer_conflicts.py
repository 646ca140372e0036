"""Issue 22: adding the finalizer retries a conflict (the object changed since it was read) a few
times, then gives up with a 409 that the controller reports as a failed reconcile and retries with
backoff; it no longer recurses for as long as the object keeps changing. Controller with an
in-memory API that answers each guarded patch with 422, as the API server does for a failed JSON
patch test of the resourceVersion."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import PROVISIONER
from dpf_hcp_operator.controller import FINALIZER_ATTEMPTS, Controller
from dpf_hcp_operator.runner import RunResult
from dpf_hcp_operator.watches import Finalizer
from support import provisioner_watch

FINALIZER = "provisioning.dpu.hcp.io/finalizer"


class ChangingObject:
    """One provisioner that someone else writes between each of our reads and patches, ``changes``
    times; after that the resourceVersion-guarded patch applies."""

    def __init__(self, changes: int) -> None:
        self.obj: dict[str, Any] = {"metadata": {"name": "hcp", "namespace": "team", "resourceVersion": "1"}}
        self.changes = changes
        self.patches = 0

    def resource(self, _api_version: str, _kind: str):
        return PROVISIONER

    def get(self, _res: Any, _name: str, _ns: str | None) -> dict[str, Any]:
        return copy.deepcopy(self.obj)

    def patch(self, _res: Any, _name: str, ops: list[dict[str, Any]], _ns: str | None, kind: str) -> dict[str, Any]:
        assert kind == "json"
        self.patches += 1
        meta = self.obj["metadata"]
        if self.changes > 0:  # a write by someone else lands first
            self.changes -= 1
            meta["resourceVersion"] = str(int(meta["resourceVersion"]) + 1)
        if ops[0] != {"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]}:
            raise ApiError(422, "Invalid", "the server rejected our request due to an error in our request")
        meta["finalizers"] = [*(meta.get("finalizers") or []), FINALIZER]
        meta["resourceVersion"] = str(int(meta["resourceVersion"]) + 1)
        return copy.deepcopy(self.obj)


class NeverRuns:
    def run(self, *_args: Any, **_kw: Any) -> RunResult:
        raise AssertionError("no run without the finalizer")


def controller(api: ChangingObject) -> Controller:
    watch = provisioner_watch(finalizer=Finalizer(FINALIZER, Path("finalize.yml")))
    return Controller(api, watch, NeverRuns())  # type: ignore[arg-type]


def test_the_finalizer_is_added_after_a_few_conflicts() -> None:
    api = ChangingObject(changes=FINALIZER_ATTEMPTS - 1)
    added = controller(api)._add_finalizer(api.get(PROVISIONER, "hcp", "team"), FINALIZER)
    assert added["metadata"]["finalizers"] == [FINALIZER]
    assert api.patches == FINALIZER_ATTEMPTS


def test_an_object_that_keeps_changing_gives_up_with_a_conflict_after_a_few_tries() -> None:
    api = ChangingObject(changes=10_000)
    with pytest.raises(ApiError) as exc:
        controller(api)._add_finalizer(api.get(PROVISIONER, "hcp", "team"), FINALIZER)
    assert exc.value.conflict, exc.value
    assert api.patches == FINALIZER_ATTEMPTS


def test_giving_up_is_a_failed_reconcile_retried_with_backoff() -> None:
    api = ChangingObject(changes=10_000)
    ctl = controller(api)
    key = ("team", "hcp")
    ctl.informer._apply("ADDED", {**api.get(PROVISIONER, "hcp", "team"), "spec": {}})
    outcome = ctl.process([key], "0")[key]
    assert outcome.result == "failed" and outcome.detail.startswith("adding finalizer: 409"), outcome
    assert ctl.queue.backing_off(key)
    assert api.patches == FINALIZER_ATTEMPTS


def test_a_finalizer_someone_else_added_meanwhile_is_not_added_twice() -> None:
    api = ChangingObject(changes=0)
    stale = api.get(PROVISIONER, "hcp", "team")
    api.obj["metadata"].update(finalizers=[FINALIZER], resourceVersion="7")  # another replica's write
    added = controller(api)._add_finalizer(stale, FINALIZER)
    assert added["metadata"]["finalizers"] == [FINALIZER]
    assert api.patches == 1
