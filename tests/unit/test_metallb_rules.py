"""MetalLB's address rules as the metallb role applies them, and as the MetalLB stand-in refuses
pools (metallb/metallb internal/config/config.go)."""

from __future__ import annotations

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import metallb
from dpf_hcp_dev.standins.metallb import InvalidConfigError, validate_pools


def pool(name, *addresses, namespaces=None):
    spec = {"addresses": list(addresses)}
    if namespaces is not None:
        spec["serviceAllocation"] = {"namespaces": namespaces}
    return {"metadata": {"name": name}, "spec": spec}


def test_a_virtual_ip_inside_another_pools_cidr_or_range_is_a_conflict():
    pools = [
        pool("lan", "10.0.0.0/24"),
        pool("range", "10.1.0.10-10.1.0.20"),
        pool("v6", "fd00::/120"),
        pool("host-bits", "10.2.0.5/24"),  # net.ParseCIDR keeps the network: 10.2.0.0/24
        pool("mine", "10.0.0.7/32"),
    ]
    assert metallb.conflicts(pools, "10.0.0.7", "mine") == ["'lan' ('10.0.0.0/24')"]
    assert metallb.conflicts(pools, "10.1.0.15", "mine") == ["'range' ('10.1.0.10-10.1.0.20')"]
    assert metallb.conflicts(pools, "10.1.0.21", "mine") == []
    assert metallb.conflicts(pools, "fd00::10", "mine") == ["'v6' ('fd00::/120')"]
    assert metallb.conflicts(pools, "10.2.0.200", "mine") == ["'host-bits' ('10.2.0.5/24')"]


def test_hostile_pools_are_data_bounded_and_quoted():
    """Pools are read from the API: names and entries are quoted and cut, garbage is skipped, and a
    namespace full of pools or a pool full of entries is read only so far."""
    name = "{{ lookup('pipe', 'id') }}" + "x" * 500
    hostile = [
        pool(name, "10.0.0.0/8"),
        {"metadata": {"name": 7}, "spec": {"addresses": ["10.0.0.0/8"]}},
        {"metadata": {"name": "str-addresses"}, "spec": {"addresses": "10.0.0.0/8"}},
        pool("garbage", None, 5, "x" * 10_000, "10.0.0.1-10.0.0.0", "10.0.0.1", "::1-10.0.0.9"),
    ]
    found = metallb.conflicts(hostile, "10.3.3.3", "mine")
    assert len(found) == 1 and found[0].startswith('"{{ lookup') and len(found[0]) < 300
    late = [pool(f"p{i}", "192.0.2.0/32") for i in range(metallb.MAX_POOLS)] + [pool("late", "10.0.0.0/8")]
    assert metallb.conflicts(late, "10.3.3.3", "mine") == []
    wide = pool("wide", *(["192.0.2.0/32"] * metallb.MAX_ADDRESSES_PER_POOL), "10.0.0.0/8")
    assert metallb.conflicts([wide], "10.3.3.3", "mine") == []
    assert metallb.conflicts([pool("lan", "10.0.0.0/8")], "not-an-ip", "mine") == []


def test_the_overlap_condition_names_the_field_the_value_and_the_fix_but_not_the_other_pools():
    """Other pools are other tenants' and the platform's: a tenant learns that its address is taken,
    not by whom or which range."""
    found = [f"'team-b-pool' ('10.0.0.{i}/32')" for i in range(5)]
    cond = metallb.configured_condition(
        needed=True,
        vip="10.3.3.3",
        namespace="metallb-system",
        name="dpfhcp-a-b",
        control_plane_namespace="a-b",
        recheck_seconds=60,
        overlapping=found,
    )
    assert (cond["status"], cond["reason"]) == ("False", "AddressPoolOverlap")
    for part in (
        "spec.virtualIP '10.3.3.3'",
        "inside 5 other MetalLB IPAddressPool(s)",
        "metallb-system",
        "choose a virtual IP",
    ):
        assert part in cond["message"]
    assert "team-b" not in cond["message"] and "10.0.0." not in cond["message"]


