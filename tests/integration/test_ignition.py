"""The DPUs boot the BlueField OS image: HyperShift's MachineConfig ConfigMap named by the NodePool,
and DPF's bf.cfg template built from the ignition the stand-in's HTTPS ignition server hands out
(token and CA from the control plane namespace, TLS verified), kept in step and repaired."""

from __future__ import annotations

import base64
import json
import re
import ssl
import time
import uuid

import pytest
import urllib3
import yaml

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import CONFIGMAP, SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.ignition import (
    ENCAPSULATED_PATH,
    NODEPOOL_CURRENT_CONFIG_VERSION,
    bearer,
    os_image,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    DPU,
    HOSTED_CLUSTER,
    LABEL_NAME,
    LABEL_NAMESPACE,
    NODE_POOL,
    PROVISIONER,
)
from dpf_hcp_dev.standins.dpf import BFCFGError, render, template_for
from dpf_hcp_operator.pki import make_ca
from support import (
    BLUEFIELD_IMAGES,
    condition,
    dpucluster,
    held_dpu,
    namespace,
    provisioner_body,
    secrets,
    standin_settings,
    unique,
    wait_condition,
    wait_for,
)

DPF_NAMESPACE = "dpf-operator-system"  # the local DPF's DPFOperatorConfig's (environment.py)
PREFIX = "provisioning.dpu.nvidia.com/bfcfg-template-"


def ready(mgmt, **spec):
    ns, dpu_ns = namespace(mgmt, unique("ign")), namespace(mgmt, unique("ign-dpus"))
    secrets(mgmt, ns)
    dpucluster(mgmt, dpu_ns, "dpucluster")
    held_dpu(mgmt, dpu_ns, "dpu-0", "Initializing")  # one DPU: DPF needs a template for its BFB and DPUFlavor
    mgmt.create(PROVISIONER, provisioner_body(ns, "hcp", dpu_ns, "dpucluster", **spec))
    wait_condition(mgmt, ns, "hcp", "Ready", "True")
    return ns, dpu_ns


def bfcfg_templates(mgmt, ns):
    """The provisioner's bf.cfg templates, in DPF's namespace, found by its labels."""
    selector = f"{LABEL_NAME}=hcp,{LABEL_NAMESPACE}={ns}"
    return mgmt.list(CONFIGMAP, DPF_NAMESPACE, label_selector=selector).get("items") or []


def delete_bfcfg(mgmt, ns):
    for cm in bfcfg_templates(mgmt, ns):
        mgmt.delete(CONFIGMAP, cm["metadata"]["name"], DPF_NAMESPACE)


def machine_config_image(mgmt, ns):
    config = yaml.safe_load(mgmt.get(CONFIGMAP, "hcp-bluefield-os", ns)["data"]["config"])
    assert config["kind"] == "MachineConfig"
    return config["spec"]["osImageURL"]


def bfcfg_image(mgmt, ns):
    found = bfcfg_templates(mgmt, ns)
    return os_image(json.loads(found[0]["data"]["BF_CFG_TEMPLATE"])) if found else None


def test_both_artefacts_boot_the_bluefield_image(mgmt, operator):
    ns, dpu_ns = ready(mgmt)
    image = BLUEFIELD_IMAGES["4.19.0-ec.5"]
    obj = wait_condition(mgmt, ns, "hcp", "IgnitionConfigured", "True", "Generated")
    assert obj["status"]["blueFieldContainerImage"] == image
    assert machine_config_image(mgmt, ns) == image
    assert mgmt.get(NODE_POOL, "hcp", ns)["spec"]["config"] == [{"name": "hcp-bluefield-os"}]
    (cm,) = bfcfg_templates(mgmt, ns)
    assert cm["metadata"]["labels"]["provisioning.dpu.nvidia.com/bfcfg-template"] == "true"
    assert {k[len(PREFIX) :]: v for k, v in cm["metadata"]["annotations"].items() if k.startswith(PREFIX)} == {
        "bfb-name": "bfb",
        "bfb-namespace": dpu_ns,
        "cluster-name": "dpucluster",
        "cluster-namespace": dpu_ns,
        "dpuflavor-name": "flavor",
        "dpuflavor-namespace": dpu_ns,
    }
    ignition = json.loads(cm["data"]["BF_CFG_TEMPLATE"])
    assert os_image(ignition) == image
    assert ignition["ignition"]["version"] == "3.2.0" and ignition["systemd"]["units"]  # the rest is HyperShift's


