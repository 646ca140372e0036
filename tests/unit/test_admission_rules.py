import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s import formats
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import naming
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.admission import (
    authority_problem,
    check_references,
    check_spec,
    check_update,
    control_plane_namespace_problems,
    crosses_namespaces,
    dpucluster_access_review,
    spec_validity,
    warnings_for,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.release import (
    DEFAULT_RELEASE_REPOSITORIES,
    release_repositories,
)

CRD = Path(__file__).resolve().parents[2] / "helm/dpf-hcp-provisioner-operator/crds"

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


# -- The schema says what it can, with the same grammar -------------------------------------------


IMAGES_OK = [
    "quay.io/example/bluefield-rhcos:4.19.0",
    "localhost:5000/a/b:tag@sha256:" + "a" * 64,
    "[fd00::1]:5000/img:1",
    "quay.io/img@sha384:" + "0" * 96,
]
IMAGES_BAD = [
    "quay.io/Example/img:1",
    "quay.io/img@sha256:" + "a" * 63,
    "quay.io/img@sha256:" + "A" * 64,
    "quay.io/img@md5:" + "a" * 32,
    "quay.io/img:" + "t" * 129,
    "https://quay.io/img:1",
]


def _crd_spec():
    crd = yaml.safe_load((CRD / "provisioning.dpu.hcp.io_dpfhcpprovisioners.yaml").read_text())
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]


def test_the_crd_patterns_are_the_webhooks_formats():
    """One source: the schema refuses with the same grammar the webhook and the validate role use."""
    spec = _crd_spec()
    anchored = "^{}$".format
    assert spec["etcdStorageClass"]["pattern"] == anchored(formats.DNS1123_SUBDOMAIN_FMT)
    assert spec["etcdStorageClass"]["maxLength"] == formats.DNS1123_SUBDOMAIN_MAX
    assert spec["nodeSelector"]["additionalProperties"]["pattern"] == anchored(formats.LABEL_VALUE_FMT)
    assert spec["nodeSelector"]["additionalProperties"]["maxLength"] == formats.LABEL_VALUE_MAX
    assert spec["machineOSURL"]["pattern"] == anchored(formats.IMAGE_REFERENCE_FMT)
    for ref in ("dpuClusterRef", "pullSecretRef", "sshKeySecretRef"):
        assert spec[ref]["properties"]["name"]["pattern"] == anchored(formats.DNS1123_SUBDOMAIN_FMT)
    assert spec["dpuClusterRef"]["properties"]["namespace"]["pattern"] == anchored(formats.DNS1123_LABEL_FMT)


def test_the_crd_image_pattern_accepts_what_the_webhook_accepts():
    """The schema's pattern (digest algorithms and lengths included) and Parse agree, but for the
    repository length, which only the webhook counts."""
    pattern = re.compile(_crd_spec()["machineOSURL"]["pattern"], re.ASCII)
    for image in IMAGES_OK:
        assert pattern.search(image) and formats.image_reference_problem(image) is None, image
    for image in IMAGES_BAD:
        assert not pattern.search(image) and formats.image_reference_problem(image), image


