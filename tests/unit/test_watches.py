import logging
import signal
from pathlib import Path

import pytest

from dpf_hcp_operator.watches import WatchesError, load, parse_duration, selector_string

REPO = Path(__file__).resolve().parents[2]


def test_the_shipped_watches_file_parses():
    (watch,) = load(REPO / "watches.yaml")
    assert watch.kind == "DPFHCPProvisioner"
    assert watch.api_version == "provisioning.dpu.hcp.io/v1alpha1"
    assert watch.playbook == (REPO / "playbooks" / "reconcile.yml").resolve()
    assert watch.finalizer is not None
    assert watch.finalizer.name == "provisioning.dpu.hcp.io/finalizer"
    assert watch.reconcile_period == 600
    assert watch.manage_status is False
    assert watch.object_var == "_provisioning_dpu_hcp_io_dpfhcpprovisioner"


def write(tmp_path, text):
    (tmp_path / "pb.yml").write_text("- hosts: all\n  tasks: []\n")
    path = tmp_path / "watches.yaml"
    path.write_text(text)
    return path


def test_unknown_key_is_named(tmp_path):
    with pytest.raises(WatchesError, match=r"unknown keys \['playbok'\]"):
        load(write(tmp_path, "- {version: v1, kind: K, playbok: pb.yml}"))


def test_missing_playbook_file_is_named(tmp_path):
    with pytest.raises(WatchesError, match=r"\[0\]\.playbook: 'nope.yml' does not exist"):
        load(write(tmp_path, "- {version: v1, kind: K, playbook: nope.yml}"))


def test_selector_and_durations(tmp_path):
    (watch,) = load(
        write(
            tmp_path,
            """
- version: v1
  group: example.com
  kind: K
  playbook: pb.yml
  reconcilePeriod: 1h30m
  selector:
    matchLabels: {team: a}
    matchExpressions:
      - {key: tier, operator: In, values: [x, y]}
      - {key: skip, operator: DoesNotExist}
""",
        )
    )
    assert watch.reconcile_period == 5400
    assert watch.selector == "team=a,tier in (x,y),!skip"


def test_bad_duration_and_operator_are_refused():
    with pytest.raises(WatchesError, match="not a duration"):
        parse_duration("ten minutes", "w")
    with pytest.raises(WatchesError, match="selector operator"):
        selector_string({"matchExpressions": [{"key": "a", "operator": "Gt"}]}, "w")


def test_cli_refuses_bad_flags_naming_the_flag_and_the_fix(tmp_path, capsys):
    from dpf_hcp_operator.cli import parse

    for argv, fragment in (
        (["--lease-duration", "5", "--renew-deadline", "10"], "--renew-deadline (10.0) < --lease-duration (5.0)"),
        (["--max-batch", "0"], "--max-batch must be at least 1, not 0"),
    ):
        with pytest.raises(SystemExit):
            parse(argv)
        assert fragment in capsys.readouterr().err


def test_webhook_without_certificate_files_stops_with_the_fix(tmp_path, capsys):
    from dpf_hcp_operator.app import run
    from dpf_hcp_operator.cli import parse

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{name: c, cluster: {server: https://127.0.0.1:1}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    config = parse(
        [
            "--kubeconfig",
            str(kubeconfig),
            "--webhook-bind-address",
            "127.0.0.1:0",
            "--webhook-cert-dir",
            str(tmp_path / "none"),
            "--health-probe-bind-address",
            "127.0.0.1:0",
            "--metrics-bind-address",
            "0",
            "--work-dir",
            str(tmp_path / "work"),
        ]
    )
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT), logging.getLogger().handlers[:]
    try:
        assert run(config) == 2
    finally:  # run() installs a log handler for the process: give pytest its own back
        logging.getLogger().handlers[:] = handlers[2]
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == handlers[:2]  # put back
    assert "--webhook-self-signed-hosts to make one" in capsys.readouterr().err


def test_mark_unsafe_false_is_refused_since_api_data_is_never_a_template(tmp_path):
    with pytest.raises(WatchesError, match=r"\[0\]\.markUnsafe: False: .* never as a template; remove markUnsafe"):
        load(write(tmp_path, "- {version: v1, kind: K, playbook: pb.yml, markUnsafe: false}"))
    for allowed in ("", ", markUnsafe: true"):
        (watch,) = load(write(tmp_path, "- {version: v1, kind: K, playbook: pb.yml" + allowed + "}"))
        assert watch.kind == "K"
