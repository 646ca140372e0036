"""HostedClusterHealthy from a hosted cluster's ClusterVersion and ClusterOperators: what
`oc adm wait-for-stable-cluster` calls stable, the CVO's Failing first, and everything read bounded
and shown as text (a hosted cluster's admin writes these objects)."""

from __future__ import annotations

from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import events, hosted_health
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.conditions import HOSTED_CLUSTER_HEALTHY
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.csr.approver import unreachable

STABLE_CONDS = [
    {"type": "Available", "status": "True"},
    {"type": "Progressing", "status": "False"},
    {"type": "Degraded", "status": "False"},
]


def operator(name: str, **statuses: Any) -> dict[str, Any]:
    conds = [dict(c) for c in STABLE_CONDS]
    for c in conds:
        if c["type"] in statuses:
            value = statuses[c["type"]]
            if value is None:
                c["drop"] = True
            elif isinstance(value, tuple):
                c.update(status=value[0], reason=value[1], message=value[2])
            else:
                c["status"] = value
    return {"metadata": {"name": name}, "status": {"conditions": [c for c in conds if not c.get("drop")]}}


def version(available: str = "True", failing: str = "False", progressing: str = "False", **extra: Any):
    conds = [
        {"type": "Available", "status": available, "message": extra.get("available_message", "")},
        {"type": "Failing", "status": failing, "reason": extra.get("reason", ""), "message": extra.get("message", "")},
        {"type": "Progressing", "status": progressing, "message": extra.get("progress", "")},
    ]
    history = [{"state": "Partial", "version": "4.20.0"}, {"state": "Completed", "version": "4.19.0"}]
    return {"metadata": {"name": "version"}, "status": {"history": history, "conditions": conds}}


def test_every_operator_stable_and_the_version_available_is_stable():
    c = hosted_health.health(version(), [operator("dns"), operator("network")])
    assert (c["type"], c["status"], c["reason"]) == (HOSTED_CLUSTER_HEALTHY, "True", hosted_health.STABLE)
    assert c["message"] == (
        "The hosted ClusterVersion is Available (4.19.0 completed) and all 2 ClusterOperators are Available, "
        "not Progressing and not Degraded"
    )


def test_nothing_published_yet_is_unknown():
    assert hosted_health.health(None, [operator("dns")])["status"] == "Unknown"
    c = hosted_health.health(version(), [])
    assert (c["status"], c["reason"]) == ("Unknown", hosted_health.NOT_REPORTED)
    assert "no ClusterOperator" in c["message"]


def test_an_operator_unavailable_progressing_or_degraded_is_named_with_why():
    c = hosted_health.health(
        version(progressing="True", progress="Working towards 4.19.0: 10 of 12 done (83% complete)"),
        [
            operator("network"),
            operator("monitoring", Progressing=("True", "RollOutInProgress", "Rolling out the stack.")),
            operator("dns", Available=("False", "NoWorkers", "no nodes")),
        ],
    )
    assert (c["status"], c["reason"]) == ("False", hosted_health.OPERATORS_NOT_STABLE)
    assert c["message"].startswith(
        "2 of 3 ClusterOperators are not stable: dns (Available=False: NoWorkers: no nodes), "
        "monitoring (Progressing=True: RollOutInProgress: Rolling out the stack.)"
    )
    assert c["message"].endswith(
        "; the hosted ClusterVersion is Progressing (Working towards 4.19.0: 10 of 12 done (83% complete))"
    )


def test_a_condition_an_operator_does_not_report_counts_as_not_stable():
    # oc adm wait-for-stable-cluster and the CVO's checkOperatorHealth both read a missing Degraded as not stable.
    c = hosted_health.health(version(), [operator("storage", Degraded=None)])
    assert c["status"] == "False" and "storage (Degraded=missing)" in c["message"]


def test_the_operators_come_first_then_a_failing_or_progressing_cluster_version():
    # During an install the CVO reports each operator not yet Available as Failing too: the operators say which.
    failing = version(
        failing="True", reason="ClusterOperatorNotAvailable", message="Cluster operator dns is not available"
    )
    c = hosted_health.health(failing, [operator("dns", Available="False")])
    assert (c["status"], c["reason"]) == ("False", hosted_health.OPERATORS_NOT_STABLE)
    assert c["message"].endswith("Failing (ClusterOperatorNotAvailable: Cluster operator dns is not available)")
    c = hosted_health.health(failing, [operator("dns")])
    assert (c["status"], c["reason"]) == ("False", hosted_health.CLUSTER_VERSION_FAILING)
    assert "Cluster operator dns is not available" in c["message"]
    slow = version(failing="Unknown")  # the CVO's SlowClusterOperator: waiting longer than expected
    assert hosted_health.health(slow, [operator("dns")])["reason"] == hosted_health.STABLE
    # An update under way: operators may be stable at the old version while the CVO works towards the new.
    updating = version(progressing="True", progress="Working towards 4.20.0: 5 of 12 done (41% complete)")
    c = hosted_health.health(updating, [operator("dns")])
    assert (c["status"], c["reason"]) == ("False", hosted_health.CLUSTER_VERSION_PROGRESSING)
    assert "Working towards 4.20.0" in c["message"]


def test_stable_operators_with_a_version_that_completed_nothing_yet():
    c = hosted_health.health(version(available="False"), [operator("dns")])
    assert (c["status"], c["reason"]) == ("False", hosted_health.CLUSTER_VERSION_NOT_AVAILABLE)