# -- The spec: each refusal names the field, the value (cut) and the fix -----------------------


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        ({"nodeSelector": {"bad key!": "v"}}, ["spec.nodeSelector", "key 'bad key!' is not a label key", "e.g."]),
        (
            {"nodeSelector": {"zone": "{{ lookup('x') }}"}},
            ["spec.nodeSelector", "value \"{{ lookup('x') }}\"", "'zone'"],
        ),
        ({"nodeSelector": {"zone": 5}}, ["spec.nodeSelector", "value 5 of key 'zone'", "is not a string"]),
        ({"nodeSelector": ["zone"]}, ["spec.nodeSelector", "is not a map"]),
        ({"nodeSelector": {f"k{i}": "" for i in range(21)}}, ["spec.nodeSelector", "has 21 entries", "at most 20"]),
        (
            {"etcdStorageClass": "Fast_SSD"},
            ["spec.etcdStorageClass", "'Fast_SSD'", "StorageClass", "kubectl get storageclass"],
        ),
        ({"etcdStorageClass": ""}, ["spec.etcdStorageClass", "is empty"]),
        ({"machineOSURL": "quay.io/Upper/os:1"}, ["spec.machineOSURL", "'quay.io/Upper/os:1'", "lowercase", "e.g."]),
        ({"machineOSURL": "not an image"}, ["spec.machineOSURL", "'not an image'", "[registry[:port]/]repository"]),
        ({"machineOSURL": None}, ["spec.machineOSURL", "None", "not a string"]),
        ({"dpuClusterRef": {"name": "c1", "namespace": "a.b"}}, ["spec.dpuClusterRef.namespace", "'a.b'", "DNS label"]),
    ],
)
def test_bad_formats_are_refused_naming_field_value_and_fix(change, fragments):
    text = "; ".join(map(str, check_spec({**SPEC, **change})))
    for fragment in fragments:
        assert fragment in text, (fragment, text)


def test_a_huge_hostile_value_is_cut_in_the_message():
    problems = check_spec({**SPEC, "machineOSURL": "x{" * 100_000, "nodeSelector": {"k": "v" * 1_000_000}})
    assert len("; ".join(map(str, problems))) < 2_000


def test_valid_optional_formats_pass():
    spec = {
        **SPEC,
        "nodeSelector": {"node-role.kubernetes.io/infra": "", "zone": "eu-1a"},
        "etcdStorageClass": "ocs-storagecluster-ceph-rbd",
        "machineOSURL": "quay.io/example/bluefield-rhcos:4.19.0@sha256:" + "f" * 64,
    }
    assert check_spec(spec) == []


def test_spec_validity_is_the_specvalid_condition():
    good = spec_validity(SPEC)
    assert good.ok and good.conditions[0]["type"] == "SpecValid" and good.conditions[0]["status"] == "True"
    bad = spec_validity({**SPEC, "nodeSelector": {f"bad key {i}": "" for i in range(20)}})
    (cond,) = bad.conditions
    assert not bad.ok and (cond["status"], cond["reason"]) == ("False", "InvalidSpec")
    assert cond["message"].count("is not a label key") == 10 and cond["message"].endswith("and 10 more")


# -- References are authority: the SubjectAccessReview the webhook asks ---------------------------

USER = {"username": "alice", "uid": "u-1", "groups": ["team-a", "system:authenticated"], "extra": {"k": ["v"]}}


def test_only_a_reference_to_another_namespace_needs_authority():
    ref = SPEC["dpuClusterRef"]  # in namespace "dpus"
    assert crosses_namespaces("tenant", SPEC, None)
    assert not crosses_namespaces("dpus", SPEC, None)
    assert not crosses_namespaces("tenant", SPEC, {**SPEC, "dpuClusterRef": dict(ref)})  # unchanged on update
    assert crosses_namespaces("tenant", SPEC, {**SPEC, "dpuClusterRef": {"name": "c0", "namespace": "dpus"}})


def test_the_access_review_asks_for_update_on_that_dpucluster_as_the_requester():
    review = dpucluster_access_review(USER, SPEC["dpuClusterRef"])
    assert review["kind"] == "SubjectAccessReview" and review["apiVersion"] == "authorization.k8s.io/v1"
    assert review["spec"] == {
        "user": "alice",
        "uid": "u-1",
        "groups": ["team-a", "system:authenticated"],
        "extra": {"k": ["v"]},
        "resourceAttributes": {
            "group": "provisioning.dpu.nvidia.com",
            "resource": "dpuclusters",
            "verb": "update",
            "namespace": "dpus",
            "name": "c1",
        },
    }


