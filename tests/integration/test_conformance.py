"""What the roles write is accepted by the real upstream CRDs (HyperShift, DPF, MetalLB).

The upstream files live in ../shared/conformance/crds and are used from there, never copied.
They are installed on a control plane of their own (our fixture CRDs carry the same names),
through ../shared/tools/legacy-crds, which strips what a 1.20 API server cannot take.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.apply import apply
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import CONFIGMAP, CRD, SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import capabilities
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    DPU_CLUSTER,
    HOSTED_CLUSTER,
    IP_ADDRESS_POOL,
    L2_ADVERTISEMENT,
    NODE_POOL,
    PROVISIONER,
)
from dpf_hcp_dev.localcluster.environment import Environment, install_crds
from dpf_hcp_dev.standins.config import StandinConfig
from dpf_hcp_dev.standins.hypershift import HyperShiftStandin
from support import (
    REPO,
    bluefield_configmap,
    condition,
    dpucluster,
    namespace,
    provisioner_body,
    run_playbook,
    secrets,
    wait_for,
)

SHARED = REPO.parent / "shared"
UPSTREAM_CRDS = SHARED / "conformance" / "crds"
LEGACY_TOOL = SHARED / "tools" / "legacy-crds"
R420 = "quay.io/openshift-release-dev/ocp-release:4.20.3-multi"

pytestmark = pytest.mark.skipif(not UPSTREAM_CRDS.is_dir(), reason="../shared/conformance/crds is not present")


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory):
    environment = Environment.up(tmp_path_factory.mktemp("conformance"), install_fixture_crds=False)
    try:
        rewritten = subprocess.run(
            [sys.executable, str(LEGACY_TOOL), *sorted(map(str, UPSTREAM_CRDS.glob("*.yaml")))],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        client = environment.client()
        path = tmp_path_factory.mktemp("crds") / "upstream.yaml"
        path.write_text(rewritten)
        names = install_crds(client, [path])
        assert "hostedclusters.hypershift.openshift.io" in names
        assert "dpuclusters.provisioning.dpu.nvidia.com" in names
        bluefield_configmap(client)
        yield environment
    finally:
        environment.down()


def upstream_schema_has(client, crd_name: str, field: str) -> bool:
    crd = client.get(CRD, crd_name)
    props = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    return field in props


@pytest.mark.parametrize("policy", ["HighlyAvailable", "SingleReplica"])
def test_hosted_cluster_and_nodepool_are_accepted_by_upstream_crds(upstream, policy, tmp: Path):
    client = upstream.client()
    ns = namespace(client, f"conf-{policy.lower()}")
    dpu_ns = namespace(client, f"conf-dpus-{policy.lower()}")
    secrets(client, ns)
    dpucluster(client, dpu_ns, "dpucluster")  # the DPUCluster itself must satisfy DPF's schema too
    spec = {
        "controlPlaneAvailabilityPolicy": policy,
        "etcdStorageClass": "fast",
        "networking": {"machineNetwork": "192.168.10.0/24"},
    }
    body = provisioner_body(ns, "hcp", dpu_ns, "dpucluster", **spec)
    if policy == "SingleReplica":
        body["spec"].pop("virtualIP")
    cr = client.create(PROVISIONER, body)
    result = run_playbook("reconcile.yml", [cr], upstream.management.kubeconfig_path(), tmp)
    if policy == "SingleReplica":
        # No Node in this cluster: the role says what to set, then succeeds once it is set.
        assert result.returncode != 0
        assert "hosted_cluster_node_port_address" in result.stdout
        result = run_playbook(
            "reconcile.yml",
            [client.get(PROVISIONER, "hcp", ns)],
            upstream.management.kubeconfig_path(),
            tmp,
            extra_vars={"hosted_cluster_node_port_address": "10.0.0.5"},
        )
    assert result.returncode == 0, result.stdout[-3000:]
    hc = client.get(HOSTED_CLUSTER, "hcp", ns)
    np = client.get(NODE_POOL, "hcp", ns)
    # The upstream schema applied its defaults and kept our fields: it accepted them as they are.
    assert hc["spec"]["platform"]["type"] == "None"
    assert hc["spec"]["networking"]["machineNetwork"] == [{"cidr": "192.168.10.0/24"}]
    assert hc["spec"]["etcd"]["managed"]["storage"]["persistentVolume"]["storageClassName"] == "fast"
    assert hc["spec"]["secretEncryption"] == {
        "type": "aescbc",
        "aescbc": {"activeKey": {"name": "hcp-etcd-encryption-key"}},
    }
    assert np["spec"]["replicas"] == 0
    assert np["spec"]["management"]["upgradeType"] == "Replace"
    status = client.get(PROVISIONER, "hcp", ns)
    assert condition(status, "SecretsValid")["status"] == "True"
    assert status["status"]["hostedClusterRef"] == {"namespace": ns, "name": "hcp"}
    assert upstream_schema_has(client, "hostedclusters.hypershift.openshift.io", "services")


def test_metallb_objects_and_dpucluster_kubeconfig_are_accepted_by_upstream_crds(upstream, tmp: Path):
    client = upstream.client()
    ns = namespace(client, "conf-inject")
    dpu_ns = namespace(client, "conf-inject-dpus")
    secrets(client, ns)
    dpucluster(client, dpu_ns, "dpucluster")
    cr = client.create(PROVISIONER, provisioner_body(ns, "hcp", dpu_ns, "dpucluster", virtualIP="10.20.30.40"))
    assert run_playbook("reconcile.yml", [cr], upstream.management.kubeconfig_path(), tmp).returncode == 0
    # HyperShift publishes the admin kubeconfig (no HyperShift here: the test does what it would),
    # owned by the HostedCluster.
    hc = client.get(HOSTED_CLUSTER, "hcp", ns)
    owner = {"apiVersion": hc["apiVersion"], "kind": "HostedCluster", "name": "hcp", "uid": hc["metadata"]["uid"]}
    apply(
        client,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "hcp-admin-kubeconfig", "namespace": ns, "ownerReferences": [owner]},
            "stringData": {"kubeconfig": upstream.hosted.kubeconfig_text()},
        },
    )
    client.replace(
        HOSTED_CLUSTER,
        {
            **hc,
            "status": {
                "kubeconfig": {"name": "hcp-admin-kubeconfig"},
                "controlPlaneEndpoint": {"host": "127.0.0.1", "port": upstream.hosted.api_port},
            },
        },
        subresource="status",
    )
    result = run_playbook(
        "reconcile.yml", [client.get(PROVISIONER, "hcp", ns)], upstream.management.kubeconfig_path(), tmp
    )
    assert result.returncode == 0, result.stdout[-3000:]
    pool = client.get(IP_ADDRESS_POOL, f"dpfhcp-{ns}-hcp", "metallb-system")
    assert pool["spec"]["addresses"] == ["10.20.30.40/32"]
    assert pool["spec"]["serviceAllocation"]["namespaces"] == [f"{ns}-hcp"]
    assert client.get(L2_ADVERTISEMENT, f"dpfhcp-{ns}-hcp", "metallb-system")["spec"]["ipAddressPools"] == [
        f"dpfhcp-{ns}-hcp"
    ]
    assert client.get(DPU_CLUSTER, "dpucluster", dpu_ns)["spec"]["kubeconfig"] == "dpucluster-admin-kubeconfig"
    assert condition(client.get(PROVISIONER, "hcp", ns), "KubeConfigInjected")["status"] == "True"


def _reconciled(upstream, tmp: Path, prefix: str, extra_vars: dict | None = None, **spec) -> tuple[str, object]:
    """A provisioner named hcp in namespace ``prefix`` (its DPUCluster and secrets beside it), after
    one run of reconcile.yml; its namespace and the run's result."""
    client = upstream.client()
    ns = namespace(client, prefix)
    dpu_ns = namespace(client, f"{prefix}-dpus")
    secrets(client, ns)
    dpucluster(client, dpu_ns, "dpucluster")
    cr = client.create(PROVISIONER, provisioner_body(ns, "hcp", dpu_ns, "dpucluster", **spec))
    result = run_playbook("reconcile.yml", [cr], upstream.management.kubeconfig_path(), tmp, extra_vars=extra_vars)
    assert result.returncode == 0, result.stdout[-3000:]
    return ns, result


