"""Issue 9, item 5: hostile or broken input the API server accepts, in the secrets, the
DPUCluster, the ocp-bluefield-images ConfigMap and the HostedCluster's status (wrong keys, wrong
content, missing fields, garbage, values near the 1 MiB object limit). Each gets a condition that
names the field and the fix without quoting a secret; the operator does not crash; nothing is
retried in a storm (invalid input waits for a change; a failing run backs off, as the metrics show);
and once the input is mended the provisioner goes Ready."""

from __future__ import annotations

import base64
import json
import time

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import CONFIGMAP, CSR, EVENT, SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.csr.policy import (
    CLIENT_SIGNER,
    PENDING_MARGIN,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    DPU_CLUSTER,
    HOSTED_CLUSTER,
    PROVISIONER,
)
from dpf_hcp_dev.certificates import request_pem
from dpf_hcp_dev.localcluster.environment import OPERATOR_NAMESPACE
from fault_harness import Replica, Tenant, healthy, samples
from support import (
    BLUEFIELD_IMAGES,
    PULL_SECRET_VALUE,
    SSH_KEY_VALUE,
    bluefield_configmap,
    condition,
    dpucluster,
    management_node,
    namespace,
    provisioner_body,
    run_playbook,
    secrets,
    standin_settings,
    unique,
    wait_condition,
    wait_for,
    wait_idle,
)

HUGE = 700_000  # characters: a Secret or ConfigMap must stay under 1 MiB in all
PLANTED = "planted-secret-value-"  # every hostile secret carries it: no condition may quote it
QUIET = 15.0  # seconds of watching the operator once every condition is there
MESSAGE_LIMIT = 2_000


def mend_secrets(client, t: Tenant) -> None:
    for name, data in (
        ("pull-secret", {".dockerconfigjson": PULL_SECRET_VALUE}),
        ("ssh-key", {"id_rsa.pub": SSH_KEY_VALUE}),
    ):
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        client.replace(SECRET, {**client.get(SECRET, name, t.ns), "data": encoded})


CASES = {  # name -> (input, the condition it must get: type, status, reason, words in its message)
    "pull secret not JSON": (
        {"pull": {".dockerconfigjson": f"{PLANTED}{{{{{{".encode()}},
        ("SecretsValid", "False", "PullSecretInvalid", ["spec.pullSecretRef.name", "is not JSON"]),
    ),
    "pull secret huge": (
        {"pull": {".dockerconfigjson": (PLANTED + "A" * HUGE).encode()}},
        ("SecretsValid", "False", "PullSecretInvalid", ["spec.pullSecretRef.name", ".dockerconfigjson"]),
    ),
    "pull secret not text": (
        {"pull": {".dockerconfigjson": b"\xff\xfe\x00" + PLANTED.encode()}},
        ("SecretsValid", "False", "PullSecretInvalid", ["not base64-encoded UTF-8"]),
    ),
    "pull secret without auths": (
        {"pull": {".dockerconfigjson": json.dumps({"registry": PLANTED}).encode()}},
        ("SecretsValid", "False", "PullSecretInvalid", ['no "auths" object']),
    ),
    "pull secret under another key": (
        {"pull": {"config.json": PULL_SECRET_VALUE.encode()}},
        ("SecretsValid", "False", "PullSecretKeyMissing", ["has no key '.dockerconfigjson'", "config.json"]),
    ),
    "SSH key garbage": (
        {"ssh": {"id_rsa.pub": (PLANTED + " not a key\n").encode()}},
        ("SecretsValid", "False", "SSHKeySecretInvalid", ["spec.sshKeySecretRef.name", "not an OpenSSH public key"]),
    ),
    "DPUCluster without spec": (
        {"dpu_body": {}},
        ("ClusterTypeValid", "False", "UnsupportedClusterType", ["spec.type is None"]),
    ),
    "DPUCluster kamaji with a huge name": (
        {"dpu_body": {"spec": {"type": "kamaji", "clusterEndpoint": {"junk": ["x" * HUGE, {"n": [1, 2, 3]}]}}}},
        ("ClusterTypeValid", "False", "UnsupportedClusterType", ["'kamaji'"]),
    ),
}