def test_machine_os_url_wins_and_a_release_change_regenerates_both(mgmt, operator):
    ns, _dpu_ns = ready(mgmt)
    mgmt.patch(
        PROVISIONER, "hcp", {"spec": {"ocpReleaseImage": "quay.io/openshift-release-dev/ocp-release:4.18.0-x86_64"}}, ns
    )
    wait_for("the bf.cfg template to boot 4.18.0", lambda: bfcfg_image(mgmt, ns) == BLUEFIELD_IMAGES["4.18.0"])
    assert machine_config_image(mgmt, ns) == BLUEFIELD_IMAGES["4.18.0"]

    custom = "quay.io/example/custom-bluefield-os:1"
    mgmt.patch(PROVISIONER, "hcp", {"spec": {"machineOSURL": custom}}, ns)
    wait_for("the bf.cfg template to boot spec.machineOSURL", lambda: bfcfg_image(mgmt, ns) == custom)
    assert machine_config_image(mgmt, ns) == custom
    wait_for(
        "status.blueFieldContainerImage to show the image in use",
        lambda: (mgmt.get(PROVISIONER, "hcp", ns).get("status") or {}).get("blueFieldContainerImage") == custom,
    )
    wait_condition(mgmt, ns, "hcp", "Ready", "True")


def test_a_deleted_bfcfg_template_comes_back(mgmt, operator):
    ns, _dpu_ns = ready(mgmt)
    wait_for("the bf.cfg template", lambda: bfcfg_image(mgmt, ns))
    delete_bfcfg(mgmt, ns)
    wait_for("the bf.cfg template to come back", lambda: bfcfg_image(mgmt, ns) == BLUEFIELD_IMAGES["4.19.0-ec.5"])
    mgmt.delete(CONFIGMAP, "hcp-bluefield-os", ns)
    wait_for("the MachineConfig ConfigMap to come back", lambda: mgmt.get_or_none(CONFIGMAP, "hcp-bluefield-os", ns))


def test_a_wrong_token_or_ca_is_a_clear_condition_and_recovers(mgmt, operator, tmp_path):
    ns, _dpu_ns = ready(mgmt)
    control_plane = f"{ns}-hcp"
    (token,) = [s for s in mgmt.list(SECRET, control_plane)["items"] if s["metadata"]["name"].startswith("token-hcp-")]
    mgmt.patch(SECRET, token["metadata"]["name"], {"stringData": {"token": "not-the-token"}}, control_plane)
    # HyperShift's ignition server answers 511 for a token it does not hold: "back off and retry".
    obj = wait_condition(mgmt, ns, "hcp", "IgnitionConfigured", "False", "WaitingForIgnitionPayload")
    message = next(c for c in obj["status"]["conditions"] if c["type"] == "IgnitionConfigured")["message"]
    assert "(HTTP 511)" in message
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
    assert bfcfg_image(mgmt, ns) == BLUEFIELD_IMAGES["4.19.0-ec.5"]


def test_a_decoy_token_secret_named_like_the_nodepools_is_not_used(mgmt, operator):
    """A newer token-hcp-* secret in the control plane namespace without HyperShift's
    hypershift.openshift.io/nodePool annotation for this NodePool (another NodePool hcp-..., or anything
    else put there) is never sent to the ignition server: the bf.cfg template is rebuilt with the real one."""
    ns, _dpu_ns = ready(mgmt)
    control_plane = f"{ns}-hcp"
    wait_for("the bf.cfg template", lambda: bfcfg_image(mgmt, ns))
    for name, marks in (
        ("token-hcp-decoy", {}),
        ("token-hcp-x-decoy", {"hypershift.openshift.io/nodePool": f"{ns}/hcp-x"}),
    ):
        decoy = {"name": name, "namespace": control_plane, "annotations": marks}
        mgmt.create(SECRET, {"apiVersion": "v1", "kind": "Secret", "metadata": decoy, "stringData": {"token": "decoy"}})
    delete_bfcfg(mgmt, ns)  # rebuilt now, with the decoys the newest token-hcp-* secrets
    wait_for("the bf.cfg template to come back", lambda: bfcfg_image(mgmt, ns) == BLUEFIELD_IMAGES["4.19.0-ec.5"])
    assert condition(mgmt.get(PROVISIONER, "hcp", ns), "IgnitionConfigured")["reason"] == "Generated"