def _with_release_420(client) -> None:
    cm = client.get(CONFIGMAP, "ocp-bluefield-images", "dpf-hcp-provisioner-system")
    client.patch(
        CONFIGMAP,
        cm["metadata"]["name"],
        {"data": {"4.20.3": "quay.io/example/bluefield:4.20.3"}},
        cm["metadata"]["namespace"],
    )


def test_capabilities_and_node_cidrs_are_written_at_creation_and_accepted_by_upstreams_crd(upstream, tmp: Path):
    """HyperShift's schema takes spec.capabilities.disabled (an enum list) and
    spec.networking.allocateNodeCIDRs; the upstream operator's defaults for a 4.20 release."""
    client = upstream.client()
    _with_release_420(client)
    ns, _ = _reconciled(upstream, tmp, "conf-caps", ocpReleaseImage=R420)
    hc = client.get(HOSTED_CLUSTER, "hcp", ns)
    assert hc["spec"]["capabilities"]["disabled"] == list(capabilities.DEFAULT_DISABLED)
    assert hc["spec"]["networking"]["allocateNodeCIDRs"] == "Enabled"
    assert hc["spec"]["networking"]["networkType"] == "Other"
    assert upstream_schema_has(client, "hostedclusters.hypershift.openshift.io", "capabilities")