@pytest.mark.parametrize("status", [None, {}, {"allowed": False}, {"allowed": "true"}, {"denied": True}])
def test_anything_but_an_explicit_allow_is_a_refusal_naming_the_fix(status):
    problem = authority_problem("tenant", USER, SPEC["dpuClusterRef"], status)
    assert problem is not None and problem.field == "spec.dpuClusterRef"
    for fragment in ("DPUCluster dpus/c1", "namespace dpus, not tenant", "'alice'", "'update' on dpuclusters"):
        assert fragment in problem.message


def test_an_allow_passes():
    assert authority_problem("tenant", USER, SPEC["dpuClusterRef"], {"allowed": True}) is None


EVIL_RELEASE = "evil.attacker.example/not-ocp/payload:4.19.0-ec.5-x86_64"


@pytest.mark.parametrize(
    "image",
    [
        EVIL_RELEASE,
        "quay.io/openshift-release-dev/ocp-release-evil:4.19.0-ec.5-x86_64",  # a prefix is not the repository
        "quay.io/openshift-release-dev/ocp-release/evil:4.19.0-ec.5-x86_64",
        "QUAY.IO/openshift-release-dev/ocp-release:4.19.0-ec.5-x86_64",  # another spelling: refused, not folded
        "quay.io:443/openshift-release-dev/ocp-release:4.19.0-ec.5-x86_64",
        "openshift-release-dev/ocp-release:4.19.0-ec.5-x86_64",  # Docker Hub's
        "evil.example/x@sha256:" + "a" * 64,
    ],
)
def test_a_release_from_a_repository_the_administrator_did_not_allow_is_refused(image):
    (problem,) = check_spec({**SPEC, "ocpReleaseImage": image})
    assert problem.field == "spec.ocpReleaseImage"
    assert repr(image) in problem.message
    assert "is not an allowed release repository" in problem.message
    assert ", ".join(DEFAULT_RELEASE_REPOSITORIES) in problem.message
    assert "allowedReleaseRepositories" in problem.message  # the fix: who sets the list


def test_an_evil_release_is_spec_valid_false_without_the_webhook():
    """The validate role's SpecValid uses the same rule, with the list the operator hands it."""
    check = spec_validity({**SPEC, "ocpReleaseImage": EVIL_RELEASE})
    assert check.ok is False
    (cond,) = check.conditions
    assert (cond["type"], cond["status"], cond["reason"]) == ("SpecValid", "False", "InvalidSpec")
    assert (
        f"spec.ocpReleaseImage: {EVIL_RELEASE!r} is from repository 'evil.attacker.example/not-ocp/payload'"
        in (cond["message"])
    )
    from ansible_collections.dpf_hcp.provisioner.plugins.filter.provisioner import spec_problems
    from ansible_collections.dpf_hcp.provisioner.plugins.filter.provisioner import spec_validity as as_filter

    assert as_filter({**SPEC, "ocpReleaseImage": EVIL_RELEASE}, DEFAULT_RELEASE_REPOSITORIES[0])["ok"] is False
    mirror = "registry.example.com:5000/ocp/release"
    assert as_filter({**SPEC, "ocpReleaseImage": f"{mirror}:4.19.0-x86_64"}, [mirror])["ok"] is True
    assert spec_problems({**SPEC, "ocpReleaseImage": f"{mirror}:4.19.0-x86_64"}) != []  # not in the default list


def test_releases_from_the_allowed_repositories_pass_by_tag_or_digest():
    for image in (
        "quay.io/openshift-release-dev/ocp-release:4.19.0-ec.5-x86_64",
        "quay.io/openshift-release-dev/ocp-release@sha256:" + "c" * 64,
        "quay.io/openshift-release-dev/ocp-v4.0-art-dev:4.19.0-multi",
    ):
        assert check_spec({**SPEC, "ocpReleaseImage": image}) == [], image


