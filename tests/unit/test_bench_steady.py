"""The bench's steady-state process figures, on real processes: a helper that ends within the
window still counts, with its CPU and its peak memory."""

from __future__ import annotations

import os
import subprocess
import sys

from dpf_hcp_dev.bench import workloads

BURN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end:\n    pass\n"
HOLD = "import time\nheld = b'x' * (48 << 20)\nprint('ready', flush=True)\ntime.sleep(0.3)\n"


def test_an_ended_helper_not_yet_waited_for_keeps_its_cpu_in_the_tree():
    child = subprocess.Popen([sys.executable, "-c", BURN])
    try:
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # ended, not reaped: a zombie
        assert child.pid in workloads.children(os.getpid(), ended=True)
        assert child.pid not in workloads.children(os.getpid())
        zombie = workloads.cpu_seconds(child.pid)
        assert zombie >= 0.25
        own = workloads.cpu_seconds(os.getpid())
        assert workloads.tree_cpu_seconds(os.getpid()) >= own + zombie
    finally:
        child.wait()


def test_a_helper_that_ends_within_the_window_counts_with_its_peak():
    child = subprocess.Popen([sys.executable, "-c", HOLD], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        peaks = workloads.helper_peaks_mib(os.getpid(), seconds=1.5, every=0.05)
        assert child.pid not in workloads.children(os.getpid())  # it ended within the window
        assert peaks[child.pid] >= 48
    finally:
        child.wait()