def test_a_provisioner_without_flannel_and_its_own_capabilities_gets_those(upstream, tmp: Path):
    client = upstream.client()
    ns, _ = _reconciled(
        upstream, tmp, "conf-noflannel", flannelEnabled=False, capabilities={"disabled": ["ImageRegistry"]}
    )
    hc = client.get(HOSTED_CLUSTER, "hcp", ns)
    assert hc["spec"]["capabilities"] == {"disabled": ["ImageRegistry"]}
    assert "allocateNodeCIDRs" not in hc["spec"]["networking"]


def test_a_hosted_cluster_made_before_keeps_its_create_time_fields_as_they_are(upstream, tmp: Path):
    """A HostedCluster written by an earlier version (no capabilities, no allocateNodeCIDRs): a run
    adds neither (HyperShift refuses a change of capabilities; node CIDRs would change a live
    cluster), and changes nothing else either."""
    client = upstream.client()
    ns, _ = _reconciled(upstream, tmp, "conf-before")
    hc = client.get(HOSTED_CLUSTER, "hcp", ns)
    assert hc["spec"]["capabilities"] == {"disabled": ["ImageRegistry"]}  # 4.19: ImageRegistry only
    # As an earlier version left it (the 1.20 API server has no CEL: the test may remove them).
    client.patch(
        HOSTED_CLUSTER,
        "hcp",
        [
            {"op": "replace", "path": "/spec/capabilities", "value": {}},
            {"op": "remove", "path": "/spec/networking/allocateNodeCIDRs"},
        ],
        ns,
        kind="json",
    )
    before = client.get(HOSTED_CLUSTER, "hcp", ns)
    result = run_playbook(
        "reconcile.yml", [client.get(PROVISIONER, "hcp", ns)], upstream.management.kubeconfig_path(), tmp
    )
    assert result.returncode == 0, result.stdout[-3000:]
    after = client.get(HOSTED_CLUSTER, "hcp", ns)
    assert after["spec"]["capabilities"] == {}
    assert "allocateNodeCIDRs" not in after["spec"]["networking"]
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]  # nothing written


