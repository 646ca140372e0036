"""playbooks/provision.yml and deprovision.yml: one-off provisioning without the operator or the
custom resource, from the same spec, against the cluster in KUBECONFIG; check mode changes nothing."""

from __future__ import annotations

from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import CSR, SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    DPU_CLUSTER,
    HOSTED_CLUSTER,
    IP_ADDRESS_POOL,
    LABEL_NAME,
    LABEL_NAMESPACE,
    NODE_POOL,
)
from dpf_hcp_dev.certificates import request_pem
from support import RELEASE, ansible_playbook, dpucluster, namespace, secrets, unique


def one_off_vars(ns: str, dpu_ns: str, **spec: Any) -> dict[str, Any]:
    body = {
        "baseDomain": "clusters.example.com",
        "dpuClusterRef": {"name": "dpucluster", "namespace": dpu_ns},
        "ocpReleaseImage": RELEASE,
        "pullSecretRef": {"name": "pull-secret"},
        "sshKeySecretRef": {"name": "ssh-key"},
        "virtualIP": "192.168.1.100",
        "controlPlaneAvailabilityPolicy": "HighlyAvailable",
        **spec,
    }
    waiting = {"dpfhcp_wait_delay": 1, "dpfhcp_wait_timeout": 60}
    return {"dpfhcp_name": "hcp", "dpfhcp_namespace": ns, "dpfhcp_spec": body, **waiting}


def tenant(mgmt) -> tuple[str, str]:
    ns, dpu_ns = namespace(mgmt, unique("oneoff")), namespace(mgmt, unique("oneoff-dpus"))
    secrets(mgmt, ns)
    dpucluster(mgmt, dpu_ns, "dpucluster")
    return ns, dpu_ns


def made(mgmt, ns: str, dpu_ns: str) -> dict[str, list[str]]:
    selector = f"{LABEL_NAME}=hcp,{LABEL_NAMESPACE}={ns}"

    def names(res, where, **kw):
        return sorted(o["metadata"]["name"] for o in mgmt.list(res, where, label_selector=selector, **kw)["items"])

    return {
        "HostedCluster": [o["metadata"]["name"] for o in [mgmt.get_or_none(HOSTED_CLUSTER, "hcp", ns)] if o],
        "NodePool": [o["metadata"]["name"] for o in [mgmt.get_or_none(NODE_POOL, "hcp", ns)] if o],
        "copies": names(SECRET, ns),
        "injected": names(SECRET, dpu_ns),
        "pools": names(IP_ADDRESS_POOL, "metallb-system"),
    }


NOTHING = {"HostedCluster": [], "NodePool": [], "copies": [], "injected": [], "pools": []}


def recap(result) -> str:
    return next(line for line in result.stdout.splitlines() if line.startswith("localhost") and "ok=" in line)


