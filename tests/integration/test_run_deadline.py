"""Issue 22: an Ansible run that does not end is stopped at the run deadline, with every process
it started, and each of its objects fails with a message naming the deadline (the controller then
retries it with backoff). A real ansible-playbook under ansible-runner; no API server is needed.

Ansible's workers call setsid, so killing ansible-playbook's process group (what ansible-runner
does) leaves them running: the runner finds them by their mark (run_processes.py). The test looks
for them by marks of its own: one passed in the run's environment, and the descendants of this
process and of the warm interpreter, noted while the run goes."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from dpf_hcp_operator.runner import TIMED_OUT, PlaybookRunner, default_collections_path
from dpf_hcp_operator.warm import WarmInterpreter
from support import alive, descendants, wait_listening

HANGS = """---
- name: A run that never ends (a peer that never answers)
  hosts: all
  gather_facts: false
  connection: local
  tasks:
    - name: Wait far longer than the deadline
      {task}
"""
TASKS = {
    # in the worker itself, as a hung API call in an action plugin would
    "worker": "ansible.builtin.pause:\n        seconds: 300",
    # in a process the worker started
    "command": "ansible.builtin.command: sleep 300",
}


def marked(mark: bytes) -> list[int]:
    """Live processes whose environment holds ``mark`` (zombies read empty)."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/environ", "rb") as f:
                    if mark in f.read().split(b"\0"):
                        found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.parametrize("started_by", ["program", "warm-interpreter"])
@pytest.mark.parametrize("hangs_in", sorted(TASKS))
def test_a_run_past_its_deadline_is_stopped_with_every_process_and_its_objects_fail_naming_it(
    tmp_path: Path, hangs_in: str, started_by: str
):
    playbook = tmp_path / "hangs.yml"
    playbook.write_text(HANGS.format(task=TASKS[hangs_in]))
    mark = f"DPF_HCP_TEST_MARK={tmp_path}"
    env = {**os.environ, "DPF_HCP_TEST_MARK": str(tmp_path)}
    warm = None
    # This process's children already there (the session's API servers, stand-ins, operators)
    # are not the run's: only what it starts now, and what the warm interpreter forks, are.
    roots = {os.getpid()}
    already = descendants(roots)
    if started_by == "warm-interpreter":
        warm = WarmInterpreter(tmp_path / "warm")
        warm.start()
        wait_listening(warm)
        assert warm.process is not None
        roots.add(warm.process.pid)
        already.discard(warm.process.pid)
    # The deadline leaves ansible-playbook time to start its workers on a loaded machine (the suite
    # runs two test files at once on 2 CPUs): with 4 s, one make test run saw none start in time.
    deadline = 8
    runner = PlaybookRunner(tmp_path / "work", default_collections_path(), env, deadline=deadline, forks=3, warm=warm)
    seen: set[int] = set()
    done = threading.Event()

    def note() -> None:
        while not done.wait(0.05):
            seen.update(descendants(roots, besides=already) - roots)

    noting = threading.Thread(target=note, daemon=True)
    noting.start()
    objects = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"o{i}", "namespace": "n", "uid": str(i)}}
        for i in range(3)
    ]
    started = time.monotonic()
    result = runner.run(playbook, objects, "obj", {})
    took = time.monotonic() - started
    done.set()
    noting.join()
    assert result.status == TIMED_OUT
    assert took < deadline + 15, took
    assert len(result.hosts) == 3
    for host in result.hosts.values():
        assert not host.ok
        assert f"deadline of {deadline}s" in host.message and "2 more" in host.message, host.message
    left = marked(mark.encode())
    assert not left, f"processes of the stopped run still alive: {left}"
    assert len(seen) >= 2, seen  # ansible-playbook (and its client) and its workers (pause: one for all hosts)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and [p for p in seen if alive(p)]:
        time.sleep(0.05)
    assert not [p for p in seen if alive(p)], "processes of the stopped run still alive"
    if warm is not None:
        warm.stop()