def test_at_most_five_are_named_in_order_and_the_rest_counted():
    ops = [operator(f"op-{i:02d}", Available="False") for i in range(12, 0, -1)]
    c = hosted_health.health(version(), ops)
    assert "12 of 12 ClusterOperators" in c["message"]
    assert "op-01 (" in c["message"] and "op-05 (" in c["message"] and "op-06" not in c["message"]
    assert c["message"].endswith("and 7 more")


def test_hostile_operators_are_bounded_text():
    """A hosted cluster's admin writes ClusterOperators: huge, multi-line, template-looking and
    malformed values are cut and shown as they are, never break the condition."""
    template = "{{ lookup('pipe', 'id') }}"
    evil = operator(template + "\n" * 5 + "x" * 10_000, Available=("False", "R" * 5000, template + "m" * 100_000))
    junk = [
        {"metadata": {"name": 7}, "status": {"conditions": ["nope", {"type": 1}, {"type": "Available", "status": []}]}},
        {"metadata": "nope", "status": "nope"},
        "not an object",
    ]
    c = hosted_health.health(version(progress="p" * 50_000, progressing="True"), [evil] * 300)
    assert c["status"] == "False"
    assert template in c["message"] and "\n" not in c["message"]
    assert len(c["message"]) < 2000 and c["message"].endswith("p...)")
    c = hosted_health.health(version(), [evil, *junk] * 300)
    assert len(c["message"]) < 2000
    assert c["message"].startswith("900 of 900 ClusterOperators are not stable: (unnamed) (Available=missing)")
    assert c["message"].endswith("and 895 more")  # the 300 that are no objects are not operators


def test_the_digest_follows_which_operators_are_unstable_never_a_message():
    """A progress count, or a tenant's counter in a message, must not rerun the provisioner."""
    base = hosted_health.digest(version(), [operator("dns", Degraded=("True", "R", "attempt 1"))])
    assert base == hosted_health.digest(version(), [operator("dns", Degraded=("True", "R", "attempt 2"))])
    assert base == hosted_health.digest(version(progress="7 of 9"), [operator("dns", Degraded=("True", "R", ""))])
    assert base != hosted_health.digest(version(), [operator("dns")])
    assert base != hosted_health.digest(version(), [operator("dns", Available="False")])
    assert base != hosted_health.digest(
        version(), [operator("dns", Degraded="True"), operator("network", Degraded="True")]
    )


def test_what_the_cache_keeps_is_what_health_reads_and_bounded():
    huge = operator("dns", Degraded=("True", "R" * 10_000, "m" * 1_000_000))
    huge["status"]["relatedObjects"] = [{"group": "", "resource": "x", "name": "y" * 100}] * 10_000
    huge["status"]["conditions"] += [{"type": f"Other{i}", "status": "True"} for i in range(10_000)]
    kept = hosted_health.compact(huge)
    assert len(repr(kept)) < 1000
    assert [c["type"] for c in kept["status"]["conditions"]] == ["Available", "Progressing", "Degraded"]
    for cv, ops in [(version(), [huge, operator("network")]), (version(available="False"), [operator("dns")])]:
        assert hosted_health.health(hosted_health.compact(cv), [hosted_health.compact(o) for o in ops]) == (
            hosted_health.health(cv, ops)
        )
        assert hosted_health.digest(hosted_health.compact(cv), [hosted_health.compact(o) for o in ops]) == (
            hosted_health.digest(cv, ops)
        )


def test_control_and_bidirectional_characters_never_reach_the_message():
    c = hosted_health.health(version(), [operator("dns", Available=("False", "R\x1b[31m", "a\u202eb\x00c\x07d"))])
    assert "\x1b" not in c["message"] and "\u202e" not in c["message"] and "\x00" not in c["message"]
    assert "dns (Available=False: R[31m: abcd)" in c["message"]


def _status(c: dict[str, Any]) -> dict[str, Any]:
    return {"phase": "Ready", "conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "message": ""}, c]}


def test_events_normal_when_healthy_warning_only_when_health_is_lost():
    unstable = hosted_health.health(version(), [operator("dns", Available="False")])
    stable = hosted_health.health(version(), [operator("dns")])
    unknown = hosted_health.health(None, [])
    assert not events.notices(_status(unknown), _status(unstable))  # installing: operators wait for DPUs
    [gained] = events.notices(_status(unstable), _status(stable))
    assert (gained.type, gained.reason) == ("Normal", HOSTED_CLUSTER_HEALTHY)
    [lost] = events.notices(_status(stable), _status(unstable))
    assert (lost.type, lost.reason) == ("Warning", hosted_health.OPERATORS_NOT_STABLE)
    assert "dns (Available=False)" in lost.message


def test_a_hosted_api_servers_error_reaches_the_approval_condition_cut_and_clean():
    """The error text is the hosted API server's (its Status message): a megabyte of it, with escape
    sequences, must not become the provisioner's CSRAutoApprovalActive message."""
    said = unreachable(ApiError(403, "Forbidden", "\x1b[31mno\u202e" + "x" * 1_000_000))
    assert said["status"] == "False" and said["reason"] == "HostedClusterUnreachable"
    assert len(said["message"]) < 500, len(said["message"])
    assert "\x1b" not in said["message"] and "\u202e" not in said["message"]
