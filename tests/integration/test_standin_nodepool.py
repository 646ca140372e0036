"""Contract of the HyperShift stand-in's NodePool controller (issue 17): a NodePool of platform None
gets the status, finalizer, ownerReference and annotations openshift/hypershift writes
(hypershift-operator/controllers/nodepool/nodepool_controller.go, conditions.go, config.go), and our
code copes: it never waits for a NodePool Ready (HyperShift sets none for platform None), takes
HyperShift's refusal of the NodePool as a condition that names it, and does not fight HyperShift's
writes.

- Conditions, in signalConditions' order, as a healthy platform-None NodePool ends up; no Ready;
  status.version and nodePoolCurrentConfig once the token is made; the finalizer and an
  ownerReference to the HostedCluster, which our apply leaves alone:
  test_a_platform_none_nodepool_gets_hypershifts_status_and_our_apply_leaves_it_alone.
- A spec.config HyperShift's config generator refuses is ValidMachineConfig False/ValidationFailed
  in its words, and no token is made for it; a deleted NodePool's tokens go before its finalizer:
  test_a_nodepool_config_hypershift_refuses_is_valid_machine_config_false_and_gets_no_token.
- ValidMachineConfig False that lasts reaches the provisioner: IgnitionConfigured False
  NodePoolConfigInvalid, naming HyperShift's words, and clears when HyperShift does; a young one
  does not: test_a_lasting_nodepool_refusal_is_a_condition_in_hypershifts_words_a_young_one_is_not.
"""

from __future__ import annotations

import base64
import ssl
import time

import urllib3

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import CONFIGMAP, EVENT, SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.ignition import bearer
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    HOSTED_CLUSTER,
    NODE_POOL,
    PROVISIONER,
)
from support import (
    RELEASE,
    condition,
    dpucluster,
    namespace,
    provisioner_body,
    secrets,
    someone_elses_hosted_cluster,
    standin_settings,
    unique,
    wait_condition,
    wait_for,
)

FINALIZER = "hypershift.openshift.io/finalizer"


def _ignition_status(endpoint: str, ca_pem: str, token: str) -> int:
    """The ignition server's answer to the token, as our code asks it (Bearer + base64)."""
    pool = urllib3.PoolManager(ssl_context=ssl.create_default_context(cadata=ca_pem), retries=False, timeout=10)
    return pool.request("GET", f"https://{endpoint}/ignition", headers={"Authorization": bearer(token)}).status


def conditions(obj):
    return {c["type"]: (c["status"], c.get("reason", "")) for c in (obj.get("status") or {}).get("conditions") or []}


def provisioner(mgmt, **spec):
    ns = namespace(mgmt, unique("tenant"))
    dpu_ns = namespace(mgmt, unique("dpus"))
    secrets(mgmt, ns)
    dpucluster(mgmt, dpu_ns, "dpucluster")
    mgmt.create(PROVISIONER, provisioner_body(ns, "hcp", dpu_ns, "dpucluster", **spec))
    return ns


