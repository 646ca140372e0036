"""List+watch per kind into a local cache; handlers hear every change. Relists on 410 Gone,
reconnects with backoff when the API server goes away, and resyncs on a period. A kind is
watched cluster-wide, in one namespace, or in each namespace of a list (one list+watch each:
under namespaced RBAC a cluster-wide one is forbidden)."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.deadlines import Abort
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import Resource
from dpf_hcp_operator import metrics
from dpf_hcp_operator.logs import log

Key = tuple[str, str]
Handler = Callable[[str, dict[str, Any] | None, dict[str, Any] | None], None]
IndexFn = Callable[[dict[str, Any]], Key | None]
LOG = logging.getLogger("dpf_hcp_operator.informers")


def stripped(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` as the cache keeps it: without metadata.managedFields, which the API server adds to
    every object (a few hundred bytes to kilobytes each) and nothing here reads. controller-runtime
    strips them the same way (kubernetes-sigs/controller-runtime pkg/cache/cache.go,
    TransformStripManagedFields)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return obj


def key_of(obj: dict[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "", meta["name"]


WATCH_EVENT_TYPES = frozenset({"ADDED", "MODIFIED", "DELETED", "BOOKMARK"})
SHORT_WATCH_SECONDS = 1.0  # a watch over sooner with no event is an error (client-go's reflector)


def _short(started: float, timeout: float) -> bool:
    """Whether a watch begun at ``started`` (asked to last ``timeout`` s) ended too soon."""
    return time.monotonic() - started < min(SHORT_WATCH_SECONDS, timeout / 2)


class Informer:
    def __init__(
        self,
        client: KubeClient,
        res: Resource,
        *,
        namespace: str | None = None,
        namespaces: Sequence[str] = (),
        label_selector: str | None = None,
        field_selector: str | None = None,
        metadata_only: bool = False,
        resync_seconds: float = 0.0,
        watch_timeout: int = 300,
        index: IndexFn | None = None,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ):
        self.client = client
        self.res = res
        if namespace and namespaces:
            raise ValueError("give namespace or namespaces, not both")
        # Where to list and watch: None is cluster-wide.
        self.scopes: list[str | None] = list(namespaces) if namespaces else [namespace]
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.metadata_only = metadata_only
        self.resync_seconds = resync_seconds
        self.watch_timeout = watch_timeout
        self.handlers: list[Handler] = []
        self.synced = threading.Event()
        self.aborted = Abort()  # abort(): its watches end now, not when the server ends them
        self._cache: dict[Key, dict[str, Any]] = {}
        self._index_fn = index
        # What the cache keeps of each object (after managedFields are dropped): all of it by default;
        # a transform keeps what the handlers read (controller-runtime's cache TransformFunc).
        self._transform = transform
        self._index: dict[Key, set[Key]] = {}
        self._lock = threading.Lock()
        self._resource_version: dict[str | None, str | None] = {}
        self._listed: set[str | None] = set()
        # Relists begun and done (the first list, and after a watch ends in error or 410 Gone): a
        # relist delivers each object's version now, not the versions in between.
        self.relists_begun = 0
        self.relists_done = 0

    @property
    def name(self) -> str:
        return self.res.plural

    def _kept(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj = stripped(obj)
        return self._transform(obj) if self._transform is not None else obj

    def add_handler(self, handler: Handler) -> None:
        self.handlers.append(handler)

    def get(self, key: Key) -> dict[str, Any] | None:
        with self._lock:
            return self._cache.get(key)

    def indexed(self, index_key: Key) -> list[dict[str, Any]]:
        """Cached objects whose index function gave ``index_key``."""
        with self._lock:
            return [self._cache[k] for k in self._index.get(index_key, ()) if k in self._cache]

    def _reindex(self, key: Key, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        """Keep the index in step with one cache change (call with the lock held)."""
        if self._index_fn is None:
            return
        before = self._index_fn(old) if old is not None else None
        after = self._index_fn(new) if new is not None else None
        if before is not None and before != after:
            self._index.get(before, set()).discard(key)
        if after is not None:
            self._index.setdefault(after, set()).add(key)

    def items(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._cache.values())

    def _emit(self, kind: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        for handler in self.handlers:
            try:
                handler(kind, old, new)
            except Exception:
                LOG.exception("informer handler failed", extra={"fields": {"informer": self.name}})

    def _relist(self, scope: str | None) -> None:
        with self._lock:
            self.relists_begun += 1
        try:
            self._relist_scope(scope)
        finally:
            with self._lock:
                self.relists_done += 1

    def _relist_scope(self, scope: str | None) -> None:
        listing = self.client.list(
            self.res,
            scope,
            self.label_selector,
            self.field_selector,
            metadata_only=self.metadata_only,
        )
        fresh = {key_of(o): self._kept(o) for o in listing.get("items") or []}
        with self._lock:  # the scope's part of the cache is replaced; other namespaces' stay
            old = {k: o for k, o in self._cache.items() if scope is None or k[0] == scope}
            for key, obj in old.items():
                del self._cache[key]
                self._reindex(key, obj, None)
            for key, obj in fresh.items():
                self._cache[key] = obj
                self._reindex(key, None, obj)
            self._resource_version[scope] = (listing.get("metadata") or {}).get("resourceVersion")
            self._listed.add(scope)
            listed_all = len(self._listed) == len(self.scopes)
        for key, obj in fresh.items():
            before = old.get(key)
            if before is None:
                self._emit("ADDED", None, obj)
            elif before["metadata"].get("resourceVersion") != obj["metadata"].get("resourceVersion"):
                self._emit("MODIFIED", before, obj)
        for key, obj in old.items():
            if key not in fresh:
                self._emit("DELETED", obj, None)
        if listed_all:
            self.synced.set()

    def _apply(self, kind: str, obj: dict[str, Any], scope: str | None = None) -> None:
        if kind == "BOOKMARK":
            self._resource_version[scope] = obj["metadata"]["resourceVersion"]
            return
        obj = self._kept(obj)
        key = key_of(obj)
        with self._lock:
            before = self._cache.get(key)
            if kind == "DELETED":
                self._cache.pop(key, None)
                self._reindex(key, before, None)
            else:
                self._cache[key] = obj
                self._reindex(key, before, obj)
        self._resource_version[scope] = obj["metadata"].get("resourceVersion", self._resource_version.get(scope))
        self._emit(kind, before, None if kind == "DELETED" else obj)

    def run(self, stop: threading.Event) -> None:
        """List and watch every scope until ``stop``."""
        if len(self.scopes) == 1:
            self._run_scope(self.scopes[0], stop)
            return
        threads = [
            threading.Thread(target=self._run_scope, args=(s, stop), name=f"informer-{self.name}-{s}", daemon=True)
            for s in self.scopes
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _run_scope(self, scope: str | None, stop: threading.Event) -> None:
        backoff = 0.2
        need_list = True
        next_resync = time.monotonic() + self.resync_seconds if self.resync_seconds else None
        while not stop.is_set():
            watched, timeout, fresh = time.monotonic(), self.watch_seconds(), need_list
            try:
                if need_list:
                    self._relist(scope)
                    need_list = False
                if next_resync is not None:
                    timeout = max(1, min(timeout, int(next_resync - time.monotonic()) + 1))
                watched = time.monotonic()
                for kind, obj in self.client.watch(
                    self.res,
                    scope,
                    self._resource_version.get(scope),
                    timeout,
                    self.label_selector,
                    self.field_selector,
                    self.metadata_only,
                    self.aborted,
                ):
                    if kind not in WATCH_EVENT_TYPES:  # client-go's decoder: "got invalid watch event type"
                        raise ApiError(0, "BadWatchEvent", f"invalid watch event type {str(kind)[:40]!r}")
                    self._apply(kind, obj, scope)
                    metrics.WATCH_EVENTS.labels(self.name, kind).inc()
                    if stop.is_set():
                        return
                if _short(watched, timeout):
                    # As client-go's reflector ("very short watch"): a watch that ends at once is an
                    # error, and the next list and watch wait the backoff. A server that ends every
                    # watch at once (after an event or a bookmark, or none) costs a request per
                    # backoff, not a loop.
                    raise ApiError(0, "ShortWatch", f"the watch ended within {SHORT_WATCH_SECONDS:g}s")
                backoff = 0.2  # a watch that lasted: a healthy one
                if next_resync is not None and time.monotonic() >= next_resync:
                    for obj in [o for o in self.items() if scope is None or key_of(o)[0] == scope]:
                        self._emit("RESYNC", obj, obj)
                    next_resync = time.monotonic() + self.resync_seconds
            except ApiError as exc:
                if stop.is_set():
                    return  # stopped (and its watch aborted): not a failure to tell
                need_list = True
                if not fresh and not _short(watched, timeout):
                    backoff = 0.2  # it ended a watch that lasted: the backoff of failures before is over
                if exc.status == 410 and not fresh:
                    continue  # the resourceVersion of an earlier list is too old: a fresh list at once
                metrics.WATCH_ERRORS.labels(self.name).inc()
                log(
                    LOG,
                    logging.WARNING,
                    "watch failed; retrying",
                    informer=self.name,
                    namespace=scope or "",
                    error=str(exc),
                    retry_in=round(backoff, 2),
                )
                stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
            except Exception:  # a malformed answer must not end the informer: relist later
                need_list = True
                if not fresh and not _short(watched, timeout):
                    backoff = 0.2
                metrics.WATCH_ERRORS.labels(self.name).inc()
                LOG.exception(
                    "informer error; relisting",
                    extra={"fields": {"informer": self.name, "retry_in": round(backoff, 2)}},
                )
                stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    def watch_seconds(self) -> int:
        """How long the next watch asks to last: between watch_timeout and twice that, at random, as
        client-go's reflector does (kubernetes/client-go tools/cache/reflector.go, minWatchTimeout *
        (rand.Float64() + 1.0)): watches begun together (a hosted cluster's four, a burst's hundreds)
        end, and are made again, spread over that time rather than all at once."""
        return int(self.watch_timeout * (1.0 + random.random()))  # noqa: S311 - a spread, not a secret

    def abort(self) -> None:
        """End its watches now (after its stop is set): their threads and connections go at once."""
        self.aborted.abort()

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(stop,), name=f"informer-{self.name}", daemon=True)
        thread.start()
        return thread