def test_a_refusal_passes_on_only_metallbs_namespace_words():
    base = {
        "needed": True,
        "vip": "10.3.3.3",
        "namespace": "metallb-system",
        "name": "n",
        "control_plane_namespace": "c",
    }
    wrong_place = (
        'IPAddressPool metallb-system/n: admission webhook "ipaddresspoolvalidationwebhook.metallb.io" denied the '
        "request: resource must be created in openshift-operators namespace"
    )
    cond = metallb.configured_condition(**base, recheck_seconds=60, refused=[wrong_place])
    assert cond["reason"] == "MetalLBRefused"
    assert "resource must be created in openshift-operators namespace" in cond["message"]
    assert "dpfhcp_metallb_namespace" in cond["message"]
    other = (
        'IPAddressPool metallb-system/n: admission webhook "x" denied the request: CIDR "1.1.1.0/24" in pool "team-b"'
    )
    cond = metallb.configured_condition(**base, recheck_seconds=60, refused=[other])
    assert cond["reason"] == "MetalLBRefused" and "team-b" not in cond["message"]


def test_an_ipv4_mapped_spelling_overlaps_either_way():
    """Go's To4 makes ::ffff:10.0.0.5 and 10.0.0.5 one host; the check takes both spellings."""
    assert metallb.conflicts([pool("lan", "10.0.0.0/24")], "::ffff:10.0.0.5", "mine") == ["'lan' ('10.0.0.0/24')"]
    assert metallb.conflicts([pool("mapped", "::ffff:10.0.0.0/120")], "10.0.0.5", "mine") == [
        "'mapped' ('::ffff:10.0.0.0/120')"
    ]
    assert metallb.conflicts([pool("range", "::ffff:10.0.0.1-::ffff:10.0.0.9")], "10.0.0.5", "mine")


def test_wide_ipv6_ranges_are_checked_without_summarising_them(monkeypatch):
    """A range is compared by its two ends: a namespace full of the widest ranges costs one
    comparison per entry, never a summary into networks (hundreds for a wide IPv6 range)."""
    import ipaddress

    def refuse(*_args):
        raise AssertionError("a range was summarised into networks")

    monkeypatch.setattr(ipaddress, "summarize_address_range", refuse)
    wide = [pool(f"p{i}", *(["8000::1-ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"] * 256)) for i in range(50)]
    assert len(metallb.conflicts(wide, "10.3.3.3", "mine")) == 0
    assert len(metallb.conflicts(wide, "fd00::1", "mine")) == 50


def test_the_standin_finds_overlaps_across_spellings_as_go_does():
    """metallb config.go cidrContainsCIDR on Go's byte forms: an IPv4 pool holds a mapped /128 (its
    mask is longer), but a mapped /120 pool does not hold an IPv4 /32 (its mask is not shorter).
    The provisioner's own check is stricter there on purpose (both spellings are one host on the
    wire): test_an_ipv4_mapped_spelling_overlaps_either_way."""
    with pytest.raises(InvalidConfigError, match="overlaps"):
        validate_pools([pool("a", "10.0.0.0/24"), pool("b", "::ffff:10.0.0.5/128")])
    validate_pools([pool("a", "::ffff:10.0.0.0/120"), pool("b", "10.0.0.5/32")])


