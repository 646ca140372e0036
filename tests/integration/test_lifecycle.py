"""The life of a provisioned cluster: MetalLB, kubeconfig for DPF, mirrored health, upgrades,
teardown in order, and a DPUCluster that goes away and comes back."""

from __future__ import annotations

import base64
import json
import time

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    DPU_CLUSTER,
    HOSTED_CLUSTER,
    IP_ADDRESS_POOL,
    L2_ADVERTISEMENT,
    LABEL_NAME,
    LABEL_NAMESPACE,
    NODE_POOL,
    PROVISIONER,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.status import ABSENT_MEANS, MIRRORED
from dpf_hcp_dev.standins.hypershift import release_digest
from support import (
    BLUEFIELD_IMAGES,
    CLEANUP_TIMEOUT,
    condition,
    dpucluster,
    management_node,
    namespace,
    provisioner_body,
    secrets,
    standin_settings,
    unique,
    wait_condition,
    wait_for,
    wide_row,
)


def ready(mgmt, **spec):
    ns = namespace(mgmt, unique("tenant"))
    dpu_ns = namespace(mgmt, unique("dpus"))
    secrets(mgmt, ns)
    dpucluster(mgmt, dpu_ns, "dpucluster")
    body = provisioner_body(ns, "hcp", dpu_ns, "dpucluster", **spec)
    if spec.get("controlPlaneAvailabilityPolicy") == "SingleReplica" and "virtualIP" not in spec:
        del body["spec"]["virtualIP"]
    mgmt.create(PROVISIONER, body)
    # Behind whatever the shared operator still does for earlier tests' provisioners: two runs and
    # the stand-in's rollout.
    return ns, dpu_ns, wait_condition(mgmt, ns, "hcp", "Ready", "True", timeout=120)


def labelled(mgmt, res, namespace, ns):
    selector = f"{LABEL_NAME}=hcp,{LABEL_NAMESPACE}={ns}"
    return mgmt.list(res, namespace, label_selector=selector).get("items") or []


def test_highly_available_vip_gets_an_address_pool_and_l2_advertisement(mgmt, operator):
    ns, _, obj = ready(mgmt, virtualIP="192.168.50.10")
    pool = mgmt.get(IP_ADDRESS_POOL, f"dpfhcp-{ns}-hcp", "metallb-system")
    assert pool["spec"]["addresses"] == ["192.168.50.10/32"]
    assert pool["spec"]["autoAssign"] is True
    assert pool["spec"]["serviceAllocation"]["namespaces"] == [f"{ns}-hcp"]
    adv = mgmt.get(L2_ADVERTISEMENT, f"dpfhcp-{ns}-hcp", "metallb-system")
    assert adv["spec"]["ipAddressPools"] == [f"dpfhcp-{ns}-hcp"]
    for o in (pool, adv):
        assert o["metadata"]["labels"] == {LABEL_NAME: "hcp", LABEL_NAMESPACE: ns}
    assert condition(obj, "MetalLBConfigured")["reason"] == "Configured"


def test_single_replica_node_port_needs_no_metallb(mgmt, operator):
    node_ns = namespace(mgmt, unique("tenant"))
    dpu_ns = namespace(mgmt, unique("dpus"))
    secrets(mgmt, node_ns)
    dpucluster(mgmt, dpu_ns, "dpucluster")
    body = provisioner_body(node_ns, "hcp", dpu_ns, "dpucluster", controlPlaneAvailabilityPolicy="SingleReplica")
    del body["spec"]["virtualIP"]
    mgmt.create(PROVISIONER, body)
    # Without a Ready management Node the NodePort address is unknown: a failed run, retried with backoff,
    # until a kubelet registers one.
    with management_node(mgmt, "10.9.8.6"):
        obj = wait_condition(mgmt, node_ns, "hcp", "Ready", "True", timeout=90)
    assert condition(obj, "MetalLBConfigured")["reason"] == "NotRequired"
    assert labelled(mgmt, IP_ADDRESS_POOL, "metallb-system", node_ns) == []
    assert labelled(mgmt, L2_ADVERTISEMENT, "metallb-system", node_ns) == []


