"""HyperShift's refusal of a NodePool, as its status says it, read as data (bfcfg._node_pool_refusal)."""

from __future__ import annotations

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.bfcfg import _node_pool_refusal


def pool(*conditions, generation=2, status_conditions=None):
    return {
        "metadata": {"generation": generation},
        "status": {"conditions": list(conditions) if status_conditions is None else status_conditions},
    }


def test_a_false_release_or_machine_config_condition_of_this_generation_is_a_refusal():
    refused = {
        "type": "ValidMachineConfig",
        "status": "False",
        "reason": "ValidationFailed",
        "message": "m",
        "observedGeneration": 2,
    }
    assert _node_pool_refusal(pool(refused)) == "ValidMachineConfig=False 'ValidationFailed': 'm'"
    release = {**refused, "type": "ValidReleaseImage", "message": "Failed to get release image: x"}
    assert _node_pool_refusal(pool(refused, release)).startswith("ValidReleaseImage=False")  # checked first


def test_true_unknown_other_types_and_older_generations_are_not_refusals():
    base = {"type": "ValidMachineConfig", "reason": "ValidationFailed", "message": "m"}
    assert _node_pool_refusal(pool({**base, "status": "True"})) is None
    assert _node_pool_refusal(pool({**base, "status": "Unknown"})) is None
    assert _node_pool_refusal(pool({**base, "status": "False", "observedGeneration": 1})) is None  # an earlier spec
    assert _node_pool_refusal(pool({**base, "type": "Ready", "status": "False"})) is None
    assert _node_pool_refusal(None) is None
    assert _node_pool_refusal({"status": "garbage"}) is None


def test_hostile_status_is_quoted_cut_and_never_breaks_the_reader():
    """NodePool status is written by whoever may write it: text stays text, bounded; junk shapes are nothing."""
    hostile = {
        "type": "ValidMachineConfig",
        "status": "False",
        "reason": "{{ lookup('pipe', 'id') }}",
        "message": "{% raw %}" + "x" * 100_000,
    }
    found = _node_pool_refusal(pool(hostile))
    assert found is not None and len(found) < 1000
    assert "'{{ lookup(\\'pipe\\', \\'id\\') }}'" in found or "\"{{ lookup('pipe', 'id') }}\"" in found
    for junk in ("conditions", 7, [None, 5, "x", {"type": 3}]):
        assert _node_pool_refusal(pool(status_conditions=junk)) is None
    assert _node_pool_refusal({"metadata": None, "status": None}) is None
