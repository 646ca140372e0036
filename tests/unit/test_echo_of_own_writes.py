"""The operator skips the echo of its own writes, and only that: ProvisionerDependencies.expected_after
against caches fed as watches would feed them (no API server: the informers are never started)."""

from __future__ import annotations

from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    HOSTED_KUBECONFIG_FIELDS,
    LABEL_NAME,
    LABEL_NAMESPACE,
    PROVISIONER,
)
from dpf_hcp_operator.dependencies import ProvisionerDependencies, _seen_by_run
from dpf_hcp_operator.informers import Informer
from dpf_hcp_operator.logs import redact

FIELDS = ("status.ignitionEndpoint", *HOSTED_KUBECONFIG_FIELDS)

OWNER = {LABEL_NAME: "hcp", LABEL_NAMESPACE: "team"}


def _obj(
    kind: str, name: str, rv: str, labels: dict[str, str] | None = None, namespace: str = "team", generation: int = 0
) -> dict:
    meta = {"name": name, "namespace": namespace, "resourceVersion": rv, "labels": labels}
    if generation:
        meta["generation"] = generation
    return {"kind": kind, "metadata": meta}


def _write(obj: dict[str, Any], op: str = "write") -> dict[str, Any]:
    meta = obj["metadata"]
    return {
        "op": op,
        "generation": meta.get("generation"),
        "kind": obj["kind"],
        "namespace": meta["namespace"],
        "name": meta["name"],
        "resourceVersion": meta["resourceVersion"],
        "labels": meta["labels"] or {},
    }


def _setup() -> tuple[ProvisionerDependencies, dict[str, Any]]:
    provisioners = Informer(None, PROVISIONER)  # type: ignore[arg-type]
    deps = ProvisionerDependencies(None, "dpf-hcp-provisioner-system", provisioners, lambda _key: None)  # type: ignore[arg-type]
    cr = {
        "metadata": {"name": "hcp", "namespace": "team", "uid": "u1", "generation": 1, "resourceVersion": "1"},
        "spec": {
            "dpuClusterRef": {"name": "dpus", "namespace": "team"},
            "pullSecretRef": {"name": "pull"},
            "sshKeySecretRef": {"name": "ssh"},
        },
    }
    provisioners._apply("ADDED", cr)
    deps.secrets._apply("ADDED", _obj("Secret", "pull", "2"))
    deps.dpuclusters._apply("ADDED", _obj("DPUCluster", "dpus", "3", generation=1))
    return deps, cr


def test_the_echo_of_a_run_matches_what_was_expected() -> None:
    deps, cr = _setup()
    before = deps.fingerprint(cr)
    hosted_cluster = _obj("HostedCluster", "hcp", "10", OWNER)
    dpucluster = _obj("DPUCluster", "dpus", "11", generation=2)  # the run set spec.kubeconfig
    event = _obj("Event", "hcp.1", "12")  # written, but nothing the fingerprint follows
    expected = deps.expected_after(cr, before, [_write(o) for o in (hosted_cluster, dpucluster, event)], [])
    assert expected != before
    deps.hosted_clusters._apply("ADDED", hosted_cluster)
    assert deps.fingerprint(cr) != expected  # the cache has not seen every write yet: not skipped
    deps.dpuclusters._apply("MODIFIED", dpucluster)
    assert deps.fingerprint(cr) == expected  # the echo: skipped


def test_deleting_what_the_run_made_is_a_change() -> None:
    deps, cr = _setup()
    before = deps.fingerprint(cr)
    config_map = _obj("ConfigMap", "bfcfg-dpus.cfg", "20", OWNER)
    expected = deps.expected_after(cr, before, [_write(config_map)], [])
    deps.owned_configmaps._apply("ADDED", config_map)
    assert deps.fingerprint(cr) == expected
    deps.owned_configmaps._apply("DELETED", config_map)
    assert deps.fingerprint(cr) == before  # the world before the run ...
    assert deps.fingerprint(cr) != expected  # ... is not what the run left: run again


