"""Percentiles, and the table `make bench` prints: each figure for the floor, the operator, the
baseline (another checkout's operator, where one ran) and the naive mode, the ratios operator/floor,
naive/operator and operator/baseline, and the issue's target."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any, NamedTuple

from dpf_hcp_operator import memory
from dpf_hcp_operator.controller import DEFAULTS


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def stats(values: list[float]) -> dict[str, float]:
    """n, p50, p95, max and mean of ``values`` (seconds); {"n": 0} for none."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": percentile(values, 0.5),
        "p95": percentile(values, 0.95),
        "max": max(values),
        "mean": statistics.mean(values),
    }


Getter = Callable[[dict[str, Any]], float | None]


def _get(*path: Any) -> Getter:
    def get(mode: dict[str, Any]) -> float | None:
        node: Any = mode
        for step in path:
            if isinstance(step, int) and isinstance(node, list):
                node = node[step] if step < len(node) else None
            elif isinstance(node, dict):
                node = node.get(step)
            else:
                node = None
            if node is None:
                return None
        return float(node)

    return get


def _burst(size: int, field: str) -> Getter:
    def get(mode: dict[str, Any]) -> float | None:
        for b in mode.get("d_g_bursts") or []:
            if b["count"] == size:
                return b.get(field)
        return None

    return get


def _growth(mode: dict[str, Any]) -> float | None:
    """t(largest burst) / t(smallest burst) divided by the count ratio: <= 1 is linear or better."""
    bursts = [b for b in mode.get("d_g_bursts") or [] if b.get("all_ready_seconds")]
    if len(bursts) < 2:
        return None
    small, large = bursts[0], bursts[-1]
    return (large["all_ready_seconds"] / small["all_ready_seconds"]) / (large["count"] / small["count"])


def _attack_shift(mode: dict[str, Any]) -> float | None:
    """How much the admission p95 grows while 100 idle, a silent and a slow-drip client hold the webhook."""
    attacked, calm = _get("f_admission_attacked", "p95")(mode), _get("f_admission", "p95")(mode)
    return None if attacked is None or calm is None else attacked - calm


class Row(NamedTuple):
    """One figure of the table. ``target``: the operator's goal (at most this). ``compare``: how
    operator/baseline is judged: "cost" (less is better), "count" (more is better) or "" (not
    compared). ``operator_only``: a figure of this checkout's model, shown for the operator alone."""

    label: str
    get: Getter
    unit: str = ""
    target: float | None = None
    compare: str = "cost"
    operator_only: bool = False