def _ask(endpoint: str, ca_pem: str, path: str, authorization: str | None) -> tuple[int, bytes, str]:
    context = ssl.create_default_context(cadata=ca_pem)
    pool = urllib3.PoolManager(ssl_context=context, retries=False, timeout=10)
    headers = {} if authorization is None else {"Authorization": authorization}
    resp = pool.request("GET", f"https://{endpoint}{path}", headers=headers)
    return resp.status, resp.data, resp.headers.get("Content-Type", "")


def test_the_standin_ignition_server_answers_as_hypershifts_does(mgmt, operator):
    """Contract (openshift/hypershift ignition-server/cmd/start.go, run; nodepool/token.go;
    MCO pkg/server/server.go): the path is checked before auth (404); a value that is not
    "Bearer " + base64 gets 401, so a raw UUID token is refused; a decodable unknown token gets
    511; the NodePool's token, base64-encoded as our code sends it, gets the payload, whose
    encapsulated MachineConfig is a plain data:, URL. The token is a UUID in
    token-<nodepool>-<8-hex hash>, the hash written on the NodePool."""
    ns, _ = ready(mgmt)
    control_plane = f"{ns}-hcp"
    version = wait_for(
        "HyperShift's nodePoolCurrentConfigVersion on the NodePool",
        lambda: (mgmt.get(NODE_POOL, "hcp", ns)["metadata"].get("annotations") or {}).get(
            NODEPOOL_CURRENT_CONFIG_VERSION
        ),
    )
    assert re.fullmatch(r"[0-9a-f]{8}", version)
    secret = mgmt.get(SECRET, f"token-hcp-{version}", control_plane)
    assert secret["metadata"]["annotations"]["hypershift.openshift.io/nodePool"] == f"{ns}/hcp"
    token = base64.b64decode(secret["data"]["token"]).decode()
    assert str(uuid.UUID(token)) == token
    ca_pem = base64.b64decode(mgmt.get(SECRET, "ignition-server-ca-cert", control_plane)["data"]["tls.crt"]).decode()
    endpoint = mgmt.get(HOSTED_CLUSTER, "hcp", ns)["status"]["ignitionEndpoint"]

    assert _ask(endpoint, ca_pem, "/config/worker", bearer(token))[0] == 404
    assert _ask(endpoint, ca_pem, "/ignition/x", None)[0] == 404  # before any auth
    assert _ask(endpoint, ca_pem, "/ignition", None)[0] == 401
    assert _ask(endpoint, ca_pem, "/ignition", f"Bearer {token}")[0] == 401  # raw: "-" is not base64
    assert _ask(endpoint, ca_pem, "/ignition", "bearer " + bearer(token).split()[1])[0] == 401
    assert _ask(endpoint, ca_pem, "/ignition", bearer("not-a-token-it-issued"))[0] == 511
    status, body, content_type = _ask(endpoint, ca_pem, "/ignition", bearer(token))
    assert status == 200 and content_type == "application/json; charset=utf-8"
    files = {f["path"]: f for f in json.loads(body)["storage"]["files"]}
    contents = files[ENCAPSULATED_PATH]["contents"]
    assert contents["source"].startswith("data:,") and "compression" not in contents
    assert files[ENCAPSULATED_PATH]["mode"] == 420 and files[ENCAPSULATED_PATH]["overwrite"] is True


