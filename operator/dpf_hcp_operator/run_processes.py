"""Which processes belong to an Ansible run, and how they are all stopped.

Every process of a run is marked with the run's ident, so what a stopped run leaves is found
and killed (the run deadline, a cancel, a crashed client of the warm interpreter):
- a process started by exec carries ``RUN_MARKER=<ident>`` in its environment (proc(5)
  environ, fixed at exec): ansible-playbook when it is a program of its own, and anything a
  worker runs;
- a process forked without exec keeps the environment its first ancestor was started with, so
  the warm interpreter's run names itself ``run_name(ident)`` (proc(5) comm), a name its Ansible
  workers inherit (warm.py).
Ansible's workers call setsid (ansible-core lib/ansible/executor/process/worker.py,
WorkerProcess._detach), so the SIGKILL ansible-runner sends to ansible-playbook's process group at
a deadline or cancel (ansible_runner/runner.py, Runner.handle_termination) does not reach them:
they are found by their mark."""

from __future__ import annotations

import contextlib
import os
import signal
import time

RUN_MARKER = "DPF_HCP_RUN"


def run_name(ident: str) -> str:
    """The process name (comm, at most 15 bytes) of a run forked by the warm interpreter, which
    its workers inherit: ``run-`` and the ident's random part (runner.py makes it 8 hex digits)."""
    return "run-" + ident.rpartition("-")[2][:11]


def kill_run_processes(ident: str, rounds: int = 5, reap_seconds: float = 2.0) -> int:
    """SIGKILL every process marked as the run ``ident``'s (its Ansible workers and what they
    started); again while a round finds one not seen before, in case one forked while the last
    was read. Only this user's processes can be read, which is all a run has. Their parent is
    dead by now, so in a container they are the operator's children (it is PID 1): each is
    reaped here, or it would stay a zombie. Returns once each is gone or a zombie (SIGKILL takes
    a moment: a process still exiting reads as alive), or ``reap_seconds`` passed; how many were
    killed."""
    killed: set[int] = set()
    for _ in range(rounds):
        found = marked(ident)
        for pid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        new = found - killed
        killed |= found
        if not new:  # only the dying again, or nothing: no process of the run can fork now
            break
    deadline = time.monotonic() + reap_seconds
    reap(killed, reap_seconds)
    while time.monotonic() < deadline and marked(ident, killed):
        time.sleep(0.01)
    return len(killed)


def marked(ident: str, among: set[int] | None = None) -> set[int]:
    """Processes (``among`` these, else all but this one) marked as the run ``ident``'s: by their
    environment, or by their name when their environment is no run's (a process the warm
    interpreter forked). A zombie's environment reads empty, so it is not among them."""
    marker = f"{RUN_MARKER}={ident}".encode()
    any_run = f"{RUN_MARKER}=".encode()
    name = run_name(ident).encode() + b"\n"
    found = set()
    pids = among if among is not None else {int(e.name) for e in os.scandir("/proc") if e.name.isdigit()}
    for pid in pids:
        if pid == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                variables = f.read().split(b"\0")
            if marker in variables:
                found.add(pid)
            elif variables != [b""] and not any(v.startswith(any_run) for v in variables):
                with open(f"/proc/{pid}/comm", "rb") as f:
                    if f.read() == name:
                        found.add(pid)
        except OSError:  # gone, or not ours
            continue
    return found


def reap(pids: set[int], seconds: float) -> None:
    """Wait for those of ``pids`` that are this process's children, so none stays a zombie."""
    waiting, deadline = set(pids), time.monotonic() + seconds
    while waiting and time.monotonic() < deadline:
        for pid in list(waiting):
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    waiting.discard(pid)
            except ChildProcessError:  # not our child: its own parent (init) reaps it
                waiting.discard(pid)
        if waiting:
            time.sleep(0.02)