def test_kubeconfig_is_injected_into_the_dpucluster_and_drift_is_repaired(mgmt, operator):
    ns, dpu_ns, obj = ready(mgmt)
    hosted = base64.b64decode(mgmt.get(SECRET, "hcp-admin-kubeconfig", ns)["data"]["kubeconfig"])
    injected = mgmt.get(SECRET, "dpucluster-admin-kubeconfig", dpu_ns)
    assert base64.b64decode(injected["data"]["super-admin.conf"]) == hosted
    assert mgmt.get(DPU_CLUSTER, "dpucluster", dpu_ns)["spec"]["kubeconfig"] == "dpucluster-admin-kubeconfig"
    assert obj["status"]["kubeConfigSecretRef"] == {"namespace": dpu_ns, "name": "dpucluster-admin-kubeconfig"}
    assert condition(obj, "KubeConfigInjected")["status"] == "True"
    # The DPF stand-in sees the kubeconfig and reports the DPUCluster Ready.
    wait_for(
        "DPUCluster Ready",
        lambda: (mgmt.get(DPU_CLUSTER, "dpucluster", dpu_ns).get("status") or {}).get("phase") == "Ready",
    )

    # Someone edits the copy: it is put back.
    tampered = base64.b64encode(b"apiVersion: v1\nkind: Config\n").decode()
    mgmt.patch(SECRET, "dpucluster-admin-kubeconfig", {"data": {"super-admin.conf": tampered}}, dpu_ns)
    wait_for(
        "the injected kubeconfig restored",
        lambda: (
            base64.b64decode(mgmt.get(SECRET, "dpucluster-admin-kubeconfig", dpu_ns)["data"]["super-admin.conf"])
            == hosted
        ),
    )

    # HyperShift rotates its kubeconfig: the copy follows.
    rotated = hosted + b"\n# rotated\n"
    mgmt.patch(SECRET, "hcp-admin-kubeconfig", {"data": {"kubeconfig": base64.b64encode(rotated).decode()}}, ns)
    wait_for(
        "the injected kubeconfig follows the source",
        lambda: (
            base64.b64decode(mgmt.get(SECRET, "dpucluster-admin-kubeconfig", dpu_ns)["data"]["super-admin.conf"])
            == rotated
        ),
    )


def test_dpucluster_already_pointing_elsewhere_is_a_conflict(mgmt, operator):
    ns = namespace(mgmt, unique("tenant"))
    dpu_ns = namespace(mgmt, unique("dpus"))
    secrets(mgmt, ns)
    mgmt.create(
        DPU_CLUSTER,
        {
            "apiVersion": "provisioning.dpu.nvidia.com/v1alpha1",
            "kind": "DPUCluster",
            "metadata": {"name": "dpucluster", "namespace": dpu_ns},
            "spec": {"type": "static", "kubeconfig": "someone-elses"},
        },
    )
    mgmt.create(PROVISIONER, provisioner_body(ns, "hcp", dpu_ns, "dpucluster"))
    obj = wait_condition(mgmt, ns, "hcp", "KubeConfigInjected", "False", "KubeconfigConflict")
    message = condition(obj, "KubeConfigInjected")["message"]
    assert "'someone-elses'" in message
    assert "set once" in message
    assert condition(obj, "Ready")["status"] == "False"
    assert mgmt.get(DPU_CLUSTER, "dpucluster", dpu_ns)["spec"]["kubeconfig"] == "someone-elses"


def test_every_hosted_cluster_condition_is_mirrored_as_reported(mgmt, operator):
    ns, _, obj = ready(mgmt)
    hc = mgmt.get(HOSTED_CLUSTER, "hcp", ns)
    theirs = {c["type"]: c for c in hc["status"]["conditions"]}
    assert "EtcdRecoveryActive" not in theirs  # HyperShift sets it once a recovery runs
    assert "IgnitionServerValidReleaseInfo" not in theirs  # HyperShift keeps it on the HostedControlPlane
    for their_type, our_type in MIRRORED.items():
        ours = condition(obj, our_type)
        assert ours is not None, our_type
        expected = (
            ABSENT_MEANS[their_type]
            if their_type not in theirs
            else tuple(theirs[their_type][k] for k in ("status", "reason", "message"))
        )
        assert (ours["status"], ours["reason"], ours["message"]) == expected, our_type
    # As HyperShift reports a cluster that was never restored, whose workers joined.
    assert condition(obj, "HostedClusterRestoredFromBackup")["status"] == "Unknown"
    assert condition(obj, "DataPlaneConnectionAvailable")["status"] == "True"
    assert condition(obj, "HostedClusterProgressing")["status"] == "False"


def test_both_versions_are_conditions_and_kubectl_get_wide_columns(mgmt, operator):
    ns, _, _ = ready(mgmt)
    obj = wait_condition(mgmt, ns, "hcp", "DataPlaneRolledOut", "True", "Completed")
    hc = mgmt.get(HOSTED_CLUSTER, "hcp", ns)
    cp, cv = hc["status"]["controlPlaneVersion"]["history"][0], hc["status"]["version"]["history"][0]
    assert (cp["state"], cv["state"]) == ("Completed", "Completed")  # a worker joined at the session's start
    assert condition(obj, "ControlPlaneRolledOut")["message"] == f"The control plane completed {cp['version']}"
    assert condition(obj, "DataPlaneRolledOut")["message"] == (
        f"The hosted cluster's ClusterVersion completed {cv['version']}"
    )
    cells, wide = wide_row(mgmt, ns)
    assert (cells["CP Version"], cells["CP Progress"]) == (cp["version"], "Completed")
    assert (cells["Version"], cells["Progress"]) == (cv["version"], "Completed")
    assert {"CP Version", "CP Progress", "Version", "Progress"} <= wide


