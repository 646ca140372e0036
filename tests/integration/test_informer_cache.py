"""The operator's informer cache against the real API server: what it keeps of each object.

The API server adds metadata.managedFields to every object it stores (a few hundred bytes to
kilobytes each, one entry per writer). Nothing in the operator reads them, so the cache drops
them on the list and on every watch event, as controller-runtime's TransformStripManagedFields
does; everything else of the object is kept as the API server sent it."""

from __future__ import annotations

import threading

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import CONFIGMAP
from dpf_hcp_operator.informers import Informer
from support import namespace, unique, wait_for


def configmap(ns: str, name: str, value: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": {"k": value}}


def test_the_cache_keeps_objects_without_their_managed_fields_from_list_and_watch(mgmt):
    ns = namespace(mgmt, unique("cache"))
    mgmt.create(CONFIGMAP, configmap(ns, "listed", "1"))
    informer = Informer(mgmt, CONFIGMAP, namespace=ns)
    heard: list[tuple[str, dict | None, dict | None]] = []
    informer.add_handler(lambda kind, old, new: heard.append((kind, old, new)))
    stop = threading.Event()
    informer.start(stop)
    try:
        wait_for("the informer synced", informer.synced.is_set, timeout=30)
        mgmt.create(CONFIGMAP, configmap(ns, "watched", "1"))
        mgmt.patch(CONFIGMAP, "listed", {"data": {"k": "2"}}, ns)  # a second writer: a second entry
        wait_for(
            "both in the cache, the edit included",
            lambda: (informer.get((ns, "listed")) or {}).get("data") == {"k": "2"} and informer.get((ns, "watched")),
            timeout=30,
        )
        for name in ("listed", "watched"):
            served = mgmt.get(CONFIGMAP, name, ns)
            assert served["metadata"].get("managedFields"), "the API server sends them: nothing to strip otherwise"
            cached = informer.get((ns, name))
            assert cached is not None and "managedFields" not in cached["metadata"]
            served["metadata"].pop("managedFields")
            assert cached == served  # nothing else is dropped or changed
        told = [obj for _kind, old, new in heard for obj in (old, new) if obj is not None]  # what handlers hear
        assert told and all("managedFields" not in obj["metadata"] for obj in told)
    finally:
        stop.set()
