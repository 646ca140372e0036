"""module_utils/k8s/query.py reads fields out of API objects of any shape: what is not there, or not of
the wanted type, is the default, never an exception."""

from __future__ import annotations

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s import query
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.bfcfg import _node_pool_refusal
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.status import mirror_hosted_cluster

HOSTILE = [
    None,
    [],
    "metadata",
    7,
    {"metadata": []},
    {"metadata": {"annotations": "x"}},
    {"metadata": {"annotations": {"a/b": ["list"]}}},
    {"status": {"conditions": "True"}},
    {"status": {"conditions": [1, "x", None, {"type": "Available", "status": "True"}]}},
    {"spec": {"release": {"image": {"not": "a string"}}}},
]


@pytest.mark.parametrize("obj", HOSTILE)
def test_hostile_shapes_read_as_the_default(obj):
    assert query.field(obj, 'metadata.annotations."a/b"', str, "none") in ("none",)
    assert query.text(obj, "spec.release.image") == ""
    assert all(isinstance(c, dict) for c in query.items(obj, "status.conditions"))
    mirror_hosted_cluster(obj if isinstance(obj, dict) else None)  # never raises
    _node_pool_refusal(obj if isinstance(obj, dict) else None)


def test_fields_are_read_where_they_are():
    obj = {"metadata": {"annotations": {"hypershift.openshift.io/x": "v"}}, "spec": {"release": {"image": "i"}}}
    assert query.field(obj, 'metadata.annotations."hypershift.openshift.io/x"') == "v"
    assert query.text(obj, "spec.release.image") == "i"
    assert query.items({"status": {"conditions": [{"type": "A"}, 3]}}, "status.conditions") == [{"type": "A"}]
