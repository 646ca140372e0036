"""Contract of the MetalLB stand-in (issue 17), upstream-behaviour.md section G: MetalLB's
webhooks refuse, through the same API server, what metallb/metallb refuses
(internal/k8s/webhooks/webhookv1beta1/ipaddresspool_webhook.go, l2advertisement_webhook.go,
internal/config/config.go), and our code copes: a virtual IP inside another pool is a condition
that names the pool and the fix, and our pool is not written.

- Pools and advertisements only in MetalLB's namespace, on create:
  test_metallb_refuses_pools_outside_its_namespace_and_overlapping_cidrs.
- A pool whose CIDR overlaps another pool's is refused; an update of a pool does not overlap its
  old self; an advertisement naming a pool that does not exist is accepted: same test.
- The provisioner checks before it writes, without naming the other pool:
  test_a_virtual_ip_inside_another_pool_is_a_condition_and_clears_when_the_pool_goes.
- A refusal of our pool is a condition (MetalLBRefused, MetalLB's namespace words passed on), not a
  failed run: test_metallbs_refusal_of_our_pool_is_a_condition_not_a_failed_run.
"""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    IP_ADDRESS_POOL,
    L2_ADVERTISEMENT,
    PROVISIONER,
)
from support import (
    ansible_playbook,
    condition,
    dpucluster,
    namespace,
    provisioner_body,
    secrets,
    unique,
    wait_condition,
    wait_for,
)

METALLB = "metallb-system"


def pool(name, ns, *addresses):
    return {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "IPAddressPool",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"addresses": list(addresses)},
    }


def advertisement(name, ns, *pools):
    return {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "L2Advertisement",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"ipAddressPools": list(pools)},
    }


def refused(call) -> str:
    with pytest.raises(ApiError) as caught:
        call()
    assert caught.value.status == 403, caught.value
    return caught.value.message


def test_metallb_refuses_pools_outside_its_namespace_and_overlapping_cidrs(mgmt, standins):
    elsewhere = namespace(mgmt, unique("tenant"))
    first, second = unique("pool"), unique("pool")
    message = refused(lambda: mgmt.create(IP_ADDRESS_POOL, pool(first, elsewhere, "10.77.0.0/24")))
    assert message == (
        'admission webhook "ipaddresspoolvalidationwebhook.metallb.io" denied the request: '
        "resource must be created in metallb-system namespace"
    )
    message = refused(lambda: mgmt.create(L2_ADVERTISEMENT, advertisement(first, elsewhere, first)))
    assert message.endswith("resource must be created in metallb-system namespace")
    assert "l2advertisementvalidationwebhook.metallb.io" in message
    try:
        created = mgmt.create(IP_ADDRESS_POOL, pool(first, METALLB, "10.77.0.0/24"))
        message = refused(lambda: mgmt.create(IP_ADDRESS_POOL, pool(second, METALLB, "10.77.0.5/32")))
        assert message.endswith(
            f'CIDR "10.77.0.5/32" in pool "{second}" overlaps with already defined CIDR "10.77.0.0/24"'
        )
        message = refused(lambda: mgmt.create(IP_ADDRESS_POOL, pool(second, METALLB, "10.77.0.9")))
        assert message.endswith(f'invalid CIDR "10.77.0.9" in pool "{second}": invalid CIDR "10.77.0.9"')
        # An update is checked against the other pools only, never against its own old self.
        mgmt.replace(IP_ADDRESS_POOL, {**created, "spec": {"addresses": ["10.77.0.0/25"]}})
        # MetalLB skips an advertisement's unknown pool names (config.go, setL2AdvertisementsToPools).
        mgmt.create(L2_ADVERTISEMENT, advertisement(first, METALLB, "no-such-pool"))
    finally:
        for res in (IP_ADDRESS_POOL, L2_ADVERTISEMENT):
            if mgmt.get_or_none(res, first, METALLB):
                mgmt.delete(res, first, METALLB)


