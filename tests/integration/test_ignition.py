"""The DPUs boot the BlueField OS image: HyperShift's MachineConfig ConfigMap named by the NodePool,
and DPF's bf.cfg template built from the ignition the stand-in's HTTPS ignition server hands out
(token and CA from the control plane namespace, TLS verified), kept in step and repaired."""

from __future__ import annotations

import base64
import json

import yaml

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.ignition import os_image
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.resources import (
    CONFIGMAP,
    NODE_POOL,
    PROVISIONER,
    SECRET,
)
from dpf_hcp_operator.pki import make_ca
from support import (
    BLUEFIELD_IMAGES,
    condition,
    dpucluster,
    namespace,
    provisioner_body,
    secrets,
    unique,
    wait_condition,
    wait_for,
)

BFCFG = "bfcfg-dpucluster.cfg"


def ready(mgmt, **spec):
    ns, dpu_ns = namespace(mgmt, unique("ign")), namespace(mgmt, unique("ign-dpus"))
    secrets(mgmt, ns)
    dpucluster(mgmt, dpu_ns, "dpucluster")
    mgmt.create(PROVISIONER, provisioner_body(ns, "hcp", dpu_ns, "dpucluster", **spec))
    wait_condition(mgmt, ns, "hcp", "Ready", "True")
    return ns, dpu_ns


def machine_config_image(mgmt, ns):
    config = yaml.safe_load(mgmt.get(CONFIGMAP, "hcp-bluefield-os", ns)["data"]["config"])
    assert config["kind"] == "MachineConfig"
    return config["spec"]["osImageURL"]


def bfcfg_image(mgmt, dpu_ns):
    cm = mgmt.get_or_none(CONFIGMAP, BFCFG, dpu_ns)
    return os_image(json.loads(cm["data"]["BF_CFG_TEMPLATE"])) if cm else None


def test_both_artefacts_boot_the_bluefield_image(mgmt, operator):
    ns, dpu_ns = ready(mgmt)
    image = BLUEFIELD_IMAGES["4.19.0-ec.5"]
    obj = wait_condition(mgmt, ns, "hcp", "IgnitionConfigured", "True", "Generated")
    assert obj["status"]["blueFieldContainerImage"] == image
    assert machine_config_image(mgmt, ns) == image
    assert mgmt.get(NODE_POOL, "hcp", ns)["spec"]["config"] == [{"name": "hcp-bluefield-os"}]
    cm = mgmt.get(CONFIGMAP, BFCFG, dpu_ns)
    assert cm["metadata"]["labels"]["provisioning.dpu.nvidia.com/bfcfg-template"] == "true"
    ignition = json.loads(cm["data"]["BF_CFG_TEMPLATE"])
    assert os_image(ignition) == image
    assert ignition["ignition"]["version"] == "3.2.0" and ignition["systemd"]["units"]  # the rest is HyperShift's


def test_machine_os_url_wins_and_a_release_change_regenerates_both(mgmt, operator):
    ns, dpu_ns = ready(mgmt)
    mgmt.patch(
        PROVISIONER, "hcp", {"spec": {"ocpReleaseImage": "quay.io/openshift-release-dev/ocp-release:4.18.0-x86_64"}}, ns
    )
    wait_for("the bf.cfg template to boot 4.18.0", lambda: bfcfg_image(mgmt, dpu_ns) == BLUEFIELD_IMAGES["4.18.0"])
    assert machine_config_image(mgmt, ns) == BLUEFIELD_IMAGES["4.18.0"]

    custom = "quay.io/example/custom-bluefield-os:1"
    mgmt.patch(PROVISIONER, "hcp", {"spec": {"machineOSURL": custom}}, ns)
    wait_for("the bf.cfg template to boot spec.machineOSURL", lambda: bfcfg_image(mgmt, dpu_ns) == custom)
    assert machine_config_image(mgmt, ns) == custom
    wait_for(
        "status.blueFieldContainerImage to show the image in use",
        lambda: (mgmt.get(PROVISIONER, "hcp", ns).get("status") or {}).get("blueFieldContainerImage") == custom,
    )
    wait_condition(mgmt, ns, "hcp", "Ready", "True")