def test_someone_elses_write_after_ours_is_a_change() -> None:
    deps, cr = _setup()
    before = deps.fingerprint(cr)
    hosted_cluster = _obj("HostedCluster", "hcp", "10", OWNER)
    expected = deps.expected_after(cr, before, [_write(hosted_cluster)], [])
    deps.hosted_clusters._apply("ADDED", hosted_cluster)
    assert deps.fingerprint(cr) == expected
    deps.hosted_clusters._apply("MODIFIED", _obj("HostedCluster", "hcp", "13", OWNER))  # HyperShift's status
    assert deps.fingerprint(cr) != expected


def test_writes_to_objects_of_other_provisioners_are_not_expected() -> None:
    deps, cr = _setup()
    before = deps.fingerprint(cr)
    theirs = _obj("HostedCluster", "other", "30", {LABEL_NAME: "other", LABEL_NAMESPACE: "team"})
    assert deps.expected_after(cr, before, [_write(theirs)], []) == before


def test_a_change_by_someone_else_during_the_run_is_not_hidden_by_a_later_write_of_ours() -> None:
    """DPUCluster edited (rv 6) while the run validates and then patches it (rv 7): the run's
    write hides the edit from the fingerprint, so what was seen during the run decides."""
    deps, cr = _setup()
    before = deps.fingerprint(cr)
    key = ("team", "hcp")
    deps.track([key])
    deps.dpuclusters._apply("MODIFIED", _obj("DPUCluster", "dpus", "6", generation=2))  # someone else
    ours = _obj("DPUCluster", "dpus", "7", generation=3)
    deps.dpuclusters._apply("MODIFIED", ours)  # the run's patch
    seen = deps.untrack(key)
    assert ("DPUCluster", "team", "dpus", "6", 2) in seen
    assert deps.expected_after(cr, before, [_write(ours)], seen) is None  # run again
    assert deps.expected_after(cr, before, [_write(ours)], [c for c in seen if c[3] == "7"]) is not None
    assert deps.untrack(key) == []  # no longer recorded


def test_a_deletion_during_the_run_is_never_taken_for_our_write() -> None:
    deps, cr = _setup()
    before = deps.fingerprint(cr)
    config_map = _obj("ConfigMap", "bfcfg-dpus.cfg", "20", OWNER)
    deps.track([("team", "hcp")])
    deps.owned_configmaps._apply("ADDED", config_map)
    deps.owned_configmaps._apply("DELETED", config_map)
    seen = deps.untrack(("team", "hcp"))
    assert ("ConfigMap", "team", "bfcfg-dpus.cfg", None, None) in seen
    assert deps.expected_after(cr, before, [_write(config_map)], seen) is None


def test_hypershift_reporting_on_a_hosted_cluster_the_run_then_read_is_taken_in() -> None:
    """The run creates the HostedCluster (rv 10); HyperShift adds its finalizer (11) and status (12),
    same generation; the run's later reads all returned 12: no second run for that."""
    deps, cr = _setup()
    before = deps.fingerprint(cr)
    key = ("team", "hcp")
    created = _obj("HostedCluster", "hcp", "10", OWNER, generation=1)
    finalizer = _obj("HostedCluster", "hcp", "11", OWNER, generation=1)
    reported = _obj("HostedCluster", "hcp", "12", OWNER, generation=1)
    deps.track([key])
    for event, obj in (("ADDED", created), ("MODIFIED", finalizer), ("MODIFIED", reported)):
        deps.hosted_clusters._apply(event, obj)
    seen = deps.untrack(key)
    read_last = [_write(created), _write(reported, "read"), _write(reported, "read")]
    expected = deps.expected_after(cr, before, read_last, seen)
    assert expected is not None and expected[("HostedCluster", "team", "hcp")] == "12"
    assert deps.fingerprint(cr) == expected
    # a read of the version before the report (the ignition task, say): the run may have missed it
    assert deps.expected_after(cr, before, [_write(created), _write(finalizer, "read"), *read_last[1:]], seen) is None
    # no read after the report
    assert deps.expected_after(cr, before, [_write(created)], seen) is None
    # a spec change (new generation) is never taken in: our spec must be applied again
    edited = _obj("HostedCluster", "hcp", "13", OWNER, generation=2)
    deps.track([key])
    deps.hosted_clusters._apply("MODIFIED", edited)
    assert deps.expected_after(cr, before, [_write(created), _write(edited, "read")], deps.untrack(key)) is None


def _decided(entry: dict[str, Any], decided_on: list[str], fields: dict[str, str] | None = None) -> dict[str, Any]:
    return {**entry, "decided_on": decided_on, **({"fields": fields} if fields is not None else {})}