def rows(results: dict[str, Any]) -> list[Row]:
    """Every figure, in the table's order."""
    sizes = sorted({b["count"] for m in MODES for b in results.get(m, {}).get("d_g_bursts", [])})
    out = [
        Row("(a) CR -> HostedCluster p50", _get("a_cr_to_hosted_cluster", "p50"), "s", 1.5),
        Row("(a) CR -> HostedCluster p95", _get("a_cr_to_hosted_cluster", "p95"), "s"),
        Row("(a) CR -> HostedCluster max", _get("a_cr_to_hosted_cluster", "max"), "s"),
        # Available with every step done: the same milestone in every version (Ready has come to mean more)
        Row("(b) CR -> Available, steps done p50", _get("b_cr_to_served", "p50"), "s"),
        Row("(b) CR -> Available, steps done p95", _get("b_cr_to_served", "p95"), "s"),
        Row("(b) CR -> Ready p50", _get("b_cr_to_ready", "p50"), "s"),
        Row("(b) CR -> Ready p95", _get("b_cr_to_ready", "p95"), "s"),
        Row("(b) Ready of those created one at a time", _get("b_cr_to_ready", "n"), compare="count"),
        Row("(c) CSR -> approved p50", _get("c_csr_to_approved", "p50"), "ms"),
        Row("(c) CSR -> approved p95", _get("c_csr_to_approved", "p95"), "ms", 1.0),
        Row("(c) CSRs approved", _get("c_csr_to_approved", "n"), compare="count"),
    ]
    for size in sizes:
        target_hc, target_ready = (60.0, 90.0) if size == 100 else (None, None)
        out += [
            Row(f"(d) {size} at once: all HostedClusters", _burst(size, "all_hosted_clusters_seconds"), "s", target_hc),
            Row(f"(d) {size} at once: all Available, steps done", _burst(size, "all_served_seconds"), "s"),
            Row(f"(d) {size} at once: all Ready", _burst(size, "all_ready_seconds"), "s", target_ready),
            Row(f"(d) {size} at once: Ready", _burst(size, "ready"), compare="count"),
        ]
    out += [
        # a ratio of two bursts: against a baseline the bursts themselves are compared (a slow small
        # burst of the baseline's would read as the operator's growth)
        Row("(g) growth: t(largest)/t(smallest) per CR", _growth, "x", 1.0, compare=""),
        Row("(e) steady: Ready provisioners", _get("e_steady", "ready_provisioners"), compare="count"),
        Row("(e) steady: Ansible runs", _get("e_steady", "ansible_runs"), target=0.0),
        Row("(e) steady: CPU seconds per minute", _per_minute("cpu_seconds"), "s"),
        Row("(e) steady: peak RSS", _get("e_steady", "peak_rss_mib"), "MiB", 250.0),
        Row("(e) steady: peak RSS, warm interpreter", _get("e_steady", "helpers_peak_rss_mib"), "MiB", compare=""),
        # what a change that adds a helper process costs: judged against the baseline on the sum
        Row("(e) steady: peak RSS, operator and helpers", _steady_rss_with_helpers, "MiB"),
        Row("(e) steady: own API requests/min", _get("e_steady", "own_api_requests_per_minute")),
        Row("(e) steady: API server requests/min (all)", _get("e_steady", "apiserver_requests_per_minute")),
        Row("(f) admission p50", _get("f_admission", "p50"), "ms"),
        Row("(f) admission p95", _get("f_admission", "p95"), "ms", 0.05),
        Row("(f) admission p50 under idle/slow clients", _get("f_admission_attacked", "p50"), "ms"),
        Row("(f) admission p95 under idle/slow clients", _get("f_admission_attacked", "p95"), "ms"),
        # a difference that may be below zero: the row above is the one compared
        Row("(f) admission p95 shift under attack", _attack_shift, "ms", 0.05, compare=""),
        # The bench's operator has no memory limit: a run forks a worker per host of the batch.
        Row("(h) full batch, no limit: peak PSS", _get("h_memory", "peak_tree_pss_mib"), "MiB"),
        Row("(h) full batch: processes at the peak", _get("h_memory", "processes_at_peak")),
        Row("(h) full batch: MiB per Ansible process", _get("h_memory", "mib_per_ansible_process"), "MiB"),
        Row("(h) full batch: Ready", _get("h_memory", "ready"), compare="count"),
        Row("(h) full batch: all Available, steps done", _get("h_memory", "all_served_seconds"), "s"),
        Row("(h) full batch: all Ready", _get("h_memory", "all_ready_seconds"), "s"),
        # Under the chart's limit (helm values resources.limits.memory) the operator forks fewer
        # (memory.forks_within): the tree those forks make, from the figures measured above. This
        # checkout's model of its own operator: not applied to a baseline.
        Row("(h) forks per run the chart's 512 MiB gives", _chart_forks_shown, compare="", operator_only=True),
        Row("(h) peak PSS at those forks, predicted", _chart_peak, "MiB", CHART_MEMORY_MIB, "", operator_only=True),
        # --run-deadline (default 600 s) is sized from this: well above the longest run, on a slower machine too.
        Row("(h) full batch: longest Ansible run", _get("h_memory", "longest_run_seconds"), "s", 300.0),
        Row("(h) full batch: provisioners in that run", _get("h_memory", "longest_run_provisioners"), compare=""),
    ]
    return out


def _steady_rss_with_helpers(mode: dict[str, Any]) -> float | None:
    steady = mode.get("e_steady") or {}
    if "peak_rss_mib" not in steady:
        return None
    return steady["peak_rss_mib"] + steady.get("helpers_peak_rss_mib", 0.0)


MODES = ("floor", "operator", "baseline", "naive")
# A change's before and after: a cost above operator/baseline 1.10 is flagged, and so is any count
# (provisioners Ready, CSRs approved) below the baseline's or a figure the baseline has and the
# operator has not (it failed).
BASELINE_TOLERANCE = 1.10

CHART_MEMORY_MIB = 512.0  # helm values resources.limits.memory


