"""Run a playbook for a batch of objects through ansible-runner: each object an inventory host."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shlex
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner

import ansible_collections.dpf_hcp.provisioner as collection
from dpf_hcp_operator import metrics
from dpf_hcp_operator.logs import log, redact
from dpf_hcp_operator.run_processes import RUN_MARKER, kill_run_processes
from dpf_hcp_operator.warm import WarmInterpreter

LOG = logging.getLogger("dpf_hcp_operator.runner")
CANCELED = "canceled"  # ansible-runner's status for a run stopped by its cancel callback
TIMED_OUT = "timeout"  # ansible-runner's status for a run stopped at its job timeout (our run deadline)
MESSAGE_READ = 8192  # characters of a failed task's message read (and redacted); 2000 of them are kept
# Tasks whose requeue_after asks the operator to look again then: the requeue module (and
# operator-sdk's), and modules that know they wait for someone else (the ignition payload).
REQUEUE_ACTIONS = {
    "dpf_hcp.provisioner.requeue_after",
    "requeue_after",
    "operator_sdk.util.requeue_after",
    "dpf_hcp.provisioner.ignition_bfcfg",
    "ignition_bfcfg",
}
# The only inventory plugin a run uses: it hands every value to Ansible as untrusted data, so no
# string read from the API is ever evaluated as a template (plugins/inventory/objects.py).
INVENTORY_PLUGIN = "dpf_hcp.provisioner.objects"


def snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def host_name(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    return f"{meta.get('namespace') or '_cluster'}/{meta['name']}"


def host_vars(obj: dict[str, Any], object_var: str, snake: bool) -> dict[str, Any]:
    """operator-sdk's variables for one object, as host vars so one run can serve many. A spec
    key never names an Ansible setting (``ansible_*``: the interpreter, the connection) nor
    replaces one of these variables."""
    meta = obj["metadata"]
    out: dict[str, Any] = {
        "ansible_operator_meta": {"name": meta["name"], "namespace": meta.get("namespace", "")},
        object_var: obj,
        f"{object_var}_spec": obj.get("spec") or {},
    }
    if snake:
        for key, value in (obj.get("spec") or {}).items():
            name = snake_case(key)
            if not name.startswith("ansible_") and name not in out:
                out[name] = value
    return out


def inventory(hosts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The run's inventory, read by INVENTORY_PLUGIN: every value data, never a template."""
    return {"plugin": INVENTORY_PLUGIN, "hosts": hosts}


@dataclass
class HostResult:
    ok: bool = True
    failed_task: str = ""
    message: str = ""
    requeue_after: float | None = None
    changed: int = 0
    journal: list[dict[str, Any]] = field(default_factory=list)  # objects the run read or wrote (api_objects)


@dataclass
class RunResult:
    status: str
    duration: float
    hosts: dict[str, HostResult] = field(default_factory=dict)

    def for_object(self, obj: dict[str, Any]) -> HostResult:
        return self.hosts.get(
            host_name(obj), HostResult(ok=self.status == "successful", message=f"ansible run {self.status}")
        )