def test_an_early_read_whose_step_decided_on_a_field_the_last_version_has_the_same_is_taken_in() -> None:
    """As measured in a burst: the run creates the HostedCluster (914); HyperShift reports on it
    (1000, 1053, 1134, same generation); the ignition step read 1000 and decided on
    status.ignitionEndpoint alone, the later steps read 1134. The endpoint is the same in both:
    no second run. Another endpoint, or no read of 1134 to compare with: run again."""
    deps, cr = _setup()
    before = deps.fingerprint(cr)
    key = ("team", "hcp")
    created = _obj("HostedCluster", "hcp", "914", OWNER, generation=1)
    reports = [_obj("HostedCluster", "hcp", rv, OWNER, generation=1) for rv in ("1000", "1053", "1134")]
    deps.track([key])
    deps.hosted_clusters._apply("ADDED", created)
    for obj in reports:
        deps.hosted_clusters._apply("MODIFIED", obj)
    seen = deps.untrack(key)
    endpoint = {"status.ignitionEndpoint": "d1"}
    ignition = _decided(_write(reports[0], "read"), ["status.ignitionEndpoint"], endpoint)
    later = {**_write(reports[2], "read"), "fields": endpoint}
    expected = deps.expected_after(cr, before, [_write(created), ignition, later, later], seen)
    assert expected is not None and expected[("HostedCluster", "team", "hcp")] == "1134"
    moved = {**later, "fields": {"status.ignitionEndpoint": "d2"}}
    assert deps.expected_after(cr, before, [_write(created), ignition, moved], seen) is None
    assert deps.expected_after(cr, before, [_write(created), ignition], seen) is None  # nothing to compare with
    unmarked = {**_write(reports[0], "read"), "fields": endpoint}
    assert deps.expected_after(cr, before, [_write(created), unmarked, later], seen) is None
    # a field the step decided on that the later read did not record is not the same
    assert deps.expected_after(cr, before, [_write(created), ignition, _write(reports[2], "read")], seen) is None
    # the debug line of a confirming run shows the digests compared
    assert _seen_by_run(("HostedCluster", "team", "hcp"), [_write(created), ignition, moved]) == [
        "write 914 status.ignitionEndpoint#-",
        "read 1000* status.ignitionEndpoint#d1",
        "read 1134 status.ignitionEndpoint#d2",
    ]
    # nothing in it reads as a credential to the log redaction, which would cut the JSON line
    line = str(_seen_by_run(("HostedCluster", "team", "hcp"), [{**_write(created), "decided_on": list(FIELDS)}]))
    assert redact(line) == line


def test_a_version_read_before_the_runs_last_write_is_not_the_one_compared_with() -> None:
    """HyperShift reported (20) before the run's own write (21); the run's marked read after it
    returned 21. A change made before the run's write is judged by the reads before that write: the
    run that read 20 and wrote on it saw it; one that read only 19 did not, and the marked read of
    21 after the write does not stand in for it (its fields are compared with reads of a change
    made after the write only), so it confirms."""
    deps, cr = _setup()
    before = deps.fingerprint(cr)
    key = ("team", "hcp")
    reported = _obj("HostedCluster", "hcp", "20", OWNER, generation=1)
    written = _obj("HostedCluster", "hcp", "21", OWNER, generation=1)
    endpoint = {"status.ignitionEndpoint": "d1"}
    for read_before_write, taken_in in (("20", True), ("19", False)):
        deps.track([key])
        deps.hosted_clusters._apply("ADDED", reported)
        deps.hosted_clusters._apply("MODIFIED", written)
        seen = deps.untrack(key)
        journal = [
            _decided(
                {**_write(reported, "read"), "resourceVersion": read_before_write},
                ["status.ignitionEndpoint"],
                endpoint,
            ),
            {**_write(written), "fields": endpoint},
            _decided(_write(written, "read"), ["status.ignitionEndpoint"], endpoint),
        ]
        assert (deps.expected_after(cr, before, journal, seen) is not None) is taken_in, read_before_write