def test_a_hosted_cluster_made_before_encryption_gets_it_on_its_next_run(upstream, tmp: Path):
    """HyperShift takes secretEncryption added to a live HostedCluster (its CEL rule forbids only
    removing it) and keeps reading the Secrets stored before in the clear: its EncryptionConfiguration
    ends with the identity provider (openshift/hypershift control-plane-operator/controllers/
    hostedcontrolplane/v2/kas/aescbc.go, generateAESCBCEncryptionConfig). So it is added."""
    client = upstream.client()
    ns, _ = _reconciled(upstream, tmp, "conf-encrypt-later")
    client.patch(HOSTED_CLUSTER, "hcp", [{"op": "remove", "path": "/spec/secretEncryption"}], ns, kind="json")
    client.delete(SECRET, "hcp-etcd-encryption-key", ns)
    result = run_playbook(
        "reconcile.yml", [client.get(PROVISIONER, "hcp", ns)], upstream.management.kubeconfig_path(), tmp
    )
    assert result.returncode == 0, result.stdout[-3000:]
    hc = client.get(HOSTED_CLUSTER, "hcp", ns)
    assert hc["spec"]["secretEncryption"]["aescbc"]["activeKey"] == {"name": "hcp-etcd-encryption-key"}
    assert len(base64.b64decode(client.get(SECRET, "hcp-etcd-encryption-key", ns)["data"]["key"])) == 32


def test_the_node_port_address_stays_as_the_hosted_cluster_was_created(upstream, tmp: Path):
    """HyperShift's CRD makes spec.services immutable (its CEL rule, which a 1.20 API server does not
    run): a management node whose address changes, or another node first, must not make every
    later run fail at the HostedCluster."""
    client = upstream.client()
    ns = namespace(client, "conf-nodeport")
    dpu_ns = namespace(client, "conf-nodeport-dpus")
    secrets(client, ns)
    dpucluster(client, dpu_ns, "dpucluster")
    body = provisioner_body(ns, "hcp", dpu_ns, "dpucluster", controlPlaneAvailabilityPolicy="SingleReplica")
    body["spec"].pop("virtualIP")
    client.create(PROVISIONER, body)
    for address in ("10.0.0.5", "10.0.0.6"):
        result = run_playbook(
            "reconcile.yml",
            [client.get(PROVISIONER, "hcp", ns)],
            upstream.management.kubeconfig_path(),
            tmp,
            extra_vars={"hosted_cluster_node_port_address": address},
        )
        assert result.returncode == 0, result.stdout[-3000:]
    services = client.get(HOSTED_CLUSTER, "hcp", ns)["spec"]["services"]
    assert {s["servicePublishingStrategy"]["nodePort"]["address"] for s in services} == {"10.0.0.5"}


