"""Issue 9, item 2: the operator is killed (SIGKILL, with every Ansible process it started, as a
container dies) at a random point while it provisions one DPFHCPProvisioner and deletes another.
Started again, it converges: no duplicate, no orphan, no lost finalizer, no stuck phase."""

from __future__ import annotations

import json
import os
import random
import time

import pytest

from fault_harness import Replica, Tenant, last_tasks, seed

TRIALS = int(os.environ.get("FAULT_TRIALS") or 12)
WINDOW = 5.0  # seconds after the change in which the kill lands: a first reconcile to Ready takes 2-4 here


@pytest.mark.timeout(1200)  # 12 kills, each a restart and two runs: 3 min here, twice that on a busy machine
def test_killed_anywhere_it_converges_without_duplicates_orphans_or_lost_finalizers(fault_env, tmp_path):
    rng = random.Random(seed("crash-anywhere"))  # noqa: S311 - not for secrets
    client = fault_env.client()
    replica = Replica(fault_env, tmp_path / "operator").start()
    trials: list[dict[str, object]] = []
    previous: Tenant | None = None
    try:
        for trial in range(TRIALS):
            current = Tenant.create(client)
            if previous is not None:
                previous.delete()
            delay = rng.uniform(0, WINDOW)
            time.sleep(delay)
            runs = replica.metric("dpfhcp_ansible_runs_in_progress")
            task = last_tasks(replica.work_dir)
            killed = replica.kill()
            replica.start()
            record = {
                "trial": trial,
                "kill_after_s": round(delay, 2),
                "runs_in_progress": int(runs),
                "last_tasks": task,
                "processes_killed": len(killed),
            }
            trials.append(record)
            print(json.dumps(record))
            current.assert_converged()
            if previous is not None:
                previous.assert_gone()
            previous = current
        assert previous is not None
        previous.delete()
        previous.assert_gone()
    finally:
        replica.close()
    in_a_run = sum(1 for t in trials if t["runs_in_progress"])
    print(f"{len(trials)} kills, {in_a_run} during an Ansible run; nothing duplicated, orphaned or stuck")
    assert len(trials) == TRIALS
    # The kills did land inside runs, not only between them: about two in three do here; a third is a
    # bound that 12 trials keep without flaking (below half, 1 in 12 runs would fail by chance alone).
    assert in_a_run >= TRIALS // 3, trials
