"""Create-time fields of the HostedCluster: the capabilities a provisioner disables, flannel's
node CIDRs, and how k8s_apply keeps such fields on an object that exists (pure logic)."""

from __future__ import annotations

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.apply import keep_existing
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import admission, capabilities
from ansible_collections.dpf_hcp.provisioner.plugins.modules.node_port_address import node_address

R419 = "quay.io/openshift-release-dev/ocp-release:4.19.0-ec.5-x86_64"
R420 = "quay.io/openshift-release-dev/ocp-release:4.20.3-multi"


def test_the_default_is_the_upstream_operators_list_and_what_a_release_before_4_20_can_disable() -> None:
    assert capabilities.disabled({"ocpReleaseImage": R420}) == list(capabilities.DEFAULT_DISABLED)
    assert capabilities.disabled({"ocpReleaseImage": R419}) == ["ImageRegistry"]
    assert capabilities.disabled({"ocpReleaseImage": R419}, ["baremetal", "Console"]) == ["baremetal"]


def test_the_provisioners_own_list_wins_and_an_empty_one_disables_nothing() -> None:
    assert capabilities.disabled({"ocpReleaseImage": R420, "capabilities": {"disabled": []}}) == []
    own = {"ocpReleaseImage": R420, "capabilities": {"disabled": ["Console", "Ingress"]}}
    assert capabilities.disabled(own) == ["Console", "Ingress"]


@pytest.mark.parametrize(
    ("disabled", "release", "says"),
    [
        (["Monitoring"], R420, "'Monitoring' is not a capability HyperShift can disable; use a list of ImageRegistry"),
        (["Ingress"], R420, "disables Ingress without Console, which HyperShift refuses; disable Console too"),
        (["Console", "Console"], R420, "names a capability twice"),
        (["Console", "Insights"], R419, "disables Console, Insights, which OpenShift 4.19.0-ec.5 cannot"),
        ("Console", R420, "is not a list"),
        ([{"$ne": 1}], R420, "is not a capability"),
    ],
)
def test_the_webhook_refuses_what_hypershift_or_the_release_would_not_take(disabled, release, says) -> None:
    spec = {"ocpReleaseImage": release, "capabilities": {"disabled": disabled}}
    problems = [str(p) for p in admission.check_spec(spec)]
    assert any(p.startswith("spec.capabilities.disabled: ") and says in p for p in problems), problems


def test_capabilities_hold_only_disabled() -> None:
    problems = [str(p) for p in admission.check_spec({"capabilities": {"enabled": ["Console"]}})]
    assert "spec.capabilities: 'enabled' is not a field; use disabled" in problems
    assert "spec.capabilities: 'x' is not an object; use {disabled: [...]}" in [
        str(p) for p in admission.check_spec({"capabilities": "x"})
    ]


def test_capabilities_and_flannel_are_immutable_as_hypershift_makes_them() -> None:
    old = {"capabilities": {"disabled": ["ImageRegistry"]}, "flannelEnabled": True}
    new = {"capabilities": {"disabled": []}, "flannelEnabled": False}
    fields = [p.field for p in admission.check_update(old, new)]
    assert fields == ["spec.capabilities", "spec.flannelEnabled"]


def test_an_existing_object_keeps_its_create_only_fields_or_their_absence() -> None:
    desired = {
        "spec": {"capabilities": {"disabled": ["Console"]}, "networking": {"networkType": "Other", "x": "Enabled"}}
    }
    before = {"spec": {"networking": {"networkType": "Other"}}}  # made before the fields were written
    kept = keep_existing(desired, before, ("spec.capabilities", "spec.networking.x"))
    assert kept == {"spec": {"networking": {"networkType": "Other"}}}
    made = {"spec": {"capabilities": {"disabled": ["ImageRegistry"]}, "networking": {"x": "Disabled"}}}
    kept = keep_existing(desired, made, create_only=("spec.capabilities", "spec.networking.x"))
    assert kept["spec"]["capabilities"] == {"disabled": ["ImageRegistry"]}
    assert kept["spec"]["networking"] == {"networkType": "Other", "x": "Disabled"}
    assert desired["spec"]["capabilities"] == {"disabled": ["Console"]}  # the definition itself is left alone
    # A path whose parent the definition lacks is created only to hold an existing value.
    assert keep_existing({"spec": {}}, made, ("spec.networking.x",)) == {"spec": {"networking": {"x": "Disabled"}}}
    assert keep_existing({"spec": {}}, before, ("spec.networking.x",)) == {"spec": {}}


