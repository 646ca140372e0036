"""A provisioner takes over and deletes only what it made. Its names are chosen by whoever writes
it: one named like someone else's HostedCluster, or whose derived names meet another
provisioner's, must neither change nor delete the other's objects."""

from __future__ import annotations

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    HOSTED_CLUSTER,
    IP_ADDRESS_POOL,
    PROVISIONER,
)
from support import (
    condition,
    dpucluster,
    namespace,
    provisioner_body,
    secrets,
    someone_elses_hosted_cluster,
    unique,
    wait_condition,
    wait_for,
)


def test_a_provisioner_named_like_someone_elses_hosted_cluster_neither_takes_it_over_nor_deletes_it(mgmt, operator):
    ns = namespace(mgmt, unique("shared"))
    dpu_ns = namespace(mgmt, unique("dpus"))
    secrets(mgmt, ns)
    dpucluster(mgmt, dpu_ns, "dpucluster")
    theirs = mgmt.create(HOSTED_CLUSTER, someone_elses_hosted_cluster(ns, "platform"))
    mgmt.create(PROVISIONER, provisioner_body(ns, "platform", dpu_ns, "dpucluster"))
    wait_for(
        "the apply refused, in the operator's log",
        lambda: f"HostedCluster {ns}/platform exists and is not this provisioner's" in operator.log.read_text(),
        timeout=120,
    )
    obj = mgmt.get(PROVISIONER, "platform", ns)
    assert (condition(obj, "Ready") or {}).get("status") != "True"
    hc = mgmt.get(HOSTED_CLUSTER, "platform", ns)
    assert hc["spec"]["sshKey"] == {"name": "platform-ssh-key"}
    assert hc["spec"]["pullSecret"] == {"name": "platform-pull-secret"}
    assert hc["metadata"]["labels"] == {"team": "platform"}
    assert not hc["metadata"].get("ownerReferences")
    assert hc["metadata"]["uid"] == theirs["metadata"]["uid"]

    mgmt.delete(PROVISIONER, "platform", ns)
    wait_for("the provisioner gone", lambda: mgmt.get_or_none(PROVISIONER, "platform", ns) is None, timeout=120)
    hc = mgmt.get_or_none(HOSTED_CLUSTER, "platform", ns)
    assert (
        hc is not None
        and hc["metadata"]["uid"] == theirs["metadata"]["uid"]
        and not hc["metadata"].get("deletionTimestamp")
    )


def test_provisioners_whose_derived_names_meet_do_not_share_or_delete_each_others_objects(mgmt, operator):
    """``team/prod-hc`` and ``team-prod/hc`` both derive the MetalLB pool ``dpfhcp-team-prod-hc``: the
    second is refused at that object, and deleting it leaves the first's pool as it was."""
    team = unique("team")
    first_ns = namespace(mgmt, team)
    second_ns = namespace(mgmt, f"{team}-prod")
    for ns in (first_ns, second_ns):
        secrets(mgmt, ns)
    dpu_ns = namespace(mgmt, unique("dpus"))
    dpucluster(mgmt, dpu_ns, "first")
    dpucluster(mgmt, dpu_ns, "second")
    mgmt.create(PROVISIONER, provisioner_body(first_ns, "prod-hc", dpu_ns, "first", virtualIP="192.168.60.10"))
    wait_condition(mgmt, first_ns, "prod-hc", "Ready", "True")
    pool_name = f"dpfhcp-{team}-prod-hc"
    before = mgmt.get(IP_ADDRESS_POOL, pool_name, "metallb-system")

    mgmt.create(PROVISIONER, provisioner_body(second_ns, "hc", dpu_ns, "second", virtualIP="192.168.60.20"))
    wait_for(
        "the second provisioner reconciled",
        lambda: condition(mgmt.get(PROVISIONER, "hc", second_ns), "SecretsValid"),
        timeout=120,
    )
    pool = mgmt.get(IP_ADDRESS_POOL, pool_name, "metallb-system")
    assert pool["spec"]["addresses"] == before["spec"]["addresses"] == ["192.168.60.10/32"]
    assert pool["metadata"]["labels"] == before["metadata"]["labels"]

    mgmt.delete(PROVISIONER, "hc", second_ns)
    wait_for("the second provisioner gone", lambda: mgmt.get_or_none(PROVISIONER, "hc", second_ns) is None, timeout=180)
    assert mgmt.get(IP_ADDRESS_POOL, pool_name, "metallb-system")["metadata"]["uid"] == before["metadata"]["uid"]
    assert condition(mgmt.get(PROVISIONER, "prod-hc", first_ns), "Ready")["status"] == "True"
