from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.apply import (
    is_applied,
    is_subset,
    strip_server_fields,
)


def test_server_added_fields_do_not_count_as_a_difference():
    desired = {"spec": {"a": 1, "b": {"c": "x"}}}
    actual = {"spec": {"a": 1, "b": {"c": "x", "d": "server default"}, "e": 2}, "status": {}}
    assert is_subset(desired, actual)


def test_changed_value_and_list_length_are_differences():
    assert not is_subset({"a": 1}, {"a": 2})
    assert not is_subset({"l": [1, 2]}, {"l": [1, 2, 3]})
    assert not is_subset({"a": {"b": 1}}, {"a": None})
    assert is_subset({"l": [{"x": 1}]}, {"l": [{"x": 1, "y": 2}]})


def test_strip_server_fields_keeps_what_a_user_reads():
    obj = {"metadata": {"name": "n", "uid": "u", "managedFields": [], "resourceVersion": "1"}, "spec": {}, "status": {}}
    assert strip_server_fields(obj) == {"metadata": {"name": "n"}, "spec": {}}


def test_owner_references_and_finalizers_other_managers_added_are_left_to_them():
    """HyperShift adds its ownerReference and finalizer to our NodePool; server-side apply keeps
    them (ObjectMeta's ownerReferences is a map-list keyed by uid, finalizers a set), so ours being
    there is "applied", and a second run changes nothing."""
    ours = {"uid": "p", "kind": "DPFHCPProvisioner", "controller": True}
    desired = {"metadata": {"name": "x", "ownerReferences": [ours], "finalizers": ["a"]}, "spec": {"l": [1]}}
    live = {
        "metadata": {
            "name": "x",
            "ownerReferences": [{"uid": "hc", "kind": "HostedCluster"}, {**ours, "blockOwnerDeletion": True}],
            "finalizers": ["hypershift.openshift.io/finalizer", "a"],
        },
        "spec": {"l": [1]},
    }
    assert is_applied(desired, live)
    assert not is_applied({**desired, "spec": {"l": [1, 2]}}, live)  # other lists stay exact
    assert not is_applied(
        desired, {**live, "metadata": {**live["metadata"], "ownerReferences": [live["metadata"]["ownerReferences"][0]]}}
    )
    changed = {**ours, "controller": False}
    assert not is_applied({**desired, "metadata": {**desired["metadata"], "ownerReferences": [changed]}}, live)
    assert not is_applied(desired, {**live, "metadata": {**live["metadata"], "finalizers": ["b"]}})
    assert not is_applied(desired, {**live, "metadata": {**live["metadata"], "ownerReferences": "junk"}})
