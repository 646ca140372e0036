from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.apply import is_subset, strip_server_fields


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
