"""HyperShift's refusal of a NodePool, as its status says it, read as data (bfcfg._node_pool_refusal):
only ValidMachineConfig, only for the current generation, counted once it has lasted."""

from __future__ import annotations

from datetime import UTC, datetime

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.bfcfg import (
    REFUSAL_GRACE_SECONDS,
    _node_pool_refusal,
)

NOW = datetime(2026, 12, 2, 16, 0, 0, tzinfo=UTC)
OLD = "2026-12-02T15:00:00Z"


def pool(*conditions, generation=2, status_conditions=None):
    return {
        "metadata": {"generation": generation},
        "status": {"conditions": list(conditions) if status_conditions is None else status_conditions},
    }


def refused(**kw):
    base = {"type": "ValidMachineConfig", "status": "False", "reason": "ValidationFailed", "message": "m"}
    return {**base, "observedGeneration": 2, "lastTransitionTime": OLD, **kw}


def test_a_lasting_false_machine_config_condition_of_this_generation_counts():
    text, left = _node_pool_refusal(pool(refused()), NOW)
    assert text == "ValidMachineConfig=False 'ValidationFailed': 'm'" and left <= 0


def test_a_young_refusal_waits_out_its_grace():
    _, left = _node_pool_refusal(pool(refused(lastTransitionTime="2026-12-02T15:59:30Z")), NOW)
    assert left == REFUSAL_GRACE_SECONDS - 30
    _, left = _node_pool_refusal(pool(refused(lastTransitionTime="not a time")), NOW)
    assert left == REFUSAL_GRACE_SECONDS  # a time that does not parse is now
    _, left = _node_pool_refusal(pool(refused(lastTransitionTime="2099-01-01T00:00:00Z")), NOW)
    assert left == REFUSAL_GRACE_SECONDS  # from the future: not lasted at all


def test_release_image_true_unknown_other_types_and_older_generations_are_not_refusals():
    """ValidReleaseImage is False through every y-stream upgrade until the control plane completes it."""
    assert _node_pool_refusal(pool(refused(type="ValidReleaseImage")), NOW) is None
    assert _node_pool_refusal(pool(refused(status="True")), NOW) is None
    assert _node_pool_refusal(pool(refused(status="Unknown")), NOW) is None
    assert _node_pool_refusal(pool(refused(observedGeneration=1)), NOW) is None  # about an earlier spec
    assert _node_pool_refusal(pool(refused(type="Ready")), NOW) is None
    assert _node_pool_refusal(None, NOW) is None
    assert _node_pool_refusal({"status": "garbage"}, NOW) is None


def test_hostile_status_is_quoted_cut_and_never_breaks_the_reader():
    """NodePool status is written by whoever may write it: text stays text, bounded; junk shapes are nothing."""
    found = _node_pool_refusal(
        pool(refused(reason="{{ lookup('pipe', 'id') }}", message="{% raw %}" + "x" * 100_000)), NOW
    )
    assert found is not None and len(found[0]) < 1000
    assert "lookup('pipe', 'id')" in found[0]
    for junk in ("conditions", 7, [None, 5, "x", {"type": 3}]):
        assert _node_pool_refusal(pool(status_conditions=junk), NOW) is None
    assert _node_pool_refusal({"metadata": None, "status": None}, NOW) is None
