"""A DPFHCPProvisioner through the operator on the real API servers, with the stand-ins."""

from __future__ import annotations

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    HOSTED_CLUSTER,
    LABEL_NAME,
    LABEL_NAMESPACE,
    NODE_POOL,
    PROVISIONER,
)
from support import (
    BLUEFIELD_IMAGES,
    condition,
    dpucluster,
    management_node,
    namespace,
    provisioner_body,
    secrets,
    unique,
    wait_condition,
    wait_for,
)

FINALIZER = "provisioning.dpu.hcp.io/finalizer"


def setup_inputs(mgmt, **spec):
    ns = namespace(mgmt, unique("tenant"))
    dpu_ns = namespace(mgmt, unique("dpus"))
    secrets(mgmt, ns)
    dpucluster(mgmt, dpu_ns, "dpucluster")
    body = provisioner_body(ns, "hcp", dpu_ns, "dpucluster", **spec)
    return ns, dpu_ns, body


def test_provisioner_becomes_ready_with_hosted_cluster_nodepool_and_status(mgmt, operator):
    ns, _, body = setup_inputs(mgmt, etcdStorageClass="fast-ssd")
    cr = mgmt.create(PROVISIONER, body)
    obj = wait_condition(mgmt, ns, "hcp", "Ready", "True")

    status = obj["status"]
    assert status["phase"] == "Ready"
    assert status["hostedClusterRef"] == {"namespace": ns, "name": "hcp"}
    assert status["blueFieldContainerImage"] == BLUEFIELD_IMAGES["4.19.0-ec.5"]
    assert status["observedGeneration"] == obj["metadata"]["generation"]
    assert FINALIZER in obj["metadata"]["finalizers"]
    types = {c["type"] for c in status["conditions"]}
    for mirrored in (
        "HostedClusterAvailable",
        "HostedClusterProgressing",
        "HostedClusterDegraded",
        "InfrastructureReady",
        "KubeAPIServerAvailable",
        "EtcdAvailable",
        "ValidReleaseInfo",
        "ValidReleaseImage",
        "IgnitionEndpointAvailable",
        "IgnitionServerValidReleaseInfo",
        "EtcdRecoveryActive",
        "HostedClusterRestoredFromBackup",
        "DataPlaneConnectionAvailable",
    ):
        assert mirrored in types
    assert condition(obj, "HostedClusterAvailable")["status"] == "True"
    for c in status["conditions"]:
        assert c["reason"] and c["lastTransitionTime"]

    hc = mgmt.get(HOSTED_CLUSTER, "hcp", ns)
    spec = hc["spec"]
    assert spec["platform"] == {"type": "None"}
    assert spec["networking"]["networkType"] == "Other"
    assert spec["networking"]["serviceNetwork"] == [{"cidr": "172.31.0.0/16"}]
    assert spec["networking"]["clusterNetwork"] == [{"cidr": "10.132.0.0/14"}]
    assert spec["etcd"]["managementType"] == "Managed"
    assert spec["etcd"]["managed"]["storage"]["persistentVolume"] == {"size": "8Gi", "storageClassName": "fast-ssd"}
    assert spec["release"]["image"] == body["spec"]["ocpReleaseImage"]
    assert spec["dns"]["baseDomain"] == "clusters.example.com"
    assert spec["pullSecret"]["name"] == "hcp-pull-secret"
    assert spec["sshKey"]["name"] == "hcp-ssh-key"
    assert spec["controllerAvailabilityPolicy"] == "HighlyAvailable"
    services = {s["service"]: s["servicePublishingStrategy"]["type"] for s in spec["services"]}
    assert services == {
        "APIServer": "LoadBalancer",
        "OAuthServer": "Route",
        "Konnectivity": "Route",
        "Ignition": "Route",
    }
    np = mgmt.get(NODE_POOL, "hcp", ns)
    assert np["spec"]["replicas"] == 0
    assert np["spec"]["management"]["upgradeType"] == "Replace"
    assert np["spec"]["platform"] == {"type": "None"}
    assert np["spec"]["clusterName"] == "hcp"
    for owned in (hc, np, mgmt.get(SECRET, "hcp-pull-secret", ns), mgmt.get(SECRET, "hcp-ssh-key", ns)):
        assert owned["metadata"]["labels"][LABEL_NAME] == "hcp"
        assert owned["metadata"]["labels"][LABEL_NAMESPACE] == ns
        assert owned["metadata"]["ownerReferences"][0]["uid"] == cr["metadata"]["uid"]
    copied = mgmt.get(SECRET, "hcp-pull-secret", ns)
    assert copied["type"] == "kubernetes.io/dockerconfigjson"
    assert copied["data"][".dockerconfigjson"] == mgmt.get(SECRET, "pull-secret", ns)["data"][".dockerconfigjson"]


