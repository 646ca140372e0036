"""Issue 19: what a provisioner's run reads is declared once (plugins/module_utils/provisioner/
reads.py) and the operator builds its informers from that declaration. The playbooks run here as
the operator runs them (ansible-runner, the objects inventory, the journal of each run), through
a provisioner's whole life on the real API server with the stand-ins: every kind a run's journal
holds must be declared, and every kind declared as followed by an informer must have one. A kind a
module starts to read without a declaration fails here, instead of being skipped as "unchanged"
until the next resync."""

from __future__ import annotations

import os
import time
from base64 import b64decode, b64encode
from pathlib import Path
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import NAMESPACE, SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import reads
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.bfcfg import _token_unchanged
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.ignition import (
    TOKEN_EXPIRATION_ANNOTATION,
    TOKEN_NODEPOOL_ANNOTATION,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    DPU,
    HOSTED_KUBECONFIG_FIELDS,
    IGNITION_ENDPOINT,
    PROVISIONER,
)
from dpf_hcp_operator.dependencies import Change, ProvisionerDependencies, _read_after_last_write
from dpf_hcp_operator.informers import Informer
from dpf_hcp_operator.runner import PlaybookRunner, default_collections_path
from dpf_hcp_operator.watches import load
from support import (
    REPO,
    bluefield_configmap,
    condition,
    dpu,
    namespace,
    provisioner_of_its_own_dpucluster,
    unique,
    wait_for,
)

FINALIZER = "provisioning.dpu.hcp.io/finalizer"


def runs_until(
    runner: PlaybookRunner, mgmt: KubeClient, ns: str, playbook: str, done: Any, journal: list | None = None
) -> set[str]:
    """Run ``playbook`` for the provisioner as the operator does until a run leaves ``done(cr,
    result)`` true, or the provisioner is gone; the kinds in the runs' journals (their entries are
    added to ``journal``, if given). (The session's
    operator may serve the same provisioner meanwhile: a run that loses a race to it still tells
    what it read.)"""
    watch = load(REPO / "watches.yaml")[0]
    kinds: set[str] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        cr = mgmt.get_or_none(PROVISIONER, "hcp", ns)
        if cr is None:
            return kinds
        result = runner.run(REPO / "playbooks" / playbook, [cr], watch.object_var, {}, snake=False)
        host = result.for_object(cr)
        kinds |= {entry["kind"] for entry in host.journal}
        if journal is not None:
            journal.extend(host.journal)
        after = mgmt.get_or_none(PROVISIONER, "hcp", ns)
        if after is None or (host.ok and done(after, host)):
            return kinds
        time.sleep(min(host.requeue_after or 0.5, 2.0))
    raise AssertionError(f"{playbook} did not get there in time")


def test_every_kind_a_run_reads_is_declared_and_each_followed_one_has_an_informer(
    env: Any, mgmt: KubeClient, standins: None, tmp_path: Path
) -> None:
    bluefield_configmap(mgmt)
    ns, dpu_ns = provisioner_of_its_own_dpucluster(mgmt)
    mgmt.create(DPU, dpu(dpu_ns, "dpu-0"))  # a DPU joining: bf.cfg, CSRs, nodes
    environ = {
        **os.environ,
        "K8S_AUTH_KUBECONFIG": str(env.management.kubeconfig_path()),
        "POD_NAMESPACE": "dpf-hcp-provisioner-system",
    }
    runner = PlaybookRunner(tmp_path / "work", default_collections_path(), environ, forks=1)

    def ready(cr: dict[str, Any], _host: Any) -> bool:
        c = condition(cr, "Ready")
        return bool(c and c["status"] == "True")

    def cleaned_up(_cr: dict[str, Any], host: Any) -> bool:
        return host.requeue_after is None  # the finalizer playbook asks for no other look

    mgmt.patch(PROVISIONER, "hcp", {"metadata": {"finalizers": [FINALIZER]}}, ns)
    journal: list[dict[str, Any]] = []
    kinds = runs_until(runner, mgmt, ns, "reconcile.yml", ready, journal)
    values = [  # the NodePool's tokens (encoded as stored), as the runs saw them
        s["data"]["token"]
        for s in mgmt.list(SECRET, f"{ns}-hcp")["items"]
        if s["metadata"]["name"].startswith("token-")
    ]
    mgmt.delete(PROVISIONER, "hcp", ns)
    kinds |= runs_until(runner, mgmt, ns, "finalize.yml", cleaned_up)
    if mgmt.get_or_none(PROVISIONER, "hcp", ns) is not None:
        mgmt.patch(PROVISIONER, "hcp", {"metadata": {"finalizers": None}}, ns)

    undeclared = kinds - reads.DECLARED_KINDS
    assert not undeclared, (
        f"a run read or wrote {sorted(undeclared)}, declared nowhere in provisioner/reads.py: declare how a "
        "change of it reaches the provisioner (an informer, the run's timer, the CSR watcher) or that it is only "
        "written"
    )
    assert {"Secret", "DPUCluster", "HostedCluster", "NodePool", "ConfigMap", "DPU"} <= kinds, kinds
    # What the steps decided on (k8s/journal.py): the ignition step the HostedCluster's ignition
    # endpoint, the kubeconfig's users where its API server is and which secret holds it; every read
    # of the HostedCluster records the digests of those fields.
    hosted = [e for e in journal if e["kind"] == "HostedCluster" and e.get("resourceVersion")]
    assert hosted and all(set(e["fields"]) == {IGNITION_ENDPOINT, *HOSTED_KUBECONFIG_FIELDS} for e in hosted)
    decided = [e["decided_on"] for e in hosted if "decided_on" in e]
    assert [IGNITION_ENDPOINT] in decided and list(HOSTED_KUBECONFIG_FIELDS) in decided, decided
    assert not any("fields" in e for e in journal if e["kind"] == "Secret")  # no digest of a secret's data
    # Nothing of the NodePool's token in the journal (the ignition step compares it in memory).
    assert values and not any(v in str(journal) or b64decode(v).decode() in str(journal) for v in values)

    provisioners = Informer(mgmt, PROVISIONER)
    dependencies = ProvisionerDependencies(mgmt, "dpf-hcp-provisioner-system", provisioners, lambda _key: None)
    followed = {r.resource.kind for r in reads.FOLLOWED_BY_INFORMER}
    with_informer = {i.res.kind for i in dependencies.informers} | {provisioners.res.kind}
    assert followed == with_informer
    assert len(dependencies.informers) == len(reads.FOLLOWED_BY_INFORMER) - 1  # the provisioners' is the controller's
    # What was read and is followed by an informer is followed in the namespaces declared for it.
    for r in reads.FOLLOWED_BY_INFORMER:
        if r.name != "provisioners":
            informer = dependencies.by_name[r.name]
            assert informer.metadata_only == r.metadata_only and bool(informer.label_selector) == r.owned, r.name
    wait_for("the provisioner gone", lambda: mgmt.get_or_none(PROVISIONER, "hcp", ns) is None, timeout=30)