def test_a_release_change_issues_a_new_token_and_retires_the_old_one(mgmt, operator):
    """token.go (reconcileTokenSecret, cleanupOutdated, setExpirationTimestampOnToken): a new config
    hash gets a new token secret, the old one is marked to expire in 2 hours, the NodePool's
    nodePoolCurrentConfigVersion names the new one; the operator follows it."""
    ns, dpu_ns = ready(mgmt)
    control_plane = f"{ns}-hcp"

    def current():
        return (mgmt.get(NODE_POOL, "hcp", ns)["metadata"].get("annotations") or {}).get(
            NODEPOOL_CURRENT_CONFIG_VERSION
        )

    before = wait_for("the NodePool's config version", current)
    mgmt.patch(
        PROVISIONER, "hcp", {"spec": {"ocpReleaseImage": "quay.io/openshift-release-dev/ocp-release:4.18.0-x86_64"}}, ns
    )
    after = wait_for("a new config version", lambda: (v := current()) != before and v)
    old = mgmt.get(SECRET, f"token-hcp-{before}", control_plane)
    assert "hypershift.openshift.io/ignition-token-expiration-timestamp" in old["metadata"]["annotations"]
    new = mgmt.get(SECRET, f"token-hcp-{after}", control_plane)
    assert "hypershift.openshift.io/ignition-token-expiration-timestamp" not in (new["metadata"]["annotations"] or {})
    wait_for("the bf.cfg template to boot 4.18.0", lambda: bfcfg_image(mgmt, ns) == BLUEFIELD_IMAGES["4.18.0"])
    # Changed back within 2 hours: the first config's token is current again, no longer expiring
    # ("active token should never be marked as expired", reconcileTokenSecret), and the operator uses it.
    original = provisioner_body(ns, "hcp", dpu_ns, "dpucluster")["spec"]["ocpReleaseImage"]
    mgmt.patch(PROVISIONER, "hcp", {"spec": {"ocpReleaseImage": original}}, ns)
    wait_for("the first config version again", lambda: current() == before)
    wait_for(
        "the first token no longer expiring",
        lambda: (
            "hypershift.openshift.io/ignition-token-expiration-timestamp"
            not in (mgmt.get(SECRET, f"token-hcp-{before}", control_plane)["metadata"].get("annotations") or {})
        ),
    )
    wait_condition(mgmt, ns, "hcp", "IgnitionConfigured", "True", timeout=90)
    wait_for("the bf.cfg template to boot 4.19", lambda: bfcfg_image(mgmt, ns) == BLUEFIELD_IMAGES["4.19.0-ec.5"])
    # Changed back within 2 hours: the first config's token is current again, no longer expiring
    # ("active token should never be marked as expired", reconcileTokenSecret), and the operator uses it.
    original = provisioner_body(ns, "hcp", dpu_ns, "dpucluster")["spec"]["ocpReleaseImage"]
    mgmt.patch(PROVISIONER, "hcp", {"spec": {"ocpReleaseImage": original}}, ns)
    wait_for("the first config version again", lambda: current() == before)
    wait_for(
        "the first token no longer expiring",
        lambda: (
            "hypershift.openshift.io/ignition-token-expiration-timestamp"
            not in (mgmt.get(SECRET, f"token-hcp-{before}", control_plane)["metadata"].get("annotations") or {})
        ),
    )
    wait_condition(mgmt, ns, "hcp", "IgnitionConfigured", "True", timeout=90)
    wait_for("the bf.cfg template to boot 4.19", lambda: bfcfg_image(mgmt, ns) == BLUEFIELD_IMAGES["4.19.0-ec.5"])