def test_check_mode_shows_what_would_be_made_and_makes_nothing(env, mgmt, standins):
    ns, dpu_ns = tenant(mgmt)
    result = ansible_playbook(
        "provision.yml", env.management.kubeconfig_path(), check=True, extra_vars=one_off_vars(ns, dpu_ns)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Check mode: nothing was changed" in result.stdout
    assert "+kind: HostedCluster" in result.stdout or "kind: HostedCluster" in result.stdout  # the diff
    assert "changed=" in recap(result) and "changed=0" not in recap(result)
    assert made(mgmt, ns, dpu_ns) == NOTHING


def test_provision_waits_reports_and_deprovision_removes_everything(env, mgmt, standins):
    ns, dpu_ns = tenant(mgmt)
    kubeconfig = env.management.kubeconfig_path()
    variables = one_off_vars(ns, dpu_ns)

    # A CSR no DPU of this provisioner asked for: judged and refused, with no Event (no object to hang it on).
    intruder = KubeClient.from_kubeconfig(str(env.hosted.kubeconfig_path("intruder")))
    csr_name = unique("oneoff-forged")
    intruder.create(
        CSR,
        {
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "CertificateSigningRequest",
            "metadata": {"name": csr_name},
            "spec": {
                "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
                "request": request_pem("system:node:dpu-node-40", ["system:nodes"]),
                "usages": ["digital signature", "client auth"],
            },
        },
    )

    result = ansible_playbook("provision.yml", kubeconfig, extra_vars=variables)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (env.client("hosted").get(CSR, csr_name).get("status") or {}).get("conditions")  # still pending
    assert "Wait for the HostedCluster to be Available" in result.stdout
    assert f"HostedCluster {ns}/hcp: Available=True" in result.stdout  # the report
    assert "KubeConfigInjected=True" in result.stdout and "MetalLBConfigured=True" in result.stdout
    hosted_cluster = mgmt.get(HOSTED_CLUSTER, "hcp", ns)
    assert "ownerReferences" not in hosted_cluster["metadata"]  # no custom resource to own it
    assert made(mgmt, ns, dpu_ns) == {
        "HostedCluster": ["hcp"],
        "NodePool": ["hcp"],
        "copies": ["hcp-etcd-encryption-key", "hcp-pull-secret", "hcp-ssh-key"],
        "injected": ["dpucluster-admin-kubeconfig"],
        "pools": [made(mgmt, ns, dpu_ns)["pools"][0]],
    }
    assert mgmt.get(DPU_CLUSTER, "dpucluster", dpu_ns)["spec"]["kubeconfig"] == "dpucluster-admin-kubeconfig"

    again = ansible_playbook("provision.yml", kubeconfig, extra_vars=variables)
    assert again.returncode == 0 and "changed=0" in recap(again), again.stdout

    preview = ansible_playbook("deprovision.yml", kubeconfig, extra_vars=variables, check=True)
    assert preview.returncode == 0, preview.stdout + preview.stderr
    assert "Check mode: nothing was deleted" in preview.stdout
    assert made(mgmt, ns, dpu_ns)["HostedCluster"] == ["hcp"]
    assert "deletionTimestamp" not in mgmt.get(HOSTED_CLUSTER, "hcp", ns)["metadata"]  # a dry run deletes nothing

    gone = ansible_playbook("deprovision.yml", kubeconfig, extra_vars=variables)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert "HostedClusterCleanup=True (Succeeded)" in gone.stdout
    assert made(mgmt, ns, dpu_ns) == NOTHING


def test_bad_input_stops_before_anything_is_made_and_names_the_fix(env, mgmt, standins):
    ns, dpu_ns = tenant(mgmt)
    kubeconfig = env.management.kubeconfig_path()

    no_vip = one_off_vars(ns, dpu_ns)
    del no_vip["dpfhcp_spec"]["virtualIP"]
    result = ansible_playbook("provision.yml", kubeconfig, extra_vars=no_vip)
    assert result.returncode != 0
    assert "spec.virtualIP" in result.stdout and "HighlyAvailable" in result.stdout

    missing_secret = one_off_vars(ns, dpu_ns, pullSecretRef={"name": "nope"})
    result = ansible_playbook("provision.yml", kubeconfig, extra_vars=missing_secret)
    assert result.returncode != 0
    assert f"{ns}/nope" in result.stdout or "'nope'" in result.stdout or "nope" in result.stdout, result.stdout

    unmapped = one_off_vars(ns, dpu_ns, ocpReleaseImage="quay.io/openshift-release-dev/ocp-release:4.99.1-x86_64")
    result = ansible_playbook("provision.yml", kubeconfig, extra_vars=unmapped)
    assert result.returncode != 0
    assert "4.99.1" in result.stdout and "ocp-bluefield-images" in result.stdout
    assert made(mgmt, ns, dpu_ns) == NOTHING


def test_missing_variables_are_named_before_anything_is_read(tmp_path):
    for playbook in ("provision.yml", "deprovision.yml"):
        result = ansible_playbook(playbook, tmp_path / "no-cluster.kubeconfig", extra_vars={"dpfhcp_name": "hcp"})
        assert result.returncode != 0
        assert "missing or wrong: dpfhcp_namespace, dpfhcp_spec" in result.stdout, result.stdout[-2000:]
