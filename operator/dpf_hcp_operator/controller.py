"""The loop: informers feed a work queue; workers take batches, skip what has not changed,
add the finalizer, run one playbook for the whole batch, and act on each object's result."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s import events
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.conditions import merge
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.scope import Scope
from dpf_hcp_operator import metrics
from dpf_hcp_operator.dependencies import Change, Fingerprint
from dpf_hcp_operator.informers import Informer, Key
from dpf_hcp_operator.logs import log, redact
from dpf_hcp_operator.queue import WorkQueue
from dpf_hcp_operator.runner import CANCELED, HostResult, PlaybookRunner, RunResult
from dpf_hcp_operator.settings import Config
from dpf_hcp_operator.watches import Watch

LOG = logging.getLogger("dpf_hcp_operator.controller")
DEFAULTS = Config()  # the settings' defaults (settings.py), for a Controller made without them
FINALIZER_ATTEMPTS = 5  # conflicts in a row before a finalizer change is retried later, with backoff


class Followers(Protocol):
    """What follows a watch's objects besides its own informer (for provisioners: provisioner.Followers)."""

    @property
    def informers(self) -> list[Informer]: ...
    def fingerprint(self, obj: dict[str, Any]) -> Fingerprint: ...
    def track(self, keys: list[Key]) -> None: ...
    def untrack(self, key: Key) -> list[Change]: ...
    def expected_after(
        self, obj: dict[str, Any], before: Fingerprint, journal: list[dict[str, Any]], seen: list[Change]
    ) -> Fingerprint | None: ...
    def after_run(self, key: Key, obj: dict[str, Any] | None) -> None: ...
    def close(self) -> None: ...


# Makes the Followers of a watch, given its informer and its queue's add; None when it has none.
Follow = Callable[[Watch, Informer, Callable[[Key], None]], Followers | None]


@dataclass
class Outcome:
    result: str  # success | failed | requeued | skipped | abandoned
    detail: str = ""
    changed: int = 0


GONE = "object is gone"

# A run stopped by a shutdown past its grace period: nothing is written for it (no status, no
# finalizer change); the object is reconciled again by whoever leads next, as it is level-based.
ABANDONED = Outcome("abandoned", "the operator stopped before the run finished; the next leader runs it again")