def test_a_payload_hypershift_cannot_generate_is_reported_with_its_reason(mgmt, operator):
    """tokensecret_controller.go: the ignition server writes why on the token secret (reason,
    message) and answers 511 for that token. That is no wait: IgnitionConfigured says so, and
    a new token (HyperShift's answer to a fixed config) recovers."""
    ns, dpu_ns = namespace(mgmt, unique("ign")), namespace(mgmt, unique("ign-dpus"))
    standin_settings(mgmt, **{f"{ns}.hcp.payloadInvalid": "true"})
    try:
        secrets(mgmt, ns)
        dpucluster(mgmt, dpu_ns, "dpucluster")
        held_dpu(mgmt, dpu_ns, "dpu-0", "Initializing")
        mgmt.create(PROVISIONER, provisioner_body(ns, "hcp", dpu_ns, "dpucluster"))
        obj = wait_condition(mgmt, ns, "hcp", "IgnitionConfigured", "False", "PayloadNotGenerated", timeout=120)
        message = condition(obj, "IgnitionConfigured")["message"]
        assert "'InvalidConfig'" in message and "failed validation" in message, message
        assert condition(obj, "Ready")["reason"] == "PayloadNotGenerated"
    finally:
        standin_settings(mgmt, **{f"{ns}.hcp.payloadInvalid": ""})
    control_plane = f"{ns}-hcp"
    for token in mgmt.list(SECRET, control_plane)["items"]:
        if token["metadata"]["name"].startswith("token-hcp-"):
            mgmt.delete(SECRET, token["metadata"]["name"], control_plane)  # HyperShift issues a new one
    wait_condition(mgmt, ns, "hcp", "Ready", "True", timeout=120)
    assert bfcfg_image(mgmt, ns) == BLUEFIELD_IMAGES["4.19.0-ec.5"]


def test_dpf_selects_one_template_per_bfb_and_flavor_and_renders_the_dpus_hostname(mgmt, operator):
    """Issue 17: DPF's provisioning controller (stand-in: dpf.template_for and render, as bfcfg.go)
    finds exactly one template for each DPU, in its DPFOperatorConfig's namespace, by label and six
    annotations; the rendered bf.cfg is the ignition with the DPU's name in /etc/hostname, within
    128 KiB. A template someone else wrote with the same annotations is a conflict (DPF would use
    neither), reported and left alone; a combination no DPU uses any more loses its template."""
    ns, dpu_ns = ready(mgmt)
    wait_for("dpu-0's template", lambda: len(bfcfg_templates(mgmt, ns)) == 1)
    (kept,) = bfcfg_templates(mgmt, ns)
    foreign = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "someone-elses",
            "namespace": DPF_NAMESPACE,
            "labels": {"provisioning.dpu.nvidia.com/bfcfg-template": "true"},
            "annotations": {k: v for k, v in kept["metadata"]["annotations"].items() if k.startswith(PREFIX)},
        },
        "data": {"BF_CFG_TEMPLATE": "not ours"},
    }
    mgmt.create(CONFIGMAP, foreign)
    other = held_dpu(mgmt, dpu_ns, "dpu-1", "Initializing")  # a new combination: the provisioner runs
    other["spec"]["dpuFlavor"] = "flavor-hbn"
    mgmt.replace(DPU, other)
    obj = wait_condition(mgmt, ns, "hcp", "IgnitionConfigured", "False", "BFCFGTemplateConflict")
    assert "'someone-elses'" in condition(obj, "IgnitionConfigured")["message"]
    with pytest.raises(BFCFGError, match="found 2 bf"):  # what DPF says of dpu-0
        template_for(mgmt, mgmt.get(DPU, "dpu-0", dpu_ns))
    assert mgmt.get_or_none(CONFIGMAP, "someone-elses", DPF_NAMESPACE) is not None  # not ours: kept
    mgmt.delete(CONFIGMAP, "someone-elses", DPF_NAMESPACE)
    wait_for("two templates", lambda: len(bfcfg_templates(mgmt, ns)) == 2)
    for name in ("dpu-0", "dpu-1"):
        dpu = mgmt.get(DPU, name, dpu_ns)
        rendered = render(template_for(mgmt, dpu), dpu)
        assert len(rendered.encode()) <= 128 * 1024
        ignition = json.loads(rendered)
        (hostname,) = [f for f in ignition["storage"]["files"] if f["path"] == "/etc/hostname"]
        assert hostname["contents"]["source"] == f"data:,{name}"
        assert os_image(ignition) == BLUEFIELD_IMAGES["4.19.0-ec.5"]
        others = [f for f in ignition["storage"]["files"] if f is not hostname]
        assert all(f["contents"].get("compression") == "gzip" for f in others)
    mgmt.delete(DPU, "dpu-1", dpu_ns)  # its combination gone: the provisioner runs again
    wait_for("the unused template gone", lambda: len(bfcfg_templates(mgmt, ns)) == 1)
    wait_condition(mgmt, ns, "hcp", "IgnitionConfigured", "True", "Generated")
    with pytest.raises(BFCFGError, match=r"found 0 bf\.cfg template ConfigMaps"):
        template_for(mgmt, {**other, "metadata": {**other["metadata"], "name": "dpu-9"}})