def test_a_platform_none_nodepool_gets_hypershifts_status_and_our_apply_leaves_it_alone(mgmt, operator):
    ns = provisioner(mgmt)
    wait_condition(mgmt, ns, "hcp", "Ready", "True", timeout=120)
    wait_for("the NodePool's version", lambda: (mgmt.get(NODE_POOL, "hcp", ns).get("status") or {}).get("version"))
    pool = mgmt.get(NODE_POOL, "hcp", ns)
    hc = mgmt.get(HOSTED_CLUSTER, "hcp", ns)
    assert FINALIZER in pool["metadata"]["finalizers"]
    owners = {(o["kind"], o["uid"], bool(o.get("controller"))) for o in pool["metadata"]["ownerReferences"]}
    provisioner_uid = mgmt.get(PROVISIONER, "hcp", ns)["metadata"]["uid"]
    assert owners == {("HostedCluster", hc["metadata"]["uid"], False), ("DPFHCPProvisioner", provisioner_uid, True)}
    wait_for(
        "UpdatingConfig and UpdatingVersion done",
        lambda: (
            conditions(mgmt.get(NODE_POOL, "hcp", ns))["UpdatingVersion"][0] == "False"
            and conditions(mgmt.get(NODE_POOL, "hcp", ns))["ValidGeneratedPayload"][0] == "True"
        ),
    )
    pool = mgmt.get(NODE_POOL, "hcp", ns)
    assert conditions(pool) == {
        "AllMachinesReady": ("False", "AsExpected"),
        "AllNodesHealthy": ("False", "AsExpected"),
        "AutoscalingEnabled": ("False", "AsExpected"),
        "ReachedIgnitionEndpoint": ("False", "ignitionNotReached"),
        "ReconciliationActive": ("True", "ReconciliationActive"),
        "SupportedVersionSkew": ("True", "AsExpected"),
        "UpdateManagementEnabled": ("True", "AsExpected"),
        "UpdatingConfig": ("False", "AsExpected"),
        "UpdatingVersion": ("False", "AsExpected"),
        "ValidArchPlatform": ("True", "AsExpected"),
        "ValidGeneratedPayload": ("True", "AsExpected"),
        "ValidMachineConfig": ("True", "AsExpected"),
        "ValidPlatformConfig": ("True", "AsExpected"),
        "ValidReleaseImage": ("True", "AsExpected"),
    }  # no Ready: only CAPI's reconcile sets it, and platform None has none
    assert pool["status"]["version"] == "4.19.0-ec.5" and RELEASE.endswith("4.19.0-ec.5-x86_64")
    annotations = pool["metadata"]["annotations"]
    assert annotations["hypershift.openshift.io/nodePoolCurrentConfig"]
    assert annotations["hypershift.openshift.io/nodePoolCurrentConfigVersion"]
    # The MachineConfig ConfigMap is applied before the NodePool that names it, so HyperShift has no
    # missing ConfigMap to say; NodePoolConfigInvalid never reaches the provisioner's story.
    reasons = {e.get("reason") for e in mgmt.list(EVENT, ns).get("items") or []}
    assert "NodePoolConfigInvalid" not in reasons, reasons
    # Our runs and HyperShift's writes settle: nobody rewrites the NodePool over and over.
    before = pool["metadata"]["resourceVersion"]
    time.sleep(5)
    assert mgmt.get(NODE_POOL, "hcp", ns)["metadata"]["resourceVersion"] == before


def test_a_nodepool_config_hypershift_refuses_is_valid_machine_config_false_and_gets_no_token(mgmt, standins):
    ns = namespace(mgmt, unique("platform"))
    mgmt.create(HOSTED_CLUSTER, someone_elses_hosted_cluster(ns, "hc"))
    mgmt.create(
        CONFIGMAP,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "bad", "namespace": ns},
            "data": {"config": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n"},
        },
    )
    body = {
        "apiVersion": "hypershift.openshift.io/v1beta1",
        "kind": "NodePool",
        "metadata": {"name": "hc", "namespace": ns},
        "spec": {
            "clusterName": "hc",
            "replicas": 0,
            "management": {"upgradeType": "Replace"},
            "platform": {"type": "None"},
            "release": {"image": "quay.io/openshift-release-dev/ocp-release:4.19.0-multi"},
            "config": [{"name": "missing"}, {"name": "bad"}],
        },
    }
    mgmt.create(NODE_POOL, body)
    wait_for("ValidMachineConfig", lambda: "ValidMachineConfig" in conditions(mgmt.get(NODE_POOL, "hc", ns)))
    pool = mgmt.get(NODE_POOL, "hc", ns)
    found = next(c for c in pool["status"]["conditions"] if c["type"] == "ValidMachineConfig")
    assert (found["status"], found["reason"]) == ("False", "ValidationFailed")
    assert found["message"] == (
        '[configmaps "missing" not found, configmap "bad" yaml document failed validation: '
        'error decoding config: no kind "Pod" is registered for version "v1"]'
    )
    assert found["observedGeneration"] == pool["metadata"]["generation"]
    assert "Ready" not in conditions(pool) and "UpdatingConfig" not in conditions(pool)  # the reconcile stopped
    time.sleep(2)
    tokens = [
        s for s in mgmt.list(SECRET, f"{ns}-hc").get("items") or [] if s["metadata"]["name"].startswith("token-hc-")
    ]
    assert tokens == []
    # Fixed: a token, a version; deleted: the tokens go, then the finalizer.
    mgmt.patch(NODE_POOL, "hc", {"spec": {"config": None}}, ns)
    wait_for(
        "the NodePool's token", lambda: (mgmt.get(NODE_POOL, "hc", ns).get("status") or {}).get("version"), timeout=60
    )
    issued = [
        s for s in mgmt.list(SECRET, f"{ns}-hc").get("items") or [] if s["metadata"]["name"].startswith("token-hc-")
    ]
    assert issued
    # The ignition server serves the token until the NodePool's deletion revokes it (its own loop
    # here, as its own process upstream: a revoked token is not served again by a later look).
    token = base64.b64decode(issued[0]["data"]["token"]).decode()
    ca_pem = base64.b64decode(mgmt.get(SECRET, "ignition-server-ca-cert", f"{ns}-hc")["data"]["tls.crt"]).decode()
    endpoint = mgmt.get(HOSTED_CLUSTER, "hc", ns)["status"]["ignitionEndpoint"]
    wait_for("the token served", lambda: _ignition_status(endpoint, ca_pem, token) == 200, timeout=30)
    mgmt.delete(NODE_POOL, "hc", ns)
    wait_for("the NodePool gone", lambda: mgmt.get_or_none(NODE_POOL, "hc", ns) is None, timeout=60)
    assert [
        s for s in mgmt.list(SECRET, f"{ns}-hc").get("items") or [] if s["metadata"]["name"].startswith("token-hc-")
    ] == []
    wait_for("the revoked token refused", lambda: _ignition_status(endpoint, ca_pem, token) == 511, timeout=10)
    mgmt.delete(HOSTED_CLUSTER, "hc", ns)