def test_a_secret_that_appeared_during_the_run_is_taken_in_only_when_every_read_saw_it() -> None:
    """HyperShift publishes the admin kubeconfig while the run is under way."""
    deps, cr = _setup()
    before = deps.fingerprint(cr)
    key = ("team", "hcp")
    kubeconfig = _obj("Secret", "hcp-admin-kubeconfig", "40")
    deps.track([key])
    deps.secrets._apply("ADDED", kubeconfig)
    seen = deps.untrack(key)
    read = _write(kubeconfig, "read")
    absent = {**read, "resourceVersion": None}
    assert deps.expected_after(cr, before, [read, read], seen) is not None
    assert deps.expected_after(cr, before, [absent, read], seen) is None  # one task found none
    assert deps.expected_after(cr, before, [], seen) is None  # never read


def test_a_token_secret_the_ignition_server_reported_on_is_taken_in_when_the_step_found_the_same_outcome() -> None:
    """The ignition step read the NodePool's token secret at 50 and fetched with its token; the
    ignition server then wrote reason and message (51). The step read it again and found the same
    token (journal.same_outcome): no run to confirm. Without that mark, or marked the same as a
    version that is not the last (a rotation came after: 52), the next run confirms."""
    deps, cr = _setup()
    token = _obj("Secret", "token-hcp-abc", "50", namespace="team-hcp")
    deps.secrets._apply("ADDED", token)
    before = deps.fingerprint(cr)
    assert before[("Secret", "team-hcp", "token-hcp-abc")] == "50"
    key = ("team", "hcp")
    deps.track([key])
    deps.secrets._apply("MODIFIED", _obj("Secret", "token-hcp-abc", "51", namespace="team-hcp"))
    seen = deps.untrack(key)
    first = _write(token, "read")
    again = {**first, "resourceVersion": "51"}
    marked = {**first, "same_as": "51"}
    expected = deps.expected_after(cr, before, [marked, again], seen)
    assert expected is not None and expected[("Secret", "team-hcp", "token-hcp-abc")] == "51"
    assert deps.expected_after(cr, before, [first, again], seen) is None  # not marked: confirm
    deps.track([key])
    deps.secrets._apply("MODIFIED", _obj("Secret", "token-hcp-abc", "51", namespace="team-hcp"))
    deps.secrets._apply("MODIFIED", _obj("Secret", "token-hcp-abc", "52", namespace="team-hcp"))
    seen = deps.untrack(key)
    assert deps.expected_after(cr, before, [marked, again], seen) is None  # 52 seen by no step
    # Found by listing (the NodePool named no current config yet): the list's item carries the mark.
    deps.track([key])
    deps.secrets._apply("MODIFIED", _obj("Secret", "token-hcp-abc", "53", namespace="team-hcp"))
    seen = deps.untrack(key)
    listed = {"op": "list", "kind": "Secret", "namespace": "team-hcp", "name": "", "selector": False}
    items = {"items": {"team-hcp/token-hcp-abc": "50"}}
    again = {**first, "resourceVersion": "53"}
    assert deps.expected_after(
        cr, before, [{**listed, **items, "same_as": {"team-hcp/token-hcp-abc": "53"}}, again], seen
    )
    assert deps.expected_after(cr, before, [{**listed, **items}, again], seen) is None


def test_a_list_shows_what_was_there_and_what_was_not() -> None:
    """The ignition task finds the NodePool's token by listing the control plane namespace."""
    deps, cr = _setup()
    before = deps.fingerprint(cr)
    key = ("team", "hcp")
    token = _obj("Secret", "token-hcp-1a2b3c", "50", namespace="team-hcp")
    deps.track([key])
    deps.secrets._apply("ADDED", token)
    seen = deps.untrack(key)

    def listing(items: dict[str, str], selector: bool = False) -> dict[str, Any]:
        return {
            "op": "list",
            "kind": "Secret",
            "namespace": "team-hcp",
            "name": "",
            "selector": selector,
            "items": items,
        }

    assert deps.expected_after(cr, before, [listing({"team-hcp/token-hcp-1a2b3c": "50"})], seen) is not None
    assert deps.expected_after(cr, before, [listing({}), listing({"team-hcp/token-hcp-1a2b3c": "50"})], seen) is None
    assert deps.expected_after(cr, before, [listing({}, selector=True)], seen) is None  # says nothing of it


