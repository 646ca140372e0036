"""How many workers a run forks: read from the container's memory limit (cgroup v2 or v1 files,
as the kernel writes them), sized by what `make bench` measured per Ansible process."""

from __future__ import annotations

from pathlib import Path

import pytest

from dpf_hcp_operator import memory
from dpf_hcp_operator.cli import parse


def limit_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_limit_is_read_from_cgroup_v2_then_v1_and_no_limit_is_none(tmp_path):
    missing = tmp_path / "missing"
    assert memory.memory_limit_mib([limit_file(tmp_path, "v2", "536870912\n")]) == 512
    assert memory.memory_limit_mib([limit_file(tmp_path, "v2max", "max\n")]) is None
    v1_unlimited = limit_file(tmp_path, "v1", "9223372036854771712\n")  # v1's "no limit": PAGE_COUNTER_MAX pages
    assert memory.memory_limit_mib([missing, v1_unlimited]) is None
    assert memory.memory_limit_mib([missing, limit_file(tmp_path, "v1b", "268435456")]) == 256
    assert memory.memory_limit_mib([missing, limit_file(tmp_path, "junk", "lots")]) is None
    assert memory.memory_limit_mib([missing]) is None  # not in a container: no limit known


def test_forks_fit_the_limit_with_every_run_at_once_and_stay_within_one_and_the_batch():
    per = memory.MIB_PER_ANSIBLE_PROCESS
    assert memory.forks_within(None, 2, 50) == 50  # no limit: the batch decides
    limit = memory.OPERATOR_RESERVE_MIB + 2 * 11 * per  # room for 2 runs of 11 processes: 10 forks each
    assert memory.forks_within(limit, 2, 50) == 10
    assert memory.forks_within(limit + per / 2, 2, 50) == 10  # part of a process is none
    assert memory.forks_within(limit, 1, 50) == 21  # one run at a time gets the room of two
    assert memory.forks_within(limit, 2, 4) == 4
    assert memory.forks_within(memory.OPERATOR_RESERVE_MIB, 2, 50) == 1  # too small still runs, one host at a time
    assert memory.forks_within(64, 2, 50) == 1


def test_the_charts_default_limit_runs_full_batches_of_a_useful_width():
    """512 MiB (helm values resources.limits.memory) with two runs at once: what the bench's figure allows."""
    forks = memory.forks_within(512, 2, 50)
    assert 1 <= forks <= 50
    assert memory.OPERATOR_RESERVE_MIB + 2 * (forks + 1) * memory.MIB_PER_ANSIBLE_PROCESS <= 512


def test_the_flag_overrides_and_refuses_a_negative_count():
    assert parse(["--max-forks", "7"]).max_forks == 7
    assert parse([]).max_forks == 0
    with pytest.raises(SystemExit):
        parse(["--max-forks", "-1"])