def test_single_replica_without_vip_publishes_node_ports_at_a_management_node(mgmt, operator):
    with management_node(mgmt, "10.9.8.7"):
        spec = {"controlPlaneAvailabilityPolicy": "SingleReplica"}
        ns, _, body = setup_inputs(mgmt, **spec)
        del body["spec"]["virtualIP"]
        mgmt.create(PROVISIONER, body)
        wait_condition(mgmt, ns, "hcp", "Ready", "True")
    hc = mgmt.get(HOSTED_CLUSTER, "hcp", ns)
    services = {s["service"]: s["servicePublishingStrategy"] for s in hc["spec"]["services"]}
    assert set(services) == {"APIServer", "OAuthServer", "OIDC", "Konnectivity", "Ignition"}
    for strategy in services.values():
        assert strategy == {"type": "NodePort", "nodePort": {"address": "10.9.8.7"}}
    assert hc["spec"]["controllerAvailabilityPolicy"] == "SingleReplica"


def test_missing_pull_secret_fails_then_recovers_when_created(mgmt, operator):
    ns = namespace(mgmt, unique("tenant"))
    dpu_ns = namespace(mgmt, unique("dpus"))
    dpucluster(mgmt, dpu_ns, "dpucluster")
    secrets(mgmt, ns, names=("unused", "ssh-key"))
    mgmt.create(PROVISIONER, provisioner_body(ns, "hcp", dpu_ns, "dpucluster"))
    obj = wait_condition(mgmt, ns, "hcp", "SecretsValid", "False", "PullSecretNotFound")
    message = condition(obj, "SecretsValid")["message"]
    assert f"{ns}/pull-secret" in message
    assert "spec.pullSecretRef.name" in message
    assert "kubectl create secret generic pull-secret" in message
    obj = wait_for(
        "phase Failed", lambda: (o := mgmt.get(PROVISIONER, "hcp", ns))["status"].get("phase") == "Failed" and o
    )
    assert condition(obj, "Ready")["reason"] == "ValidationFailed"
    assert mgmt.get_or_none(HOSTED_CLUSTER, "hcp", ns) is None

    secrets(mgmt, ns)  # the fix: the CR is not recreated
    wait_condition(mgmt, ns, "hcp", "Ready", "True")
    assert mgmt.get_or_none(HOSTED_CLUSTER, "hcp", ns) is not None


def test_secret_without_its_key_names_the_key(mgmt, operator):
    ns = namespace(mgmt, unique("tenant"))
    dpu_ns = namespace(mgmt, unique("dpus"))
    dpucluster(mgmt, dpu_ns, "dpucluster")
    secrets(mgmt, ns, ssh={"id_ed25519.pub": "ssh-ed25519 AAAA"})
    mgmt.create(PROVISIONER, provisioner_body(ns, "hcp", dpu_ns, "dpucluster"))
    obj = wait_condition(mgmt, ns, "hcp", "SecretsValid", "False", "SSHKeySecretKeyMissing")
    message = condition(obj, "SecretsValid")["message"]
    assert "'id_rsa.pub'" in message
    assert "id_ed25519.pub" in message
    assert "AAAA" not in message
    secrets(mgmt, ns)
    wait_condition(mgmt, ns, "hcp", "SecretsValid", "True")


def test_missing_dpucluster_fails_then_recovers_when_it_appears(mgmt, operator):
    ns = namespace(mgmt, unique("tenant"))
    dpu_ns = namespace(mgmt, unique("dpus"))
    secrets(mgmt, ns)
    mgmt.create(PROVISIONER, provisioner_body(ns, "hcp", dpu_ns, "late"))
    obj = wait_condition(mgmt, ns, "hcp", "DPUClusterMissing", "True", "DPUClusterNotFound")
    assert f"{dpu_ns}/late" in condition(obj, "DPUClusterMissing")["message"]
    assert obj["status"]["phase"] == "Failed"
    dpucluster(mgmt, dpu_ns, "late")
    obj = wait_condition(mgmt, ns, "hcp", "Ready", "True")
    assert condition(obj, "DPUClusterMissing")["status"] == "False"


