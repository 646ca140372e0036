"""Before an upgrade starts, on the real API server with the stand-ins and the session operator:
the admission webhook refuses a new release while the previous upgrade still rolls out and a
spec.machineOSURL left naming the old release's image, each naming the field and the fix; without
the webhook the validate role finds the same (UpgradeAllowed False) and the HostedCluster keeps
the release it rolls out, until the previous upgrade completed."""

from __future__ import annotations

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.apply import apply
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import VALIDATING_WEBHOOK
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import HOSTED_CLUSTER, PROVISIONER
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.upgrade import FORCE_ANNOTATION
from support import (
    BLUEFIELD_IMAGES,
    RELEASE,
    condition,
    dpucluster,
    namespace,
    provisioner_body,
    secrets,
    standin_settings,
    unique,
    wait_condition,
    wait_for,
)

SELECTOR = {"matchLabels": {"dpfhcp-test/upgrade-webhook": "on"}}  # this module's reviewed objects only
R418 = "quay.io/openshift-release-dev/ocp-release:4.18.0-x86_64"
DENIED = 'admission webhook "vdpfhcpprovisioner.provisioning.dpu.hcp.io" denied the request'


@pytest.fixture(scope="module")
def webhook(mgmt, operator):
    apply(mgmt, operator.process.webhook_configuration(SELECTOR))
    yield
    mgmt.delete(VALIDATING_WEBHOOK, "dpf-hcp-provisioner")


def ready(mgmt, reviewed: bool, **spec) -> str:
    ns = namespace(mgmt, unique("upg"))
    dpu_ns = namespace(mgmt, unique("upg-dpus"))
    secrets(mgmt, ns)
    dpucluster(mgmt, dpu_ns, "dpucluster")
    body = provisioner_body(ns, "hcp", dpu_ns, "dpucluster", **spec)
    if reviewed:
        body["metadata"]["labels"] = dict(SELECTOR["matchLabels"])
    mgmt.create(PROVISIONER, body)
    wait_condition(mgmt, ns, "hcp", "Ready", "True", timeout=120)
    return ns


def upgrade_held(mgmt, ns: str, release: str) -> None:
    """``release`` asked for and taken by the HostedCluster, its rollout held by the stand-in."""
    standin_settings(mgmt, **{f"{ns}.hcp.upgradeHeld": "true"})
    mgmt.patch(PROVISIONER, "hcp", {"spec": {"ocpReleaseImage": release}}, ns)
    wait_condition(mgmt, ns, "hcp", "HostedClusterUpgrading", "True", "UpgradeInProgress", timeout=120)


def refusal(call) -> str:
    with pytest.raises(ApiError) as err:
        call()
    assert DENIED in err.value.message, err.value.message
    return err.value.message


def test_the_webhook_refuses_a_new_release_while_the_previous_upgrade_rolls_out(mgmt, webhook):
    ns = ready(mgmt, reviewed=True)
    try:
        upgrade_held(mgmt, ns, R418)
        message = refusal(lambda: mgmt.patch(PROVISIONER, "hcp", {"spec": {"ocpReleaseImage": RELEASE}}, ns))
        assert "spec.ocpReleaseImage: the upgrade to 4.18.0 is still rolling out" in message
        assert "wait until HostedClusterUpgrading is False" in message and FORCE_ANNOTATION in message
        assert mgmt.get(PROVISIONER, "hcp", ns)["spec"]["ocpReleaseImage"] == R418  # nothing stored
        # The annotation naming the target version, in the same update, retargets it anyway.
        assert f"{FORCE_ANNOTATION}: '4.19.0-ec.5'" in message
        mgmt.patch(
            PROVISIONER,
            "hcp",
            {"metadata": {"annotations": {FORCE_ANNOTATION: "4.19.0-ec.5"}}, "spec": {"ocpReleaseImage": RELEASE}},
            ns,
        )
        wait_for(
            "the HostedCluster retargeted",
            lambda: mgmt.get(HOSTED_CLUSTER, "hcp", ns)["spec"]["release"]["image"] == RELEASE,
            timeout=120,
        )
    finally:
        standin_settings(mgmt, **{f"{ns}.hcp.upgradeHeld": ""})
    wait_condition(mgmt, ns, "hcp", "Ready", "True", timeout=120)


def test_the_webhook_refuses_a_machine_os_url_left_on_the_old_releases_image(mgmt, webhook):
    old_image = BLUEFIELD_IMAGES["4.19.0-ec.5"]
    ns = ready(mgmt, reviewed=True, machineOSURL=old_image)
    message = refusal(lambda: mgmt.patch(PROVISIONER, "hcp", {"spec": {"ocpReleaseImage": R418}}, ns))
    assert (
        f"spec.machineOSURL: is '{old_image}', the BlueField image mapped to OCP 4.19.0-ec.5, not to 4.18.0; "
        f"set spec.machineOSURL to the BlueField image for 4.18.0 ('{BLUEFIELD_IMAGES['4.18.0']}'"
    ) in message
    # Changed in the same update (or removed), the upgrade goes ahead.
    mgmt.patch(PROVISIONER, "hcp", {"spec": {"ocpReleaseImage": R418, "machineOSURL": BLUEFIELD_IMAGES["4.18.0"]}}, ns)
    wait_for(
        "the HostedCluster at 4.18.0",
        lambda: mgmt.get(HOSTED_CLUSTER, "hcp", ns)["spec"]["release"]["image"] == R418,
        timeout=120,
    )


def test_without_the_webhook_the_role_holds_a_new_release_until_the_previous_upgrade_completed(mgmt, operator):
    ns = ready(mgmt, reviewed=False)
    try:
        upgrade_held(mgmt, ns, R418)
        mgmt.patch(PROVISIONER, "hcp", {"spec": {"ocpReleaseImage": RELEASE}}, ns)
        obj = wait_condition(mgmt, ns, "hcp", "UpgradeAllowed", "False", "PreviousUpgradeRolling", timeout=120)
        assert "the upgrade to 4.18.0 is still rolling out" in condition(obj, "UpgradeAllowed")["message"]
        assert condition(obj, "Ready")["reason"] == "ValidationFailed"
        assert mgmt.get(HOSTED_CLUSTER, "hcp", ns)["spec"]["release"]["image"] == R418  # kept
    finally:
        standin_settings(mgmt, **{f"{ns}.hcp.upgradeHeld": ""})
    # Once 4.18.0 completed, the release asked for meanwhile starts.
    wait_for(
        "the HostedCluster moved on to the release asked for",
        lambda: mgmt.get(HOSTED_CLUSTER, "hcp", ns)["spec"]["release"]["image"] == RELEASE,
        timeout=120,
    )
    wait_condition(mgmt, ns, "hcp", "Ready", "True", timeout=120)
    wait_condition(mgmt, ns, "hcp", "UpgradeAllowed", "True", "NoUpgrade", timeout=60)