@pytest.mark.parametrize(
    ("setting", "why"),
    [
        ("", "empty"),
        ("quay.io/openshift-release-dev/ocp-release:4.19.0", "without a tag or digest"),
        ("openshift-release-dev/ocp-release", "without a tag or digest"),  # no registry: Docker Hub's
        ("Quay.io/x y", "is not of the form"),
    ],
)
def test_the_allowed_release_repositories_setting_is_checked(setting, why):
    with pytest.raises(ValueError, match=why):
        release_repositories(setting)
    assert release_repositories(" quay.io/a/b , localhost:5000/c ") == ("quay.io/a/b", "localhost:5000/c")


def _provisioner(ns, name):
    return {"metadata": {"namespace": ns, "name": name}, "spec": SPEC}


@pytest.mark.parametrize(
    ("ns", "name", "expected"),
    [("t", "x", "t-x"), ("t", "x.y", "t-x-y"), ("team", "prod.a-b", "team-prod-a-b")],
)
def test_the_control_plane_namespace_is_hypershifts(ns, name, expected):
    """openshift/hypershift manifests.go HostedControlPlaneNamespace: <namespace>-<name>, '.' as '-'."""
    assert naming.control_plane_namespace(_provisioner(ns, name)) == expected


def test_a_provisioner_whose_control_plane_namespace_another_maps_to_is_refused():
    """Tenant t-x's provisioner x and tenant t's x-x (or x.x) both map to t-x-x: the second is refused."""
    first = _provisioner("t-x", "x")
    for second in (_provisioner("t", "x-x"), _provisioner("t", "x.x")):
        (problem,) = control_plane_namespace_problems(second, [first], None, None)
        assert problem.field == "metadata.name"
        assert "namespace t-x-x, which is already that of DPFHCPProvisioner t-x/x" in problem.message
        assert "choose another metadata.name" in problem.message
    assert control_plane_namespace_problems(_provisioner("t", "y"), [first], None, None) == []
    assert control_plane_namespace_problems(first, [first], None, None) == []  # itself


def test_an_existing_namespace_is_a_control_plane_namespace_only_if_it_is_for_this_provisioner():
    new = _provisioner("team", "prod")
    ours = {"dpfhcpprovisioner.dpu.hcp.io/name": "prod", "dpfhcpprovisioner.dpu.hcp.io/namespace": "team"}
    hypershifts = {"hypershift.openshift.io/hosted-control-plane": "true"}

    def problems(labels, hosted_cluster_labels=None):
        namespace = {"metadata": {"name": "team-prod", "labels": labels}}
        hc = {"metadata": {"labels": hosted_cluster_labels}} if hosted_cluster_labels is not None else None
        return control_plane_namespace_problems(new, [], namespace, hc)

    (problem,) = problems({})  # the tenant team-prod's own namespace
    assert problem.field == "metadata.name"
    assert "namespace team-prod, which exists and is neither pre-created for this provisioner" in problem.message
    assert "label it dpfhcpprovisioner.dpu.hcp.io/name=prod and dpfhcpprovisioner.dpu.hcp.io/namespace=team" in (
        problem.message
    )
    assert problems(hypershifts) != []  # another HostedCluster's control plane
    assert problems(hypershifts, {"team": "platform"}) != []
    assert problems({**ours, "dpfhcpprovisioner.dpu.hcp.io/name": "other"}) != []
    assert problems(ours) == []  # pre-created for it by an administrator
    assert problems(hypershifts, ours) == []  # HyperShift's, of this provisioner's HostedCluster
    assert control_plane_namespace_problems(new, [], None, None) == []


def test_an_ipv4_mapped_virtual_ip_is_refused_with_its_ipv4_form():
    """``::ffff:10.0.0.5`` is 10.0.0.5 to MetalLB (Go's To4): a second spelling would slip past the
    provisioner's overlap check and could be announced twice."""
    problems = check_spec({**SPEC, "virtualIP": "::ffff:10.0.0.5"})
    assert [str(p) for p in problems] == [
        "spec.virtualIP: '::ffff:10.0.0.5' is an IPv4-mapped IPv6 address; write it as 10.0.0.5"
    ]
