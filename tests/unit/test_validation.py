import base64

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.validation import (
    check_dpucluster,
    check_secrets,
    resolve_bluefield_image,
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


PULL = {"data": {".dockerconfigjson": b64('{"auths":{}}')}}
SSH = {"data": {"id_rsa.pub": b64("ssh-ed25519 AAAA key")}}


def provisioner(name="p", created="2026-01-01T00:00:00Z", ref=("dpus", "c1")):
    return {
        "metadata": {"namespace": "ns", "name": name, "creationTimestamp": created},
        "spec": {"dpuClusterRef": {"namespace": ref[0], "name": ref[1]}},
    }


def by_type(check):
    return {c["type"]: c for c in check.conditions}


def test_valid_secrets_pass():
    check = check_secrets("ns", "pull", PULL, "ssh", SSH)
    assert check.ok
    assert by_type(check)["SecretsValid"]["status"] == "True"


def test_missing_pull_secret_names_field_object_and_fix():
    check = check_secrets("ns", "pull", None, "ssh", SSH)
    cond = by_type(check)["SecretsValid"]
    assert not check.ok
    assert cond["status"] == "False"
    assert cond["reason"] == "PullSecretNotFound"
    assert "spec.pullSecretRef.name" in cond["message"]
    assert "ns/pull" in cond["message"]
    assert "kubectl create secret generic pull -n ns --from-file=.dockerconfigjson=" in cond["message"]


def test_ssh_secret_without_its_key_lists_the_keys_it_has():
    check = check_secrets("ns", "pull", PULL, "ssh", {"data": {"id_ed25519.pub": b64("x")}})
    cond = by_type(check)["SecretsValid"]
    assert cond["reason"] == "SSHKeySecretKeyMissing"
    assert "'id_rsa.pub'" in cond["message"]
    assert "id_ed25519.pub" in cond["message"]


def test_empty_key_is_refused():
    check = check_secrets("ns", "pull", {"data": {".dockerconfigjson": b64("  ")}}, "ssh", SSH)
    assert by_type(check)["SecretsValid"]["reason"] == "PullSecretKeyMissing"
    assert "empty" in by_type(check)["SecretsValid"]["message"]


def test_both_problems_are_reported_in_one_message():
    cond = by_type(check_secrets("ns", "pull", None, "ssh", None))["SecretsValid"]
    assert "spec.pullSecretRef.name" in cond["message"]
    assert "spec.sshKeySecretRef.name" in cond["message"]


def test_secret_values_never_appear_in_messages():
    secret = {"data": {"wrong": b64("TOPSECRETVALUE")}}
    cond = by_type(check_secrets("ns", "pull", secret, "ssh", secret))["SecretsValid"]
    assert "TOPSECRETVALUE" not in cond["message"]


def test_missing_dpucluster_sets_missing_true_and_others_unknown():
    check = check_dpucluster(provisioner(), None, [])
    conds = by_type(check)
    assert not check.ok
    assert conds["DPUClusterMissing"]["status"] == "True"
    assert conds["DPUClusterMissing"]["reason"] == "DPUClusterNotFound"
    assert "dpus/c1" in conds["DPUClusterMissing"]["message"]
    assert conds["ClusterTypeValid"]["status"] == "Unknown"
    assert conds["DPUClusterInUse"]["status"] == "Unknown"


def test_dpucluster_deleted_after_use_keeps_the_hosted_cluster():
    conds = by_type(check_dpucluster(provisioner(), None, [], previously_seen=True))
    assert conds["DPUClusterMissing"]["reason"] == "DPUClusterDeleted"
    assert "HostedCluster is kept" in conds["DPUClusterMissing"]["message"]


def test_kamaji_dpucluster_is_unsupported():
    check = check_dpucluster(provisioner(), {"spec": {"type": "kamaji"}}, [])
    cond = by_type(check)["ClusterTypeValid"]
    assert not check.ok
    assert (cond["status"], cond["reason"]) == ("False", "UnsupportedClusterType")
    assert "'static'" in cond["message"]


def test_static_and_vendor_types_are_supported():
    for kind in ("static", "nvidia/hypershift"):
        assert check_dpucluster(provisioner(), {"spec": {"type": kind}}, []).ok


def test_older_provisioner_keeps_the_dpucluster_newer_is_refused():
    older = provisioner("old", "2026-01-01T00:00:00Z")
    newer = provisioner("new", "2026-01-02T00:00:00Z")
    cluster = {"spec": {"type": "static"}}
    assert check_dpucluster(older, cluster, [older, newer]).ok
    refused = check_dpucluster(newer, cluster, [older, newer])
    cond = by_type(refused)["DPUClusterInUse"]
    assert not refused.ok
    assert (cond["status"], cond["reason"]) == ("True", "InUseByAnotherProvisioner")
    assert "ns/old" in cond["message"]


def test_a_provisioner_being_deleted_releases_the_dpucluster():
    older = provisioner("old", "2026-01-01T00:00:00Z")
    older["metadata"]["deletionTimestamp"] = "2026-01-03T00:00:00Z"
    newer = provisioner("new", "2026-01-02T00:00:00Z")
    assert check_dpucluster(newer, {"spec": {"type": "static"}}, [older, newer]).ok


def test_other_dpuclusters_do_not_count():
    other = provisioner("other", "2026-01-01T00:00:00Z", ref=("dpus", "c2"))
    assert check_dpucluster(provisioner(), {"spec": {"type": "static"}}, [other]).ok


CM = {"data": {"4.19.0-ec.5": "quay.io/bf:4.19", "4.18.0": "quay.io/bf:4.18", "4.9.0": "quay.io/bf:4.9"}}


def test_mapped_release_resolves_image():
    check = resolve_bluefield_image("quay.io/ocp/release:4.19.0-ec.5-x86_64", CM, "op")
    assert check.ok
    assert check.facts == {"ocp_version": "4.19.0-ec.5", "bluefield_image": "quay.io/bf:4.19"}


def test_unmapped_release_fails_with_available_versions():
    check = resolve_bluefield_image("quay.io/ocp/release:4.20.1-x86_64", CM, "op")
    cond = by_type(check)["BlueFieldImageResolved"]
    assert not check.ok
    assert cond["reason"] == "VersionNotMapped"
    assert "4.20.1" in cond["message"]
    assert "op/ocp-bluefield-images" in cond["message"]
    assert "4.9.0, 4.18.0, 4.19.0-ec.5" in cond["message"]


def test_missing_configmap_says_how_to_create_it():
    cond = by_type(resolve_bluefield_image("quay.io/ocp/release:4.19.0", None, "op"))["BlueFieldImageResolved"]
    assert cond["reason"] == "ConfigMapNotFound"
    assert "'4.19.0'" in cond["message"]


def test_empty_mapping_value_is_refused():
    check = resolve_bluefield_image("quay.io/ocp/release:4.19.0", {"data": {"4.19.0": " "}}, "op")
    assert by_type(check)["BlueFieldImageResolved"]["reason"] == "InvalidImageMapping"


def test_untagged_release_is_an_invalid_release_image():
    check = resolve_bluefield_image("quay.io/ocp/release", CM, "op")
    assert by_type(check)["BlueFieldImageResolved"]["reason"] == "InvalidReleaseImage"


def test_secret_content_is_judged_without_being_quoted():
    planted = "hunter2-" + "x" * 50
    cases = {
        "not json": ({".dockerconfigjson": b64(planted)}, SSH, "PullSecretInvalid", "is not JSON"),
        "no auths": ({".dockerconfigjson": b64('{"registry": "' + planted + '"}')}, SSH, "PullSecretInvalid", "auths"),
        "not text": (
            {".dockerconfigjson": base64.b64encode(b"\xff\xfe" + planted.encode()).decode()},
            SSH,
            "PullSecretInvalid",
            "not base64-encoded UTF-8",
        ),
        "not a key": (PULL["data"], {"id_rsa.pub": b64(planted)}, "SSHKeySecretInvalid", "not an OpenSSH public key"),
        "second line": (
            PULL["data"],
            {"id_rsa.pub": b64("ssh-ed25519 AAAA a@b\n" + planted)},
            "SSHKeySecretInvalid",
            "line 2 of 2",
        ),
    }
    for label, (pull, ssh, reason, words) in cases.items():
        cond = check_secrets("ns", "pull", {"data": pull}, "ssh", {"data": ssh}).conditions[0]
        assert (cond["status"], cond["reason"]) == ("False", reason), label
        assert words in cond["message"], (label, cond["message"])
        assert "hunter2" not in cond["message"], label


def test_several_ssh_keys_and_comments_are_accepted():
    keys = "# ops\nssh-ed25519 AAAAC3Nz a@b\n\necdsa-sha2-nistp256 AAAAE2Vj= c@d\nssh-rsa AAAAB3NzaC1yc2E\n"
    assert check_secrets("ns", "pull", PULL, "ssh", {"data": {"id_rsa.pub": b64(keys)}}).ok


def test_huge_values_are_cut_in_messages():
    check = check_dpucluster(provisioner(), {"spec": {"type": "kamaji" + "z" * 100_000}}, [])
    message = by_type(check)["ClusterTypeValid"]["message"]
    assert len(message) < 500 and "characters)" in message
    configmap = {"data": {"4.19.0": "not an image " * 10_000, **{f"4.{n}.0": "quay.io/x:y" for n in range(500)}}}
    found = resolve_bluefield_image("quay.io/openshift-release-dev/ocp-release:4.19.0-x86_64", configmap, "ops")
    assert len(found.conditions[0]["message"]) < 500
    missing = resolve_bluefield_image("quay.io/openshift-release-dev/ocp-release:4.999.0-x86_64", configmap, "ops")
    assert "and 490 more" in missing.conditions[0]["message"]