def test_a_virtual_ip_inside_another_pool_is_a_condition_and_clears_when_the_pool_goes(mgmt, operator):
    """The attacker (or a neighbour) already holds a pool around our virtual IP: MetalLB would
    refuse ours, and a config holding both would stop MetalLB for every pool. The provisioner does
    not write its pool, says whose pool holds the address and how to fix it, and looks again."""
    foreign = unique("lan")
    mgmt.create(IP_ADDRESS_POOL, pool(foreign, METALLB, "10.78.0.0/24"))
    ns = namespace(mgmt, unique("tenant"))
    dpu_ns = namespace(mgmt, unique("dpus"))
    secrets(mgmt, ns)
    dpucluster(mgmt, dpu_ns, "dpucluster")
    try:
        mgmt.create(PROVISIONER, provisioner_body(ns, "hcp", dpu_ns, "dpucluster", virtualIP="10.78.0.9"))
        obj = wait_condition(mgmt, ns, "hcp", "MetalLBConfigured", "False", timeout=120)
        cond = condition(obj, "MetalLBConfigured")
        assert cond["reason"] == "AddressPoolOverlap"
        for part in (
            "spec.virtualIP '10.78.0.9'",
            "inside 1 other MetalLB IPAddressPool(s)",
            METALLB,
            "choose a virtual IP",
        ):
            assert part in cond["message"]
        assert foreign not in cond["message"]  # another tenant's or the platform's: not told
        assert condition(obj, "Ready")["status"] == "False"
        assert mgmt.get_or_none(IP_ADDRESS_POOL, f"dpfhcp-{ns}-hcp", METALLB) is None
        assert mgmt.get_or_none(L2_ADVERTISEMENT, f"dpfhcp-{ns}-hcp", METALLB) is None
    finally:
        mgmt.delete(IP_ADDRESS_POOL, foreign, METALLB)
    # Checked again (at the latest after metallb_recheck_seconds, 60): the address is free now.
    obj = wait_condition(mgmt, ns, "hcp", "MetalLBConfigured", "True", timeout=120)
    assert mgmt.get(IP_ADDRESS_POOL, f"dpfhcp-{ns}-hcp", METALLB)["spec"]["addresses"] == ["10.78.0.9/32"]
    wait_for("Ready", lambda: condition(mgmt.get(PROVISIONER, "hcp", ns), "Ready")["status"] == "True", timeout=60)


def test_metallbs_refusal_of_our_pool_is_a_condition_not_a_failed_run(env, mgmt, standins, tmp_path):
    """MetalLB running in another namespace than the one configured: its webhook refuses our pool
    ("resource must be created in metallb-system namespace"); the role reports MetalLBRefused with
    those words and the fix, and the run goes on."""
    elsewhere = namespace(mgmt, unique("not-metallb"))
    ns = unique("tenant")
    provisioner = {
        "apiVersion": "provisioning.dpu.hcp.io/v1alpha1",
        "kind": "DPFHCPProvisioner",
        "metadata": {"name": "hcp", "namespace": ns},
        "spec": {"virtualIP": "10.79.0.9", "controlPlaneAvailabilityPolicy": "HighlyAvailable"},
    }
    play = tmp_path / "metallb.yml"
    play.write_text(
        yaml.safe_dump(
            [
                {
                    "hosts": "localhost",
                    "connection": "local",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "ansible.builtin.include_role": {"name": "dpf_hcp.provisioner.metallb"},
                            "vars": {"dpfhcp_provisioner": provisioner, "metallb_namespace": elsewhere},
                        },
                        {"ansible.builtin.debug": {"var": "metallb_conditions"}},
                    ],
                }
            ]
        )
    )
    result = ansible_playbook(str(play), env.management.kubeconfig_path())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "'reason': 'MetalLBRefused'" in result.stdout or '"reason": "MetalLBRefused"' in result.stdout
    assert "resource must be created in metallb-system namespace" in result.stdout
    assert "dpfhcp_metallb_namespace" in result.stdout
    assert mgmt.get_or_none(IP_ADDRESS_POOL, f"dpfhcp-{ns}-hcp", elsewhere) is None
