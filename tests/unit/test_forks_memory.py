"""How many workers a run forks: read from the container's memory limit (cgroup v2 or v1 files,
as the kernel writes them), sized by what `make bench` measured per Ansible process."""

from __future__ import annotations

import json
import subprocess
import sys
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
    warm = limit + memory.WARM_INTERPRETER_MIB  # the same room beside a warm interpreter
    assert memory.forks_within(warm, 2, 50, warm=True) == 10
    assert memory.forks_within(limit, 2, 50, warm=True) < 10


def test_the_charts_default_limit_runs_full_batches_of_a_useful_width():
    """512 MiB (helm values resources.limits.memory) with two runs at once: what the bench's figure allows."""
    forks = memory.forks_within(512, 2, 50, warm=True)
    assert 1 <= forks <= 50
    reserve = memory.OPERATOR_RESERVE_MIB + memory.WARM_INTERPRETER_MIB
    assert reserve + 2 * (forks + 1) * memory.MIB_PER_ANSIBLE_PROCESS <= 512


def test_the_flag_overrides_and_refuses_a_negative_count():
    assert parse(["--max-forks", "7"]).max_forks == 7
    assert parse([]).max_forks == 0
    with pytest.raises(SystemExit):
        parse(["--max-forks", "-1"])


HOLDS_WHAT_IT_USES = """
import gc, json, threading
from dpf_hcp_operator import memory

memory.tune_malloc()


def rss_mib():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20


kept = []


def burst():  # what a burst of runs leaves: most freed, a few kept, in many threads' allocations
    blocks = [bytearray(8000) for _ in range(8000)]
    kept.extend(blocks[::200])


base = rss_mib()
threads = [threading.Thread(target=burst) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
after_burst = rss_mib()
memory.give_back_free_memory()
after_trim = rss_mib()
memory.freeze_what_is_loaded()
print(json.dumps({"base": base, "burst": after_burst, "trimmed": after_trim, "frozen": gc.get_freeze_count()}))
"""


def test_the_operator_gives_back_what_a_burst_freed_and_keeps_its_start_out_of_the_collectors_way():
    """In a process of its own (mallopt and gc.freeze are process-wide): 8 threads allocate 500 MB
    and keep 1 in 200 blocks; what they freed goes back to the system, and what was loaded is frozen."""
    shown = subprocess.run(
        [sys.executable, "-c", HOLDS_WHAT_IT_USES], capture_output=True, text=True, timeout=120, check=True
    )
    seen = json.loads(shown.stdout)
    freed = seen["burst"] - seen["base"]
    assert seen["trimmed"] - seen["base"] < freed / 4, seen
    assert seen["frozen"] > 1000, seen
