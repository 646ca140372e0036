"""`make bench`'s arithmetic: percentiles, growth, ratios and the targets in the table."""

from __future__ import annotations

import json

from dpf_hcp_dev.bench import report


def test_stats_and_percentiles() -> None:
    figures = report.stats([0.1 * i for i in range(1, 21)])
    assert figures["n"] == 20
    assert round(figures["p50"], 2) == 1.1
    assert round(figures["p95"], 2) == 1.9
    assert report.stats([]) == {"n": 0}


def _results(op_hc_p50: float, op_ready_100: float) -> dict:
    bursts = [
        {"count": 10, "all_hosted_clusters_seconds": 5.0, "all_ready_seconds": 8.0},
        {"count": 100, "all_hosted_clusters_seconds": 50.0, "all_ready_seconds": op_ready_100},
    ]
    return {
        "floor": {"a_cr_to_hosted_cluster": {"p50": 0.1}, "d_g_bursts": bursts},
        "operator": {"a_cr_to_hosted_cluster": {"p50": op_hc_p50}, "d_g_bursts": bursts},
        "machine_before": {"cpus": 2},
    }


def test_table_shows_ratios_and_targets() -> None:
    text = report.table(_results(1.2, 70.0))
    line = next(x for x in text.splitlines() if x.startswith("(a) CR -> HostedCluster p50"))
    assert "12.0x" in line and "met" in line and "NOT MET" not in line
    assert "NOT MET" in next(x for x in report.table(_results(2.0, 70.0)).splitlines() if "HostedCluster p50" in x)


def test_growth_is_per_provisioner() -> None:
    assert report._growth(_results(1, 70.0)["operator"]) == (70.0 / 8.0) / 10  # better than linear
    assert report._growth(_results(1, 160.0)["operator"]) == 2.0  # twice linear


def test_admission_under_attack_is_shown_as_its_shift_with_the_target() -> None:
    results = {
        "operator": {"f_admission": {"p50": 0.010, "p95": 0.020}, "f_admission_attacked": {"p50": 0.011, "p95": 0.030}},
        "machine_before": {"cpus": 2},
    }
    lines = report.table(results).splitlines()
    assert "30.0ms" in next(x for x in lines if x.startswith("(f) admission p95 under idle/slow clients"))
    shift = next(x for x in lines if x.startswith("(f) admission p95 shift under attack"))
    assert "10.0ms" in shift and "<= 50.0ms met" in shift
    results["operator"]["f_admission_attacked"]["p95"] = 0.1
    shift = next(x for x in report.table(results).splitlines() if "p95 shift" in x)
    assert "NOT MET" in shift


def test_longest_run_is_read_from_the_operators_log(tmp_path) -> None:
    """(h) reports the longest Ansible run that served the full batch (what --run-deadline is sized
    from): each provisioner's "reconciled" line names its run's duration and size."""
    from dpf_hcp_dev.bench import workloads

    log = tmp_path / "operator.log"
    lines = [
        {"msg": "reconciled", "namespace": "b-memory50-000", "duration": 56.8, "batch": 25, "ts": "t1"},
        {"msg": "reconciled", "namespace": "b-memory50-001", "duration": 56.8, "batch": 25, "ts": "t1"},
        {"msg": "reconciled", "namespace": "b-memory50-030", "duration": 30.0, "batch": 13, "ts": "t2"},
        {"msg": "reconciled", "namespace": "b-burst10-000", "duration": 99.0, "batch": 5, "ts": "t0"},  # not the batch
        {"msg": "watching CSRs", "namespace": "b-memory50-000", "ts": "t1"},
    ]
    log.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    ours = {"b-memory50-000", "b-memory50-001", "b-memory50-030"}
    assert workloads.run_durations(log, ours) == [(56.8, 25), (30.0, 13)]
    assert workloads.run_durations(tmp_path / "missing.log", ours) == []
    results = {"operator": {"h_memory": {"longest_run_seconds": 56.8, "longest_run_provisioners": 25}}}
    line = next(x for x in report.table(results).splitlines() if x.startswith("(h) full batch: longest Ansible run"))
    assert "56.80s" in line and "<= 300.00s met" in line


