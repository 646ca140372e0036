"""An informer against a server that plays the attacker with its watches (a hosted cluster's API
server is the tenant's): ended at once with no event, a 410 to every watch, event types that are not
Kubernetes'. Each costs a request per backoff, never a loop, and nothing of it reaches the cache
or the metrics' labels (pure logic: a fake client; the informer's thread runs for real)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import SECRET
from dpf_hcp_operator import metrics
from dpf_hcp_operator.informers import Informer

RUN_SECONDS = 1.6  # backoff 0.2, 0.4, 0.8: at most 4 watches in this time


class Hostile:
    """Lists answer; every watch does what ``behaviour`` says."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.lists = 0
        self.watches = 0
        self.timeouts: list[int] = []

    def list(self, *_a: Any, **_kw: Any) -> dict[str, Any]:
        self.lists += 1
        return {"metadata": {"resourceVersion": "5"}, "items": []}

    def watch(self, *a: Any, **_kw: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        self.watches += 1
        self.timeouts.append(a[3])  # (resource, namespace, resourceVersion, timeout, ...)
        if self.behaviour == "gone":
            raise ApiError(410, "Gone", "too old resource version")
        if self.behaviour == "odd-type":
            yield f"X{self.watches}", {"metadata": {"namespace": "t", "name": "odd", "resourceVersion": "6"}}
        if self.behaviour == "bookmark":  # an event that costs the server nothing, then the end
            yield "BOOKMARK", {"metadata": {"resourceVersion": "7"}}
        return  # "ends": over at once, nothing sent


def run(client: Hostile) -> Informer:
    informer = Informer(client, SECRET, namespace="t")  # type: ignore[arg-type]
    stop = threading.Event()
    thread = threading.Thread(target=informer.run, args=(stop,), daemon=True)
    thread.start()
    time.sleep(RUN_SECONDS)
    stop.set()
    thread.join(timeout=5)
    return informer


@pytest.mark.parametrize("behaviour", ["ends", "bookmark"])
def test_a_watch_that_ends_at_once_is_retried_at_the_backoffs_pace(behaviour):
    client = run(Hostile(behaviour)).client
    assert 1 <= client.watches <= 5, client.watches  # a loop made thousands
    assert client.lists == client.watches  # each retry starts from a list, as client-go's reflector


def test_a_410_to_every_watch_is_retried_at_the_backoffs_pace():
    client = run(Hostile("gone")).client
    assert 1 <= client.watches <= 5, client.watches


def test_an_event_type_kubernetes_does_not_have_is_refused_not_cached_nor_counted():
    informer = run(Hostile("odd-type"))
    assert informer.items() == []
    assert 1 <= informer.client.watches <= 5, informer.client.watches
    labels = {sample.labels.get("type") for family in metrics.WATCH_EVENTS.collect() for sample in family.samples}
    assert not any(str(label).startswith("X") for label in labels), labels


def test_watches_ask_for_a_time_spread_between_the_least_and_twice_it():
    """As client-go's reflector: watches begun together are not all made again at once."""
    informer = Informer(Hostile("ends"), SECRET, namespace="t", watch_timeout=300)  # type: ignore[arg-type]
    asked = [informer.watch_seconds() for _ in range(200)]
    assert all(300 <= s < 600 for s in asked), asked
    assert len(set(asked)) > 100 and min(asked) < 350 and max(asked) > 550, sorted(asked)
    client = run(Hostile("ends")).client
    assert client.timeouts and all(300 <= s < 600 for s in client.timeouts), client.timeouts