def test_a_set_once_field_is_added_where_missing_and_never_put_back_where_someone_changed_it() -> None:
    """spec.secretEncryption: added to a HostedCluster made before encryption; an administrator's
    rotation (another active key, the old one as backup) or a move to KMS is kept."""
    ours = {"spec": {"secretEncryption": {"type": "aescbc", "aescbc": {"activeKey": {"name": "k1"}}}}}
    assert keep_existing(ours, {"spec": {}}, set_once=("spec.secretEncryption",)) == ours
    rotated = {"type": "aescbc", "aescbc": {"activeKey": {"name": "k2"}, "backupKey": {"name": "k1"}}}
    kept = keep_existing(ours, {"spec": {"secretEncryption": rotated}}, set_once=("spec.secretEncryption",))
    assert kept["spec"]["secretEncryption"] == rotated


def test_paths_go_through_mappings_only() -> None:
    services = {"spec": {"services": [{"service": "APIServer"}]}}
    with pytest.raises(ValueError, match=r"spec\.services is not a mapping"):
        keep_existing(services, services, ("spec.services.nodePort",))
    # A list as the last step is a value like any other.
    assert keep_existing({"spec": {"services": []}}, services, ("spec.services",)) == services


def test_the_node_port_address_is_external_dns_then_external_ip_then_internal_ip() -> None:
    addresses = [
        {"type": "InternalIP", "address": "10.0.0.5"},
        {"type": "ExternalIP", "address": "203.0.113.7"},
        {"type": "Hostname", "address": "node-1"},
        {"type": "ExternalDNS", "address": "node-1.example.com"},
    ]
    assert node_address(addresses) == "node-1.example.com"
    assert node_address(addresses[:3]) == "203.0.113.7"
    assert node_address(addresses[:1]) == "10.0.0.5"
    assert node_address([{"type": "Hostname", "address": "node-1"}]) is None
    assert node_address([{"type": "ExternalIP", "address": "2001:db8::7"}]) == "2001:db8::7"


def test_a_kubelets_malformed_address_is_passed_over() -> None:
    """A node's status is its kubelet's to write: only an IP address or a DNS name goes into the
    HostedCluster."""
    hostile = [
        {"type": "ExternalDNS", "address": "evil.example.com\n  injected: true"},
        {"type": "ExternalDNS", "address": "{{ lookup('pipe', 'id') }}"},
        {"type": "ExternalIP", "address": ["203.0.113.7"]},
        {"type": "ExternalIP", "address": "x" * 300},
        {"type": "ExternalIP", "address": "fe80::1%{{ lookup('pipe','id') }}"},  # an IPv6 zone: anything goes
        {"type": "ExternalIP", "address": "::1%a b"},
        {"type": "ExternalDNS", "address": "node-1"},  # one label: HyperShift's CRD refuses it
        {"type": "ExternalDNS", "address": "localhost"},
        {"type": "ExternalDNS", "address": "evil.example.com\n"},
        {"type": "ExternalIP", "address": "127.0.0.1"},
        {"type": "ExternalIP", "address": "0.0.0.0"},
        {"type": "ExternalIP", "address": "::1"},
        {"type": "ExternalIP", "address": "224.0.0.1"},
        {"type": "ExternalIP", "address": "169.254.0.7"},
        {"type": "ExternalIP", "address": "::ffff:10.0.0.9"},
        "not a mapping",
        {"type": "InternalIP", "address": "10.0.0.5"},
    ]
    assert node_address(hostile) == "10.0.0.5"
    assert node_address("not a list") is None
