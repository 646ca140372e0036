"""Issue 9, item 4: a user edits the provisioner's spec, labels and annotations, and rotates its
pull secret, while reconciles run. No edit is lost (the operator writes status through the
subresource and never rewrites the spec), conflicts are retried, and the operator acts on the
last of every edit: the run that was under way when an edit landed does not count as having
seen it (the skip rule's assumption that a module reads what its outcome depends on, probed)."""

from __future__ import annotations

import base64
import json
import random
import time

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    HOSTED_CLUSTER,
    NODE_POOL,
    PROVISIONER,
)
from fault_harness import Replica, Tenant, seed
from support import PULL_SECRET_VALUE, RELEASE, wait_for

RELEASES = [RELEASE, "quay.io/openshift-release-dev/ocp-release:4.18.0-x86_64"]
ROUNDS = 4  # of each kind of edit
GAP = 1.5  # at most this long between edits: several land inside each Ansible run


def pull_secret(i: int) -> str:
    auth = base64.b64encode(f"user:rotated-{i}".encode()).decode()
    return json.dumps({"auths": {"quay.io": {"auth": auth}}})


class User:
    """Edits as `kubectl edit` does: read, change, write back with the resourceVersion read; a
    conflict (someone wrote in between) means read again and redo the change."""

    def __init__(self, tenant: Tenant):
        self.tenant = tenant
        self.conflicts = 0

    def edit(self, change) -> None:
        client = self.tenant.client
        for _attempt in range(50):
            obj = client.get(PROVISIONER, self.tenant.name, self.tenant.ns)
            change(obj)
            try:
                client.replace(PROVISIONER, obj)
                return
            except ApiError as exc:
                if not exc.conflict:
                    raise
                self.conflicts += 1
        raise AssertionError("the user's edit kept conflicting")


def test_edits_during_reconciles_are_all_kept_and_the_last_of_each_is_acted_on(fault_env, tmp_path):
    rng = random.Random(seed("concurrent-edits"))  # noqa: S311 - not for secrets
    client = fault_env.client()
    replica = Replica(fault_env, tmp_path / "operator").start()
    try:
        tenant = Tenant.create(client)  # the edits start while its first reconcile runs
        user = User(tenant)
        edits = [kind for kind in ("spec", "label", "annotation", "secret") for _round in range(ROUNDS)]
        rng.shuffle(edits)
        labels, annotations, release, secret = {}, {}, RELEASE, PULL_SECRET_VALUE
        for i, kind in enumerate(edits):
            if kind == "spec":
                release = RELEASES[1] if release == RELEASES[0] else RELEASES[0]
                user.edit(lambda o, r=release: o["spec"].update(ocpReleaseImage=r))
            elif kind in ("label", "annotation"):
                field, key = ("labels", f"edit-{i}") if kind == "label" else ("annotations", f"example.com/note-{i}")
                (labels if kind == "label" else annotations)[key] = str(i)
                user.edit(lambda o, f=field, k=key, v=str(i): o["metadata"].setdefault(f, {}).update({k: v}))
            else:
                secret = pull_secret(i)
                client.patch(SECRET, "pull-secret", {"stringData": {".dockerconfigjson": secret}}, tenant.ns)
            time.sleep(rng.uniform(0, GAP))

        obj = tenant.assert_converged(timeout=120)
        meta = obj["metadata"]
        assert labels.items() <= (meta.get("labels") or {}).items(), meta.get("labels")
        assert annotations.items() <= (meta.get("annotations") or {}).items(), meta.get("annotations")
        assert obj["spec"]["ocpReleaseImage"] == release
        assert client.get(HOSTED_CLUSTER, "hcp", tenant.ns)["spec"]["release"]["image"] == release
        assert client.get(NODE_POOL, "hcp", tenant.ns)["spec"]["release"]["image"] == release
        wait_for(
            "the HostedCluster's pull secret to be the last one set",
            lambda: (
                base64.b64decode(client.get(SECRET, "hcp-pull-secret", tenant.ns)["data"][".dockerconfigjson"]).decode()
                == secret
            ),
            timeout=30,
        )
        runs = replica.metric("dpfhcp_ansible_runs_total")
        failed = [x for x in replica.lines() if x.get("msg") == "reconciled" and x.get("result") == "failed"]
        print(
            f"{len(edits)} edits ({ROUNDS} of each kind); the user's conflicts {user.conflicts}; "
            f"{int(runs)} Ansible runs; failed reconciles (retried) {[x.get('detail') for x in failed]}"
        )
    finally:
        replica.close()