def test_dpf_reporting_on_the_dpucluster_runs_nothing() -> None:
    """Only the DPUCluster's spec matters to a run: its status changes are neither changes
    between runs nor changes a run must have seen."""
    deps, cr = _setup()
    before = deps.fingerprint(cr)
    deps.dpuclusters._apply("MODIFIED", _obj("DPUCluster", "dpus", "4", generation=1))  # DPF's status
    assert deps.fingerprint(cr) == before
    key = ("team", "hcp")
    ours = _obj("DPUCluster", "dpus", "5", generation=2)
    deps.track([key])
    deps.dpuclusters._apply("MODIFIED", ours)
    deps.dpuclusters._apply("MODIFIED", _obj("DPUCluster", "dpus", "6", generation=2))  # DPF: Ready
    expected = deps.expected_after(cr, before, [_write(ours)], deps.untrack(key))
    assert expected is not None and deps.fingerprint(cr) == expected


def test_dpf_reporting_on_the_dpucluster_before_the_runs_write_is_taken_in_when_the_run_read_it() -> None:
    """DPF writes the DPUCluster's status (4, generation 1) while the run is under way and before the
    run writes its spec (5, generation 2). The watch delivers the object's versions in order, so a
    change seen before the echo of the run's last write was made before it, and is measured by the
    generation the run read before writing: a status change, taken in. A spec edit after the
    write's echo is run again (the next test: spec edits before the write)."""
    deps, cr = _setup()
    before = deps.fingerprint(cr)
    key = ("team", "hcp")
    dpf = _obj("DPUCluster", "dpus", "4", generation=1)
    ours = _obj("DPUCluster", "dpus", "5", generation=2)

    def run(reads: list[str], changes: list[dict[str, Any]]) -> dict[str, Any] | None:
        deps.track([key])
        for obj in changes:
            deps.dpuclusters._apply("MODIFIED", obj)
        journal = [{**_write(dpf, "read"), "resourceVersion": rv} for rv in reads] + [_write(ours)]
        return deps.expected_after(cr, before, journal, deps.untrack(key))

    assert run(["4", "4"], [dpf, ours]) == deps.fingerprint(cr)  # the world as the run left it: skipped
    assert run(["4", "4"], [dpf]) is not None  # our write's echo not delivered yet: DPF's came before it
    # DPF's write left the generation the run read: status, which concerns no run, read or not
    assert run(["3", "4"], [dpf, ours]) == deps.fingerprint(cr)
    assert run(["3"], [dpf, ours]) == deps.fingerprint(cr)
    spec_edit = _obj("DPUCluster", "dpus", "6", generation=3)  # someone's spec edit after our write
    assert run(["4"], [dpf, ours, spec_edit]) is None
    status = _obj("DPUCluster", "dpus", "7", generation=2)  # DPF reporting after our write: no concern
    assert run(["4"], [dpf, ours, status]) == deps.fingerprint(cr)


def test_what_a_run_wrote_on_is_judged_by_what_it_read_and_a_gap_in_the_watch_is_not_taken_in() -> None:
    """Changes of an object the run wrote, made before its write (review of the rule above): a
    spec edit the run read before writing is taken in; one made between its read and a write that
    left the generation alone is not (the generation the run read is the measure before its write,
    not the one it wrote); nor is anything when the write's echo never came but a later version
    did, or when an informer relisted during the run (a relist delivers the version now, not those
    in between)."""
    deps, cr = _setup()
    before = deps.fingerprint(cr)
    key = ("team", "hcp")

    def cluster(rv: str, generation: int) -> dict[str, Any]:
        return _obj("DPUCluster", "dpus", rv, generation=generation)

    def run(reads: list[dict[str, Any]], ours: dict[str, Any], changes: list[dict[str, Any]], relist: bool = False):
        deps.track([key])
        for obj in changes:
            deps.dpuclusters._apply("MODIFIED", obj)
        if relist:
            deps.dpuclusters.relists_begun += 1
            deps.dpuclusters.relists_done += 1
        journal = [_write(r, "read") for r in reads] + [_write(ours)]
        return deps.expected_after(cr, before, journal, deps.untrack(key))

    edit, ours = cluster("4", 2), cluster("5", 3)
    assert run([edit], ours, [edit, ours]) == deps.fingerprint(cr)  # read the edit, then wrote on it
    assert run([edit], ours, [edit, ours], relist=True) is None
    labels_only = cluster("5", 2)  # our write left the generation alone
    assert run([cluster("3", 1)], labels_only, [edit, labels_only]) is None  # the edit came after our read
    assert run([edit], labels_only, [edit, labels_only]) == deps.fingerprint(cr)
    later = cluster("6", 3)  # our write's echo never came; a later version did
    assert run([cluster("4", 2)], ours, [edit, later]) is None