def assert_clear(obj, expected, label) -> None:
    type_, status, reason, words = expected
    c = condition(obj, type_)
    assert c is not None and (c["status"], c["reason"]) == (status, reason), (label, c)
    for w in words:
        assert w in c["message"], (label, w, c["message"])
    text = json.dumps(obj["status"])
    assert PLANTED not in text, f"{label}: a secret's content reached the status"
    assert all(len(x.get("message") or "") <= MESSAGE_LIMIT for x in obj["status"]["conditions"]), label
    assert obj["status"]["phase"] == "Failed", (label, obj["status"]["phase"])


def mirrored_degraded_unknown(t: Tenant):
    obj = t.get()
    c = condition(obj, "HostedClusterDegraded")
    return obj if c and c["status"] == "Unknown" else None


def _injected_says(t: Tenant, words: str):
    obj = t.get()
    c = condition(obj, "KubeConfigInjected")
    return obj if c and c["reason"] == "KubeconfigSecretInvalid" and words in c["message"] else None


def quiet_window(replica: Replica) -> dict[str, float]:
    """What the operator did in QUIET seconds with nothing changing (once the runs the input's
    arrival started are over): runs, retries."""
    assert replica.started is not None
    wait_idle(replica.started.metrics_port)
    runs, retries = (replica.metric("dpfhcp_ansible_runs_total"), replica.metric("dpfhcp_retries_total"))
    time.sleep(QUIET)
    assert replica.process.poll() is None and healthy(replica), "the operator died"
    return {
        "runs": replica.metric("dpfhcp_ansible_runs_total") - runs,
        "retries": replica.metric("dpfhcp_retries_total") - retries,
    }


def test_broken_secrets_and_dpuclusters_get_clear_conditions_and_no_retry_storm(fault_env, tmp_path):
    client = fault_env.client()
    replica = Replica(fault_env, tmp_path / "operator").start()
    try:
        tenants = {label: Tenant.create(client, **case[0]) for label, case in CASES.items()}
        for label, (_given, expected) in CASES.items():
            obj = wait_condition(client, tenants[label].ns, "hcp", expected[0], expected[1], expected[2])
            assert_clear(obj, expected, label)
        activity = quiet_window(replica)
        print(f"{len(CASES)} broken provisioners, {QUIET}s with nothing changing: {activity}")
        assert activity == {"runs": 0, "retries": 0}, activity  # invalid input waits for a change
        log = replica.log.read_text(errors="replace")
        assert PLANTED not in log

        # Mended, each goes Ready: nothing was lost while it was broken.
        for label, t in tenants.items():
            given = CASES[label][0]
            if "pull" in given or "ssh" in given:
                mend_secrets(client, t)
            else:
                dpu = client.get(DPU_CLUSTER, "dpucluster", t.dpu_ns)
                client.replace(DPU_CLUSTER, {**dpu, "spec": {"type": "static", "maxNodes": 10}})
        for t in tenants.values():
            t.assert_converged()
    finally:
        replica.close()