def test_a_deleted_bfcfg_template_comes_back(mgmt, operator):
    ns, dpu_ns = ready(mgmt)
    wait_for("the bf.cfg template", lambda: bfcfg_image(mgmt, dpu_ns))
    mgmt.delete(CONFIGMAP, BFCFG, dpu_ns)
    wait_for("the bf.cfg template to come back", lambda: bfcfg_image(mgmt, dpu_ns) == BLUEFIELD_IMAGES["4.19.0-ec.5"])
    mgmt.delete(CONFIGMAP, "hcp-bluefield-os", ns)
    wait_for("the MachineConfig ConfigMap to come back", lambda: mgmt.get_or_none(CONFIGMAP, "hcp-bluefield-os", ns))


def test_a_wrong_token_or_ca_is_a_clear_condition_and_recovers(mgmt, operator, tmp_path):
    ns, dpu_ns = ready(mgmt)
    control_plane = f"{ns}-hcp"
    (token,) = [s for s in mgmt.list(SECRET, control_plane)["items"] if s["metadata"]["name"].startswith("token-hcp-")]
    mgmt.patch(SECRET, token["metadata"]["name"], {"stringData": {"token": "not-the-token"}}, control_plane)
    obj = wait_condition(mgmt, ns, "hcp", "IgnitionConfigured", "False", "EndpointUnreachable")
    message = next(c for c in obj["status"]["conditions"] if c["type"] == "IgnitionConfigured")["message"]
    assert "refused the NodePool's token (HTTP 401)" in message
    assert obj["status"]["phase"] != "Ready"
    mgmt.delete(SECRET, token["metadata"]["name"], control_plane)  # HyperShift issues a new token
    wait_condition(mgmt, ns, "hcp", "IgnitionConfigured", "True", "Generated")

    other_ca, _ = make_ca(tmp_path, "someone-else")
    encoded = base64.b64encode(other_ca.read_bytes()).decode()
    mgmt.patch(SECRET, "ignition-server-ca-cert", {"data": {"tls.crt": encoded}}, control_plane)
    obj = wait_condition(mgmt, ns, "hcp", "IgnitionConfigured", "False", "EndpointUnreachable")
    message = next(c for c in obj["status"]["conditions"] if c["type"] == "IgnitionConfigured")["message"]
    assert "does not verify against secret ignition-server-ca-cert" in message
    mgmt.delete(SECRET, "ignition-server-ca-cert", control_plane)  # HyperShift publishes its CA again
    obj = wait_condition(mgmt, ns, "hcp", "Ready", "True")
    assert bfcfg_image(mgmt, dpu_ns) == BLUEFIELD_IMAGES["4.19.0-ec.5"]


def test_a_decoy_token_secret_named_like_the_nodepools_is_not_used(mgmt, operator):
    """A newer token-hcp-* secret in the control plane namespace without HyperShift's
    hypershift.openshift.io/nodePool annotation for this NodePool (another NodePool hcp-..., or anything
    else put there) is never sent to the ignition server: the bf.cfg template is rebuilt with the real one."""
    ns, dpu_ns = ready(mgmt)
    control_plane = f"{ns}-hcp"
    wait_for("the bf.cfg template", lambda: bfcfg_image(mgmt, dpu_ns))
    for name, marks in (
        ("token-hcp-decoy", {}),
        ("token-hcp-x-decoy", {"hypershift.openshift.io/nodePool": f"{ns}/hcp-x"}),
    ):
        decoy = {"name": name, "namespace": control_plane, "annotations": marks}
        mgmt.create(SECRET, {"apiVersion": "v1", "kind": "Secret", "metadata": decoy, "stringData": {"token": "decoy"}})
    mgmt.delete(CONFIGMAP, BFCFG, dpu_ns)  # rebuilt now, with the decoys the newest token-hcp-* secrets
    wait_for("the bf.cfg template to come back", lambda: bfcfg_image(mgmt, dpu_ns) == BLUEFIELD_IMAGES["4.19.0-ec.5"])
    assert condition(mgmt.get(PROVISIONER, "hcp", ns), "IgnitionConfigured")["reason"] == "Generated"
