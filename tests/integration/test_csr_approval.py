"""DPUs join the hosted cluster by CSR: theirs are approved within moments, forgeries never.

Everything here goes through the real hosted kube-apiserver: the stand-in kubelet asks as the
node-bootstrapper and then as the node (token users), its controller-manager signs what is
approved, and the forged requests come from real identities too.
"""

from __future__ import annotations

import base64

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import (
    ApiError,
    KubeClient,
    credentials_from_kubeconfig_text,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import (
    CLUSTER_ROLE,
    CLUSTER_ROLE_BINDING,
    CSR,
    EVENT,
    NODE,
    SECRET,
    SERVICE_ACCOUNT,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import hosted_kubeconfig
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.csr import approver, identity, policy
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.csr.policy import (
    BOOTSTRAPPER,
    BOOTSTRAPPER_GROUPS,
    CLIENT_SIGNER,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    DPU,
    HOSTED_CLUSTER,
    LABEL_NAME,
    LABEL_NAMESPACE,
    PROVISIONER,
)
from dpf_hcp_dev.certificates import client_certificate, csr_object, request_pem
from dpf_hcp_operator.csr_watcher import HostedWatch
from dpf_hcp_operator.informers import Informer
from support import (
    dpu,
    held_dpu,
    kubelet_csr,
    provisioner_of_its_own_dpucluster,
    unique,
    wait_condition,
    wait_for,
)

CLIENT = ["digital signature", "key encipherment", "client auth"]


def provisioner(mgmt) -> tuple[str, str]:
    return provisioner_of_its_own_dpucluster(mgmt)


def approved(csr):
    return any(c.get("type") == "Approved" for c in (csr.get("status") or {}).get("conditions") or [])


def test_joining_dpus_are_approved_and_others_stay_pending(env, mgmt, operator):
    """The stand-in DPUs join as DPF and a kubelet do: bootstrap, Node, serving certificate once DPF
    has recorded the DPU's addresses (phase Ready). Forged requests: test_csr_forgeries.py."""
    hosted = env.client("hosted")
    ns, dpu_ns = provisioner(mgmt)
    wait_condition(mgmt, ns, "hcp", "KubeConfigInjected", "True")

    legit = ["dpu-node-10", "dpu-node-11", "dpu-node-12"]
    names: dict[str, tuple[str, str]] = {}  # DPU -> its client and serving CSRs
    for name in legit:
        mgmt.create(DPU, dpu(dpu_ns, name))
    held_dpu(mgmt, dpu_ns, "dpu-node-13", "OS Installing")  # not joining yet
    held_dpu(mgmt, dpu_ns, "dpu-node-15", "DPU Cluster Config")  # joining, but its kubelet is silent

    for name in legit:
        wait_for(
            f"DPU {name} Ready",
            lambda n=name: (mgmt.get(DPU, n, dpu_ns).get("status") or {}).get("phase") == "Ready",
            timeout=90,
        )
        client_csr = kubelet_csr(hosted, name)
        assert client_csr is not None and client_csr["metadata"]["name"].startswith("csr-")  # as a kubelet names it
        assert approved(client_csr)
        assert client_csr["status"].get("certificate")  # signed by the controller-manager
        assert hosted.get_or_none(NODE, name) is not None
        wait_for(
            f"{name}'s serving CSR approved",
            lambda n=name: approved(kubelet_csr(hosted, n, serving=True) or {}),
            timeout=10,
        )
        names[name] = (client_csr["metadata"]["name"], kubelet_csr(hosted, name, serving=True)["metadata"]["name"])
    events = [e for e in mgmt.list(EVENT, ns).get("items") or [] if str(e.get("reason")).startswith("CSR")]
    stamps = {e["message"].split()[1]: e["message"] for e in events if e.get("reason") == "CSRApproved"}
    for name in legit:  # each approval is told on the provisioner, naming the CSR, the DPU and the rule
        assert f"(DPU {name}, rule DPUJoining) approved" in stamps[names[name][0]], stamps
        assert f"(DPU {name}, rule DPUServing) approved" in stamps[names[name][1]], stamps
    # A clean join warns of nothing: a serving CSR asked before DPF recorded the DPU's addresses
    # (DPF writes them in phase Ready) waits, told at most as a Normal CSRPending. The Events
    # recorder is one FIFO thread, so an earlier Event of these CSRs is written before the approval.
    ours = [e for e in events if e["message"].split()[1] in {csr for pair in names.values() for csr in pair}]
    assert [e["message"] for e in ours if e["type"] != "Normal"] == [], ours
    waits = [e["message"] for e in ours if e.get("reason") == "CSRPending"]
    assert all("rule DPUAddressesNotRecorded) waits" in m or "rule NodeNotFound) waits" in m for m in waits), waits


def test_approval_resumes_after_the_hosted_api_server_restarts(env, mgmt, operator):
    ns, dpu_ns = provisioner(mgmt)
    obj = wait_condition(mgmt, ns, "hcp", "CSRAutoApprovalActive", "True")
    message = next(c["message"] for c in obj["status"]["conditions"] if c["type"] == "CSRAutoApprovalActive")
    assert f"{dpu_ns}/dpucluster" in message

    env.hosted.restart("kube-apiserver", down_seconds=2)  # the operator's watches break and must come back
    mgmt.create(DPU, dpu(dpu_ns, "dpu-node-16"))
    wait_for(
        "DPU dpu-node-16 Ready after the restart",
        lambda: (mgmt.get(DPU, "dpu-node-16", dpu_ns).get("status") or {}).get("phase") == "Ready",
        timeout=90,
    )
    hosted = env.client("hosted")
    assert approved(kubelet_csr(hosted, "dpu-node-16") or {})
    wait_for(
        "dpu-node-16's serving CSR approved",
        lambda: approved(kubelet_csr(hosted, "dpu-node-16", serving=True) or {}),
        timeout=10,
    )


def test_approvals_run_under_an_identity_that_can_approve_kubelet_signers_only(env, mgmt, operator):
    """Issue 15, item 6 (hosted clusters): the operator creates, with the admin kubeconfig, a
    ServiceAccount whose ClusterRole can list and watch CSRs and Nodes and approve the two kubelet
    signers. Under its short-lived token a kubelet CSR is approved; a CSR for another signer is
    not, and no Secret can be read."""
    ns, _ = provisioner(mgmt)
    wait_condition(mgmt, ns, "hcp", "CSRAutoApprovalActive", "True")

    hosted = env.client("hosted")
    role = hosted.get(CLUSTER_ROLE, identity.NAME)
    assert role["rules"] == identity.RULES
    assert role["metadata"]["labels"] == identity.LABELS
    binding = hosted.get(CLUSTER_ROLE_BINDING, identity.NAME)
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": identity.NAME, "namespace": "kube-system"}]
    assert hosted.get(SERVICE_ACCOUNT, identity.NAME, identity.NAMESPACE)

    admin = KubeClient(credentials_from_kubeconfig_text(env.hosted.kubeconfig_path("system:admin").read_text()))
    approver_identity = identity.ApproverIdentity(admin, lifetime=600)
    assert not approver_identity.ensure()  # the operator made them exactly so
    approver = approver_identity.client()
    assert approver.credentials is not None
    assert approver.credentials.token is None and approver.credentials.cert_pem is None  # the token only

    bootstrapper = KubeClient.from_kubeconfig(str(env.hosted.kubeconfig_path(BOOTSTRAPPER)))
    tag = unique("identity")

    def ask(name: str, signer: str, usages: list[str]) -> dict:  # type: ignore[type-arg]
        body = csr_object(f"{tag}-{name}", signer, request_pem("system:node:dpu-node-59", ["system:nodes"]), usages)
        return bootstrapper.create(CSR, body)

    def approve(csr: dict) -> None:  # type: ignore[type-arg]
        condition = {"type": "Approved", "status": "True", "reason": "Test", "message": "identity test"}
        approver.replace(CSR, {**csr, "status": {"conditions": [condition]}}, subresource="approval")

    kubelet = ask("kubelet", CLIENT_SIGNER, CLIENT)
    assert any(c["metadata"]["name"] == kubelet["metadata"]["name"] for c in approver.list(CSR)["items"])
    approve(kubelet)
    assert approved(hosted.get(CSR, kubelet["metadata"]["name"]))

    other = ask("other-signer", "kubernetes.io/kube-apiserver-client", ["digital signature", "client auth"])
    with pytest.raises(ApiError) as denied:
        approve(other)
    assert denied.value.status == 403, denied.value
    assert not approved(hosted.get(CSR, other["metadata"]["name"]))
    for forbidden in (
        lambda: approver.list(SECRET, "kube-system"),
        lambda: approver.get(SECRET, "anything", "kube-system"),
        lambda: approver.create(CSR, csr_object(f"{tag}-own", CLIENT_SIGNER, request_pem("x", []), CLIENT)),
        lambda: approver.delete(CSR, kubelet["metadata"]["name"]),
    ):
        with pytest.raises(ApiError) as err:
            forbidden()
        assert err.value.status == 403, err.value


def test_a_hosted_cluster_that_is_not_the_provisioners_is_not_trusted(mgmt, operator):
    """A HostedCluster of the provisioner's name, with a usable kubeconfig published, whose labels or
    controller ownerReference are not the provisioner's: its kubeconfig is not read."""
    ns, _ = provisioner(mgmt)
    wait_condition(mgmt, ns, "hcp", "KubeConfigInjected", "True")
    ours = mgmt.get(HOSTED_CLUSTER, "hcp", ns)
    cr = mgmt.get(PROVISIONER, "hcp", ns)
    assert hosted_kubeconfig.read(mgmt, cr).secret_name == ours["status"]["kubeconfig"]["name"]
    meta = {"name": "other", "namespace": ns}
    body = {"apiVersion": ours["apiVersion"], "kind": "HostedCluster", "metadata": meta, "spec": ours["spec"]}
    mgmt.create(HOSTED_CLUSTER, body)
    mgmt.patch(HOSTED_CLUSTER, "other", {"status": ours["status"]}, ns, subresource="status")
    impostor = {**cr, "metadata": {**cr["metadata"], "name": "other"}}
    for labels, words in (
        ({}, "label dpfhcpprovisioner.dpu.hcp.io/name"),
        ({LABEL_NAME: "other", LABEL_NAMESPACE: ns}, "no controller ownerReference to DPFHCPProvisioner uid"),
    ):
        mgmt.patch(
            HOSTED_CLUSTER, "other", {"metadata": {"labels": labels or {LABEL_NAME: None, LABEL_NAMESPACE: None}}}, ns
        )
        with pytest.raises(hosted_kubeconfig.Unavailable) as refused:
            hosted_kubeconfig.read(mgmt, impostor)
        assert refused.value.reason == "HostedClusterNotOwned" and words in refused.value.message, refused.value
    mgmt.delete(HOSTED_CLUSTER, "other", ns)


def test_the_csr_watch_reaches_the_hosted_api_server_through_its_service_when_asked(mgmt, operator):
    """In a pod, the watch goes to the hosted API server's Service (HyperShift's kube-apiserver in the
    control-plane namespace, port 6443) with the kubeconfig's CA and client certificate, as the
    upstream operator does; the published endpoint is not used then. Here the "Service" is the local
    hosted API server by another name its certificate carries (localhost), and a dead one shows the
    published endpoint is not a fallback."""
    ns, _ = provisioner(mgmt)
    wait_condition(mgmt, ns, "hcp", "Ready", "True", timeout=120)
    obj = mgmt.get(PROVISIONER, "hcp", ns)
    source = hosted_kubeconfig.read(mgmt, obj)
    port = source.credentials.server.rsplit(":", 1)[1]
    assert source.credentials.server == f"https://127.0.0.1:{port}"
    dpus = Informer(mgmt, DPU)
    through = HostedWatch(mgmt, obj, source, dpus, service=f"localhost:{port}")
    dead = HostedWatch(mgmt, obj, source, dpus, service=f"{{namespace}}.invalid:{port}")
    assert through.hosted.server == f"https://localhost:{port}"
    assert dead.hosted.server == f"https://{ns}-hcp.invalid:{port}"
    assert (
        hosted_kubeconfig.through_service(source, obj).server
        == f"https://kube-apiserver.{ns}-hcp.svc.cluster.local:6443"
    )
    for watch in (through, dead):
        watch.start()
    try:
        assert through.csrs.synced.wait(30), "the watch through the Service name did not sync"
        assert not dead.csrs.synced.wait(3), "a Service that does not resolve must not fall back to the endpoint"
    finally:
        for watch in (through, dead):
            watch.close()


def test_the_csr_watch_keeps_of_csrs_and_nodes_what_the_approver_reads(env, mgmt, operator):
    """A hosted cluster's admin decides how big its CSRs and Nodes are, and every provisioner's watch
    caches them: of a CSR the watch keeps all but the certificate (no decision reads it), of a Node
    its name, uid and version, listed and watched as metadata (a Node made or changed after the watch
    synced is cached the same way). An approval sent from the cached CSR leaves the stored
    certificate alone (the approval subresource takes only the conditions); a bootstrap for a Node
    that exists is still refused (the name is what that rule reads)."""
    hosted = env.client("hosted")
    ns, _ = provisioner(mgmt)
    wait_condition(mgmt, ns, "hcp", "Ready", "True", timeout=120)
    obj = mgmt.get(PROVISIONER, "hcp", ns)
    name, later, pending = unique("dpu-node-cached"), unique("dpu-node-later"), unique("csr-cached")
    big = {f"example.com/junk-{i}": "x" * 60_000 for i in range(4)}  # 240 kB: under the API server's 256 kB
    watch = HostedWatch(mgmt, obj, hosted_kubeconfig.read(mgmt, obj), Informer(mgmt, DPU))
    try:
        hosted.create(NODE, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "annotations": big}})
        request = request_pem(f"system:node:{name}", ["system:nodes"])
        hosted.create(CSR, csr_object(pending, CLIENT_SIGNER, request, CLIENT))
        # A certificate on a CSR not approved: the /status subresource lets a signer set one (kubernetes
        # pkg/apis/certificates/validation, allowSettingCertificate), as the cluster's admin may.
        ca = env.hosted.directory / "pki"
        cert, _key = client_certificate((ca / "ca.crt").read_bytes(), (ca / "ca.key").read_bytes(), "x", ["y"])
        stored = {**hosted.get(CSR, pending), "status": {"certificate": base64.b64encode(cert).decode()}}
        hosted.replace(CSR, stored, subresource="status")
        watch.start()
        assert watch.csrs.synced.wait(30) and watch.nodes.synced.wait(30), "the watch did not sync"
        assert watch.nodes.metadata_only
        hosted.create(NODE, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": later, "annotations": big}})
        hosted.patch(NODE, name, {"metadata": {"labels": {"example.com/changed": "yes"}}})
        changed = hosted.get(NODE, name)["metadata"]["resourceVersion"]
        wait_for(
            "the watch sees the Node made and the Node changed",
            lambda: (
                watch.nodes.get(("", later))
                and ((watch.nodes.get(("", name)) or {}).get("metadata", {}).get("resourceVersion") == changed)
            ),
        )
        for node in (watch.nodes.get(("", name)), watch.nodes.get(("", later))):
            assert set(node) == {"metadata"} and set(node["metadata"]) <= {"name", "uid", "resourceVersion"}, node
        csr = watch.csrs.get(("", pending))
        assert csr is not None and csr["spec"]["request"] == request and "certificate" not in csr["status"], csr
        approver.approve(hosted, csr, policy.Decision(True, "Test", "by the test"))
        after = hosted.get(CSR, pending)
        assert approved(after) and after["status"]["certificate"] == stored["status"]["certificate"]
        bootstrap = {
            "metadata": {"name": "forged", "creationTimestamp": csr["metadata"]["creationTimestamp"]},
            "spec": {**csr["spec"], "username": BOOTSTRAPPER, "groups": list(BOOTSTRAPPER_GROUPS)},
        }
        ctx = approver.policy_context(obj, [], watch.nodes.items(), watch.csrs.items(), watch.hosted_cluster)
        assert policy.decide(bootstrap, ctx).reason == "NodeExists"
    finally:
        watch.close()
        for node_name in (name, later):
            hosted.delete(NODE, node_name)
        hosted.delete(CSR, pending)