def test_garbage_bluefield_configmap_and_hosted_cluster_status(fault_env, tmp_path):
    client = fault_env.client()
    replica = Replica(fault_env, tmp_path / "operator").start()
    try:
        ready = Tenant.create(client)
        ready.assert_converged()

        # HyperShift reports garbage: conditions without reasons, duplicated, of unknown types,
        # a message near the size limit, a kubeconfig secret that does not exist, an empty history.
        standin_settings(client, **{f"{ready.ns}.hcp.statusFrozen": "true"})
        hc = client.get(HOSTED_CLUSTER, "hcp", ready.ns)
        garbage = {
            "conditions": [
                {"type": "Available", "status": "True"},
                {"type": "Available", "status": "False", "message": "duplicated"},
                {"type": "Degraded", "status": "Unknown", "reason": "Garbage", "message": "m" * HUGE},
                {"type": " ", "status": "True"},
                {"type": "NoSuchCondition" * 50, "status": "False"},
            ],
            "kubeconfig": {"name": "no-such-secret"},
            "version": {"history": [{"state": "Partial", "image": "%%% not an image"}]},
        }
        client.replace(HOSTED_CLUSTER, {**hc, "status": garbage}, subresource="status")
        obj = wait_for(
            "the garbage mirrored",
            lambda: (
                (o := ready.get()) and (c := condition(o, "HostedClusterDegraded")) and c["status"] == "Unknown" and o
            ),
            timeout=30,
        )
        assert replica.process.poll() is None
        assert all(len(c.get("message") or "") <= MESSAGE_LIMIT for c in obj["status"]["conditions"])
        assert len(json.dumps(obj["status"])) < 50_000
        activity = quiet_window(replica)
        print(f"garbage HostedCluster status, {QUIET}s: {activity}")
        assert activity["runs"] <= 1 and activity["retries"] == 0, activity
        standin_settings(client, **{f"{ready.ns}.hcp.statusFrozen": ""})
        ready.assert_converged()

        # The ConfigMap maps the release to garbage and carries a huge junk key.
        version = next(iter(BLUEFIELD_IMAGES))
        cm = client.get(CONFIGMAP, "ocp-bluefield-images", OPERATOR_NAMESPACE)
        junk = {version: "!! not an image " * 100, "junk": "z" * HUGE}
        client.replace(CONFIGMAP, {**cm, "data": junk})
        fresh = Tenant.create(client)
        obj = wait_condition(client, fresh.ns, "hcp", "BlueFieldImageResolved", "False", "InvalidImageMapping")
        message = condition(obj, "BlueFieldImageResolved")["message"]
        assert "not an image reference" in message and len(message) <= MESSAGE_LIMIT, message
        # Deleted outright: a condition that says how to create it.
        client.delete(CONFIGMAP, "ocp-bluefield-images", OPERATOR_NAMESPACE)
        obj = wait_condition(client, fresh.ns, "hcp", "BlueFieldImageResolved", "False", "ConfigMapNotFound")
        activity = quiet_window(replica)
        print(f"garbage then missing ConfigMap, {QUIET}s: {activity}")
        assert activity == {"runs": 0, "retries": 0}, activity
        bluefield_configmap(client)
        fresh.assert_converged()
        ready.assert_converged()
        assert replica.starts == 1 and replica.process.poll() is None
        print("watch errors:", samples(replica, "dpfhcp_watch_errors_total"))
    finally:
        standin_settings(client, **{f"{ready.ns}.hcp.statusFrozen": ""})
        replica.close()


