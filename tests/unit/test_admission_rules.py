from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.admission import (
    check_references,
    check_spec,
    check_update,
    warnings_for,
)

SPEC = {
    "baseDomain": "clusters.example.com",
    "dpuClusterRef": {"name": "c1", "namespace": "dpus"},
    "ocpReleaseImage": "quay.io/openshift-release-dev/ocp-release:4.19.0-ec.5-x86_64",
    "pullSecretRef": {"name": "pull"},
    "sshKeySecretRef": {"name": "ssh"},
    "virtualIP": "192.168.1.100",
    "controlPlaneAvailabilityPolicy": "HighlyAvailable",
}
CM = {"data": {"4.19.0-ec.5": "quay.io/bf:4.19"}}


def fields(problems):
    return [p.field for p in problems]


def test_a_valid_spec_has_no_problems():
    assert check_spec(SPEC) == []
    single = {**SPEC, "controlPlaneAvailabilityPolicy": "SingleReplica"}
    del single["virtualIP"]
    assert check_spec(single) == []
    assert check_spec({**SPEC, "virtualIP": "fd00::10", "networking": {"clusterNetwork": "10.132.0.0/14"}}) == []


def test_every_missing_required_field_is_named():
    assert fields(check_spec({})) == [
        "spec.baseDomain",
        "spec.dpuClusterRef",
        "spec.ocpReleaseImage",
        "spec.pullSecretRef",
        "spec.sshKeySecretRef",
        "spec.virtualIP",
    ]
    assert fields(check_spec(None)) == ["spec"]


def test_formats_and_enums_name_the_value():
    problems = check_spec(
        {
            **SPEC,
            "baseDomain": "UPPER.example",
            "virtualIP": "nope",
            "controlPlaneAvailabilityPolicy": "Maybe",
            "flannelEnabled": "yes",
        }
    )
    text = "; ".join(map(str, problems))
    for fragment in ("'UPPER.example'", "'nope'", "'Maybe'", "'yes'"):
        assert fragment in text


def test_cross_field_rule_needs_a_vip_when_highly_available():
    spec = dict(SPEC)
    del spec["virtualIP"]
    assert fields(check_spec(spec)) == ["spec.virtualIP"]


def test_only_the_release_and_os_url_may_change():
    assert check_update(SPEC, {**SPEC, "ocpReleaseImage": "quay.io/x/y:4.18.0", "machineOSURL": "u"}) == []
    assert fields(check_update(SPEC, {**SPEC, "baseDomain": "other.example.com"})) == ["spec.baseDomain"]
    assert fields(check_update(SPEC, {**SPEC, "etcdStorageClass": "new"})) == ["spec.etcdStorageClass"]
    without = dict(SPEC)
    del without["virtualIP"]
    assert fields(check_update(SPEC, without)) == ["spec.virtualIP"]


def test_references_reuse_the_validation_rules():
    obj = {"metadata": {"namespace": "ns", "name": "new"}, "spec": SPEC}
    assert check_references(obj, {"spec": {"type": "static"}}, [], CM, "op") == []
    unmapped = check_references({**obj, "spec": {**SPEC, "ocpReleaseImage": "q.io/r:4.20.0"}}, None, [], CM, "op")
    assert "BlueFieldImageResolved" in str(unmapped[0])
    assert "4.19.0-ec.5" in str(unmapped[0])
    kamaji = check_references(obj, {"spec": {"type": "kamaji"}}, [], CM, "op")
    assert fields(kamaji) == ["spec.dpuClusterRef"]
    holder = {"metadata": {"namespace": "ns", "name": "old", "creationTimestamp": "2026-01-01T00:00:00Z"}, "spec": SPEC}
    assert "ns/old" in str(check_references(obj, None, [holder], CM, "op")[0])


def test_warnings_for_inputs_that_may_come_later():
    obj = {"metadata": {"namespace": "ns", "name": "p"}, "spec": SPEC}
    out = warnings_for(obj, dpucluster_exists=False, secrets_present={"pull": False, "ssh": True})
    assert len(out) == 2
    assert "dpus/c1" in out[0]
    assert "ns/pull" in out[1]


def test_existing_provisioners_hold_the_dpucluster_against_a_new_one_created_the_same_second():
    stamp = "2026-01-01T00:00:00Z"
    new = {"metadata": {"namespace": "ns", "name": "a-new", "creationTimestamp": stamp}, "spec": SPEC}
    holder = {"metadata": {"namespace": "ns", "name": "z-holder", "creationTimestamp": stamp}, "spec": SPEC}
    assert "ns/z-holder" in str(check_references(new, None, [holder], CM, "op")[0])
