"""Encryption at rest: every HostedCluster names an AES-CBC key the provisioner made once, which
is never replaced, never taken from someone else, never shown, and goes with the provisioner."""

from __future__ import annotations

import base64
from pathlib import Path

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import HOSTED_CLUSTER, PROVISIONER
from support import (
    condition,
    dpucluster,
    namespace,
    provisioner_body,
    run_playbook,
    secrets,
    unique,
    wait_condition,
    wait_for,
)

KEY_SECRET = "hcp-etcd-encryption-key"


def _provisioner(mgmt, prefix: str) -> tuple[str, str]:
    ns = namespace(mgmt, unique(prefix))
    dpu_ns = namespace(mgmt, unique(f"{prefix}-dpus"))
    secrets(mgmt, ns)
    dpucluster(mgmt, dpu_ns, "dpucluster")
    return ns, dpu_ns


def _key(mgmt, ns: str) -> bytes:
    return base64.b64decode(mgmt.get(SECRET, KEY_SECRET, ns)["data"]["key"])


def test_the_hosted_cluster_encrypts_its_secrets_with_a_key_made_once(env, mgmt, operator, tmp: Path):
    ns, dpu_ns = _provisioner(mgmt, "enc-once")
    mgmt.create(PROVISIONER, provisioner_body(ns, "hcp", dpu_ns, "dpucluster"))
    wait_condition(mgmt, ns, "hcp", "Ready", "True")
    hc = mgmt.get(HOSTED_CLUSTER, "hcp", ns)
    assert hc["spec"]["secretEncryption"] == {"type": "aescbc", "aescbc": {"activeKey": {"name": KEY_SECRET}}}
    secret = mgmt.get(SECRET, KEY_SECRET, ns)
    key = _key(mgmt, ns)
    assert len(key) == 32 and len(set(key)) > 8  # 32 random bytes, not a constant
    assert secret["metadata"]["ownerReferences"][0]["kind"] == "DPFHCPProvisioner"
    # Another run keeps the key, and shows it nowhere; it puts back the labels and owner a user
    # removed (a server-side apply of the Secret's metadata), still without touching the key.
    mgmt.patch(SECRET, KEY_SECRET, [{"op": "remove", "path": "/metadata/ownerReferences"}], ns, kind="json")
    again = run_playbook("reconcile.yml", [mgmt.get(PROVISIONER, "hcp", ns)], env.management.kubeconfig_path(), tmp)
    assert again.returncode == 0, again.stdout[-3000:]
    assert _key(mgmt, ns) == key
    assert mgmt.get(SECRET, KEY_SECRET, ns)["metadata"]["ownerReferences"][0]["kind"] == "DPFHCPProvisioner"
    shown = again.stdout + again.stderr
    assert secret["data"]["key"] not in shown and key.hex() not in shown
    # Deleting the provisioner removes the key with everything else.
    mgmt.delete(PROVISIONER, "hcp", ns)
    wait_for("the provisioner gone", lambda: mgmt.get_or_none(PROVISIONER, "hcp", ns) is None, timeout=60)
    assert mgmt.get_or_none(SECRET, KEY_SECRET, ns) is None


def test_a_secret_of_that_name_that_is_not_the_provisioners_is_never_taken_over(mgmt, operator):
    """A tenant who made the Secret first (a key of their choosing, say) does not get it used: the
    HostedCluster is not written and the failure names the Secret and the fix."""
    ns, dpu_ns = _provisioner(mgmt, "enc-foreign")
    planted = base64.b64encode(b"\0" * 32).decode()
    mgmt.create(
        SECRET,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": KEY_SECRET, "namespace": ns},
            "data": {"key": planted},
        },
    )
    mgmt.create(PROVISIONER, provisioner_body(ns, "hcp", dpu_ns, "dpucluster"))

    wait_for(
        "the key refused, in the operator's log",
        lambda: f"Secret {ns}/{KEY_SECRET} exists and is not this provisioner's" in operator.log.read_text(),
        timeout=120,
    )
    assert (condition(mgmt.get(PROVISIONER, "hcp", ns), "Ready") or {}).get("status") != "True"
    assert mgmt.get_or_none(HOSTED_CLUSTER, "hcp", ns) is None
    assert mgmt.get(SECRET, KEY_SECRET, ns)["data"]["key"] == planted  # left untouched


def test_a_lost_key_is_never_made_anew_while_the_hosted_cluster_encrypts_with_it(env, mgmt, operator, tmp: Path):
    """Deleting the Secret (by hand, by a prune of labelled objects) must not give the hosted
    cluster a new key: HyperShift would hand it to the control plane and what was encrypted with
    the old one would be unreadable. The run fails, naming HyperShift's copy to restore from."""
    ns, dpu_ns = _provisioner(mgmt, "enc-lost")
    mgmt.create(PROVISIONER, provisioner_body(ns, "hcp", dpu_ns, "dpucluster"))
    wait_condition(mgmt, ns, "hcp", "Ready", "True")
    hc = mgmt.get(HOSTED_CLUSTER, "hcp", ns)
    mgmt.delete(SECRET, KEY_SECRET, ns)
    result = run_playbook("reconcile.yml", [mgmt.get(PROVISIONER, "hcp", ns)], env.management.kubeconfig_path(), tmp)
    assert result.returncode != 0
    assert f"Secret {ns}/{KEY_SECRET} is gone" in result.stdout
    assert f"Secret {KEY_SECRET} in namespace {ns}-hcp" in result.stdout  # where to restore it from
    assert mgmt.get_or_none(SECRET, KEY_SECRET, ns) is None  # no new key
    assert mgmt.get(HOSTED_CLUSTER, "hcp", ns)["spec"] == hc["spec"]
