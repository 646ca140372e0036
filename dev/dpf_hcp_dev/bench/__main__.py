"""`make bench`: the operator's speed on a real local control plane with the stand-ins, next to two
reference points measured in the same run:

  floor     the same objects written by a plain Python client, no Ansible (dpf_hcp_dev.bench.floor);
  operator  the operator as shipped;
  naive     the operator with nothing skipped or batched: one ansible-runner run per reconcile
            request, CSRs approved only by the playbook, on a 30 s poll (operator-sdk's manner);
  baseline  (with --baseline DIR) the operator and collection of another checkout, e.g. the commit
            before a change, run by that checkout's own venv against this checkout's control plane
            and stand-ins: a change's before and after, measured in one run on the same environment.

Each mode gets a fresh management and hosted control plane. Prints a table; --json writes every
figure. Nothing here asserts: the targets are printed next to the figures."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.apply import apply
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import PROVISIONER
from dpf_hcp_dev.attackers import Attack
from dpf_hcp_dev.bench import floor, report, workloads
from dpf_hcp_dev.localcluster.controlplane import free_port, terminate
from dpf_hcp_dev.localcluster.environment import REPO, Environment
from dpf_hcp_dev.processes import spawn, start_operator, start_standins, wait_ready
from dpf_hcp_dev.standins import config as standin_config

WATCHES = REPO / "watches.yaml"


def watches_file(directory: Path, reconcile_period: str, repo: Path = REPO) -> Path:
    """``repo``'s watches.yaml with another reconcilePeriod, its paths made absolute."""
    docs = yaml.safe_load((repo / WATCHES.name).read_text())
    for doc in docs:
        doc["reconcilePeriod"] = reconcile_period
        doc["playbook"] = str(repo / doc["playbook"])
        if doc.get("finalizer", {}).get("playbook"):
            doc["finalizer"]["playbook"] = str(repo / doc["finalizer"]["playbook"])
    path = directory / "watches.yaml"
    path.write_text(yaml.safe_dump(docs))
    return path


