"""The fast path for CSRs: watch each hosted cluster's CSRs and Nodes, and approve a joining
DPU's CSR within milliseconds of its creation, with the same rules as the csr_approve module
(plugins/module_utils/provisioner/csr/policy.py). Reconnects when a hosted API server goes and comes back.

Under the same identity it watches the hosted cluster's ClusterVersion and ClusterOperators, and runs
the provisioner again when the HostedClusterHealthy condition they make changes (hosted_health.py):
the health is followed by watch, and each run reads it once."""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s import conditions
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import CSR, NODE
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import (
    hosted_health,
    hosted_kubeconfig,
    naming,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.conditions import (
    HOSTED_CLUSTER_HEALTHY as HEALTHY,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.csr import approver, identity, policy
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    CLUSTER_OPERATOR,
    CLUSTER_VERSION,
    CLUSTER_VERSION_NAME,
    DPU,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.scope import Scope
from dpf_hcp_operator.informers import Informer, Key
from dpf_hcp_operator.logs import log
from dpf_hcp_operator.metrics import CSR_DECISIONS, CSR_HOSTED_CLUSTERS

LOG = logging.getLogger("dpf_hcp_operator.csr")
HEALTH_SETTLE = 1.0  # seconds after a ClusterVersion or ClusterOperator event before the health is looked at
HEALTH_MIN_GAP = 15.0  # seconds between two changes of the health told to the controller
# A status that still shows another health than the caches after the run told for it is told again
# after this, doubling up to HEALTH_RETELL_MAX (a run that read the cluster in a blip, or not at all).
HEALTH_RETELL_FIRST = 30.0
HEALTH_RETELL_MAX = 600.0  # watches.yaml's reconcilePeriod
PASS_PACE = 4.0  # a CSR pass that used d seconds of CPU is followed by a wait of PASS_PACE * d (HostedWatch.passes)
IDLE_PASS_SECONDS = 30.0  # a pass without an event: DPUs that moved on, CSRs grown too old
APPROVAL_BACKOFF_MAX = 300.0  # seconds: approvals the hosted cluster refuses are tried again 1, 2, 4 ... s later
LOGGED_PER_PASS = 25  # refusals a pass logs one by one; the rest are counted in one line (their Events still go)


def shown_health(provisioner: dict[str, Any] | None) -> tuple[Any, Any]:
    """(status, reason) of the HostedClusterHealthy condition ``provisioner``'s status shows."""
    listed = ((provisioner or {}).get("status") or {}).get("conditions") or []
    shown = conditions.find([c for c in listed if isinstance(c, dict)], HEALTHY) or {}
    return shown.get("status"), shown.get("reason")


class HostedWatch:
    """One hosted cluster: its CSR and Node informers and the loop that decides, all under the
    approver identity (identity.py); the admin kubeconfig only creates it and renews its token."""

    def __init__(
        self,
        mgmt: KubeClient,
        provisioner: dict[str, Any],
        source: hosted_kubeconfig.HostedKubeconfig,
        dpus: Informer,
        recorder: EventRecorder | None = None,
        service: str | None = None,
        on_health: Callable[[Key], None] | None = None,
        current: Callable[[Key], dict[str, Any] | None] | None = None,
    ):
        """``service``: the hosted API server's in-cluster Service (hosted_kubeconfig.SERVICE) to
        connect to instead of the endpoint the kubeconfig names; None for the published endpoint.
        ``on_health(key)``: called when the hosted cluster's health (``health_digest``) changed;
        ``current(key)``: the provisioner as the controller's cache has it now (its status)."""
        self.mgmt = mgmt
        self.recorder = recorder or EventRecorder(mgmt)
        self.provisioner = provisioner
        self.dpus = dpus
        self.fingerprint = fingerprint(source)
        self.hosted_cluster = source.hosted_cluster
        # node -> creation of the bootstrap CSR we approved for it: the informer may not show the
        # approval yet when the next pass runs, and a second bootstrap for one join is refused.
        self.bootstrapped: dict[str, Any] = {}
        credentials = (
            source.credentials if service is None else hosted_kubeconfig.through_service(source, provisioner, service)
        )
        self.identity = identity.ApproverIdentity(approver.hosted_client(credentials))
        self.hosted = self.identity.client()
        self.csrs = Informer(self.hosted, CSR, transform=approver.cached)
        self.nodes = Informer(self.hosted, NODE, metadata_only=True, transform=approver.cached_node)
        # What the health is judged by, cached only as far as it is read (hosted_health.compact).
        self.cluster_versions = Informer(
            self.hosted,
            CLUSTER_VERSION,
            field_selector=f"metadata.name={CLUSTER_VERSION_NAME}",
            transform=hosted_health.compact,
        )
        self.cluster_operators = Informer(self.hosted, CLUSTER_OPERATOR, transform=hosted_health.compact)
        self.on_health = on_health
        self.current = current
        self.health_digest: str | None = None  # None until both health informers listed
        self.health_told = 0  # changes told to the controller (the provisioner's fingerprint holds it)
        self.in_run = False  # a run of the provisioner is under way (CSRWatcher.runs_started)
        # The status's (status, reason), the caches', and their digest, when they last differed and it was
        # told; how often it was told again, and when it is next (health_changed).
        self.health_disagreement: tuple[Any, ...] | None = None
        self.health_retells = 0
        self.health_retell_at: float | None = None
        self.health_wake = threading.Event()
        self.secret_name = source.secret_name
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.reported: set[tuple[str, str]] = set()  # refusals told by an Event
        self.logged: set[tuple[str, str]] = set()  # refusals logged and counted (told or held back)
        # Approvals the hosted cluster refused (its admission, its RBAC) or did not answer: none are
        # tried before approval_retry_at, the wait doubling up to APPROVAL_BACKOFF_MAX.
        self.approval_backoff = 0.0
        self.approval_retry_at = 0.0
        # CSRs this approver approved that its informer still shows pending (the watch event of the
        # approval comes later): they are not decided again (a second look at an approved bootstrap
        # would refuse it as AlreadyBootstrapped, a false Warning).
        self.approved: set[str | None] = set()
        self.csrs.add_handler(lambda *_: self.wake.set())
        self.nodes.add_handler(self._on_node)
        for informer in (self.cluster_versions, self.cluster_operators):
            informer.add_handler(lambda *_: self.health_wake.set())  # looked at by health_loop, not here

    def _on_node(self, kind: str, old: dict[str, Any] | None, _new: dict[str, Any] | None) -> None:
        """A Node made or gone changes what the approver decides; its status updates do not."""
        if kind != "MODIFIED" or old is None:
            self.wake.set()

    @property
    def key(self) -> Key:
        meta = self.provisioner["metadata"]
        return meta["namespace"], meta["name"]

    def start(self) -> None:
        threading.Thread(target=self.loop, name=f"csr-{self.key[0]}-{self.key[1]}", daemon=True).start()

    def loop(self) -> None:
        delay = 0.5
        while not self.stop.is_set():  # the identity first: the watches run under it
            try:
                self.identity.ensure()
                self.identity.token()
                break
            except ApiError as exc:
                log(
                    LOG,
                    logging.WARNING,
                    "cannot set up the CSR approver identity in the hosted cluster",
                    namespace=self.key[0],
                    name=self.key[1],
                    error=str(exc),
                )
                self.stop.wait(delay)
                delay = min(delay * 2, 30.0)
        self.csrs.start(self.stop)
        self.nodes.start(self.stop)
        self.cluster_versions.start(self.stop)
        self.cluster_operators.start(self.stop)
        threading.Thread(target=self.health_loop, name=f"health-{self.key[0]}-{self.key[1]}", daemon=True).start()
        self.passes()

    def passes(self) -> None:
        """A pass on each wake (the events that come meanwhile are one wake), paced by its cost: after a
        pass that used d seconds of this thread's CPU, the next one begins no sooner than PASS_PACE * d
        after it ended. A pass over a few CSRs costs a millisecond and waits nothing noticeable; a
        tenant that keeps thousands of CSRs pending and changes one after another takes at most
        1 / (1 + PASS_PACE) of a core through this thread, not all of the operator's."""
        spent, ended = 0.0, time.monotonic()
        while not self.stop.is_set():
            # Events wake it; so does the end of an approval backoff, and every 30 s a look at DPUs that
            # moved on and at CSRs grown too old.
            retry_in = self.approval_retry_at - time.monotonic()
            self.wake.wait(min(IDLE_PASS_SECONDS, retry_in) if retry_in > 0 else IDLE_PASS_SECONDS)
            if self.stop.wait(max(0.0, ended + PASS_PACE * spent - time.monotonic())):
                return
            self.wake.clear()
            if not (self.csrs.synced.is_set() and self.nodes.synced.is_set()):
                continue
            started = time.thread_time()
            try:
                self.pass_once()
            except Exception:  # never let one bad object stop approvals for the cluster
                LOG.exception("CSR pass failed", extra={"fields": {"namespace": self.key[0], "name": self.key[1]}})
            spent, ended = time.thread_time() - started, time.monotonic()

    def health_loop(self) -> None:
        """Once both health informers listed, tell the provisioner's health, then each time it changes:
        looked at no sooner than HEALTH_SETTLE after an event (a relist's many events are one look) and
        told no more often than every HEALTH_MIN_GAP (a tenant flapping an operator's status reruns the
        provisioner at that pace at most)."""
        for informer in (self.cluster_versions, self.cluster_operators):
            while not informer.synced.wait(1.0):
                if self.stop.is_set():
                    return
        told_at = -HEALTH_MIN_GAP
        self.health_wake.set()  # an empty list brings no event: the first look is due anyway
        while not self.stop.is_set():
            due = self.health_retell_at
            self.health_wake.wait(None if due is None else max(0.0, due - time.monotonic()))
            self.stop.wait(max(HEALTH_SETTLE, told_at + HEALTH_MIN_GAP - time.monotonic()))
            if self.stop.is_set():
                return
            self.health_wake.clear()
            try:
                if self.health_changed():
                    told_at = time.monotonic()
            except Exception:  # a malformed object must not end the watch of the cluster's health
                LOG.exception("health look failed", extra={"fields": {"namespace": self.key[0], "name": self.key[1]}})

    def health_changed(self) -> bool:
        """Whether to tell the controller the health changed (and then tell it): which operators are
        unstable differs from the last look; or no run of the provisioner is under way and its status
        shows another health (status and reason) than the caches do. The second is the first look of a
        new watch (the run that started it read the cluster moments ago: most often it agrees, and a
        new watch costs no run), and a run that read the cluster between two looks, in a state gone by
        the next one. Such a difference is told once, then again only after HEALTH_RETELL_FIRST,
        doubling up to HEALTH_RETELL_MAX: a status that cannot agree (a run that cannot read the
        cluster) is rerun a few times an hour, not without end."""
        versions = self.cluster_versions.items()
        version, operators = (versions[0] if versions else None), self.cluster_operators.items()
        new = hosted_health.digest(version, operators)
        before, self.health_digest = self.health_digest, new
        if before is not None and new != before:
            return self._tell()
        if self.in_run:
            return False  # what it writes is looked at when it ends (run_ended)
        found = hosted_health.health(version, operators)
        provisioner = (self.current(self.key) if self.current else None) or self.provisioner
        shown, seen = shown_health(provisioner), (found["status"], found["reason"])
        now = time.monotonic()
        if shown == seen:
            self.health_disagreement, self.health_retell_at = None, None
            return False
        if (shown, seen, new) != self.health_disagreement:
            self.health_disagreement, self.health_retells = (shown, seen, new), 0
        elif self.health_retell_at is not None and now < self.health_retell_at:
            return False
        else:
            self.health_retells += 1
        self.health_retell_at = now + min(HEALTH_RETELL_FIRST * 2**self.health_retells, HEALTH_RETELL_MAX)
        return self._tell()

    def _tell(self) -> bool:
        self.health_told += 1
        if self.on_health is not None:
            self.on_health(self.key)
        return True

    def run_ended(self) -> None:
        """A run of the provisioner ended: what it wrote of the health is looked at (health_changed)."""
        self.in_run = False
        self.health_wake.set()

    def pass_once(self) -> None:
        pending = [c for c in self.csrs.items() if policy.is_pending(c)]
        # What was told of CSRs no longer pending is forgotten: the sets stay as small as the backlog.
        names = {c["metadata"]["name"] for c in pending}
        self.reported = {r for r in self.reported if r[0] in names or r[0] == FLOOD}
        self.logged = {r for r in self.logged if r[0] in names or r[0] == FLOOD}
        self.approved &= {c["metadata"].get("uid") for c in pending}
        pending = [c for c in pending if c["metadata"].get("uid") not in self.approved]
        if not pending:
            return
        ctx = approver.policy_context(
            self.provisioner, self.dpus.items(), self.nodes.items(), self.csrs.items(), self.hosted_cluster
        )
        for node, created in self.bootstrapped.items():
            ctx.bootstrapped[node] = max(created, ctx.bootstrapped.get(node, created))
        decided = approver.decide_all(pending, ctx)
        if not any(d.reason == policy.FLOOD_REASON for _csr, d in decided):
            self.reported = {r for r in self.reported if r[0] != FLOOD}  # the next flood is told again
            self.logged = {r for r in self.logged if r[0] != FLOOD}
        # Approvals in the order decided (one bootstrap per join), then refusals in the order the spam
        # filter's Events are best spent: a forgery before old junk that would hold it back.
        decided = [(c, d) for c, d in decided if d.approve] + approver.in_telling_order(
            [(c, d) for c, d in decided if not d.approve]
        )
        logged, unlogged = 0, {}  # refusals logged one by one in this pass; the rest by reason
        failed: ApiError | None = None  # an approval refused or unanswered: no more are tried this pass
        waiting = time.monotonic() < self.approval_retry_at
        for csr, decision in decided:
            name = csr["metadata"]["name"]
            if decision.approve:
                if failed is not None or waiting:
                    continue
                try:
                    approver.approve(self.hosted, csr, decision)
                except ApiError as exc:
                    # Changed meanwhile (the next event brings it back), or refused (a tenant's admission
                    # policy on approvals, say): the refusals of this pass are told all the same.
                    if not (exc.conflict or exc.not_found):
                        failed = exc
                    continue
                self.approval_backoff = 0.0
                if csr["metadata"].get("uid"):  # the API server sets one; without it, nothing to skip by
                    self.approved.add(csr["metadata"]["uid"])
                if decision.node in ctx.bootstrapped:
                    self.bootstrapped[decision.node] = ctx.bootstrapped[decision.node]
                CSR_DECISIONS.labels("approved", decision.reason).inc()
                log(
                    LOG,
                    logging.INFO,
                    "CSR approved",
                    csr=name,
                    node=decision.node,
                    reason=decision.reason,
                    namespace=self.key[0],
                    name=self.key[1],
                )
                self.recorder.put(self.provisioner, csr, decision)
            elif (said := refusal_key(name, decision)) not in self.reported:
                if self.recorder.put(self.provisioner, csr, decision):
                    self.reported.add(said)  # else held back: offered again on a later pass
                if said in self.logged:
                    continue
                self.logged.add(said)
                CSR_DECISIONS.labels("refused", decision.reason).inc()
                logged += 1
                if logged > LOGGED_PER_PASS:
                    unlogged[decision.reason] = unlogged.get(decision.reason, 0) + 1
                    continue
                log(
                    LOG,
                    logging.INFO if decision.waiting else logging.WARNING,
                    "CSR waits" if decision.waiting else "CSR left pending",
                    csr=name,
                    node=decision.node,
                    reason=decision.reason,
                    detail=decision.message,
                    namespace=self.key[0],
                    name=self.key[1],
                )
        if failed is not None:
            self.approval_backoff = min(max(1.0, self.approval_backoff * 2), APPROVAL_BACKOFF_MAX)
            self.approval_retry_at = time.monotonic() + self.approval_backoff
            log(
                LOG,
                logging.WARNING,
                "CSR approval failed; approvals are tried again later",
                error=str(failed),
                retry_in=self.approval_backoff,
                namespace=self.key[0],
                name=self.key[1],
            )
        if unlogged:  # thousands of junk CSRs must not be thousands of lines
            log(
                LOG,
                logging.WARNING,
                "more CSRs left pending than are logged one by one",
                count=sum(unlogged.values()),
                reasons=",".join(f"{reason}={n}" for reason, n in sorted(unlogged.items())),
                namespace=self.key[0],
                name=self.key[1],
            )

    def close(self) -> None:
        self.stop.set()
        self.wake.set()
        self.health_wake.set()
        for informer in (self.csrs, self.nodes, self.cluster_versions, self.cluster_operators):
            informer.abort()


class EventSpamFilter:
    """client-go's spam filter for Events, per involved object (a provisioner): a burst of 25, then
    one Event per 5 minutes (client-go tools/record/events_cache.go, EventSourceObjectSpamFilter:
    defaultSpamBurst, defaultSpamQPS, an LRU of maxLruCacheEntries objects). A tenant whose hosted
    cluster makes CSR after CSR under new names gets that many Events on its provisioner, and the
    other tenants' Events keep their place in the recorder's queue."""

    BURST = 25
    REFILL_SECONDS = 300.0
    OBJECTS = 4096

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.lock = threading.Lock()  # the hosted watches' threads share one recorder
        self.tokens: OrderedDict[str, tuple[float, float]] = OrderedDict()  # uid -> (tokens, when counted)

    def allow(self, uid: str) -> bool:
        """True when an Event about the object ``uid`` may be recorded now (and count it)."""
        with self.lock:
            now = self.clock()
            tokens, since = self.tokens.pop(uid, (float(self.BURST), now))
            tokens = min(float(self.BURST), tokens + (now - since) / self.REFILL_SECONDS)
            allowed = tokens >= 1.0
            self.tokens[uid] = (tokens - 1.0 if allowed else tokens, now)
            if len(self.tokens) > self.OBJECTS:
                self.tokens.popitem(last=False)
            return allowed


class EventRecorder:
    """Writes the CSRApproved/CSRNotApproved Events from a thread of its own, so an approval loop
    never waits on the management API server between two CSRs. Bounded: refusals about one
    provisioner pass its spam filter (approvals always go), and when the management API server is slower than the CSRs
    come, Events beyond the bound are dropped (and logged)."""

    def __init__(self, mgmt: KubeClient, bound: int = 1000, spam: EventSpamFilter | None = None):
        self.mgmt = mgmt
        self.spam = spam or EventSpamFilter()
        self.muted: set[str] = set()  # provisioners whose Events the spam filter holds back now: logged once
        self.pending: queue.Queue[tuple[dict[str, Any], dict[str, Any], policy.Decision]] = queue.Queue(bound)
        threading.Thread(target=self._run, name="csr-events", daemon=True).start()

    def put(self, provisioner: dict[str, Any], csr: dict[str, Any], decision: policy.Decision) -> bool:
        """Queue the Event; False when it is held back (the provisioner's burst spent) or the queue is
        full: the caller tells it again on a later pass."""
        meta = provisioner.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        # Approvals are the record of certificates issued: never held back (the policy bounds them,
        # one bootstrap per join of a known DPU), so refusals cannot spend their place.
        if not decision.approve and not self.spam.allow(uid):
            if uid not in self.muted:  # a set's add and discard are atomic under the GIL
                if len(self.muted) >= EventSpamFilter.OBJECTS:  # provisioners gone while held back
                    self.muted.clear()
                self.muted.add(uid)
                log(LOG, logging.WARNING, "CSR events held back: too many about one provisioner",
                    provisioner=f"{meta.get('namespace')}/{meta.get('name')}", csr=csr["metadata"]["name"])  # fmt: skip
            return False
        self.muted.discard(uid)
        try:
            self.pending.put_nowait((provisioner, csr, decision))
        except queue.Full:
            log(LOG, logging.WARNING, "CSR event dropped: too many waiting", csr=csr["metadata"]["name"])
            return False
        return True

    def _run(self) -> None:
        while True:
            provisioner, csr, decision = self.pending.get()
            try:
                approver.report(self.mgmt, provisioner, csr, decision)
            except Exception as exc:  # an Event lost is logged, never the end of the recorder
                log(LOG, logging.WARNING, "could not record the CSR event", csr=csr["metadata"]["name"], error=str(exc))


FLOOD = ""  # the key a flood is told under: once while it lasts, not once per CSR in it


def refusal_key(name: str, decision: policy.Decision) -> tuple[str, str]:
    return (FLOOD if decision.reason == policy.FLOOD_REASON else name, decision.reason)


def fingerprint(source: hosted_kubeconfig.HostedKubeconfig) -> str:
    return hashlib.sha256(source.text.encode()).hexdigest()


Version = Callable[[str, str, str], str | None]  # (kind, namespace, name) -> resourceVersion in a cache


class CSRWatcher:
    """Keeps one HostedWatch per live provisioner whose hosted cluster has published a usable kubeconfig."""

    def __init__(
        self,
        mgmt: KubeClient,
        version: Version | None = None,
        scope: Scope = (),
        dpus: Informer | None = None,
        service: str | None = None,
        on_health: Callable[[Key], None] | None = None,
        current: Callable[[Key], dict[str, Any] | None] | None = None,
    ):
        """``version(kind, namespace, name)`` gives a HostedCluster's or a Secret's resourceVersion from
        a cache, so the hosted kubeconfig is read again only when either changed; without it, it is
        read on every sync. DPUs are watched in the namespaces of ``scope`` (all when empty), or come
        from ``dpus``, an informer someone else starts. ``service``: reach each hosted API server
        through its in-cluster Service (a ``host:port`` template, ``{namespace}`` the control-plane
        namespace) rather than the published endpoint. ``on_health(key)``: called when a hosted
        cluster's health changed (the controller runs the provisioner again); ``current(key)``: a
        provisioner as the controller's cache has it now."""
        self.mgmt = mgmt
        self.service = service
        self.on_health = on_health
        self.current = current
        self.recorder = EventRecorder(mgmt)
        self.version = version
        self._seen: dict[Key, tuple[str | None, str | None]] = {}  # (HostedCluster, kubeconfig secret) versions
        self._own_dpus = dpus is None
        self.dpus = Informer(mgmt, DPU, namespaces=scope) if dpus is None else dpus
        self.dpus.add_handler(self._on_dpu)
        self.approvers: dict[Key, HostedWatch] = {}
        self._running: set[Key] = set()  # provisioners a run is under way for (runs_started)
        # Changes told by the watch of a live provisioner that stopped (its kubeconfig became unusable).
        self._told: dict[Key, int] = {}
        self._closed = False  # closed: a run that ends during the shutdown starts no new watch
        self.lock = threading.Lock()

    @property
    def informers(self) -> list[Informer]:
        return [self.dpus] if self._own_dpus else []

    def _on_dpu(self, _kind: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        namespace = (new or old or {}).get("metadata", {}).get("namespace")
        with self.lock:
            approvers = list(self.approvers.values())
        for watch in approvers:
            ref = (watch.provisioner.get("spec") or {}).get("dpuClusterRef") or {}
            if ref.get("namespace") == namespace:
                watch.wake.set()

    def _versions(self, key: Key, provisioner: dict[str, Any]) -> tuple[str | None, str | None] | None:
        """The cached versions of the HostedCluster and of the secret the last read used."""
        if self.version is None:
            return None
        ref = naming.hosted_cluster_ref(provisioner)
        current = self.approvers.get(key)
        secret = current.secret_name if current is not None else naming.admin_kubeconfig_secret(provisioner)
        return (
            self.version("HostedCluster", ref["namespace"], ref["name"]),
            self.version("Secret", ref["namespace"], secret),
        )

    def sync(self, key: Key, provisioner: dict[str, Any] | None) -> None:
        """Start, refresh or stop the approver for ``key`` to match the provisioner as it is now."""
        if self._closed:
            return
        live = provisioner is not None and not provisioner["metadata"].get("deletionTimestamp")
        source = None
        versions = None
        if live:
            assert provisioner is not None
            with self.lock:
                versions = self._versions(key, provisioner)
                current = self.approvers.get(key)
                if (
                    versions is not None
                    and None not in versions
                    and current is not None
                    and self._seen.get(key) == versions
                ):
                    current.provisioner = provisioner  # nothing new to read: keep watching
                    current.wake.set()
                    return
            try:
                source = hosted_kubeconfig.read(self.mgmt, provisioner)
            except ApiError as exc:  # keep watching with what we have; the next sync reads it again
                log(
                    LOG,
                    logging.WARNING,
                    "cannot read the hosted kubeconfig",
                    namespace=key[0],
                    name=key[1],
                    error=str(exc),
                )
                return
            except hosted_kubeconfig.Unavailable as exc:  # none, or not usable: stop watching (the conditions say why)
                log(
                    LOG,
                    logging.INFO if exc.reason == hosted_kubeconfig.WAITING else logging.WARNING,
                    "no usable hosted kubeconfig",
                    namespace=key[0],
                    name=key[1],
                    reason=exc.reason,
                    error=exc.message,
                )
        with self.lock:
            if self._closed:  # the operator is stopping: its threads would outlive it
                return
            current = self.approvers.get(key)
            if source is None:
                self._seen.pop(key, None)
                if live and current:  # watched again once a usable kubeconfig is back: the count goes on
                    self._told[key] = current.health_told
                elif not live:
                    self._told.pop(key, None)
                if current:
                    current.close()
                    del self.approvers[key]
                    log(LOG, logging.INFO, "stopped watching CSRs", namespace=key[0], name=key[1])
            elif current is None or current.fingerprint != fingerprint(source):
                if current:
                    current.close()
                assert provisioner is not None
                approver = HostedWatch(
                    self.mgmt,
                    provisioner,
                    source,
                    self.dpus,
                    self.recorder,
                    self.service,
                    self.on_health,
                    self.current,
                )
                # The count of changes told goes on (the provisioner's fingerprint holds it): a new watch's
                # first change must differ from what the last run saw.
                approver.health_told = current.health_told if current else self._told.pop(key, 0)
                approver.in_run = key in self._running
                self.approvers[key] = approver
                self._seen[key] = versions or (None, None)  # as they were before the read
                approver.start()
                log(
                    LOG,
                    logging.INFO,
                    "watching CSRs",
                    namespace=key[0],
                    name=key[1],
                    server=approver.hosted.server,
                )
            else:
                assert provisioner is not None
                self._seen[key] = versions or (None, None)  # as they were before the read
                current.provisioner = provisioner  # a spec change (e.g. its DPUCluster) applies at once
                current.wake.set()
            CSR_HOSTED_CLUSTERS.set(len(self.approvers))

    def runs_started(self, keys: list[Key]) -> None:
        """Runs of ``keys`` start: their watches hold what the status shows against the caches until
        each ends (run_ended); a run writes it."""
        with self.lock:
            self._running.update(keys)
            for key in keys:
                if (current := self.approvers.get(key)) is not None:
                    current.in_run = True

    def run_ended(self, key: Key) -> None:
        with self.lock:  # as runs_started: a next run's start cannot come between
            self._running.discard(key)
            if (current := self.approvers.get(key)) is not None:
                current.run_ended()

    def provisioner_changed(self, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        """A provisioner event (the controller's informer): when the health its status shows changed,
        its watch looks again (the look after a run may have met a cache that had not had the write yet)."""
        if new is None or shown_health(old) == shown_health(new):
            return
        with self.lock:
            current = self.approvers.get((new["metadata"].get("namespace", ""), new["metadata"]["name"]))
        if current is not None:
            current.health_wake.set()

    def health_told(self, key: Key) -> int:
        """How many changes of ``key``'s hosted cluster health its watch told (0 when not watched)."""
        with self.lock:
            current = self.approvers.get(key)
        return current.health_told if current is not None else 0

    def close(self) -> None:
        """Stop every watch, and start none again: runs that end while the operator stops still
        report to it, and a watch started then would begin its threads as the interpreter exits."""
        with self.lock:
            self._closed = True
            for approver in self.approvers.values():
                approver.close()
            self.approvers.clear()