def test_garbage_hosted_kubeconfig_is_reported_and_not_handed_to_dpf(fault_env, tmp_path):
    """HyperShift's published admin kubeconfig turns to garbage: the conditions say so, DPF keeps
    the last good copy, the CSR watch is not left running on garbage, nothing crashes or storms;
    mended, the provisioner is Ready again."""
    client = fault_env.client()
    replica = Replica(fault_env, tmp_path / "operator").start()
    tenant = Tenant.create(client)
    try:
        tenant.assert_converged()
        good = client.get(SECRET, "hcp-admin-kubeconfig", tenant.ns)
        given = client.get(SECRET, "dpucluster-admin-kubeconfig", tenant.dpu_ns)["data"]
        standin_settings(client, **{f"{tenant.ns}.hcp.statusFrozen": "true"})

        def watched() -> float:  # hosted clusters whose CSRs the operator watches (earlier tests' too)
            return replica.metric("dpfhcp_csr_hosted_clusters_watched")

        assert replica.started is not None
        wait_idle(replica.started.metrics_port)  # every provisioner's CSR watch is settled
        before = watched()
        assert before >= 1
        for words, garbage in {
            "kubeconfig is not YAML": b"{{{ not yaml",
            "exactly one entry in clusters": b"kind: Config\nclusters: 42\ncurrent-context: x\ncontexts: [{name: x}]\n",
            "not base64-encoded UTF-8 text": b"\xff\xfe" + b"x" * HUGE,
        }.items():
            garbled = {"data": {"kubeconfig": base64.b64encode(garbage).decode()}}
            client.patch(SECRET, "hcp-admin-kubeconfig", garbled, tenant.ns)
            obj = wait_for(f"KubeConfigInjected saying {words}", lambda w=words: _injected_says(tenant, w), timeout=30)
            injected = condition(obj, "KubeConfigInjected")["message"]
            assert "not a usable kubeconfig" in injected and len(injected) <= MESSAGE_LIMIT, (words, injected)
            obj = wait_condition(client, tenant.ns, "hcp", "CSRAutoApprovalActive", "False", "KubeconfigSecretInvalid")
            assert obj["status"]["phase"] != "Ready", words
            assert client.get(SECRET, "dpucluster-admin-kubeconfig", tenant.dpu_ns)["data"] == given, words
            wait_for("no CSR watch on garbage", lambda: watched() == before - 1, 10)
            print(f"garbage kubeconfig: {injected[:200]}")
        activity = quiet_window(replica)
        print(f"garbage hosted kubeconfig, {QUIET}s: {activity}")
        assert activity == {"runs": 0, "retries": 0}, activity
        client.patch(SECRET, "hcp-admin-kubeconfig", {"data": good["data"]}, tenant.ns)
        tenant.assert_converged()
        wait_for("the CSR watch back", lambda: watched() == before, 10)
        assert replica.starts == 1 and replica.process.poll() is None
    finally:
        standin_settings(client, **{f"{tenant.ns}.hcp.statusFrozen": ""})
        replica.close()


def test_a_run_that_keeps_failing_backs_off_visibly_in_the_metrics(fault_env, tmp_path):
    """A SingleReplica control plane is published on a management Node's address; with no Ready
    Node there is none, and every run fails. The retries back off (0.5 s doubling) as the metrics
    show: the delays double from 0.5 s, so five retries take at least 7.5 s. A Node registers:
    Ready."""
    client = fault_env.client()
    replica = Replica(fault_env, tmp_path / "operator").start()
    try:
        # The module's earlier provisioners are reconciled first by this new replica: the retries
        # measured are this provisioner's alone.
        wait_idle(replica.started.metrics_port, timeout=300)
        body_spec = {"controlPlaneAvailabilityPolicy": "SingleReplica"}
        ns, dpu_ns = namespace(client, unique("tenant")), namespace(client, unique("dpus"))
        secrets(client, ns)
        dpucluster(client, dpu_ns, "dpucluster")
        body = provisioner_body(ns, "hcp", dpu_ns, "dpucluster", **body_spec)
        del body["spec"]["virtualIP"]
        client.create(PROVISIONER, body)
        tenant = Tenant(client, ns, dpu_ns)
        wait_for("a failed run", lambda: replica.metric("dpfhcp_retries_total") >= 1, timeout=60, interval=0.02)
        first = time.monotonic()
        wait_for("five retries", lambda: replica.metric("dpfhcp_retries_total") >= 5, timeout=120, interval=0.02)
        elapsed = time.monotonic() - first
        buckets = samples(replica, "dpfhcp_retry_backoff_seconds_bucket")
        total = sum(v for k, v in buckets.items() if 'le="+Inf"' in k)
        within_2s = sum(v for k, v in buckets.items() if 'le="2.0"' in k)
        print(f"retries 1 to 5 of a failing run took {elapsed:.1f}s; backoff buckets {buckets}")
        assert elapsed >= 0.5 + 1 + 2 + 4, elapsed  # the delays of retries 1-4 at least: no storm
        assert within_2s == 3 and total == 5, buckets  # 0.5, 1, 2, then 4 and 8: the delays grew
        failed = [x for x in replica.lines() if x.get("msg") == "reconciled" and x.get("namespace") == ns]
        assert failed and all(x["result"] == "failed" for x in failed), failed
        assert "node" in failed[-1]["detail"].lower(), failed[-1]["detail"]
        with management_node(client, "10.9.8.7"):
            tenant.assert_converged(timeout=90, metallb=False)
    finally:
        replica.close()