class PlaybookRunner:
    """One ansible-runner invocation per batch; each slot keeps the artifacts of its last ``keep_artifacts`` runs.
    Setting ``cancel`` abandons the runs under way (ansible-playbook and its workers are killed; the
    result's status is ``canceled``) and refuses new ones: what a stop past its grace period does.
    A run still going after ``deadline`` seconds is stopped the same way (status ``timeout``): each
    of its objects not already failed fails with a message naming the deadline, and is retried
    with backoff, so no peer that never answers holds a worker slot for longer."""

    def __init__(
        self,
        work_dir: Path,
        collections_path: str,
        env: dict[str, str],
        keep_artifacts: int = 20,
        forks: int = 10,
        verbosity: int = 0,
        deadline: float = 0.0,
        warm: WarmInterpreter | None = None,
    ):
        self.work_dir = work_dir
        self.collections_path = collections_path
        self.env = env
        self.keep_artifacts = keep_artifacts
        self.forks = forks
        self.verbosity = verbosity
        self.deadline = deadline  # seconds; 0: none
        self.warm = warm  # runs start from it, else as a program of their own
        self.cancel = threading.Event()
        self.under_way = 0  # runs under way now
        self.finished = 0  # runs finished since the start
        self._count = threading.Lock()

    def run(
        self,
        playbook: Path,
        objects: list[dict[str, Any]],
        object_var: str,
        extravars: dict[str, Any],
        snake: bool = True,
        slot: str = "0",
    ) -> RunResult:
        """Run ``playbook`` once for ``objects``. ``slot`` names the worker: each has its own
        private data dir, since ansible-runner writes the inventory and env files there."""
        hosts = {host_name(o): host_vars(o, object_var, snake) for o in objects}
        results: dict[str, HostResult] = {h: HostResult() for h in hosts}
        if self.cancel.is_set():
            return RunResult(CANCELED, 0.0, {h: HostResult(ok=False, message="not started: stopping") for h in hosts})
        ident = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"

        def on_event(event: dict[str, Any]) -> bool:
            data = event.get("event_data") or {}
            host = data.get("host")
            if host not in results:
                return False
            res = data.get("res") or {}
            name = event.get("event")
            # A loop's result holds its items' results (each with its own msg and api_objects).
            items = [item for item in res.get("results") or [] if isinstance(item, dict)]
            if name in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
                r = results[host]
                r.ok = False
                r.failed_task = data.get("task", "")
                failed = next((item for item in items if item.get("failed")), res)
                msg = failed.get("msg") or res.get("msg") or res.get("reason") or "task failed"
                r.message = redact(str(msg)[:MESSAGE_READ])[:2000]
            elif name == "runner_on_ok":
                for one in (res, *items):
                    results[host].journal.extend(one.get("api_objects") or [])
                if res.get("changed"):
                    results[host].changed += 1
                if data.get("task_action") in REQUEUE_ACTIONS and "requeue_after" in res:
                    seconds = requeue_seconds(res["requeue_after"])
                    if seconds is None:
                        r = results[host]
                        r.ok, r.failed_task = False, data.get("task", "")
                        r.message = (
                            f"requeue_after is {str(res['requeue_after'])[:100]!r}: set it to a number of seconds "
                            f"from 0 to {MAX_REQUEUE_SECONDS:g}"
                        )
                    else:  # several tasks may ask: the soonest wins
                        r = results[host]
                        r.requeue_after = seconds if r.requeue_after is None else min(r.requeue_after, seconds)
            return False  # do not keep event data in memory

        private = self.work_dir / f"runner-{slot}"
        private.mkdir(parents=True, exist_ok=True)
        env = {
            **self.env,
            "PATH": interpreter_path(),
            "ANSIBLE_COLLECTIONS_PATH": self.collections_path,
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORKS": str(max(1, min(self.forks, len(hosts)))),
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_LOCALHOST_WARNING": "0",
            # The collection's code imported once before Ansible forks a worker per task and host.
            "ANSIBLE_CALLBACKS_ENABLED": "dpf_hcp.provisioner.preload",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
            "ANSIBLE_INVENTORY_ENABLED": INVENTORY_PLUGIN,
            RUN_MARKER: ident,
        }
        binary = None
        if self.warm is not None:
            try:
                binary = self.warm.binary()
            except OSError as exc:  # then as a program of its own
                log(LOG, logging.WARNING, "warm interpreter not started", error=str(exc)[:300])
        # With a binary, ansible-runner leaves the playbook to the command line (RAW mode).
        started_by = {"binary": binary, "cmdline": shlex.quote(str(playbook))} if binary else {}
        start = time.monotonic()
        in_progress = metrics.ANSIBLE_RUNS_IN_PROGRESS.labels(playbook.stem)
        in_progress.inc()
        with self._count:
            self.under_way += 1
        status = "error"
        try:
            runner = ansible_runner.run(
                **started_by,
                private_data_dir=str(private),
                ident=ident,
                playbook=str(playbook),
                inventory=inventory(hosts),
                extravars=extravars,
                envvars=env,
                quiet=True,
                event_handler=on_event,
                rotate_artifacts=self.keep_artifacts,
                verbosity=self.verbosity,
                suppress_env_files=True,
                cancel_callback=self.cancel.is_set,
                timeout=self.deadline or None,
            )
            status = runner.status
        finally:
            in_progress.dec()
            with self._count:
                self.under_way -= 1
                self.finished += 1
            if status != "successful":  # stopped, failed, or ansible-runner itself failed
                left = kill_run_processes(ident)
                if left:
                    log(LOG, logging.WARNING, "killed what the run left", ident=ident, status=status, processes=left)
        duration = time.monotonic() - start
        playbook_name = playbook.stem
        metrics.ANSIBLE_RUNS.labels(playbook_name, runner.status).inc()
        metrics.ANSIBLE_RUN_DURATION.labels(playbook_name).observe(duration)
        metrics.ANSIBLE_BATCH_SIZE.labels(playbook_name).observe(len(hosts))
        if runner.status == TIMED_OUT:
            for r in results.values():
                if r.ok:
                    r.ok = False
                    r.failed_task = r.failed_task or "(run deadline)"
                    r.message = (
                        f"the Ansible run serving this object and {len(hosts) - 1} more was stopped after its "
                        f"deadline of {self.deadline:g}s (--run-deadline); it is retried with backoff"
                    )
        elif runner.status != "successful" and all(r.ok for r in results.values()):
            # The run failed before any task (syntax, missing collection): every host failed.
            tail = ""
            with contextlib.suppress(OSError, AttributeError):
                tail = redact(runner.stdout.read()[-1500:])
            for r in results.values():
                r.ok = False
                r.message = f"ansible-playbook {runner.status} (rc={runner.rc}): {tail}"
        log(
            LOG,
            logging.DEBUG,
            "ansible run finished",
            playbook=playbook_name,
            hosts=len(hosts),
            status=runner.status,
            duration=round(duration, 3),
            ident=ident,
        )
        return RunResult(runner.status, duration, results)


MAX_REQUEUE_SECONDS = 86400.0


def requeue_seconds(value: Any) -> float | None:
    """A task's requeue_after as seconds, or None when it is not a number from 0 to a day."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if 0 <= seconds <= MAX_REQUEUE_SECONDS else None  # NaN fails both


def interpreter_path() -> str:
    """PATH with this interpreter's bin first: ansible-playbook is installed beside it, and a
    venv's bin need not be on the operator's PATH."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "/usr/bin:/bin")])


def default_collections_path() -> str:
    """Where ansible finds dpf_hcp.provisioner: $ANSIBLE_COLLECTIONS_PATH, else where Python imports it from."""
    if os.environ.get("ANSIBLE_COLLECTIONS_PATH"):
        return os.environ["ANSIBLE_COLLECTIONS_PATH"]
    location = Path(next(iter(collection.__path__)))  # .../ansible_collections/dpf_hcp/provisioner
    return str(location.parent.parent.parent)