@pytest.mark.parametrize(
    ("pools", "message"),
    [
        (
            [pool("a", "10.0.0.0/24"), pool("b", "10.0.0.5/32")],
            'CIDR "10.0.0.5/32" in pool "b" overlaps with already defined CIDR "10.0.0.0/24"',
        ),
        (
            [pool("a", "10.0.0.5/32"), pool("b", "10.0.0.0/24")],
            'CIDR "10.0.0.0/24" in pool "b" overlaps with already defined CIDR "10.0.0.5/32"',
        ),
        (
            [pool("a", "10.0.0.0/30", "10.0.0.2/31")],
            'CIDR "10.0.0.2/31" in pool "a" overlaps with already defined CIDR "10.0.0.0/30"',
        ),
        (
            [pool("a", "1.1.1.16-1.1.1.31"), pool("b", "1.1.1.20/32")],
            'CIDR "1.1.1.20/32" in pool "b" overlaps with already defined CIDR "1.1.1.16/28"',
        ),
        (
            [pool("a", "10.0.0.1")],
            'parsing address pool a: invalid CIDR "10.0.0.1" in pool "a": invalid CIDR "10.0.0.1"',
        ),
        ([pool("a")], "parsing address pool a: pool has no prefixes defined"),
        (
            [pool("a", "10.0.0.9-10.0.0.1")],
            'parsing address pool a: invalid CIDR "10.0.0.9-10.0.0.1" in pool "a":'
            ' invalid IP range "10.0.0.9-10.0.0.1": start IP "10.0.0.9" is after the end IP "10.0.0.1"',
        ),
        (
            [pool("a", "10.0.0.0/24", namespaces=["x", "x"])],
            "parsing address pool a: duplicate definition in namespaces field",
        ),
    ],
)
def test_the_standin_refuses_what_metallbs_config_parse_refuses_with_its_words(pools, message):
    with pytest.raises(InvalidConfigError) as caught:
        validate_pools(pools)
    assert str(caught.value) == message


def test_the_standin_accepts_disjoint_pools_and_ipv6():
    validate_pools([pool("a", "10.0.0.0/24"), pool("b", "10.0.1.0-10.0.1.9"), pool("c", "fd00::10/128")])


def test_a_range_with_an_ipv4_mapped_end_is_read_as_ipv4_as_metallb_reads_it():
    assert metallb.conflicts([pool("mixed", "1.2.3.0-::ffff:1.2.3.255")], "1.2.3.9", "mine") == [
        "'mixed' ('1.2.3.0-::ffff:1.2.3.255')"
    ]


def test_left_to_the_platform_metallb_is_true_not_managed_and_asks_for_no_recheck():
    """The operator's --no-manage-metallb (the upstream operator's disableMetalLB says reason
    MetalLBDisabled; issue 20 asks for NotManaged)."""
    cond = metallb.configured_condition(
        needed=True,
        vip="10.20.30.40",
        namespace="metallb-system",
        name="dpfhcp-ns-hcp",
        control_plane_namespace="ns-hcp",
        recheck_seconds=60,
        managed=False,
    )
    assert (cond["status"], cond["reason"]) == ("True", "NotManaged")
    assert "10.20.30.40" in cond["message"] and "--no-manage-metallb" in cond["message"]
    assert not metallb.rechecks(cond)
    node_ports = metallb.configured_condition(
        needed=False, vip="", namespace="m", name="n", control_plane_namespace="c", recheck_seconds=60, managed=False
    )
    assert node_ports["reason"] == "NotRequired"


def test_the_standin_webhook_keeps_the_api_servers_connection_open_between_calls(tmp_path):
    """Two admission reviews on one TLS connection, as the API server sends them: MetalLB's webhook
    server (controller-runtime's, Go's net/http) keeps the connection; HTTP/1.0 closed it after each."""
    import http.client
    import json
    import ssl

    from dpf_hcp_dev.standins.metallb import POOL_PATH, MetalLBWebhook

    class Pools:
        def list(self, *_args, **_kw):
            return {"items": []}

    webhook = MetalLBWebhook(Pools())  # type: ignore[arg-type]
    try:
        (tmp_path / "ca.crt").write_bytes(webhook.ca_pem)
        context = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
        host, port = webhook.url.removeprefix("https://").split(":")
        conn = http.client.HTTPSConnection(host, int(port), context=context, timeout=10)
        for uid in ("a", "b"):
            obj = {
                "metadata": {"name": f"p-{uid}", "namespace": "metallb-system"},
                "spec": {"addresses": ["10.9.0.1/32"]},
            }
            review = {"request": {"uid": uid, "operation": "CREATE", "object": obj}}
            conn.request("POST", POOL_PATH, body=json.dumps(review), headers={"Content-Type": "application/json"})
            answer = conn.getresponse()
            assert answer.version == 11 and not answer.will_close
            assert json.loads(answer.read())["response"] == {"uid": uid, "allowed": True}
        assert conn.sock is not None, "the same connection served both"
        conn.close()
    finally:
        webhook.stop()