class Controller:
    """Reconciles one watched kind."""

    def __init__(
        self,
        client: KubeClient,
        watch: Watch,
        runner: PlaybookRunner,
        max_batch: int = DEFAULTS.max_batch,
        extravars: dict[str, Any] | None = None,
        *,
        skip_unchanged: bool = DEFAULTS.skip_unchanged,
        workers: int = DEFAULTS.max_workers,
        scope: Scope = DEFAULTS.watch_namespaces,
        follow: Follow | None = None,
    ):
        self.client = client
        self.watch = watch
        self.runner = runner
        self.max_batch = max_batch
        self.skip_unchanged = skip_unchanged
        self.workers = workers
        self.extravars = {**(extravars or {}), **watch.vars}
        self.queue = WorkQueue(name=metrics.controller_name(watch.kind))
        metrics.start_controller(watch.kind, workers)
        self.res = client.resource(watch.api_version, watch.kind)
        self.informer = Informer(
            client, self.res, namespaces=scope, label_selector=watch.selector, resync_seconds=watch.reconcile_period
        )
        self.informer.add_handler(self._on_object)
        # The domain's part, when the watch has one (provisioner.follow): what else the outcome depends on.
        self.followers: Followers | None = follow(watch, self.informer, self.queue.add) if follow else None
        self._last_ok: dict[Key, Fingerprint] = {}
        # What a run that will look again at its time (it failed, or a deletion waits for its
        # cleanup) left the world as: until that time, an event that changes nothing else (the echo
        # of the run's own writes, its status among them) does not run it again early.
        self._last_pending: dict[Key, tuple[Fingerprint, float]] = {}  # and when its timer is due
        # The failure last told as an Event for each object still failing: a retry that fails the
        # same way tells nothing new, the first success after it tells the recovery.
        self._told_failure: dict[Key, str] = {}
        self._state_lock = threading.Lock()

    @property
    def informers(self) -> list[Informer]:
        extra = self.followers.informers if self.followers else []
        return [self.informer, *extra]

    def close(self) -> None:
        if self.followers:
            self.followers.close()

    # -- events -------------------------------------------------------------
    def _on_object(self, kind: str, _old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        obj = new or _old
        if obj is None:
            return
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        if kind == "RESYNC":
            self._invalidate(key)
        self.queue.add(key)

    def _invalidate(self, key: Key) -> None:
        with self._state_lock:
            self._last_ok.pop(key, None)
            self._last_pending.pop(key, None)

    def fingerprint(self, obj: dict[str, Any]) -> Fingerprint:
        """What the outcome of a run depends on; equal fingerprints mean a run would change nothing."""
        meta = obj["metadata"]
        own: Fingerprint = {
            ("", "", "generation"): str(meta.get("generation")),
            ("", "", "deleting"): str(bool(meta.get("deletionTimestamp"))),
            ("", "", "uid"): meta.get("uid"),
        }
        return {**own, **(self.followers.fingerprint(obj) if self.followers else {})}

    # -- workers ------------------------------------------------------------
    def work(self, stop: threading.Event, slot: str) -> None:
        while not stop.is_set():
            batch = self.queue.get_batch(self.max_batch, timeout=0.5, share=self.workers)
            metrics.QUEUE_DEPTH.labels(self.watch.kind).set(len(self.queue))
            if not batch:
                continue
            started = time.monotonic()
            for key in batch:
                log(LOG, logging.DEBUG, "reconciling", namespace=key[0], name=key[1], batch=len(batch))
            try:
                outcomes = self.process(batch, slot)
            except Exception as exc:  # never lose keys: retry the batch with backoff
                LOG.exception("batch failed", extra={"fields": {"keys": [f"{k[0]}/{k[1]}" for k in batch]}})
                outcomes = {k: Outcome("failed", str(exc)) for k in batch}
                for key in batch:
                    self._retry(key)
            duration = time.monotonic() - started
            for key in batch:
                self.queue.done(key)
                if self.followers:
                    try:
                        self.followers.after_run(key, self.informer.get(key))
                    except Exception:  # a hosted cluster's trouble must not end the worker
                        LOG.exception("could not update the CSR watch", extra={"fields": {"key": f"{key[0]}/{key[1]}"}})
                outcome = outcomes.get(key, Outcome("skipped", GONE))
                metrics.observe_reconcile(self.watch.kind, outcome.result, duration)
                self._tell(key, outcome)
                if outcome.result != "skipped":
                    log(
                        LOG,
                        logging.WARNING if outcome.result in ("failed", "abandoned") else logging.INFO,
                        "reconciled",
                        namespace=key[0],
                        name=key[1],
                        kind=self.watch.kind,
                        result=outcome.result,
                        duration=round(duration, 3),
                        changed=outcome.changed,
                        batch=len(batch),
                        detail=outcome.detail,
                    )
                else:
                    log(LOG, logging.DEBUG, "skipped", namespace=key[0], name=key[1], detail=outcome.detail)

    def _tell(self, key: Key, outcome: Outcome) -> None:
        """A Warning Event when a run fails for the object (a step failed outright: no condition of
        the status says it), once per distinct failure; a Normal one when it next succeeds."""
        with self._state_lock:
            told = self._told_failure.get(key)
            if outcome.result == "failed" and outcome.detail != told:
                self._told_failure[key] = outcome.detail
                said = (events.WARNING, "ReconcileFailed", f"A run failed: {outcome.detail}", "failed")
            elif outcome.result in ("success", "requeued") and told is not None:
                del self._told_failure[key]
                said = (events.NORMAL, "ReconcileSucceeded", f"A run succeeded again after: {told}", "recovered")
            else:
                if outcome.result == "skipped" and outcome.detail == GONE:
                    self._told_failure.pop(key, None)
                return
        obj = self.informer.get(key)
        if obj is None:
            return
        obj = {**obj, "apiVersion": self.watch.api_version, "kind": self.watch.kind}  # list items may lack them
        event_type, reason, message, what = said
        message = redact(message)  # what a failing step said may quote what it read; Events are widely readable
        written = obj["metadata"].get("resourceVersion", "")
        try:
            events.record_once(self.client, obj, event_type, reason, message, key=f"run/{written}/{what}/{message}")
        except Exception as exc:  # an Event lost is logged; the run's outcome stands
            log(LOG, logging.WARNING, "could not record the run's Event", namespace=key[0], name=key[1], error=str(exc))

    def _retry(self, key: Key) -> float:
        delay = self.queue.add_rate_limited(key)
        metrics.RETRIES.labels(self.watch.kind).inc()
        metrics.BACKOFF_SECONDS.labels(self.watch.kind).observe(delay)
        # The backoff doubles per failure up to its cap (queue.py): when the object is tried again.
        log(LOG, logging.INFO, "retry scheduled", namespace=key[0], name=key[1], retry_in=round(delay, 3))
        return delay

    def process(self, batch: list[Key], slot: str) -> dict[Key, Outcome]:
        outcomes: dict[Key, Outcome] = {}
        to_reconcile: list[tuple[dict[str, Any], Fingerprint]] = []
        to_finalize: list[tuple[dict[str, Any], Fingerprint]] = []
        finalizer = self.watch.finalizer.name if self.watch.finalizer else None
        for key in batch:
            obj = self.informer.get(key)
            if obj is None:
                self._invalidate(key)
                outcomes[key] = Outcome("skipped", GONE)
                continue
            meta = obj["metadata"]
            deleting = bool(meta.get("deletionTimestamp"))
            if deleting and not (
                finalizer and finalizer in (meta.get("finalizers") or []) and self.watch.finalizer.playbook
            ):
                outcomes[key] = Outcome("skipped", "being deleted; not ours to finalize")
                continue
            fp = self.fingerprint(obj)
            with self._state_lock:
                last = self._last_ok.get(key)
                unchanged = last == fp
                pending = self._last_pending.get(key)
            if last is not None and not unchanged and LOG.isEnabledFor(logging.DEBUG):
                log(
                    LOG,
                    logging.DEBUG,
                    "changed since its last run",
                    namespace=key[0],
                    name=key[1],
                    objects=changed(last, fp),
                )
            # Only until this run's own timer is due: an older, later timer does not hold it back.
            echo_of_pending = pending is not None and pending[0] == fp and time.monotonic() < pending[1]
            if unchanged and self.skip_unchanged and not deleting:
                outcomes[key] = Outcome("skipped", "nothing changed")
                continue
            if echo_of_pending and self.skip_unchanged:
                outcomes[key] = Outcome("skipped", "nothing changed since the last run; it looks again at its time")
                continue
            if deleting:
                to_finalize.append((obj, fp))
                continue
            if finalizer and finalizer not in (meta.get("finalizers") or []):
                try:
                    obj = self._add_finalizer(obj, finalizer)
                except ApiError as exc:
                    outcomes[key] = Outcome("failed", f"adding finalizer: {exc}")
                    self._retry(key)
                    continue
            to_reconcile.append((obj, fp))
        if to_reconcile:
            result, seen = self._run(self.watch.playbook, to_reconcile, self.extravars, slot)
            for obj, fp in to_reconcile:
                outcomes[_key(obj)] = (
                    self._after_reconcile(obj, fp, result, seen[_key(obj)]) if result.status != CANCELED else ABANDONED
                )
        if to_finalize:
            fin = self.watch.finalizer
            result, seen = self._run(fin.playbook, to_finalize, {**self.extravars, **fin.vars}, slot)
            for obj, fp in to_finalize:
                outcomes[_key(obj)] = (
                    self._after_finalize(obj, fp, result, seen[_key(obj)]) if result.status != CANCELED else ABANDONED
                )
        return outcomes

    def _run(
        self, playbook: Path, items: list[tuple[dict[str, Any], Fingerprint]], extravars: dict[str, Any], slot: str
    ) -> tuple[RunResult, dict[Key, list[Change]]]:
        """One run for ``items``; with the changes of what they depend on seen while it ran."""
        keys = [_key(o) for o, _ in items]
        if self.followers is not None:
            self.followers.track(keys)
        try:
            objs = [o for o, _ in items]
            snake = self.watch.snake_case_parameters
            result = self.runner.run(playbook, objs, self.watch.object_var, extravars, snake, slot)
        finally:
            seen = {k: self.followers.untrack(k) if self.followers is not None else [] for k in keys}
        return result, seen

    def _after_reconcile(self, obj: dict[str, Any], fp: Fingerprint, result: RunResult, seen: list[Change]) -> Outcome:
        key = _key(obj)
        host = result.for_object(obj)
        if self.watch.manage_status:
            self._write_managed_status(obj, host.ok, host.message)
        if not host.ok:
            self._pending(key, self._world_after(obj, fp, host, seen), lambda: self._retry(key))
            return Outcome("failed", f"{host.failed_task}: {host.message}", host.changed)
        self.queue.forget(key)
        if host.requeue_after is not None:
            self._invalidate(key)
            self.queue.add_after(key, host.requeue_after)
            return Outcome("requeued", f"requeue after {host.requeue_after}s", host.changed)
        expected = self._world_after(obj, fp, host, seen)
        with self._state_lock:
            if expected is None:
                self._last_ok.pop(key, None)
            else:
                self._last_ok[key] = expected
        return Outcome("success", "", host.changed)

    def _world_after(
        self, obj: dict[str, Any], fp: Fingerprint, host: HostResult, seen: list[Change]
    ) -> Fingerprint | None:
        """The fingerprint the run left: ``fp`` with the run's own writes, so their echo is
        skipped, while anyone else's change (or deleting what the run made) differs from it. None
        when someone else changed something during the run: the next run confirms."""
        if not host.changed:
            return fp
        return self.followers.expected_after(obj, fp, host.journal, seen) if self.followers else None

    def _pending(self, key: Key, after: Fingerprint | None, schedule: Callable[[], float]) -> None:
        """The run looks again on the timer ``schedule`` sets (it returns its delay); until then,
        ``after`` (the world it left) is an echo. The echo window is measured from before the timer
        is set, so it ends no later than the timer fires: the timer's own turn is never skipped."""
        self._invalidate(key)
        start = time.monotonic()
        delay = schedule()
        if after is not None:
            with self._state_lock:
                self._last_pending[key] = (after, start + delay)

    def _requeue(self, key: Key, delay: float) -> float:
        self.queue.add_after(key, delay)
        return delay

    def _after_finalize(self, obj: dict[str, Any], fp: Fingerprint, result: RunResult, seen: list[Change]) -> Outcome:
        key = _key(obj)
        host = result.for_object(obj)
        if not host.ok:
            self._pending(key, self._world_after(obj, fp, host, seen), lambda: self._retry(key))
            return Outcome("failed", f"finalizer: {host.failed_task}: {host.message}", host.changed)
        if host.requeue_after is not None:
            delay = host.requeue_after
            self._pending(key, self._world_after(obj, fp, host, seen), lambda: self._requeue(key, delay))
            return Outcome("requeued", f"cleanup in progress; again in {host.requeue_after}s", host.changed)
        try:
            self._remove_finalizer(obj, self.watch.finalizer.name)
        except ApiError as exc:
            if exc.not_found:
                return Outcome("success", "already gone")
            self._retry(key)
            return Outcome("failed", f"removing finalizer: {exc}")
        self.queue.forget(key)
        self._invalidate(key)
        return Outcome("success", "finalized", host.changed)

    # -- writes the operator itself makes -------------------------------------------
    def _add_finalizer(self, obj: dict[str, Any], finalizer: str) -> dict[str, Any]:
        """Add ``finalizer`` guarded by the resourceVersion read; on a conflict read again and retry,
        a few times, then give up with a 409 (the caller retries the key with backoff)."""
        for _attempt in range(FINALIZER_ATTEMPTS):
            meta = obj["metadata"]
            if finalizer in (meta.get("finalizers") or []):
                return obj
            try:
                return self.client.patch(
                    self.res, meta["name"], _add_finalizer_ops(meta, finalizer), meta.get("namespace"), kind="json"
                )
            except ApiError as exc:
                if exc.status not in (409, 422):
                    raise
                obj = self.client.get(self.res, meta["name"], meta.get("namespace"))
        raise ApiError(
            409, "Conflict", f"the object kept changing: finalizer not added after {FINALIZER_ATTEMPTS} tries"
        )

    def _remove_finalizer(self, obj: dict[str, Any], finalizer: str) -> None:
        for _attempt in range(FINALIZER_ATTEMPTS):
            meta = obj["metadata"]
            finalizers = meta.get("finalizers") or []
            if finalizer not in finalizers:
                return
            idx = finalizers.index(finalizer)
            ops = [
                {"op": "test", "path": f"/metadata/finalizers/{idx}", "value": finalizer},
                {"op": "remove", "path": f"/metadata/finalizers/{idx}"},
            ]
            try:
                self.client.patch(self.res, meta["name"], ops, meta.get("namespace"), kind="json")
                return
            except ApiError as exc:
                if exc.status not in (409, 422):
                    raise
                obj = self.client.get(self.res, meta["name"], meta.get("namespace"))
        raise ApiError(409, "Conflict", "finalizer list kept changing")

    def _write_managed_status(self, obj: dict[str, Any], ok: bool, message: str) -> None:
        """operator-sdk's manageStatus: a Successful or Failure condition after each run."""
        meta = obj["metadata"]
        try:
            fresh = self.client.get(self.res, meta["name"], meta.get("namespace"))
            status = dict(fresh.get("status") or {})
            # Never an empty message: the tests' 1.20 API server refuses "" there (422, "must be of type
            # string: null"), although the CRD allows it.
            succeeded = "The last run succeeded"
            # What a failing step said may quote what it read: redacted, and bounded, as in Events.
            failed = f"The last run failed: {redact(message)[:2000]}" if message else "The last run failed"
            update = (
                {"type": "Successful", "status": "True", "reason": "LastReconcileSucceeded", "message": succeeded}
                if ok
                else {"type": "Failure", "status": "True", "reason": "LastReconcileFailed", "message": failed}
            )
            other = {
                "type": "Failure" if ok else "Successful",
                "status": "False",
                "reason": "LastReconcileSucceeded" if ok else "LastReconcileFailed",
                "message": succeeded if ok else failed,
            }
            status["conditions"] = merge(status.get("conditions"), [update, other], meta.get("generation"))
            if status != (fresh.get("status") or {}):
                self.client.replace(self.res, {**fresh, "status": status}, subresource="status")
        except ApiError as exc:
            log(
                LOG,
                logging.WARNING,
                "could not write managed status",
                namespace=meta.get("namespace"),
                name=meta["name"],
                error=str(exc),
            )


def _key(obj: dict[str, Any]) -> Key:
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def _add_finalizer_ops(meta: dict[str, Any], finalizer: str) -> list[dict[str, Any]]:
    """A JSON patch adding ``finalizer``, refused (422) if the object changed since ``meta``."""
    ops: list[dict[str, Any]] = [{"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]}]
    if meta.get("finalizers"):
        return [*ops, {"op": "add", "path": "/metadata/finalizers/-", "value": finalizer}]
    return [*ops, {"op": "add", "path": "/metadata/finalizers", "value": [finalizer]}]


def changed(last: Fingerprint, now: Fingerprint) -> list[str]:
    """What differs between two fingerprints (versions, generations, digests: nothing of a secret)."""
    keys = sorted(set(last) | set(now), key=str)
    return [f"{'/'.join(k)}: {last.get(k)} -> {now.get(k)}" for k in keys if last.get(k) != now.get(k)][:10]
