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