def test_a_token_secret_read_again_is_the_same_for_the_ignition_step_only_with_the_same_data(
    mgmt: KubeClient,
) -> None:
    """bfcfg._token_unchanged marks the ignition step's read of the NodePool's token secret as good
    as a later version only when that version is still the NodePool's token (its annotation, not
    being retired) with the same data but the ignition server's reason and message, and the
    operator then takes the later version as seen by the run (no confirming run). A rotation, an
    edit of the token, old_token, the release or a hash, a retirement, or a secret deleted and made
    again under the name is a change the next run must see. A token changed and changed back is the
    same payload. Nothing of the token is written."""
    ns = namespace(mgmt, unique("same-token"))
    provisioner = {"metadata": {"name": "hcp", "namespace": ns}}
    control_plane = namespace(mgmt, f"{ns}-hcp")
    annotations = {TOKEN_NODEPOOL_ANNOTATION: f"{ns}/hcp"}
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "token-hcp-abc", "namespace": control_plane, "annotations": annotations},
        "stringData": {"token": "t1", "release": "r1"},
    }
    reason = {"stringData": {"reason": "AsExpected", "message": "Payload generated successfully"}}
    edits: list[tuple[str, list[dict[str, Any]], bool]] = [
        ("reason", [reason], True),
        ("changed back", [{"stringData": {"token": "t2"}}, {"stringData": {"token": "t1"}}], True),
        ("rotation", [{"stringData": {"token": "t2", "old_token": "t1"}}], False),
        ("old_token", [{"stringData": {"old_token": "t0"}}], False),
        ("release", [{"stringData": {"release": "r2"}}], False),
        ("a hash", [{"stringData": {"cloud-config-hash": "h2"}}], False),
        ("retired", [{"metadata": {"annotations": {TOKEN_EXPIRATION_ANNOTATION: "2030-01-01T00:00:00Z"}}}], False),
        ("nodepool", [{"metadata": {"annotations": {TOKEN_NODEPOOL_ANNOTATION: f"{ns}/other"}}}], False),
        ("made again", [], False),
    ]
    try:
        for what, patches, same in edits:
            if mgmt.get_or_none(SECRET, "token-hcp-abc", control_plane) is not None:
                mgmt.delete(SECRET, "token-hcp-abc", control_plane)
            mgmt.create(SECRET, body)
            KubeClient.journal = []
            try:
                used = mgmt.get(SECRET, "token-hcp-abc", control_plane)
                if what == "made again":
                    mgmt.delete(SECRET, "token-hcp-abc", control_plane)
                    mgmt.create(SECRET, body)
                for patch in patches:
                    mgmt.patch(SECRET, "token-hcp-abc", patch, control_plane)
                _token_unchanged(mgmt, provisioner, used)
                first, again = (e for e in KubeClient.journal if e["kind"] == "Secret" and e["op"] == "read")
            finally:
                KubeClient.journal = None
            assert first["resourceVersion"] != again["resourceVersion"], what
            assert (first.get("same_as") == again["resourceVersion"]) is same, what
            assert "t1" not in str([first, again]) and b64encode(b"t1").decode() not in str([first, again])
            # What the operator makes of it: the last version seen, or a confirming run.
            change = Change("Secret", control_plane, "token-hcp-abc", again["resourceVersion"], None)
            assert _read_after_last_write(change.object, [change], [first, again]) is same, what
        # Found by listing (the NodePool names no current config yet): the list's item is marked.
        mgmt.delete(SECRET, "token-hcp-abc", control_plane)
        mgmt.create(SECRET, body)
        KubeClient.journal = []
        try:
            listed = mgmt.list(SECRET, control_plane)
            (used,) = [i for i in listed["items"] if i["metadata"]["name"] == "token-hcp-abc"]
            mgmt.patch(SECRET, "token-hcp-abc", reason, control_plane)
            _token_unchanged(mgmt, provisioner, used)
            listing, again = (e for e in KubeClient.journal if e["kind"] == "Secret" and e["op"] != "write")
        finally:
            KubeClient.journal = None
        assert listing["same_as"] == {f"{control_plane}/token-hcp-abc": again["resourceVersion"]}
        change = Change("Secret", control_plane, "token-hcp-abc", again["resourceVersion"], None)
        assert _read_after_last_write(change.object, [change], [listing, again])
    finally:
        mgmt.delete(NAMESPACE, control_plane)
        mgmt.delete(NAMESPACE, ns)
