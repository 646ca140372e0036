import json
import logging
import sys
import threading
import time
import warnings
from collections.abc import Iterator

import pytest
from urllib3.exceptions import InsecureRequestWarning

from dpf_hcp_operator import logs
from dpf_hcp_operator.logs import MAX_FIELD, JsonFormatter, redact
from dpf_hcp_operator.runner import host_name, host_vars, inventory, requeue_seconds, snake_case


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


@pytest.fixture
def operator_logging() -> Iterator[None]:
    """Python's logging, warnings and exception hooks as they were, after a test ran logs.setup()."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, sys.excepthook, threading.excepthook
    yield
    logging.captureWarnings(False)
    root.handlers[:], level, sys.excepthook, threading.excepthook = saved
    root.setLevel(level)


def json_lines(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines()]


def test_a_python_warning_is_one_json_line_and_a_repeated_one_is_not_logged_again(operator_logging, capsys):
    logs.setup("info")
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # as urllib3 asks for its security warnings: shown every time
        for _ in range(3):
            warnings.warn("Unverified HTTPS request is being made to host 'a'", InsecureRequestWarning, stacklevel=1)
        warnings.warn("Unverified HTTPS request is being made to host 'b'", InsecureRequestWarning, stacklevel=1)
    lines = json_lines(capsys)
    assert [(line["logger"], line["level"]) for line in lines] == [("py.warnings", "warning")] * 2
    assert "InsecureRequestWarning: Unverified HTTPS request is being made to host 'a'" in lines[0]["msg"]
    assert lines[1]["msg"].endswith("host 'b'")  # the warning's first line: no source line after it


def test_an_exception_no_thread_caught_is_logged_as_json(operator_logging, capsys):
    logs.setup("info")

    def boom() -> None:
        raise RuntimeError("worker broke")

    worker = threading.Thread(target=boom, name="worker-x")
    worker.start()
    worker.join()
    (line,) = json_lines(capsys)
    assert (line["msg"], line["level"], line["thread"]) == ("uncaught exception", "critical", "worker-x")
    assert "RuntimeError: worker broke" in line["error"]


def test_a_requeue_is_a_number_of_seconds_from_zero_to_a_day() -> None:
    """A task's requeue_after (a role variable a user may set) never becomes a loop without pause,
    a wait without end or a NaN in the work queue's heap: the run fails naming it instead."""
    assert [requeue_seconds(v) for v in (0, "2.5", 86400)] == [0.0, 2.5, 86400.0]
    assert [requeue_seconds(v) for v in (-1, "inf", "nan", 86401, "soon", None, [])] == [None] * 7


def test_redaction_takes_one_scan_of_a_hostile_text():
    """A hosted cluster's error or a CSR's name is the attacker's text, and it reaches the logs:
    repeated BEGIN lines without an END, or repeated keys with unclosed quotes, must not take time
    that grows with the square of their length (the interpreter's lock is held throughout)."""
    for hostile in ("-----BEGIN A-----" * 60000, 'token="' * 150000, "password='" * 100000):
        started = time.monotonic()
        redact(hostile)
        assert time.monotonic() - started < 2.0, hostile[:20]
    assert redact("x -----BEGIN RSA PRIVATE KEY-----\nMIIE cut here") == "x [REDACTED PEM]"
    assert redact('a token="abc" b') == "a token=[REDACTED] b"
    # a quoted credential however long, with a PEM block and spaces in it: redacted whole
    pem = "-----BEGIN RSA PRIVATE KEY-----\n" + "A" * 5000 + "\n-----END RSA PRIVATE KEY-----"
    said = redact('{"secret": "' + pem + ' and, more"} after')
    assert "AAAA" not in said and "more" not in said and said.endswith(" after"), said[:200]
    assert redact("password='never closed, and on") == "password=[REDACTED]"


def test_a_log_line_keeps_at_most_max_field_of_a_message_or_field():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m" * (MAX_FIELD * 4), None, None)
    record.fields = {"error": "e" * (MAX_FIELD * 4), "count": 3}
    line = json.loads(JsonFormatter().format(record))
    assert len(line["msg"]) < MAX_FIELD + 100 and line["msg"].endswith(f"[{MAX_FIELD * 3} characters cut]")
    assert len(line["error"]) < MAX_FIELD + 100
    assert line["count"] == 3


def _run_with_events(monkeypatch, tmp_path, events: list[dict], status: str = "successful"):
    """One PlaybookRunner.run whose ansible-runner is replaced by one that hands ``events`` to the
    event handler: the handler's reading of results is pure logic."""
    from dpf_hcp_operator import runner as runner_module

    class Finished:
        rc = 0

    Finished.status = status

    def fake_run(**kwargs):
        for event in events:
            kwargs["event_handler"](event)
        return Finished()

    monkeypatch.setattr(runner_module.ansible_runner, "run", fake_run)
    playbooks = runner_module.PlaybookRunner(tmp_path, "", {})
    obj = {"metadata": {"name": "p", "namespace": "t"}, "spec": {}}
    playbook = tmp_path / "reconcile.yml"
    return playbooks.run(playbook, [obj], "_provisioning_dpu_hcp_io_dpfhcpprovisioner", {}).hosts["t/p"]


def _api_object(name: str) -> dict:
    return {"op": "write", "kind": "Secret", "namespace": "t", "name": name, "resourceVersion": "1"}


def test_a_loops_items_reach_the_journal(monkeypatch, tmp_path):
    """A loop's result holds each item's result: what each item wrote is in the journal, so the
    operator knows those writes were its own (one task copies both of the HostedCluster's secrets)."""
    items = [
        {"changed": True, "api_objects": [_api_object("a")]},
        {"changed": False, "api_objects": [_api_object("b")]},
    ]
    res = {"changed": True, "results": items}
    event = {"event": "runner_on_ok", "event_data": {"host": "t/p", "task": "Copy", "res": res}}
    host = _run_with_events(monkeypatch, tmp_path, [event])
    assert host.ok
    assert [entry["name"] for entry in host.journal] == ["a", "b"]


def test_a_failed_loop_item_gives_its_own_message(monkeypatch, tmp_path):
    """Ansible's message for a loop is "One or more items failed"; the failed item's own message
    (a 403, a missing key) is what the condition and the log need."""
    items = [{"failed": False}, {"failed": True, "msg": "copy_secret: 403 Forbidden: secrets is forbidden"}]
    res = {"failed": True, "msg": "One or more items failed", "results": items}
    event = {"event": "runner_on_failed", "event_data": {"host": "t/p", "task": "Copy", "res": res}}
    host = _run_with_events(monkeypatch, tmp_path, [event], status="failed")
    assert not host.ok
    assert host.failed_task == "Copy"
    # (redacted as every message is: "copy_secret: <value>" reads as a secret's key and value)
    assert host.message == redact(items[1]["msg"])
    assert "secrets is forbidden" in host.message