OPERATOR_NS = "dpf-hcp-provisioner-system"


def _images(rv: str, data: dict[str, str]) -> dict[str, Any]:
    meta = {"name": "ocp-bluefield-images", "namespace": OPERATOR_NS, "resourceVersion": rv}
    return {"kind": "ConfigMap", "metadata": meta, "data": data}


def _on_release(cr: dict[str, Any], release: str) -> dict[str, Any]:
    return {**cr, "spec": {**cr["spec"], "ocpReleaseImage": release}}


def test_an_edit_of_the_image_map_concerns_only_the_provisioners_whose_release_it_maps() -> None:
    """Editing the entry of OCP 4.18 reruns nothing on 4.19; editing 4.19's entry does, once."""
    queued: list[tuple[str, str]] = []
    provisioners = Informer(None, PROVISIONER)  # type: ignore[arg-type]
    deps = ProvisionerDependencies(None, OPERATOR_NS, provisioners, queued.append)  # type: ignore[arg-type]
    _, base = _setup()
    cr = _on_release(base, "quay.io/openshift-release-dev/ocp-release:4.19.0-x86_64")
    provisioners._apply("ADDED", cr)
    deps.configmaps._apply("ADDED", _images("1", {"4.19.0": "r.io/bf:1", "4.18.0": "r.io/bf:0"}))
    queued.clear()
    before = deps.fingerprint(cr)
    deps.configmaps._apply("MODIFIED", _images("2", {"4.19.0": "r.io/bf:1", "4.18.0": "r.io/bf:9"}))
    assert queued == [] and deps.fingerprint(cr) == before
    deps.configmaps._apply("MODIFIED", _images("3", {"4.19.0": "r.io/bf:2", "4.18.0": "r.io/bf:9"}))
    assert queued == [("team", "hcp")] and deps.fingerprint(cr) != before


def test_an_unmapped_release_depends_on_which_versions_are_mapped() -> None:
    """Its condition lists the mapped versions, so adding any version is a change for it."""
    deps, cr = _setup()
    cr = _on_release(cr, "quay.io/openshift-release-dev/ocp-release:4.20.1-x86_64")
    deps.configmaps._apply("ADDED", _images("1", {"4.19.0": "r.io/bf:1"}))
    before = deps.fingerprint(cr)
    deps.configmaps._apply("MODIFIED", _images("2", {"4.19.0": "r.io/bf:5"}))
    assert deps.fingerprint(cr) == before  # the same versions: the same message
    deps.configmaps._apply("MODIFIED", _images("3", {"4.19.0": "r.io/bf:5", "4.18.0": "r.io/bf:0"}))
    assert deps.fingerprint(cr) != before


def test_a_map_edit_the_run_read_is_taken_in_and_one_it_did_not_is_not() -> None:
    deps, cr = _setup()
    cr = _on_release(cr, "quay.io/openshift-release-dev/ocp-release:4.19.0-x86_64")
    deps.provisioners._apply("MODIFIED", cr)
    deps.configmaps._apply("ADDED", _images("1", {"4.19.0": "r.io/bf:1"}))
    before = deps.fingerprint(cr)
    key = ("team", "hcp")
    deps.track([key])
    edited = _images("2", {"4.19.0": "r.io/bf:2"})
    deps.configmaps._apply("MODIFIED", edited)
    seen = deps.untrack(key)
    read = {**_write({**edited, "metadata": {**edited["metadata"], "labels": None}}), "op": "read"}
    expected = deps.expected_after(cr, before, [_write(_obj("HostedCluster", "hcp", "10", OWNER)), read], seen)
    deps.hosted_clusters._apply("ADDED", _obj("HostedCluster", "hcp", "10", OWNER))
    assert expected is not None and deps.fingerprint(cr) == expected
    stale = {**read, "resourceVersion": "1"}
    assert deps.expected_after(cr, before, [_write(_obj("HostedCluster", "hcp", "10", OWNER)), stale], seen) is None