def test_degraded_hosted_cluster_fails_the_phase_and_recovers(mgmt, operator):
    ns, _, _ = ready(mgmt)
    standin_settings(mgmt, **{f"{ns}.hcp.degraded": "true"})
    try:
        obj = wait_condition(mgmt, ns, "hcp", "HostedClusterDegraded", "True")
        obj = wait_condition(mgmt, ns, "hcp", "Ready", "False", "HostedClusterDegraded")
        assert obj["status"]["phase"] == "Failed"
        assert "replicas" in condition(obj, "Ready")["message"]
    finally:
        standin_settings(mgmt, **{f"{ns}.hcp.degraded": ""})
    obj = wait_condition(mgmt, ns, "hcp", "Ready", "True")
    assert obj["status"]["phase"] == "Ready"


def test_upgrade_moves_hosted_cluster_and_nodepool_and_shows_upgrading_until_done(mgmt, operator):
    ns, _, _ = ready(mgmt)
    new_release = "quay.io/openshift-release-dev/ocp-release:4.18.0-x86_64"
    # HyperShift's rollout takes minutes; the stand-in's takes 3 s unless held, and a busy operator
    # could miss that window. Held, the test sees the upgrade under way, then lets it finish.
    standin_settings(mgmt, **{f"{ns}.hcp.upgradeHeld": "true"})
    try:
        mgmt.patch(PROVISIONER, "hcp", {"spec": {"ocpReleaseImage": new_release}}, ns)
        obj = wait_condition(mgmt, ns, "hcp", "HostedClusterUpgrading", "True", "UpgradeInProgress", timeout=120)
        assert obj["status"]["phase"] == "Upgrading"
        # Ready means the control plane at the desired release: not while it rolls 4.18.0 out.
        obj = wait_condition(mgmt, ns, "hcp", "ControlPlaneRolledOut", "False", "Partial")
        assert "rolling out 4.18.0" in condition(obj, "ControlPlaneRolledOut")["message"]
        obj = wait_condition(mgmt, ns, "hcp", "Ready", "False", "ControlPlaneRollingOut")
        assert obj["status"]["phase"] == "Upgrading"
        assert obj["status"]["versions"]["controlPlane"] == {"version": "4.18.0", "state": "Partial"}
        assert mgmt.get(HOSTED_CLUSTER, "hcp", ns)["spec"]["release"]["image"] == new_release
        assert mgmt.get(NODE_POOL, "hcp", ns)["spec"]["release"]["image"] == new_release
    finally:
        standin_settings(mgmt, **{f"{ns}.hcp.upgradeHeld": ""})
    obj = wait_condition(mgmt, ns, "hcp", "HostedClusterUpgrading", "False", "AtDesiredVersion")
    obj = wait_condition(mgmt, ns, "hcp", "Ready", "True")
    assert obj["status"]["phase"] == "Ready"
    assert condition(obj, "ControlPlaneRolledOut")["reason"] == "Completed"
    assert condition(obj, "DataPlaneRolledOut")["reason"] == "Completed"
    assert obj["status"]["versions"] == {
        "controlPlane": {"version": "4.18.0", "state": "Completed"},
        "dataPlane": {"version": "4.18.0", "state": "Completed"},
    }
    assert obj["status"]["blueFieldContainerImage"] == BLUEFIELD_IMAGES["4.18.0"]
    history = mgmt.get(HOSTED_CLUSTER, "hcp", ns)["status"]["version"]["history"]
    assert (history[0]["version"], history[0]["state"]) == ("4.18.0", "Completed")
    assert history[0]["image"] == release_digest(new_release)  # as the hosted CVO names it


