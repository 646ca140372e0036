import json
import logging

from dpf_hcp_operator.logs import JsonFormatter, redact
from dpf_hcp_operator.runner import host_name, host_vars, inventory, snake_case


def test_credentials_are_redacted():
    text = 'token: abc123 {"password": "hunter2"} .dockerconfigjson=eyJhdXRocyI6e319 auth:xyz'
    out = redact(text)
    for secret in ("abc123", "hunter2", "eyJhdXRocyI6e319", "xyz"):
        assert secret not in out
    pem = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----"
    assert "MIIE" not in redact(pem)


def test_log_lines_are_json_with_fields():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "reconciled", None, None)
    record.fields = {"namespace": "ns", "name": "n", "result": "success", "duration": 1.2}
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "reconciled"
    assert line["namespace"] == "ns"
    assert line["result"] == "success"


def test_host_vars_follow_operator_sdk_conventions():
    obj = {"metadata": {"name": "n", "namespace": "ns"}, "spec": {"baseDomain": "x", "dpuClusterRef": {}}}
    hv = host_vars(obj, "_g_k", snake=True)
    assert hv["ansible_operator_meta"] == {"name": "n", "namespace": "ns"}
    assert hv["_g_k"] is obj
    assert hv["base_domain"] == "x"
    assert "dpu_cluster_ref" in hv
    assert host_name(obj) == "ns/n"
    assert snake_case("ocpReleaseImage") == "ocp_release_image"
    assert snake_case("virtualIP") == "virtual_ip"


def test_a_spec_key_never_names_an_ansible_setting_nor_replaces_the_object():
    spec = {"ansiblePythonInterpreter": "/tmp/evil", "ansibleConnection": "ssh", "ansibleOperatorMeta": "x"}
    obj = {"metadata": {"name": "n", "namespace": "ns"}, "spec": {**spec, "baseDomain": "x"}}
    hv = host_vars(obj, "_g_k", snake=True)
    assert sorted(hv) == ["_g_k", "_g_k_spec", "ansible_operator_meta", "base_domain"]
    assert hv["ansible_operator_meta"] == {"name": "n", "namespace": "ns"}


def test_the_run_inventory_names_the_plugin_that_never_trusts_its_values():
    assert inventory({"ns/n": {"x": "{{ y }}"}}) == {
        "plugin": "dpf_hcp.provisioner.objects",
        "hosts": {"ns/n": {"x": "{{ y }}"}},
    }
