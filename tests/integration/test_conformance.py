"""What the roles write is accepted by the real upstream CRDs (HyperShift, DPF, MetalLB).

The upstream files live in ../shared/conformance/crds and are used from there, never copied.
They are installed on a control plane of their own (our fixture CRDs carry the same names),
through ../shared/tools/legacy-crds, which strips what a 1.20 API server cannot take.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.apply import apply
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.resources import (
    CRD,
    HOSTED_CLUSTER,
    NODE_POOL,
    PROVISIONER,
)
from dpf_hcp_dev.localcluster.environment import OPERATOR_NAMESPACE, Environment, install_crds
from support import (
    BLUEFIELD_IMAGES,
    REPO,
    condition,
    dpucluster,
    namespace,
    provisioner_body,
    run_playbook,
    secrets,
)

SHARED = REPO.parent / "shared"
UPSTREAM_CRDS = SHARED / "conformance" / "crds"
LEGACY_TOOL = SHARED / "tools" / "legacy-crds"

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
        apply(
            client,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "ocp-bluefield-images", "namespace": OPERATOR_NAMESPACE},
                "data": BLUEFIELD_IMAGES,
            },
        )
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
    assert np["spec"]["replicas"] == 0
    assert np["spec"]["management"]["upgradeType"] == "Replace"
    status = client.get(PROVISIONER, "hcp", ns)
    assert condition(status, "SecretsValid")["status"] == "True"
    assert status["status"]["hostedClusterRef"] == {"namespace": ns, "name": "hcp"}
    assert upstream_schema_has(client, "hostedclusters.hypershift.openshift.io", "services")