def baseline_installation(repo: Path) -> dict[str, Any]:
    """How to run the operator of another checkout: its venv's Python, with the collection that venv
    links (``make venv`` there) and that venv's programs (ansible-playbook) first on the PATH."""
    venv = repo / ".venv"
    python = venv / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"--baseline {repo}: no {python}; run `make venv` in that checkout first")
    environ = {  # nothing of this checkout's imports: that venv's own .pth files say where its code is
        **{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        "ANSIBLE_COLLECTIONS_PATH": str(venv / "collections"),
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(venv),
    }
    return {"python": str(python), "environ": environ}


class Mode:
    """One controller on a fresh environment: start, measure, stop."""

    def __init__(self, name: str, directory: Path, args: argparse.Namespace, snapshot: dict[str, Any] | None):
        self.name, self.dir, self.args = name, directory, args
        self.env = Environment.up(directory / "cluster")
        self.process: subprocess.Popen[bytes] | None = None
        self.standins: subprocess.Popen[bytes] | None = None
        self.stop = threading.Event()
        try:
            self._start(name, directory, args, snapshot)
        except BaseException:  # an operator that does not start leaves no control plane running behind it
            self.close()
            raise

    def _start(self, name: str, directory: Path, args: argparse.Namespace, snapshot: dict[str, Any] | None) -> None:
        self.client = self.env.client()
        logs = directory / "logs"
        sample = [d for d in yaml.safe_load_all((REPO / "examples" / "sample.yaml").read_text()) if d]
        apply(self.client, next(d for d in sample if d["kind"] == "ConfigMap" and "ocp" in d["metadata"]["name"]))
        apply(self.client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": standin_config.NAMESPACE}})
        apply(  # HyperShift reports Available at once: (b) measures the operator, not the stand-in's delay
            self.client,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": standin_config.NAME, "namespace": standin_config.NAMESPACE},
                "data": {"availableAfterSeconds": "0", "deleteAfterSeconds": "0"},
            },
        )
        self.standins = start_standins(self.env, logs / "standins.log")
        self.metrics_port = 0
        self.log: Path | None = None  # the operator's log (its runs' durations), where one runs
        self.webhook: tuple[int, Path] | None = None  # the port and CA of the webhook, where one serves
        if name == "floor":
            assert snapshot is not None
            path = directory / "snapshot.json"
            path.write_text(json.dumps(snapshot))
            self.metrics_port = free_port()
            self.process = spawn(
                [
                    sys.executable,
                    "-m",
                    "dpf_hcp_dev.bench.floor",
                    "--kubeconfig",
                    str(self.env.management.kubeconfig_path("dpf-hcp-operator")),
                    "--hosted-kubeconfig",
                    str(self.env.hosted.kubeconfig_path()),
                    "--snapshot",
                    str(path),
                    "--metrics-port",
                    str(self.metrics_port),
                ],
                logs / "floor.log",
            )
            time.sleep(2.0)
        else:
            repo = args.baseline if name == "baseline" else REPO
            resync = "30s" if name == "naive" else args.resync
            extra = ["--watches-file", str(watches_file(directory, resync, repo))]
            if name == "naive":
                extra += ["--no-skip-unchanged", "--max-batch", "1", "--no-csr-watch", "--no-warm-interpreter"]
            self.log = logs / "operator.log"
            installation = baseline_installation(repo) if name == "baseline" else {}
            operator = start_operator(self.env, directory / "operator", self.log, *extra, **installation)
            wait_ready(operator.health_port, operator.process, self.log, timeout=60)
            apply(self.client, operator.webhook_configuration())
            self.process, self.metrics_port = operator.process, operator.metrics_port
            self.webhook = operator.webhook_port, operator.webhook_ca
        self.stamps = workloads.Stamps(self.client, self.stop)
        self.names = workloads.Namespaces()

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def close(self) -> None:
        self.stop.set()
        for proc in (self.process, self.standins):
            if proc is not None and proc.poll() is None:
                terminate(proc.pid)
        self.env.down()

    def steady(self, seconds: float) -> dict[str, Any]:
        """Nothing changes for ``seconds``: what the controller spends meanwhile."""
        series = ("dpfhcp_ansible_runs_total", "dpfhcp_api_requests_total")
        quiet_for, last = 0, None
        for _ in range(180):  # settle: no Ansible run under way or started for 10 s (the bursts' tails end)
            now = workloads.scrape(self.metrics_url, (*series, "dpfhcp_ansible_runs_in_progress"))
            runs = (now["dpfhcp_ansible_runs_total"], now["dpfhcp_ansible_runs_in_progress"])
            quiet_for = quiet_for + 1 if runs == last and runs[1] == 0 else 0
            last = runs
            if quiet_for >= 10:
                break
            time.sleep(1)
        ready = sum(1 for o in self.client.list(PROVISIONER)["items"] if workloads._true(o, "Ready"))
        helpers = workloads.children(self.process.pid)  # e.g. the warm interpreter
        for pid in (self.process.pid, *helpers):  # the steady state's own peak, not the bursts' or the attack's
            workloads.reset_peak_rss(pid)
        before, cpu0, server0 = (
            workloads.scrape(self.metrics_url, series),
            workloads.tree_cpu_seconds(self.process.pid),
            workloads.apiserver_requests(self.client),
        )
        helper_peaks = workloads.helper_peaks_mib(self.process.pid, seconds)
        after, cpu1, server1 = (
            workloads.scrape(self.metrics_url, series),
            workloads.tree_cpu_seconds(self.process.pid),
            workloads.apiserver_requests(self.client),
        )
        minutes = seconds / 60
        return {
            "seconds": seconds,
            "ready_provisioners": ready,
            "ansible_runs": after["dpfhcp_ansible_runs_total"] - before["dpfhcp_ansible_runs_total"],
            "cpu_seconds": cpu1 - cpu0,
            "peak_rss_mib": workloads.peak_rss_mib(self.process.pid),
            # each helper's peak, also one that ended within the window (the warm interpreter ends
            # after --warm-interpreter-idle, 300 s: within the default window of 300 s)
            "helpers_peak_rss_mib": sum(helper_peaks.values()),
            "own_api_requests_per_minute": (after["dpfhcp_api_requests_total"] - before["dpfhcp_api_requests_total"])
            / minutes,
            # every client of the management API server, stand-ins and the controller manager included
            "apiserver_requests_per_minute": (server1 - server0 - 2) / minutes,  # minus our two scrapes
        }


OPERATORS = ("operator", "baseline")  # the modes measured in full


def measure(mode: Mode, a: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    reference = mode.name not in OPERATORS
    count = a.naive_count if mode.name == "naive" else a.count
    say(mode, f"(a, b) {count} provisioners, one at a time")
    to_hc, to_served, to_ready = workloads.one_at_a_time(mode.client, mode.stamps, mode.names.take("one", count))
    out["a_cr_to_hosted_cluster"] = report.stats(to_hc)
    out["b_cr_to_served"] = report.stats(to_served)
    out["b_cr_to_ready"] = report.stats(to_ready)
    first_ns = f"bench-{mode.names.run}-one-000"
    if mode.name == "operator":
        out["snapshot"] = floor.snapshot(mode.client, mode.client.get(PROVISIONER, workloads.NAME, first_ns))
    csrs = a.naive_csrs if mode.name == "naive" else a.csrs
    say(mode, f"(c) {csrs} CSRs" + (" at once (approved by the playbook's poll)" if mode.name == "naive" else ""))
    out["c_csr_to_approved"] = report.stats(
        workloads.csr_latencies(mode.env, mode.client, first_ns, csrs, at_once=mode.name == "naive", timeout=45)
    )
    if mode.name != "naive":  # the naive mode serves the same webhook
        say(mode, f"(f) {a.admission} admission reviews")
        out["f_admission"] = report.stats(
            workloads.admission_latencies(mode.client, f"bench-{mode.names.run}-admission", a.admission)
        )
        if mode.webhook is not None:
            say(mode, f"(f) {a.admission} admission reviews under 100 idle, 1 silent and 1 slow-drip connections")
            with Attack(*mode.webhook):
                out["f_admission_attacked"] = report.stats(
                    workloads.admission_latencies(mode.client, f"bench-{mode.names.run}-admission", a.admission)
                )
    sizes = a.naive_sizes if mode.name == "naive" else a.sizes
    out["d_g_bursts"] = []
    for size in sizes:
        say(mode, f"(d, g) {size} provisioners at once")
        result = workloads.burst(mode.client, mode.stamps, mode.names.take(f"burst{size}", size), a.burst_timeout)
        say(mode, f"    {json.dumps(result)}")
        out["d_g_bursts"].append(result)
    seconds = a.reference_steady if reference else a.steady
    say(mode, f"(e) steady state for {seconds:.0f}s")
    out["e_steady"] = mode.steady(seconds)
    say(mode, f"    {json.dumps(out['e_steady'])}")
    if a.memory_burst and mode.name != "floor":  # last: its provisioners change no other figure
        say(mode, f"(h) memory of the operator and its Ansible processes while {a.memory_burst} are created at once")
        out["h_memory"] = memory_burst(mode, a.memory_burst, a.burst_timeout)
        say(mode, f"    {json.dumps(out['h_memory'])}")
    return out


def memory_burst(mode: Mode, size: int, timeout: float) -> dict[str, Any]:
    """The memory a full batch takes: the PSS of the operator's whole process tree (the operator,
    each ansible-playbook run, its forked workers) sampled while ``size`` provisioners are made."""
    baseline = workloads.pss_mib(mode.process.pid)
    names = mode.names.take(f"memory{size}", size)
    with workloads.TreeMemory(mode.process.pid) as memory:
        result = workloads.burst(mode.client, mode.stamps, names, timeout)
    ansible = max(memory.processes_at_peak - 1, 1)
    runs = workloads.run_durations(mode.log, {ns for ns, _ in names}) if mode.log is not None else []
    return {
        "count": size,
        "ready": result["ready"],
        # timed with the memory sampled meanwhile: compare it with another mode's (h), not with (d)
        "all_served_seconds": result["all_served_seconds"],
        "all_ready_seconds": result["all_ready_seconds"],
        "operator_pss_mib_before": baseline,
        "peak_tree_pss_mib": memory.peak_mib,
        "processes_at_peak": memory.processes_at_peak,
        "most_processes": memory.most_processes,
        "samples": memory.samples,
        # What each Ansible process (a run's ansible-playbook or one of its forked workers) adds, at the peak.
        "mib_per_ansible_process": (memory.peak_mib - baseline) / ansible,
        # The longest Ansible run serving these provisioners, and how many it served: what the
        # operator's --run-deadline (default 600 s) must stay well above.
        "longest_run_seconds": runs[0][0] if runs else None,
        "longest_run_provisioners": runs[0][1] if runs else None,
    }


def say(mode: Mode, text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {mode.name:8s} {text}", flush=True)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False).stdout.strip()


def commit(repo: Path) -> str:
    return _git(repo, "rev-parse", "--short", "HEAD")


PROBE = (
    "import json, platform, ansible.release, dpf_hcp_operator; "
    "print(json.dumps({'python': platform.python_version(), 'ansible_core': ansible.release.__version__, "
    "'operator': dpf_hcp_operator.__file__}))"
)


def describe_baseline(repo: Path) -> dict[str, Any]:
    """What the baseline mode will run: its commit, whether its checkout has uncommitted changes, its
    venv's Python and ansible-core; refused when that venv imports the operator from elsewhere (a
    venv copied from another checkout would measure that one)."""
    installation = baseline_installation(repo)
    probe = subprocess.run(
        [installation["python"], "-c", PROBE], env=installation["environ"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        raise SystemExit(f"--baseline {repo}: its venv cannot import the operator: {probe.stderr.strip()[-500:]}")
    found = json.loads(probe.stdout)
    if not Path(found.pop("operator")).resolve().is_relative_to(repo.resolve()):
        raise SystemExit(f"--baseline {repo}: its venv imports the operator from outside it; run `make venv` there")
    dirty = _git(repo, "status", "--porcelain", "--untracked-files=no")
    return {"commit": commit(repo), "dirty": bool(dirty), **found}


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "loadavg_1_5_15": [round(x, 2) for x in load],
        "python": platform.python_version(),
        "kernel": platform.release(),
        "commit": commit(REPO),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", type=Path, default=REPO / ".build" / "bench" / "bench.json", help="write the figures here")
    p.add_argument("--dir", type=Path, default=REPO / ".build" / "bench", help="environments and logs")
    p.add_argument("--modes", default="operator,floor,naive", help="operator first: the floor copies what it made")
    p.add_argument("--count", type=int, default=20, help="(a, b) provisioners created one at a time")
    p.add_argument("--csrs", type=int, default=50, help="(c) CSRs, one at a time")
    p.add_argument("--admission", type=int, default=200, help="(f) dry-run creates through the webhook")
    p.add_argument("--sizes", default="10,30,100", help="(d, g) burst sizes, in this order")
    p.add_argument("--burst-timeout", type=float, default=600.0)
    p.add_argument(
        "--memory-burst", type=int, default=50, help="(h) provisioners created at once while memory is sampled; 0: none"
    )
    p.add_argument("--steady", type=float, default=300.0, help="(e) seconds of steady state for the operator")
    p.add_argument("--reference-steady", type=float, default=60.0, help="(e) seconds for floor and naive")
    p.add_argument("--resync", default="1h", help="the operator's reconcilePeriod (the naive mode polls every 30s)")
    p.add_argument("--naive-count", type=int, default=5, help="(a, b) for the naive mode")
    p.add_argument("--naive-csrs", type=int, default=3, help="(c) for the naive mode, created at once")
    p.add_argument("--naive-sizes", default="10", help="(d, g) burst sizes for the naive mode")
    p.add_argument(
        "--baseline",
        type=Path,
        help="another checkout (with its .venv) whose operator the baseline mode runs, added after the operator "
        "unless --modes names it",
    )
    a = p.parse_args(argv)
    a.sizes = [int(x) for x in a.sizes.split(",") if x]
    a.naive_sizes = [int(x) for x in a.naive_sizes.split(",") if x]
    modes = [m for m in a.modes.split(",") if m]
    if a.baseline is not None and "baseline" not in modes:
        modes.insert(modes.index("operator") + 1 if "operator" in modes else 0, "baseline")
    if "baseline" in modes and a.baseline is None:
        p.error("the baseline mode needs --baseline DIR")
    if "floor" in modes and "operator" not in modes[: modes.index("floor")]:
        p.error("--modes: the floor writes what the operator made: put operator before floor")
    results: dict[str, Any] = {"machine_before": machine(), "settings": {k: str(v) for k, v in vars(a).items()}}
    if a.baseline is not None:
        a.baseline = a.baseline.resolve()
        results["baseline_installation"] = describe_baseline(a.baseline)
    snapshot = None
    started = time.monotonic()
    for name in modes:
        mode = Mode(name, a.dir / name, a, snapshot)
        try:
            results[name] = measure(mode, a)
        finally:
            mode.close()
        snapshot = results[name].pop("snapshot", snapshot)
    results["machine_after"] = machine()
    results["bench_seconds"] = time.monotonic() - started
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(results, indent=2))
    print(report.table(results))
    print(f"figures: {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
