"""The milestones `make bench` times: "served" (HostedCluster Available, every step done) means the
same for an operator of any version, where Ready has come to mean more."""

from __future__ import annotations

from dpf_hcp_dev.bench import workloads


def _provisioner(**conditions: str) -> dict:
    return {"status": {"conditions": [{"type": t, "status": s} for t, s in conditions.items()]}}


def test_served_is_available_with_every_step_done_whatever_ready_says() -> None:
    done = {step: "True" for step in workloads.STEPS}
    # issue 20's Ready still waits for the control plane's rollout: served all the same
    assert workloads._served(_provisioner(HostedClusterAvailable="True", Ready="False", **done))
    assert not workloads._served(_provisioner(HostedClusterAvailable="False", **done))
    assert not workloads._served(_provisioner(HostedClusterAvailable="True", **{**done, "IgnitionConfigured": "False"}))
    missing = dict(list(done.items())[:2])
    assert not workloads._served(_provisioner(HostedClusterAvailable="True", **missing))
