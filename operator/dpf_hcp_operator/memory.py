"""The operator's memory: how many workers an Ansible run may fork (as many as fit the
container's memory limit), and what the operator does to hold no more than it uses.

An Ansible run is one ansible-playbook process and the workers it forks, one per host of a task
(up to ``forks`` at once). Each holds memory of its own on top of what it shares with the others;
`make bench` measures it ((h): the PSS of the operator's whole process tree while a full batch
runs, divided by the Ansible processes in it). With ``workers`` runs at once and the operator's own
share kept aside, the rest of the limit decides the forks. Without a limit, the batch does."""

from __future__ import annotations

import contextlib
import ctypes
import gc
from collections.abc import Iterable
from pathlib import Path

# The memory controller's limit of this container: cgroup v2, then v1 (its "no limit" is a huge number).
CGROUP_LIMITS = (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
NO_LIMIT_FROM = 1 << 60
MIB = 1 << 20
# make bench (h) on 418b7d5, a full batch of 50 with 50 forks and no limit (BENCH_ARGS="--modes operator
# --count 1 --csrs 1 --admission 1 --sizes 1 --steady 1 --memory-burst 50"): the tree peaked at 562.6 MiB
# PSS with 29 Ansible processes, 18.1 MiB each beyond the operator's 37.3 MiB; rounded up.
MIB_PER_ANSIBLE_PROCESS = 19
# The operator itself: bench (e) steady state with 90 provisioners, 81-87 MiB RSS; and room.
OPERATOR_RESERVE_MIB = 128
# Its warm interpreter (warm.py), while it runs: bench (e) "peak RSS, warm interpreter" 63.1 to 63.4 MiB
# RSS on ee6da61 (57 MiB on 0d75132); rounded up with room for its growth. The chart's 512 MiB still
# gives 7 forks per run, 1 GiB 20.
WARM_INTERPRETER_MIB = 72


def memory_limit_mib(paths: Iterable[Path] = CGROUP_LIMITS) -> float | None:
    """The container's memory limit in MiB, or None when it has none (or none can be read)."""
    for path in paths:
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text == "max":
            return None
        try:
            value = int(text)
        except ValueError:
            continue
        return None if value >= NO_LIMIT_FROM else value / MIB
    return None


def forks_within(limit_mib: float | None, workers: int, max_batch: int, warm: bool = False) -> int:
    """Forks per run so that ``workers`` runs at once fit ``limit_mib`` beside the operator (and
    its warm interpreter when ``warm``): from 1 (a limit too small still runs, one host at a
    time) to ``max_batch`` (no more hosts in a run)."""
    if limit_mib is None:
        return max_batch
    reserve = OPERATOR_RESERVE_MIB + (WARM_INTERPRETER_MIB if warm else 0)
    per_run = (limit_mib - reserve) / max(workers, 1)
    processes = int(per_run // MIB_PER_ANSIBLE_PROCESS)
    return max(1, min(max_batch, processes - 1))  # one of them is the run's ansible-playbook


# glibc's mallopt(3) parameters.
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's initial value, kept


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt  # noqa: B018 - glibc's, or not glibc
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def tune_malloc(arenas: int = 2) -> None:
    """How the operator's memory is allocated (glibc, mallopt(3)); call before threads start:
    - at most ``arenas`` arenas: glibc makes up to eight per CPU, one for each thread that finds
      the others busy, and each keeps what its threads freed (what MALLOC_ARENA_MAX=2 does);
    - blocks of 128 KiB and more always from mmap, returned when freed (a list's answer, a
      run's results): glibc raises that threshold to the largest block freed, up to 32 MiB, after
      which they stay in the heap."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(M_ARENA_MAX, arenas)
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


def freeze_what_is_loaded() -> None:
    """Move every object alive now (modules, classes, settings) out of the garbage collector's
    reach (gc.freeze): its full collections then walk only what came later."""
    gc.collect()
    gc.freeze()


def give_back_free_memory() -> None:
    """Return the heap's free pages to the system (malloc_trim(3)): after a burst of Ansible runs
    the operator's RSS falls back to what it holds."""
    libc = _libc()
    if libc is not None:
        with contextlib.suppress(OSError):
            libc.malloc_trim(0)