def event_posts(client) -> float:
    """Event creations the management API server has answered (apiserver_request_total, any code)."""
    total = 0.0
    for line in client.text("/metrics").splitlines():
        if line.startswith("apiserver_request_total{") and 'resource="events"' in line and 'verb="POST"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_a_run_tells_a_new_forgery_and_not_every_old_csr_on_every_pass(fault_env, tmp_path):
    """Attacker: a tenant (or a pod with a bootstrap token) keeps hundreds of CSRs pending in its
    hosted cluster until they are old, which the flood guard does not count (cluster-machine-approver
    counts recent ones only), then sends a forgery. An Ansible pass keeps no memory between runs,
    and told each refusal by an Event on every pass: one request to the management API server per
    CSR, per run. Now a pass tells the newest DPUs + 100 (the forgery first); the next pass, with
    nothing new, asks no more than that. The role runs as the operator runs it (the objects
    inventory); its CSRs turn old after 2 s here (csr_approval_max_age_seconds)."""
    client, hosted = fault_env.client(), fault_env.client("hosted")
    replica = Replica(fault_env, tmp_path / "operator").start()
    try:
        tenant = Tenant.create(client)
        tenant.assert_converged()
    finally:
        replica.close()  # from here, only the role's passes tell
    tag, junk = unique("junk"), 300
    request = request_pem("system:node:junk", ["system:nodes"])

    def csr(name: str, cn_request: str) -> dict:
        return {
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "CertificateSigningRequest",
            "metadata": {"name": name},
            "spec": {
                "signerName": CLIENT_SIGNER,
                "request": cn_request,
                "usages": ["digital signature", "client auth"],
            },
        }

    names = [f"{tag}-{i}" for i in range(junk)]
    try:
        for name in names:
            hosted.create(CSR, csr(name, request))
        time.sleep(3)  # over the 2 s: old
        forged = f"{tag}-forged"
        hosted.create(CSR, csr(forged, request_pem("system:node:evil", ["system:masters"])))
        playbook = tmp_path / "approve.yml"
        playbook.write_text(APPROVE_ONLY)
        kubeconfig = fault_env.management.kubeconfig_path("admin")
        provisioner = tenant.get()
        before = event_posts(client)
        first = run_playbook(str(playbook), [provisioner], kubeconfig, tmp_path)
        assert first.returncode == 0, first.stdout[-3000:]
        during_first = event_posts(client) - before
        told = [e for e in client.list(EVENT, tenant.ns).get("items") or [] if tag in e.get("message", "")]
        assert any(forged in e["message"] and e["reason"] == "CSRNotApproved" for e in told), told
        assert len(told) <= 1 + PENDING_MARGIN + 1, len(told)  # DPUs (one) + 100, where it was 301
        before = event_posts(client)
        again = run_playbook(str(playbook), [provisioner], kubeconfig, tmp_path)
        assert again.returncode == 0, again.stdout[-3000:]
        during_again = event_posts(client) - before
        print(f"Event POSTs: {during_first:.0f} in the first pass, {during_again:.0f} in the next; {len(told)} told")
        assert during_again <= 1 + PENDING_MARGIN + 1 + 5, during_again  # a few for other Events of the run
    finally:
        for name in [*names, f"{tag}-forged"]:
            hosted.delete(CSR, name)


APPROVE_ONLY = """
- name: The operator's CSR step alone
  hosts: all
  connection: local
  gather_facts: false
  vars:
    dpfhcp_provisioner: "{{ _provisioning_dpu_hcp_io_dpfhcpprovisioner }}"
    csr_approval_max_age_seconds: 2
  tasks:
    - name: Approve the CSRs of joining DPUs
      ansible.builtin.import_role:
        name: dpf_hcp.provisioner.csr_approval
"""