def test_unmapped_upgrade_is_refused_and_the_running_cluster_is_untouched(mgmt, operator):
    ns, _, _ = ready(mgmt)
    before_hc = mgmt.get(HOSTED_CLUSTER, "hcp", ns)["spec"]["release"]["image"]
    mgmt.patch(
        PROVISIONER, "hcp", {"spec": {"ocpReleaseImage": "quay.io/openshift-release-dev/ocp-release:4.66.0"}}, ns
    )
    obj = wait_condition(mgmt, ns, "hcp", "BlueFieldImageResolved", "False", "VersionNotMapped")
    assert "4.66.0" in condition(obj, "BlueFieldImageResolved")["message"]
    assert obj["status"]["blueFieldContainerImage"] == BLUEFIELD_IMAGES["4.19.0-ec.5"]
    assert mgmt.get(HOSTED_CLUSTER, "hcp", ns)["spec"]["release"]["image"] == before_hc
    assert mgmt.get(NODE_POOL, "hcp", ns)["spec"]["release"]["image"] == before_hc


STUCK_WINDOW = 24


def finalize_runs(log, ns: str) -> int:
    """How many runs (not skips) the operator's log reports for provisioner ``ns``/hcp."""
    count = 0
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{") and f'"namespace": "{ns}"' in line:
            entry = json.loads(line)
            count += entry.get("msg") == "reconciled" and entry.get("name") == "hcp"
    return count


def test_deletion_is_in_order_reports_a_stuck_hosted_cluster_and_leaves_nothing(mgmt, operator):
    ns, dpu_ns, _ = ready(mgmt)
    standin_settings(mgmt, **{f"{ns}.hcp.stuckDeletion": "true"})
    try:
        mgmt.delete(PROVISIONER, "hcp", ns)
        obj = wait_condition(mgmt, ns, "hcp", "HostedClusterCleanup", "False", "InProgress")
        assert obj["status"]["phase"] == "Deleting"
        assert f"HostedCluster/hcp in namespace {ns}" in condition(obj, "HostedClusterCleanup")["message"]
        # First the kubeconfig went back; what follows the HostedCluster waits for it.
        assert labelled(mgmt, SECRET, dpu_ns, ns) == []
        assert mgmt.get(HOSTED_CLUSTER, "hcp", ns)["metadata"].get("deletionTimestamp")
        assert mgmt.get_or_none(NODE_POOL, "hcp", ns) is not None
        assert (
            len(labelled(mgmt, SECRET, ns, ns)) == 3
        )  # the pull secret and SSH key copies, and the etcd encryption key
        assert len(labelled(mgmt, IP_ADDRESS_POOL, "metallb-system", ns)) == 1
        obj = wait_condition(mgmt, ns, "hcp", "HostedClusterCleanup", "False", "Failed", timeout=CLEANUP_TIMEOUT + 30)
        assert "finalizers" in condition(obj, "HostedClusterCleanup")["message"]
        assert "next look in" in condition(obj, "HostedClusterCleanup")["message"]
        assert "provisioning.dpu.hcp.io/finalizer" in obj["metadata"]["finalizers"]
        # Stuck, it looks again on its timer (2 s doubling with the time waited: from about 7 s
        # waited, at about 10, 19 and 36 s), not on the echo of its own status writes (every 3 s before).
        before = finalize_runs(operator.log, ns)
        time.sleep(STUCK_WINDOW)
        looks = finalize_runs(operator.log, ns) - before
        print(f"stuck for {STUCK_WINDOW}s more: {looks} finalize runs")
        assert looks <= 4, f"{looks} finalize runs in {STUCK_WINDOW}s of a stuck deletion"
    finally:
        standin_settings(mgmt, **{f"{ns}.hcp.stuckDeletion": ""})
    wait_for("provisioner gone", lambda: mgmt.get_or_none(PROVISIONER, "hcp", ns) is None, timeout=60)
    for res, where in (
        (HOSTED_CLUSTER, ns),
        (NODE_POOL, ns),
        (SECRET, ns),
        (SECRET, dpu_ns),
        (IP_ADDRESS_POOL, "metallb-system"),
        (L2_ADVERTISEMENT, "metallb-system"),
    ):
        assert labelled(mgmt, res, where, ns) == [], res.kind


def test_deleted_dpucluster_keeps_the_hosted_cluster_and_recovers_when_back(mgmt, operator):
    ns, dpu_ns, _ = ready(mgmt)
    mgmt.delete(DPU_CLUSTER, "dpucluster", dpu_ns)
    obj = wait_condition(mgmt, ns, "hcp", "DPUClusterMissing", "True", "DPUClusterDeleted")
    assert obj["status"]["phase"] == "Failed"
    assert "HostedCluster is kept" in condition(obj, "DPUClusterMissing")["message"]
    assert mgmt.get_or_none(HOSTED_CLUSTER, "hcp", ns) is not None
    dpucluster(mgmt, dpu_ns, "dpucluster")
    obj = wait_condition(mgmt, ns, "hcp", "Ready", "True")
    assert mgmt.get(DPU_CLUSTER, "dpucluster", dpu_ns)["spec"]["kubeconfig"] == "dpucluster-admin-kubeconfig"