def test_kamaji_dpucluster_is_refused(mgmt, operator):
    ns = namespace(mgmt, unique("tenant"))
    dpu_ns = namespace(mgmt, unique("dpus"))
    secrets(mgmt, ns)
    dpucluster(mgmt, dpu_ns, "kamaji-cluster", cluster_type="kamaji")
    mgmt.create(PROVISIONER, provisioner_body(ns, "hcp", dpu_ns, "kamaji-cluster"))
    obj = wait_condition(mgmt, ns, "hcp", "ClusterTypeValid", "False", "UnsupportedClusterType")
    assert "'kamaji'" in condition(obj, "ClusterTypeValid")["message"]
    assert mgmt.get_or_none(HOSTED_CLUSTER, "hcp", ns) is None


def test_second_provisioner_on_one_dpucluster_is_refused_and_first_keeps_it(mgmt, operator):
    ns, dpu_ns, body = setup_inputs(mgmt)
    mgmt.create(PROVISIONER, body)
    wait_condition(mgmt, ns, "hcp", "Ready", "True")
    other_ns = namespace(mgmt, unique("tenant"))
    secrets(mgmt, other_ns)
    mgmt.create(PROVISIONER, provisioner_body(other_ns, "second", dpu_ns, "dpucluster"))
    obj = wait_condition(mgmt, other_ns, "second", "DPUClusterInUse", "True", "InUseByAnotherProvisioner")
    assert f"{ns}/hcp" in condition(obj, "DPUClusterInUse")["message"]
    assert mgmt.get_or_none(HOSTED_CLUSTER, "second", other_ns) is None
    first = mgmt.get(PROVISIONER, "hcp", ns)
    assert condition(first, "DPUClusterInUse")["status"] == "False"
    assert condition(first, "Ready")["status"] == "True"

    # When the first goes, the DPUCluster is free and the second proceeds on its own.
    mgmt.delete(PROVISIONER, "hcp", ns)
    wait_condition(mgmt, other_ns, "second", "Ready", "True", timeout=90)


def test_unmapped_release_fails_with_available_versions_then_recovers(mgmt, operator):
    ns, _, body = setup_inputs(mgmt, ocpReleaseImage="quay.io/openshift-release-dev/ocp-release:4.99.7-x86_64")
    mgmt.create(PROVISIONER, body)
    obj = wait_condition(mgmt, ns, "hcp", "BlueFieldImageResolved", "False", "VersionNotMapped")
    message = condition(obj, "BlueFieldImageResolved")["message"]
    assert "4.99.7" in message
    assert "ocp-bluefield-images" in message
    assert "4.18.0, 4.19.0-ec.5" in message
    assert mgmt.get_or_none(HOSTED_CLUSTER, "hcp", ns) is None
    from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import CONFIGMAP

    mgmt.patch(
        CONFIGMAP,
        "ocp-bluefield-images",
        {"data": {"4.99.7": "quay.io/example/bluefield:4.99.7"}},
        "dpf-hcp-provisioner-system",
    )
    # A failure, then recovery: three Ansible runs and the stand-in's rollout, behind whatever
    # earlier tests left the shared operator to do.
    obj = wait_condition(mgmt, ns, "hcp", "Ready", "True", timeout=120)
    assert obj["status"]["blueFieldContainerImage"] == "quay.io/example/bluefield:4.99.7"


def test_deletion_tears_down_everything_created_and_removes_the_finalizer(mgmt, operator):
    ns, _, body = setup_inputs(mgmt)
    mgmt.create(PROVISIONER, body)
    wait_condition(mgmt, ns, "hcp", "Ready", "True")
    mgmt.delete(PROVISIONER, "hcp", ns)
    wait_for("provisioner gone", lambda: mgmt.get_or_none(PROVISIONER, "hcp", ns) is None, timeout=60)
    selector = f"{LABEL_NAME}=hcp,{LABEL_NAMESPACE}={ns}"
    for res in (HOSTED_CLUSTER, NODE_POOL, SECRET):
        assert mgmt.list(res, ns, label_selector=selector).get("items") in (None, [])
    assert mgmt.get_or_none(SECRET, "pull-secret", ns) is not None  # the user's own input is left alone