def test_the_versions_the_hypershift_standin_publishes_fit_upstreams_crd_and_are_read_as_conditions(
    upstream, tmp: Path
):
    """The stand-in's status.controlPlaneVersion and status.version, pass by pass through an install
    and an upgrade, are taken by HyperShift's own status schema; the provisioner reads each as its
    condition and Ready waits for the control plane at the desired release."""
    client = upstream.client()
    ns, _ = _reconciled(upstream, tmp, "conf-versions")
    hosted = HyperShiftStandin(
        client=None,  # type: ignore[arg-type]  # desired_status only computes
        hosted_admin_kubeconfig=upstream.hosted.kubeconfig_text(),
        secrets=None,  # type: ignore[arg-type]
    )
    fast = StandinConfig({"availableAfterSeconds": "0", "upgradeAfterSeconds": "0"})

    def publish(config: StandinConfig = fast) -> dict:
        hc = client.get(HOSTED_CLUSTER, "hcp", ns)
        return client.replace(HOSTED_CLUSTER, {**hc, "status": hosted.desired_status(hc, config)}, subresource="status")

    def status_after_run() -> dict:
        result = run_playbook(
            "reconcile.yml", [client.get(PROVISIONER, "hcp", ns)], upstream.management.kubeconfig_path(), tmp
        )
        assert result.returncode == 0, result.stdout[-3000:]
        return client.get(PROVISIONER, "hcp", ns)

    publish()
    hc = publish()
    assert hc["status"]["controlPlaneVersion"]["history"][0]["state"] == "Completed"
    obj = status_after_run()
    assert condition(obj, "ControlPlaneRolledOut")["reason"] == "Completed"
    assert condition(obj, "DataPlaneRolledOut")["reason"] == "Partial"  # no workers here
    new = "quay.io/openshift-release-dev/ocp-release:4.18.0-x86_64"
    client.patch(PROVISIONER, "hcp", {"spec": {"ocpReleaseImage": new}}, ns)
    status_after_run()  # the HostedCluster asks for the new release
    hc = publish(StandinConfig({"availableAfterSeconds": "0", f"{ns}.hcp.upgradeHeld": "true"}))
    assert [h["state"] for h in hc["status"]["controlPlaneVersion"]["history"]] == ["Partial", "Completed"]
    obj = status_after_run()
    assert condition(obj, "ControlPlaneRolledOut")["reason"] == "Partial"
    assert condition(obj, "Ready")["reason"] == "ControlPlaneRollingOut", condition(obj, "Ready")
    assert obj["status"]["versions"]["controlPlane"] == {"version": "4.18.0", "state": "Partial"}
    publish()
    obj = status_after_run()
    assert condition(obj, "ControlPlaneRolledOut")["reason"] == "Completed"
    assert obj["status"]["versions"]["controlPlane"] == {"version": "4.18.0", "state": "Completed"}


def test_metallb_left_to_the_platform_is_not_managed_and_nothing_is_written(upstream, tmp: Path):
    client = upstream.client()
    ns, _ = _reconciled(
        upstream, tmp, "conf-notmanaged", extra_vars={"metallb_managed": False}, virtualIP="10.20.30.41"
    )
    cond = condition(client.get(PROVISIONER, "hcp", ns), "MetalLBConfigured")
    assert (cond["status"], cond["reason"]) == ("True", "NotManaged")
    assert client.get_or_none(IP_ADDRESS_POOL, f"dpfhcp-{ns}-hcp", "metallb-system") is None
    assert client.get_or_none(L2_ADVERTISEMENT, f"dpfhcp-{ns}-hcp", "metallb-system") is None


def test_missing_metallb_crds_are_a_condition_not_a_failure(upstream, tmp: Path):
    """Runs last in this module: it removes the upstream MetalLB CRDs."""
    client = upstream.client()
    for crd in ("ipaddresspools.metallb.io", "l2advertisements.metallb.io"):
        client.delete(CRD, crd)
    wait_for("MetalLB CRDs gone", lambda: not client.serves(IP_ADDRESS_POOL), timeout=30)
    ns = namespace(client, "conf-nometallb")
    dpu_ns = namespace(client, "conf-nometallb-dpus")
    secrets(client, ns)
    dpucluster(client, dpu_ns, "dpucluster")
    cr = client.create(PROVISIONER, provisioner_body(ns, "hcp", dpu_ns, "dpucluster"))
    result = run_playbook("reconcile.yml", [cr], upstream.management.kubeconfig_path(), tmp)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "requeue_after" in result.stdout or "Check again later" in result.stdout
    obj = client.get(PROVISIONER, "hcp", ns)
    cond = condition(obj, "MetalLBConfigured")
    assert (cond["status"], cond["reason"]) == ("False", "MetalLBNotInstalled")
    assert "metallb.io/v1beta1/IPAddressPool" in cond["message"]
    assert condition(obj, "Ready")["reason"] == "MetalLBNotInstalled"
    assert client.get_or_none(HOSTED_CLUSTER, "hcp", ns) is not None  # the rest went ahead