def test_the_memory_target_is_judged_at_the_forks_the_charts_limit_gives() -> None:
    """The bench's operator has no memory limit, so its full batch forks a worker per host: that peak
    is shown without a target; the chart's 512 MiB is judged on the tree the forks it gives would
    make (memory.forks_within), from the operator's and each Ansible process's measured PSS."""
    from dpf_hcp_operator import memory

    h = {"peak_tree_pss_mib": 718.1, "operator_pss_mib_before": 94.0, "mib_per_ansible_process": 16.0}
    lines = report.table({"operator": {"h_memory": h}}).splitlines()
    assert "<=" not in next(x for x in lines if x.startswith("(h) full batch, no limit: peak PSS"))
    forks = memory.forks_within(512.0, 2, 50, warm=True)
    assert f" {forks} " in next(x for x in lines if x.startswith("(h) forks per run the chart's 512 MiB gives"))
    predicted = 94.0 + (2 * (forks + 1) + 1) * 16.0
    line = next(x for x in lines if x.startswith("(h) peak PSS at those forks, predicted"))
    assert f"{predicted:.1f}MiB" in line and "<= 512.0MiB met" in line


def test_a_baseline_checkout_is_compared_figure_by_figure_and_regressions_are_flagged() -> None:
    """With --baseline, the table shows the other checkout's figures beside the operator's and
    operator/baseline; a cost more than 10% above the baseline carries a '*', a count never does."""
    results = _results(1.2, 70.0)
    results["baseline"] = {
        "a_cr_to_hosted_cluster": {"p50": 1.0},  # the operator's 1.2 is 20% slower
        "d_g_bursts": [
            {"count": 10, "all_hosted_clusters_seconds": 5.0, "all_ready_seconds": 7.5},  # 8.0: 6.7% slower
            {"count": 100, "all_hosted_clusters_seconds": 50.0, "all_ready_seconds": 70.0},
        ],
        "e_steady": {"seconds": 60, "ready_provisioners": 10, "cpu_seconds": 3.0},
    }
    results["operator"]["e_steady"] = {"seconds": 60, "ready_provisioners": 20, "cpu_seconds": 3.0}
    results["baseline_installation"] = {"commit": "7c781de", "python": "3.11.7", "ansible_core": "2.19.4"}
    lines = report.table(results).splitlines()
    assert "baseline" in lines[0] and "op/base" in lines[0]
    assert "1.20x*" in next(x for x in lines if x.startswith("(a) CR -> HostedCluster p50"))
    ready10 = next(x for x in lines if x.startswith("(d) 10 at once: all Ready"))
    assert "1.07x" in ready10 and "*" not in ready10
    assert "*" not in next(x for x in lines if x.startswith("(e) steady: Ready provisioners"))  # 20 against 10
    assert "baseline: commit 7c781de, Python 3.11.7, ansible-core 2.19.4" in lines[-1]
    assert "op/base" not in report.table(_results(1.2, 70.0))  # no baseline, no column


def test_against_the_baseline_a_failure_a_lost_count_and_a_new_cost_are_flagged() -> None:
    """What a ratio of two times cannot show: the operator's burst timed out (no figure), fewer of
    its provisioners became Ready, it started Ansible runs in the steady state where the baseline
    started none, or a helper process it added holds memory."""
    results = _results(1.0, 70.0)
    results["baseline"] = {
        "d_g_bursts": [{"count": 10, "all_ready_seconds": 7.5, "ready": 10}],
        "e_steady": {"seconds": 60, "ansible_runs": 0, "peak_rss_mib": 100.0, "helpers_peak_rss_mib": 0.0},
        "h_memory": {"mib_per_ansible_process": 16.0, "operator_pss_mib_before": 90.0},
    }
    results["operator"]["d_g_bursts"] = [{"count": 10, "all_ready_seconds": None, "ready": 9}]
    results["operator"]["e_steady"] = {
        "seconds": 60,
        "ansible_runs": 2,
        "peak_rss_mib": 100.0,
        "helpers_peak_rss_mib": 60.0,
    }
    lines = report.table(results).splitlines()

    def row(label: str) -> str:
        return next(x for x in lines if x.startswith(label))

    assert "none*" in row("(d) 10 at once: all Ready")
    assert "0.90x*" in row("(d) 10 at once: Ready ")
    assert "more*" in row("(e) steady: Ansible runs")
    assert "1.00x" in row("(e) steady: peak RSS  ") and "*" not in row("(e) steady: peak RSS  ")
    assert "1.60x*" in row("(e) steady: peak RSS, operator and helpers")
    # this checkout's memory model is not the baseline's: its prediction is shown for the operator alone
    predicted = row("(h) peak PSS at those forks, predicted")
    baseline_column = lines[0].index("  baseline") + len("  baseline")
    assert predicted[baseline_column - 1] == "-"  # blank for the baseline, whose figures are there
