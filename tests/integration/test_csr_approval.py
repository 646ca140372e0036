"""DPUs join the hosted cluster by CSR: theirs are approved within moments, forgeries never.

Everything here goes through the real hosted kube-apiserver: the stand-in kubelet asks as the
node-bootstrapper and then as the node (token users), its controller-manager signs what is
approved, and the forged requests come from real identities too.
"""

from __future__ import annotations

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils import csr_approver, hosted_kubeconfig
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.csr_policy import (
    BOOTSTRAPPER,
    CLIENT_SIGNER,
    SERVING_SIGNER,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.kube import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.resources import (
    CLUSTER_ROLE,
    CLUSTER_ROLE_BINDING,
    CSR,
    DPU,
    EVENT,
    HOSTED_CLUSTER,
    LABEL_NAME,
    LABEL_NAMESPACE,
    NODE,
    PROVISIONER,
    SECRET,
    SERVICE_ACCOUNT,
)
from dpf_hcp_dev.certificates import csr_object, request_pem
from support import dpu, dpucluster, namespace, provisioner_body, secrets, unique, wait_condition, wait_for

CLIENT = ["digital signature", "key encipherment", "client auth"]
SERVING = ["digital signature", "key encipherment", "server auth"]
HOLD = {"standins.dpf-hcp.dev/hold": "true"}


def provisioner(mgmt) -> tuple[str, str]:
    """A provisioner of its own DPUCluster, in namespaces of their own: (its namespace, the DPUs')."""
    ns = namespace(mgmt, unique("tenant"))
    dpu_ns = namespace(mgmt, unique("dpus"))
    secrets(mgmt, ns)
    dpucluster(mgmt, dpu_ns, "dpucluster")
    mgmt.create(PROVISIONER, provisioner_body(ns, "hcp", dpu_ns, "dpucluster"))
    return ns, dpu_ns


def held(mgmt, ns, name, phase, cluster="dpucluster"):
    obj = mgmt.create(DPU, dpu(ns, name, cluster, HOLD))
    mgmt.replace(DPU, {**obj, "status": {"phase": phase}}, subresource="status")


def approved(csr):
    return any(c.get("type") == "Approved" for c in (csr.get("status") or {}).get("conditions") or [])


def test_joining_dpus_are_approved_and_forged_csrs_stay_pending(env, mgmt, operator):
    hosted = env.client("hosted")

    def as_user(user):
        return KubeClient.from_kubeconfig(str(env.hosted.kubeconfig_path(user)))

    ns, dpu_ns = provisioner(mgmt)
    wait_condition(mgmt, ns, "hcp", "KubeConfigInjected", "True")

    legit = ["dpu-node-10", "dpu-node-11", "dpu-node-12"]
    for name in legit:
        mgmt.create(DPU, dpu(dpu_ns, name))
    held(mgmt, dpu_ns, "dpu-node-13", "OS Installing")  # not joining yet
    held(mgmt, dpu_ns, "dpu-node-14", "DPU Cluster Config", "other")  # another DPUCluster's
    held(mgmt, dpu_ns, "dpu-node-15", "DPU Cluster Config")  # joining, but its kubelet is silent

    for name in legit:
        wait_for(
            f"DPU {name} Ready",
            lambda n=name: (mgmt.get(DPU, n, dpu_ns).get("status") or {}).get("phase") == "Ready",
            timeout=90,
        )
        assert approved(hosted.get(CSR, f"{name}-bootstrap"))
        assert approved(hosted.get(CSR, f"{name}-serving"))
        assert hosted.get(CSR, f"{name}-bootstrap")["status"].get("certificate")  # signed by the controller-manager
        assert hosted.get_or_none(NODE, name) is not None

    tag = unique("f")
    bootstrapper, intruder = as_user(BOOTSTRAPPER), as_user("intruder")
    node10, node11, node15 = (as_user(f"system:node:dpu-node-{i}") for i in (10, 11, 15))
    forged = {  # name -> (identity, signer, CN, O, SANs, usages, the reason it must stay pending)
        "wrong-signer": (
            bootstrapper,
            "kubernetes.io/kube-apiserver-client",
            "dpu-node-15",
            ["system:nodes"],
            {},
            ["digital signature", "client auth"],
            "UnsupportedSigner",
        ),
        "not-bootstrapper": (intruder, CLIENT_SIGNER, "dpu-node-15", ["system:nodes"], {}, CLIENT, "BadRequester"),
        "extra-usage": (
            bootstrapper,
            CLIENT_SIGNER,
            "dpu-node-15",
            ["system:nodes"],
            {},
            [*CLIENT, "server auth"],
            "BadUsages",
        ),
        "masters-org": (bootstrapper, CLIENT_SIGNER, "dpu-node-15", ["system:masters"], {}, CLIENT, "BadOrganization"),
        "cn-not-a-node": (bootstrapper, CLIENT_SIGNER, None, ["system:nodes"], {}, CLIENT, "BadCommonName"),
        "client-with-san": (
            bootstrapper,
            CLIENT_SIGNER,
            "dpu-node-15",
            ["system:nodes"],
            {"dns": ["dpu-node-15"]},
            CLIENT,
            "UnexpectedSANs",
        ),
        "unknown-dpu": (bootstrapper, CLIENT_SIGNER, "dpu-node-40", ["system:nodes"], {}, CLIENT, "UnknownDPU"),
        "dpu-not-joining": (bootstrapper, CLIENT_SIGNER, "dpu-node-13", ["system:nodes"], {}, CLIENT, "DPUNotJoining"),
        "second-bootstrap": (
            bootstrapper,
            CLIENT_SIGNER,
            "dpu-node-10",
            ["system:nodes"],
            {},
            CLIENT,
            "NodeAlreadyJoined",
        ),
        "other-cluster": (
            bootstrapper,
            CLIENT_SIGNER,
            "dpu-node-14",
            ["system:nodes"],
            {},
            CLIENT,
            "DPUOfAnotherCluster",
        ),
        "stranger-san": (
            node10,
            SERVING_SIGNER,
            "dpu-node-10",
            ["system:nodes"],
            {"dns": ["dpu-node-10"], "ips": ["10.99.99.99"]},
            SERVING,
            "SANNotTheNodes",
        ),
        "loopback-san": (
            node10,
            SERVING_SIGNER,
            "dpu-node-10",
            ["system:nodes"],
            {"ips": ["127.0.0.1"]},
            SERVING,
            "ForbiddenSAN",
        ),
        "serving-for-another-node": (
            node11,
            SERVING_SIGNER,
            "dpu-node-10",
            ["system:nodes"],
            {"dns": ["dpu-node-10"]},
            SERVING,
            "BadRequester",
        ),
        "serving-by-bootstrapper": (
            bootstrapper,
            SERVING_SIGNER,
            "dpu-node-10",
            ["system:nodes"],
            {"dns": ["dpu-node-10"]},
            SERVING,
            "BadRequester",
        ),
        "serving-without-node": (
            node15,
            SERVING_SIGNER,
            "dpu-node-15",
            ["system:nodes"],
            {"dns": ["dpu-node-15"]},
            SERVING,
            "NodeNotFound",
        ),
        "serving-client-usage": (
            node10,
            SERVING_SIGNER,
            "dpu-node-10",
            ["system:nodes"],
            {"dns": ["dpu-node-10"]},
            [*SERVING, "client auth"],
            "BadUsages",
        ),
        "renewal-for-another": (node11, CLIENT_SIGNER, "dpu-node-10", ["system:nodes"], {}, CLIENT, "BadRequester"),
    }
    assert len(forged) >= 15
    for short, (client, signer, cn, orgs, sans, usages, _) in forged.items():
        common_name = f"system:node:{cn}" if cn else "admin"
        client.create(
            CSR,
            {
                "apiVersion": "certificates.k8s.io/v1",
                "kind": "CertificateSigningRequest",
                "metadata": {"name": f"{tag}-{short}"},
                "spec": {"signerName": signer, "request": request_pem(common_name, orgs, **sans), "usages": usages},
            },
        )

    def refusals():
        items = mgmt.list(EVENT, ns).get("items") or []
        return {e["message"].split()[1]: e["message"] for e in items if e.get("reason") == "CSRNotApproved"}

    def all_refused():
        found = refusals()
        return found if all(f"{tag}-{s}" in found for s in forged) else None

    # The operator has looked at every forgery and said why it stays pending.
    seen = wait_for("a refusal Event for every forged CSR", all_refused, timeout=30)
    for short, spec in forged.items():
        csr = hosted.get(CSR, f"{tag}-{short}")
        assert not approved(csr), short
        assert not (csr.get("status") or {}).get("certificate"), short
        assert f": {spec[-1]}:" in seen[f"{tag}-{short}"], (short, seen[f"{tag}-{short}"])
    # And the legitimate ones were not disturbed by the flood of forgeries.
    assert all(approved(hosted.get(CSR, f"{n}-serving")) for n in legit)


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
    assert approved(hosted.get(CSR, "dpu-node-16-bootstrap"))
    assert approved(hosted.get(CSR, "dpu-node-16-serving"))


def test_approvals_run_under_an_identity_that_can_approve_kubelet_signers_only(env, mgmt, operator):
    """Issue 15, item 6 (hosted clusters): the operator creates, with the admin kubeconfig, a
    ServiceAccount whose ClusterRole can list and watch CSRs and Nodes and approve the two kubelet
    signers. Under its short-lived token a kubelet CSR is approved; a CSR for another signer is
    not, and no Secret can be read."""
    ns, _ = provisioner(mgmt)
    wait_condition(mgmt, ns, "hcp", "CSRAutoApprovalActive", "True")

    hosted = env.client("hosted")
    role = hosted.get(CLUSTER_ROLE, csr_approver.NAME)
    assert role["rules"] == csr_approver.RULES
    assert role["metadata"]["labels"] == csr_approver.LABELS
    binding = hosted.get(CLUSTER_ROLE_BINDING, csr_approver.NAME)
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": csr_approver.NAME, "namespace": "kube-system"}]
    assert hosted.get(SERVICE_ACCOUNT, csr_approver.NAME, csr_approver.NAMESPACE)

    admin = KubeClient.from_kubeconfig(str(env.hosted.kubeconfig_path("system:admin")))
    identity = csr_approver.ApproverIdentity(admin, lifetime=600)
    assert not identity.ensure()  # the operator made them exactly so
    approver = identity.client()
    assert approver.creds.token is None and approver.creds.cert_pem is None  # the token only

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