def test_the_ignition_server_rotates_a_token_in_place_and_serves_the_old_one_until_the_next(mgmt, operator):
    """Contract (openshift/hypershift hypershift-operator/controllers/nodepool/token.go,
    reconcileTokenSecret: the generation time stamped with the token; ignition-server/controllers/
    tokensecret_controller.go, tokenNeedRotation, rotateToken): a new token is not rotated at once,
    but 5.5 h after its generation time (here: tokenRotateAfterSeconds): a new UUID in `token`, the
    previous one in `old_token` and still served, the one before that dropped (511). Our code
    follows `token` and stays Generated."""
    ns, _ = ready(mgmt)
    control_plane = f"{ns}-hcp"
    version = (mgmt.get(NODE_POOL, "hcp", ns)["metadata"].get("annotations") or {})[NODEPOOL_CURRENT_CONFIG_VERSION]
    name = f"token-hcp-{version}"
    secret = mgmt.get(SECRET, name, control_plane)
    assert "hypershift.openshift.io/last-token-generation-time" in secret["metadata"]["annotations"]
    assert "old_token" not in secret["data"]  # stamped at creation: nothing to rotate yet
    first = base64.b64decode(secret["data"]["token"]).decode()
    ca_pem = base64.b64decode(mgmt.get(SECRET, "ignition-server-ca-cert", control_plane)["data"]["tls.crt"]).decode()
    endpoint = mgmt.get(HOSTED_CLUSTER, "hcp", ns)["status"]["ignitionEndpoint"]
    assert _ask(endpoint, ca_pem, "/ignition", bearer(first))[0] == 200
    standin_settings(mgmt, tokenRotateAfterSeconds="1")
    try:
        wait_for(  # two rotations at least: the first token is then neither token nor old_token
            "a second rotation",
            lambda: (
                (data := mgmt.get(SECRET, name, control_plane)["data"]).get("old_token")
                and base64.b64decode(data["old_token"]).decode() != first
            ),
        )
    finally:
        standin_settings(mgmt, tokenRotateAfterSeconds="")

    def settled() -> dict | None:  # the setting is back to 5.5 h: no rotation for a second
        before = mgmt.get(SECRET, name, control_plane)
        time.sleep(1.0)
        return before if mgmt.get(SECRET, name, control_plane)["data"] == before["data"] else None

    rotated = wait_for("rotations to stop", settled, timeout=20)
    newest = base64.b64decode(rotated["data"]["token"]).decode()
    previous = base64.b64decode(rotated["data"]["old_token"]).decode()
    assert _ask(endpoint, ca_pem, "/ignition", bearer(newest))[0] == 200
    assert _ask(endpoint, ca_pem, "/ignition", bearer(previous))[0] == 200
    assert _ask(endpoint, ca_pem, "/ignition", bearer(first))[0] == 511  # two rotations ago: dropped
    # A token secret without a generation time is rotated at once (tokenNeedRotation: no time lived).
    generated_at = "hypershift.openshift.io/last-token-generation-time"
    mgmt.patch(SECRET, name, {"metadata": {"annotations": {generated_at: None}}}, control_plane)
    wait_for(
        "the rotation of a token without a generation time",
        lambda: (
            generated_at in ((s := mgmt.get(SECRET, name, control_plane))["metadata"].get("annotations") or {})
            and s["data"]["token"] != rotated["data"]["token"]
        ),
    )
    wait_condition(mgmt, ns, "hcp", "IgnitionConfigured", "True", "Generated")
    assert bfcfg_image(mgmt, ns) == BLUEFIELD_IMAGES["4.19.0-ec.5"]