def test_a_lasting_nodepool_refusal_is_a_condition_in_hypershifts_words_a_young_one_is_not(mgmt, operator):
    """While the control plane has not written its core configs, HyperShift says ValidMachineConfig
    False (config.go getCoreConfigs): for a while that is normal, so the provisioner only looks
    again; once it has lasted two minutes it is IgnitionConfigured=False NodePoolConfigInvalid, with
    HyperShift's words. Here the two minutes pass by moving the condition's time back."""
    ns = namespace(mgmt, unique("tenant"))
    standin_settings(mgmt, **{f"{ns}.hcp.coreConfigsMissing": "true"})
    dpu_ns = namespace(mgmt, unique("dpus"))
    secrets(mgmt, ns)
    dpucluster(mgmt, dpu_ns, "dpucluster")
    try:
        mgmt.create(PROVISIONER, provisioner_body(ns, "hcp", dpu_ns, "dpucluster"))
        wait_for(
            "ValidMachineConfig False",
            lambda: (
                conditions(mgmt.get_or_none(NODE_POOL, "hcp", ns) or {}).get("ValidMachineConfig", ("",))[0] == "False"
            ),
        )
        obj = wait_condition(mgmt, ns, "hcp", "IgnitionConfigured", "False", timeout=60)
        assert condition(obj, "IgnitionConfigured")["reason"] != "NodePoolConfigInvalid"  # young: waited out
        pool = mgmt.get(NODE_POOL, "hcp", ns)
        for c in pool["status"]["conditions"]:
            if c["type"] == "ValidMachineConfig":
                c["lastTransitionTime"] = "2026-01-01T00:00:00Z"
        mgmt.replace(NODE_POOL, pool, subresource="status")
        # HyperShift's status writes alone run nothing (each would cost a run); a change the operator
        # follows makes it look now, as its own timer would at the end of the two minutes.
        mgmt.patch(SECRET, "pull-secret", {"metadata": {"labels": {"touched": "1"}}}, ns)
        obj = wait_condition(mgmt, ns, "hcp", "IgnitionConfigured", "False", reason="NodePoolConfigInvalid", timeout=60)
        message = condition(obj, "IgnitionConfigured")["message"]
        assert f"NodePool {ns}/hcp" in message
        assert "ValidMachineConfig=False 'ValidationFailed': 'expected 2 core ignition configs, found 0'" in message
        assert f"{ns}/hcp-bluefield-os" in message
        assert condition(obj, "Ready")["status"] == "False"
    finally:
        standin_settings(mgmt, **{f"{ns}.hcp.coreConfigsMissing": ""})
    wait_condition(mgmt, ns, "hcp", "Ready", "True", timeout=120)
