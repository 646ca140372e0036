"""The operator's settings, each defined once (settings.py): a flag beats its environment
variable, which beats the default; a bad value stops the start naming the flag, the value and the
fix; the command line is what `python -m dpf_hcp_operator.cli` (the image, the tests) runs."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from dpf_hcp_operator import settings
from dpf_hcp_operator.cli import parse
from dpf_hcp_operator.settings import Config


def test_a_flag_beats_its_environment_variable_which_beats_the_default() -> None:
    assert parse([], environ={}).operator_namespace == "dpf-hcp-provisioner-system"
    assert parse([], environ={"POD_NAMESPACE": "ops"}).operator_namespace == "ops"
    assert parse(["--operator-namespace", "mine"], environ={"POD_NAMESPACE": "ops"}).operator_namespace == "mine"
    assert parse([], environ={"LOG_LEVEL": "debug"}).log_level == "debug"


def test_every_setting_has_one_flag_and_its_default_in_one_place() -> None:
    defaults = parse([], environ={})
    for f in dataclasses.fields(Config):
        assert f.metadata["help"], f.name
        if f.name != "watches_file":  # filled in from the collection when unset
            assert getattr(defaults, f.name) == f.default, f.name
    assert defaults.max_batch == 50 and defaults.max_workers == 2


def test_booleans_have_both_spellings() -> None:
    assert parse(["--no-skip-unchanged", "--leader-elect"], environ={}).skip_unchanged is False
    assert parse(["--leader-elect"], environ={}).leader_elect is True
    assert parse(["--no-csr-watch"], environ={}).csr_watch is False


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--max-batch", "0"], "--max-batch must be at least 1, not 0"),
        (["--max-batch", "many"], "--max-batch: give a number, not 'many'"),
        (["--run-deadline", "-1"], "--run-deadline must be at least 0"),
        (["--hosted-api-server", "both"], "--hosted-api-server"),
        (["--dpf-operator-namespace", "Not_A_Name"], "--dpf-operator-namespace 'Not_A_Name': not a namespace name"),
        (["--retry-period", "20"], "leader election timings must satisfy"),
        (
            ["--disabled-capabilities", "Console,Monitoring"],
            "--disabled-capabilities: 'Monitoring' is not a capability",
        ),
        (["--disabled-capabilities", "Ingress"], "disables Ingress without Console"),
        (["--disabled-capabilities", "Console,Console"], "names a capability twice"),
    ],
)
def test_a_bad_value_stops_the_start_naming_the_flag_and_the_fix(argv, says, capsys) -> None:
    with pytest.raises(SystemExit):
        parse(argv, environ={})
    assert says in capsys.readouterr().err


def test_a_bad_environment_variable_is_named_by_its_flag(capsys) -> None:
    with pytest.raises(SystemExit):
        parse([], environ={settings.scope.ENV: "Bad_Namespace"})
    assert "--watch-namespaces" in capsys.readouterr().err


def test_the_module_runs_the_command_line() -> None:
    argv = [sys.executable, "-m", "dpf_hcp_operator.cli", "--help"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and "--max-batch" in done.stdout, done.stderr


def test_the_log_level_is_read_in_any_case() -> None:
    assert parse([], environ={"LOG_LEVEL": "DEBUG"}).log_level == "debug"


def test_the_capabilities_and_metallb_switch_reach_the_roles_as_given() -> None:
    assert parse([], environ={}).disabled_capabilities == (
        "ImageRegistry",
        "Insights",
        "Console",
        "openshift-samples",
        "Ingress",
        "NodeTuning",
    )
    assert parse(["--disabled-capabilities", ""], environ={}).disabled_capabilities == ()
    assert parse([], environ={"DPFHCP_DISABLED_CAPABILITIES": "ImageRegistry, baremetal"}).disabled_capabilities == (
        "ImageRegistry",
        "baremetal",
    )
    assert parse([], environ={}).manage_metallb is True
    assert parse(["--no-manage-metallb"], environ={}).manage_metallb is False
    assert parse([], environ={"DPFHCP_MANAGE_METALLB": "false"}).manage_metallb is False
