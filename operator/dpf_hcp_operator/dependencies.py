"""What a DPFHCPProvisioner's outcome depends on, so the operator runs it again when, and only
when, one of those objects changes: its secrets, its DPUCluster, the BlueField image map, the
HostedCluster and NodePool it owns, the other provisioners on the same DPUCluster, and which BFB
and DPUFlavor its DPUs use (one bf.cfg template each)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.formats import dns1123_subdomain_problem
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import naming, reads
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.bfcfg import DPF_NAMESPACE
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.ignition import CA_SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    LABEL_NAME,
    LABEL_NAMESPACE,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.scope import Scope
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.validation import (
    BLUEFIELD_CONFIGMAP,
    resolve_bluefield_image,
)
from dpf_hcp_operator.informers import Informer, Key
from dpf_hcp_operator.logs import log

LOG = logging.getLogger("dpf_hcp_operator.dependencies")

Enqueue = Callable[[Key], None]
Handler = Callable[[str, dict[str, Any] | None, dict[str, Any] | None], None]
Fingerprint = dict[tuple[str, str, str], str | None]


class Change(NamedTuple):
    """A change of an object a provisioner depends on, seen while its playbook ran."""

    kind: str
    namespace: str
    name: str
    resource_version: str | None  # None: deleted
    generation: int | None

    @property
    def object(self) -> tuple[str, str, str]:
        return self.kind, self.namespace, self.name


BY_SPEC = reads.BY_SPEC  # kinds a run depends on by their spec alone (provisioner/reads.py)
# The fingerprint's entry for the BFB and DPUFlavor combinations of a DPUCluster's DPUs.
COMBINATIONS = "DPUCombinations"
# The change untrack adds when an informer relisted during the run: some versions may be missing.
RELISTED = "Relisted"


class ProvisionerDependencies:
    """Informers for the objects provisioners depend on, and the map back to provisioners."""

    def __init__(
        self,
        client: KubeClient,
        operator_namespace: str,
        provisioners: Informer,
        enqueue: Enqueue,
        scope: Scope = (),
        dpf_namespace: str = DPF_NAMESPACE,
    ):
        self.provisioners = provisioners
        self.enqueue = enqueue
        self.operator_namespace = operator_namespace
        # One informer for each read declared followed by one (provisioner/reads.py), in the
        # watched namespaces (scope; cluster-wide when empty), each with its handler.
        handlers: dict[str, tuple[Handler, Callable[[dict[str, Any]], Any] | None]] = {
            "secrets": (self._on_secret, owner_of),
            "dpuclusters": (self._on_dpucluster, None),
            "bluefield-images": (self._on_bluefield_images, None),
            "hosted-clusters": (lambda _k, old, new: self._on_owned("HostedCluster", old, new), owner_of),
            "node-pools": (lambda _k, old, new: self._on_owned("NodePool", old, new), owner_of),
            "owned-configmaps": (lambda _k, old, new: self._on_owned("ConfigMap", old, new), owner_of),
            "dpus": (self._on_dpu, dpu_cluster_of),
        }
        namespaces = {
            reads.WATCHED: scope,
            reads.OPERATOR: (operator_namespace,),
            reads.WATCHED_AND_DPF: scope if not scope or dpf_namespace in scope else (*scope, dpf_namespace),
        }
        self.by_name: dict[str, Informer] = {}
        for r in reads.FOLLOWED_BY_INFORMER:
            if r.name == "provisioners":  # the controller's own informer
                provisioners.add_handler(self._on_provisioner)
                continue
            handler, index = handlers[r.name]
            informer = Informer(
                client,
                r.resource,
                namespaces=namespaces[r.where],
                label_selector=f"{LABEL_NAME},{LABEL_NAMESPACE}" if r.owned else None,
                field_selector=r.field_selector or None,
                metadata_only=r.metadata_only,
                index=index,
            )
            informer.add_handler(handler)
            self.by_name[r.name] = informer
        self.secrets = self.by_name["secrets"]
        self.dpuclusters = self.by_name["dpuclusters"]
        self.configmaps = self.by_name["bluefield-images"]
        self._bluefield_key = ("ConfigMap", operator_namespace, BLUEFIELD_CONFIGMAP)
        self.hosted_clusters = self.by_name["hosted-clusters"]
        self.node_pools = self.by_name["node-pools"]
        self.owned_configmaps = self.by_name["owned-configmaps"]
        # DPUs: shared with the CSR watcher, which reads the same DPUs.
        self.dpus = self.by_name["dpus"]
        self._owned = {  # kinds found by this provisioner's labels
            "Secret": self.secrets,
            "HostedCluster": self.hosted_clusters,
            "NodePool": self.node_pools,
            "ConfigMap": self.owned_configmaps,
        }
        self._tracked: dict[Key, list[Change]] = {}  # provisioners in a run: the changes seen meanwhile
        self._relists_at: dict[Key, tuple[int, int]] = {}  # relists begun and done when tracking began
        self._tracked_lock = threading.Lock()

    @property
    def informers(self) -> list[Informer]:
        return list(self.by_name.values())

    # -- which provisioners does a change concern --------------------------------------
    @staticmethod
    def _refs(cr: dict[str, Any]) -> tuple[str, set[str], tuple[str, str]]:
        spec = cr.get("spec") or {}
        secrets = {(spec.get(f) or {}).get("name") for f in ("pullSecretRef", "sshKeySecretRef")}
        ref = spec.get("dpuClusterRef") or {}
        return (
            cr["metadata"]["namespace"],
            {s for s in secrets if s},
            (ref.get("namespace", ""), ref.get("name", "")),
        )

    # -- changes seen while a provisioner's playbook runs -----------------------------------
    def track(self, keys: list[Key]) -> None:
        """Start recording the changes that concern ``keys`` (their playbook is about to run)."""
        relists = self._relists()
        with self._tracked_lock:
            for key in keys:
                self._tracked[key] = []
                self._relists_at[key] = relists

    def untrack(self, key: Key) -> list[Change]:
        """Stop recording for ``key``; the changes seen since ``track``, ending with a RELISTED
        change when an informer relisted meanwhile (or was relisting when tracking began): versions
        made in between may never have been delivered."""
        relists = self._relists()
        with self._tracked_lock:
            changes = self._tracked.pop(key, [])
            begun, done = self._relists_at.pop(key, relists)
        if relists[0] != begun or begun != done:
            changes.append(Change(RELISTED, "", "", None, None))
        return changes

    def _relists(self) -> tuple[int, int]:
        """Relists begun and done, over the informers a run's outcome depends on."""
        informers = [*self.by_name.values(), self.provisioners]
        return sum(i.relists_begun for i in informers), sum(i.relists_done for i in informers)

    def _enqueue(self, key: Key, kind: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        """Queue provisioner ``key`` for a change of a ``kind`` object; a deletion has no resourceVersion."""
        meta = (new or old or {}).get("metadata") or {}
        with self._tracked_lock:
            if key in self._tracked:
                now = (new or {}).get("metadata") or {}
                self._tracked[key].append(
                    Change(
                        kind,
                        meta.get("namespace", ""),
                        meta.get("name", ""),
                        now.get("resourceVersion"),
                        now.get("generation"),
                    )
                )
        self.enqueue(key)

    def _matching(
        self,
        pred: Callable[[dict[str, Any]], bool],
        kind: str,
        old: dict[str, Any] | None,
        new: dict[str, Any] | None,
    ) -> None:
        for cr in self.provisioners.items():
            if pred(cr):
                self._enqueue((cr["metadata"]["namespace"], cr["metadata"]["name"]), kind, old, new)

    def _on_secret(self, _kind: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        meta = (new or old or {})["metadata"]
        key = (meta.get("namespace"), meta["name"])
        owner = owner_of(new or old or {})
        if owner is not None:  # a copy we made, or the kubeconfig we handed to DPF: its owner
            self._enqueue(owner, "Secret", old, new)
            return
        self._matching(
            lambda cr: key in self._input_secrets(cr) or self._is_ignition_secret(cr, key), "Secret", old, new
        )

    def _on_bluefield_images(self, _kind: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        self._matching(
            lambda cr: (
                bluefield_mapping(cr, old, self.operator_namespace)
                != bluefield_mapping(cr, new, self.operator_namespace)
            ),
            "ConfigMap",
            old,
            new,
        )

    def _on_dpucluster(self, _kind: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        meta = (new or old or {})["metadata"]
        ref = (meta.get("namespace", ""), meta["name"])
        self._matching(lambda cr: self._refs(cr)[2] == ref, "DPUCluster", old, new)

    def _on_dpu(self, _kind: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        """A DPU that brings or takes away a BFB and DPUFlavor on its DPUCluster runs the provisioners on
        it (not recorded as a change seen during a run: the fingerprint's combinations say it)."""
        before, after = dpu_combination(old), dpu_combination(new)
        if before == after:
            return
        clusters = {c[0] for c in (before, after) if c is not None}
        for cr in self.provisioners.items():
            if self._refs(cr)[2] in clusters:
                self.enqueue((cr["metadata"]["namespace"], cr["metadata"]["name"]))

    def combinations(self, dpucluster: tuple[str, str]) -> str:
        """A digest of the BFB and DPUFlavor combinations of the DPUCluster's DPUs (in its namespace)."""
        found = sorted({c[1] for d in self.dpus.indexed(dpucluster) if (c := dpu_combination(d)) is not None})
        return hashlib.sha256(json.dumps(found).encode()).hexdigest()[:16]

    def _on_owned(self, kind: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        owner = owner_of(new or old or {})
        if owner is not None:
            self._enqueue(owner, kind, old, new)

    def _on_provisioner(self, kind: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        """A provisioner appearing, going or moving frees or takes a DPUCluster: tell the others."""
        refs = set()
        for obj in (old, new):
            if obj is not None:
                refs.add(self._refs(obj)[2])
        if kind == "MODIFIED" and old is not None and new is not None:
            gone = bool(new["metadata"].get("deletionTimestamp")) and not old["metadata"].get("deletionTimestamp")
            if not gone and self._refs(old)[2] == self._refs(new)[2]:
                return
        elif kind not in ("ADDED", "DELETED"):
            return
        this = (new or old or {})["metadata"]
        for cr in self.provisioners.items():
            if (cr["metadata"]["namespace"], cr["metadata"]["name"]) != (
                this.get("namespace"),
                this["name"],
            ) and self._refs(cr)[2] in refs:
                self._enqueue((cr["metadata"]["namespace"], cr["metadata"]["name"]), "DPFHCPProvisioner", old, None)

    # -- what a provisioner's outcome depends on, for the skip check ----------------------
    def _input_secrets(self, cr: dict[str, Any]) -> set[tuple[str, str]]:
        """Secrets whose content the playbook reads: the referenced ones and HyperShift's kubeconfig."""
        namespace, secrets, _ = self._refs(cr)
        return {(namespace, s) for s in secrets} | {(namespace, naming.admin_kubeconfig_secret(cr))}

    @staticmethod
    def _is_ignition_secret(cr: dict[str, Any], key: tuple[str, str]) -> bool:
        """HyperShift's ignition server CA or the NodePool's token, in the control plane namespace."""
        namespace, name = key
        return namespace == naming.control_plane_namespace(cr) and (
            name == CA_SECRET or name.startswith(naming.ignition_token_prefix(cr))
        )

    def _ignition_secrets(self, cr: dict[str, Any]) -> list[tuple[str, str]]:
        control_plane = naming.control_plane_namespace(cr)
        return [
            (control_plane, o["metadata"]["name"])
            for o in self.secrets.items()
            if o["metadata"].get("namespace") == control_plane
            and self._is_ignition_secret(cr, (control_plane, o["metadata"]["name"]))
        ]

    def fingerprint(self, cr: dict[str, Any]) -> Fingerprint:
        """(kind, namespace, name) -> resourceVersion (None: absent) of every object the playbook's
        outcome for ``cr`` depends on; and, for the other provisioners on its DPUCluster, whether
        they are being deleted."""
        namespace, _, dpucluster = self._refs(cr)
        me = (namespace, cr["metadata"]["name"])
        fp: Fingerprint = {}

        def add(kind: str, informer: Informer, key: tuple[str, str]) -> None:
            obj = informer.get(key)
            fp[(kind, *key)] = obj["metadata"].get("resourceVersion") if obj else None

        for key in [*self._input_secrets(cr), *self._ignition_secrets(cr)]:
            add("Secret", self.secrets, key)
        dpu_cluster = self.dpuclusters.get(dpucluster)
        fp[("DPUCluster", *dpucluster)] = spec_version(dpu_cluster["metadata"]) if dpu_cluster else None
        fp[(COMBINATIONS, *dpucluster)] = self.combinations(dpucluster)
        images = self.configmaps.get(self._bluefield_key[1:])
        fp[self._bluefield_key] = bluefield_mapping(cr, images, self.operator_namespace)
        for kind, informer in self._owned.items():  # found by label, not by name
            for o in informer.indexed(me):
                fp[(kind, o["metadata"].get("namespace", ""), o["metadata"]["name"])] = (
                    spec_version(o["metadata"]) if kind in BY_SPEC else o["metadata"].get("resourceVersion")
                )
        for o in self.provisioners.items():
            other = (o["metadata"]["namespace"], o["metadata"]["name"])
            if other != me and self._refs(o)[2] == dpucluster:
                fp[("DPFHCPProvisioner", *other)] = "deleting" if o["metadata"].get("deletionTimestamp") else "live"
        return fp

    def expected_after(
        self, cr: dict[str, Any], before: Fingerprint, journal: list[dict[str, Any]], seen: list[Change]
    ) -> Fingerprint | None:
        """The fingerprint the world will show once the informers have seen a run's own work:
        ``before`` with the resourceVersion of each object the run wrote (``journal``, in order,
        holds what it read and wrote), for the objects the fingerprint follows (already in it, or
        carrying this provisioner's labels in a kind followed by label).

        A change someone else made during the run (``seen``) is taken in only when the run read
        its result and nothing older: every read of the object (after the run's last write of it)
        returned that last version, and if the run wrote the object the change left its generation
        alone (status or metadata: HyperShift reporting on a HostedCluster the run created, say;
        a spec edit must be applied over again). The modules read what their outcome depends on,
        and a read finding nothing is recorded too. Otherwise None: the run may have missed the
        change (a later write of ours could even hide it), so the playbook runs again."""
        me = (cr["metadata"]["namespace"], cr["metadata"]["name"])
        if any(c.kind == RELISTED for c in seen):
            log(
                LOG,
                logging.DEBUG,
                "an informer relisted during the run: the next run confirms",
                namespace=me[0],
                name=me[1],
            )
            return None
        writes = [j for j in journal if j.get("op", "write") == "write"]
        ours = {(w["kind"], w["namespace"], w["name"], w["resourceVersion"]) for w in writes}
        last_write = {(w["kind"], w["namespace"], w["name"]): w["resourceVersion"] for w in writes}
        others: dict[tuple[str, str, str], list[Change]] = {}
        # The changes that came before the echo of the run's last write of their object: a watch
        # delivers an object's versions in order, so they were made before that write.
        early: set[Change] = set()
        echoed: set[tuple[str, str, str]] = set()
        for change in seen:
            if last_write.get(change.object) == change.resource_version:
                echoed.add(change.object)
            if (*change.object, change.resource_version) not in ours:
                others.setdefault(change.object, []).append(change)
                if change.object in last_write and change.object not in echoed:
                    early.add(change)
        expected = dict(before)
        for w in writes:
            key = (w["kind"], w["namespace"], w["name"])
            mine = w["kind"] in self._owned and owner_of({"metadata": {"labels": w["labels"]}}) == me
            if key in before or mine:
                expected[key] = spec_version(w) if w["kind"] in BY_SPEC else w["resourceVersion"]
        for key in [k for k in others if k[0] in BY_SPEC]:  # a status change there concerns no run
            # A status change leaves the generation as it was: after the run's write, the generation
            # it wrote; before it, the generation the run last read before writing (a write that
            # leaves the generation alone would hide a spec edit made between that read and it).
            read = _generation_read_before_write(key, journal)
            others[key] = [
                c
                for c in others[key]
                if c.resource_version is None
                or spec_version({"generation": c.generation}) != (read if c in early else expected.get(key))
            ]
            if not others[key]:
                del others[key]
        for key, changes in others.items():  # each key a change was seen for is one the fingerprint follows
            if not _read_after_last_write(key, changes, journal, early):
                log(
                    LOG,
                    logging.DEBUG,
                    "a change during the run was not seen by it: the next run confirms",
                    namespace=me[0],
                    name=me[1],
                    object="/".join(key),
                    versions=[c.resource_version for c in changes],
                    generations=[c.generation for c in changes],
                    seen_by_run=_seen_by_run(key, journal),
                )
                return None
            latest = [c for c in changes if c not in early]
            if latest:  # else the run's own write, which came after them, is the last version
                last = latest[-1]
                expected[key] = (
                    spec_version({"generation": last.generation}) if key[0] in BY_SPEC else last.resource_version
                )
        if self._bluefield_key in others:  # the map is followed by what it says of this release
            now = self.configmaps.get(self._bluefield_key[1:])
            if (now or {}).get("metadata", {}).get("resourceVersion") != expected[self._bluefield_key]:
                return None  # changed again since: the next run confirms
            expected[self._bluefield_key] = bluefield_mapping(cr, now, self.operator_namespace)
        return expected


def _generation_read_before_write(key: tuple[str, str, str], journal: list[dict[str, Any]]) -> str | None:
    """spec_version of the run's last read of ``key`` before its last write of it; None if none."""
    entries = [e for e in (_as_read(j, key) for j in journal) if e is not None]
    writes = [i for i, e in enumerate(entries) if e.get("op", "write") == "write"]
    reads = [e for e in entries[: writes[-1]] if e.get("op") == "read" and e.get("generation")] if writes else []
    return spec_version({"generation": reads[-1]["generation"]}) if reads else None


def _seen_by_run(key: tuple[str, str, str], journal: list[dict[str, Any]]) -> list[str]:
    """What a run's steps read and wrote of ``key``, in order (e.g. an early step read a version
    the last step no longer saw); with the first characters of the digests of the fields a step
    decided on alone, as each entry recorded them (which one differed from the last version's)."""
    entries = [e for e in (_as_read(j, key) for j in journal) if e is not None]
    decided = sorted({f for e in entries for f in e.get("decided_on") or ()})
    return [
        f"{e.get('op', 'write')} {e.get('resourceVersion')}"
        + ("*" if e.get("decided_on") else "")
        + (f" same as {e['same_as']}" if e.get("same_as") else "")
        # field#digest: "field=value" would read as a credential to the log redaction (logs.py)
        + "".join(f" {f}#{(e.get('fields') or {}).get(f, '-')[:8]}" for f in decided)
        for e in entries
    ]


def _as_read(entry: dict[str, Any], key: tuple[str, str, str]) -> dict[str, Any] | None:
    """``entry`` of a run's journal as what it saw of ``key``; None if it says nothing of it. A
    list shows an object or, when it had no selector and covered the namespace, its absence."""
    kind, namespace, name = key
    if entry.get("op") != "list":
        return entry if (entry["kind"], entry["namespace"], entry["name"]) == key else None
    if entry["kind"] != kind or entry["namespace"] not in ("", namespace):
        return None
    items = entry.get("items") or {}
    if f"{namespace}/{name}" in items:  # as a read of the item, with its step's mark (journal.same_outcome)
        same_as = (entry.get("same_as") or {}).get(f"{namespace}/{name}")
        return {"op": "read", "resourceVersion": items[f"{namespace}/{name}"], "same_as": same_as}
    return None if entry.get("selector") else {"op": "read", "resourceVersion": None}


def _read_after_last_write(
    key: tuple[str, str, str], changes: list[Change], journal: list[dict[str, Any]], early: set[Change] = frozenset()
) -> bool:
    """Whether the run saw the last of ``changes`` to ``key``, or something as good: every read
    after the run's last write of it (or every read, if the run did not write it) returned that
    version, or was one whose step decided on fields (k8s/journal.py decided_on) that a read of
    that version in the same run found the same, or whose step found it gave the same outcome
    (journal.same_outcome); and a change to an object the run wrote left its generation alone.

    Changes in ``early`` came before the run's last write of the object: the run must have read
    the last of them before it wrote (every read before that write returned it, or one as good),
    so that what it wrote was decided on it; a spec edit among them was then applied by that write."""
    entries = [e for e in (_as_read(j, key) for j in journal) if e is not None]
    writes = [i for i, j in enumerate(entries) if j.get("op", "write") == "write"]
    if any(c.resource_version is None for c in changes):
        return False  # deleted meanwhile
    made_before = [c for c in changes if c in early]
    changes = [c for c in changes if c not in early]
    if made_before:
        if not writes:
            return False  # cannot be: early changes are of an object the run wrote
        read = [e for e in entries[: writes[-1]] if e.get("op", "write") != "write"]
        last = made_before[-1].resource_version
        of_last = [e.get("fields") or {} for e in read if e.get("resourceVersion") == last]
        if not (read and all(_as_good_as_last(e, last, of_last) for e in read)):
            return False
        if not changes:
            return True
    if writes:
        generation = entries[writes[-1]].get("generation")
        if generation is None or any(c.generation != generation for c in changes):
            return False
        entries = entries[writes[-1] + 1 :]
    last = changes[-1].resource_version
    of_last = [e.get("fields") or {} for e in entries if e.get("resourceVersion") == last]
    return bool(entries) and all(_as_good_as_last(e, last, of_last) for e in entries)


def _as_good_as_last(read: dict[str, Any], last: str | None, of_last: list[dict[str, str]]) -> bool:
    """Whether ``read`` returned the ``last`` version, or its step read that version again and found
    the outcome the same, or its step decided on fields alone whose digests a read of the last
    version (``of_last``: their recorded digests) has the same."""
    if read.get("resourceVersion") == last or (last is not None and read.get("same_as") == last):
        return True  # the last version, or one its step found gave the same outcome (journal.same_outcome)
    decided = read.get("decided_on")
    if read.get("resourceVersion") is None or not decided:
        return False  # seen absent, or nothing said of what the step decided on
    mine = read.get("fields") or {}
    return any(all(f in mine and seen.get(f) == mine[f] for f in decided) for seen in of_last)


def bluefield_mapping(cr: dict[str, Any], configmap: dict[str, Any] | None, namespace: str) -> str:
    """What the BlueField image map tells a run for ``cr``'s release: a digest of the very check
    the playbook makes of it (the image, or why there is none and which versions are mapped)."""
    release = (cr.get("spec") or {}).get("ocpReleaseImage")
    check = resolve_bluefield_image(release if isinstance(release, str) else "", configmap, namespace)
    text = json.dumps(dataclasses.asdict(check), sort_keys=True, default=str)
    return "mapping " + hashlib.sha256(text.encode()).hexdigest()[:32]


def dpu_combination(dpu: dict[str, Any] | None) -> tuple[tuple[str, str], tuple[str, str, str]] | None:
    """((DPUCluster namespace, name) as the DPU's spec.cluster writes them, (the DPU's namespace,
    BFB, DPUFlavor)): what bfcfg.combinations reads; None for a DPU without them, or none."""
    if dpu is None or dpu["metadata"].get("deletionTimestamp"):
        return None
    spec = dpu.get("spec") or {}
    cluster = spec.get("cluster") or {}
    bfb, flavor = spec.get("bfb"), spec.get("dpuFlavor")
    if not (cluster.get("name") and cluster.get("namespace")):
        return None
    if dns1123_subdomain_problem(bfb) is not None or dns1123_subdomain_problem(flavor) is not None:
        return None  # as bfcfg.combinations: object names only
    namespace = dpu["metadata"].get("namespace", "")
    return (str(cluster["namespace"]), str(cluster["name"])), (namespace, bfb, flavor)


def dpu_cluster_of(dpu: dict[str, Any]) -> tuple[str, str] | None:
    combination = dpu_combination(dpu)
    return combination[0] if combination else None


def spec_version(meta: dict[str, Any]) -> str:
    """What a run depends on in an object of a BY_SPEC kind: its spec, counted by its generation."""
    return f"generation {meta.get('generation')}" + (", deleting" if meta.get("deletionTimestamp") else "")


def owner_of(obj: dict[str, Any]) -> tuple[str, str] | None:
    """The provisioner (namespace, name) an object was created for, from its labels."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if LABEL_NAME in labels and LABEL_NAMESPACE in labels:
        return labels[LABEL_NAMESPACE], labels[LABEL_NAME]
    return None
