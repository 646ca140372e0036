"""Issue 9, item 3: the management and the hosted kube-apiserver go away and come back. The
operator keeps running (no crash loop: its watches back off and relist), sees every change made
once they are back, and approves joining DPUs' CSRs again once the hosted one is back."""

from __future__ import annotations

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import DPU
from fault_harness import Replica, Tenant, healthy, samples
from support import dpu, kubelet_csr, wait_for

DOWN_SECONDS = 3.0
# A watch retries after 0.2 s, doubling: 3 s down is 4-5 failures per informer. More is a storm.
MAX_ERRORS_PER_INFORMER = 8


def approved(client, name: str, serving: bool = False) -> bool:
    csr = kubelet_csr(client, name, serving)
    return any(c.get("type") == "Approved" for c in ((csr or {}).get("status") or {}).get("conditions") or [])


def joined(mgmt, hosted, tenant: Tenant, name: str) -> None:
    mgmt.create(DPU, dpu(tenant.dpu_ns, name))
    wait_for(
        f"DPU {name} Ready",
        lambda: (mgmt.get(DPU, name, tenant.dpu_ns).get("status") or {}).get("phase") == "Ready",
        timeout=90,
    )
    assert approved(hosted, name)
    # the serving certificate once DPF has recorded the DPU's addresses, in phase Ready
    wait_for(f"{name}'s serving CSR approved", lambda: approved(hosted, name, serving=True), timeout=10)


def assert_no_crash_loop(replica: Replica, pid: int, before: dict[str, float]) -> dict[str, float]:
    assert replica.process.poll() is None and replica.process.pid == pid, "the operator exited"
    wait_for("/healthz ok", lambda: healthy(replica), timeout=10)
    errors = samples(replica, "dpfhcp_watch_errors_total")
    grown = {k: v - before.get(k, 0.0) for k, v in errors.items() if v > before.get(k, 0.0)}
    assert grown, "no watch saw the API server go away"
    # The label is the resource: two ConfigMap informers share one, and each hosted cluster has
    # its own CSR and Node informers.
    hosted = replica.metric("dpfhcp_csr_hosted_clusters_watched")
    sharing = {"configmaps": 2, "nodes": hosted, "certificatesigningrequests": hosted}
    per_informer = {k: v / sharing.get(k.split('"')[1], 1) for k, v in grown.items()}
    assert max(per_informer.values()) <= MAX_ERRORS_PER_INFORMER, grown
    return per_informer


def test_management_api_server_restart_watches_relist_and_nothing_is_missed(fault_env, tmp_path):
    mgmt = fault_env.client()
    replica = Replica(fault_env, tmp_path / "operator").start()
    try:
        before = Tenant.create(mgmt)
        before.assert_converged()
        pid = replica.process.pid
        errors = samples(replica, "dpfhcp_watch_errors_total")

        fault_env.management.restart("kube-apiserver", DOWN_SECONDS)
        # Changes made the moment it is back, while the operator's watches are still backing off:
        # a provisioner created and another deleted.
        after = Tenant.create(mgmt)
        before.delete()
        after.assert_converged()
        before.assert_gone()
        grown = assert_no_crash_loop(replica, pid, errors)
        print(f"management API server down {DOWN_SECONDS}s: watch errors per informer {grown}")
    finally:
        replica.close()


def test_hosted_api_server_restart_csr_approval_resumes(fault_env, tmp_path):
    mgmt, hosted = fault_env.client(), fault_env.client("hosted")
    replica = Replica(fault_env, tmp_path / "operator").start()
    try:
        tenant = Tenant.create(mgmt)
        tenant.assert_converged()
        joined(mgmt, hosted, tenant, "dpu-node-40")
        pid = replica.process.pid
        errors = samples(replica, "dpfhcp_watch_errors_total")

        fault_env.hosted.restart("kube-apiserver", DOWN_SECONDS)
        joined(mgmt, hosted, tenant, "dpu-node-41")
        grown = assert_no_crash_loop(replica, pid, errors)
        print(f"hosted API server down {DOWN_SECONDS}s: watch errors per informer {grown}")
        tenant.assert_converged()
    finally:
        replica.close()