def _chart_forks() -> int:
    return memory.forks_within(CHART_MEMORY_MIB, DEFAULTS.max_workers, DEFAULTS.max_batch, warm=True)


def _chart_forks_shown(mode: dict[str, Any]) -> float | None:
    return float(_chart_forks()) if mode.get("h_memory") else None


def _chart_peak(mode: dict[str, Any]) -> float | None:
    """The operator as measured before the burst, and its runs at once each with its
    ansible-playbook and the forks the chart's limit gives, at the PSS measured per Ansible process
    (the warm interpreter, a child of the operator, is counted among those)."""
    h = mode.get("h_memory") or {}
    if "mib_per_ansible_process" not in h or "operator_pss_mib_before" not in h:
        return None
    processes = DEFAULTS.max_workers * (_chart_forks() + 1) + 1
    return h["operator_pss_mib_before"] + processes * h["mib_per_ansible_process"]


def _per_minute(field: str) -> Getter:
    def get(mode: dict[str, Any]) -> float | None:
        steady = mode.get("e_steady") or {}
        if not steady.get("seconds") or field not in steady:
            return None
        return steady[field] / (steady["seconds"] / 60)

    return get


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value * 1000:.1f}ms"
    if unit in ("s", "x"):
        return f"{value:.2f}{unit}"
    return f"{value:.1f}{unit}" if unit else f"{value:.0f}"


def _ratio(num: float | None, den: float | None) -> str:
    if num is None or den is None or den == 0:
        return "-"
    return f"{num / den:.1f}x"


def _versus_baseline(op: float | None, base: float | None, compare: str) -> str:
    """operator/baseline to two places, '*' where the operator is worse: a cost by more than the
    tolerance, a count by any, a figure missing (what failed has no figure)."""
    if not compare or base is None:
        return "-"
    if op is None:
        return "none*"
    if base == 0:
        return "same" if op == 0 else ("more*" if compare == "cost" and op > 0 else "-")
    ratio = op / base
    worse = ratio > BASELINE_TOLERANCE if compare == "cost" else ratio < 1
    return f"{ratio:.2f}x{'*' if worse else ' '}"


def table(results: dict[str, Any]) -> str:
    baseline = "baseline" in results
    head = f"{'figure':44s} {'floor':>10s} {'operator':>10s}"
    head += f" {'baseline':>10s}" if baseline else ""
    head += f" {'naive':>10s} {'op/floor':>9s} {'naive/op':>9s}"
    head += f" {'op/base':>9s}" if baseline else ""
    head += "  target"
    lines = [head, "-" * len(head)]
    for row in rows(results):
        floor, op, base, naive = (
            row.get(results[m]) if m in results and (m == "operator" or not row.operator_only) else None for m in MODES
        )
        goal = ""
        if row.target is not None:
            met = op is not None and op <= row.target
            goal = f"<= {_fmt(row.target, row.unit)} {'met' if met else 'NOT MET'}"
        line = f"{row.label:44s} {_fmt(floor, row.unit):>10s} {_fmt(op, row.unit):>10s}"
        line += f" {_fmt(base, row.unit):>10s}" if baseline else ""
        line += f" {_fmt(naive, row.unit):>10s} {_ratio(op, floor):>9s} {_ratio(naive, op):>9s}"
        line += f" {_versus_baseline(op, base, row.compare):>9s}" if baseline else ""
        lines.append(f"{line}  {goal}")
    before, after = results.get("machine_before", {}), results.get("machine_after", {})
    lines.append(
        f"machine: {before.get('cpus')} CPUs, load {before.get('loadavg_1_5_15')} before, "
        f"{after.get('loadavg_1_5_15')} after; commit {before.get('commit')}; "
        f"bench took {results.get('bench_seconds', 0):.0f}s"
    )
    if baseline:
        about = results.get("baseline_installation", {})
        lines.append(
            f"baseline: commit {about.get('commit')}{' (uncommitted changes)' if about.get('dirty') else ''}, "
            f"Python {about.get('python')}, ansible-core {about.get('ansible_core')}, on this run's control plane "
            f"and stand-ins; op/base *: a cost more than {BASELINE_TOLERANCE - 1:.0%} above the baseline's, "
            "a count below it, or no figure where the baseline has one"
        )
    return "\n".join(lines)
