"""Names reach API paths as one segment each, and a review's reads have a deadline (round 4 of the
attacker review: a namespace like "att/secrets?watch=1#" became a watch the operator made)."""

from __future__ import annotations

import threading
import time

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import NAMESPACE, SECRET
from dpf_hcp_operator import webhook


def test_a_name_is_one_path_segment_whatever_it_holds():
    assert SECRET.path("ns", "pull-secret") == "/api/v1/namespaces/ns/secrets/pull-secret"
    assert NAMESPACE.path(None, "a-b") == "/api/v1/namespaces/a-b"
    path = SECRET.path("att/secrets?watch=1&fieldSelector=x#", "x/../../y")
    assert "?" not in path and "#" not in path and "/../" not in path, path
    assert path == "/api/v1/namespaces/att%2Fsecrets%3Fwatch%3D1%26fieldSelector%3Dx%23/secrets/x%2F..%2F..%2Fy"
    assert SECRET.path("ns", "system:node:a@b") == "/api/v1/namespaces/ns/secrets/system:node:a@b"
    for name in (".", ".."):
        with pytest.raises(ValueError):
            SECRET.path("ns", name)
        with pytest.raises(ValueError):
            SECRET.path(name, "x")


class _SlowClient:
    """Answers every read after ``seconds`` (a hung API server, as a forged review once made one)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.released = threading.Event()

    def get_or_none(self, *args, **kwargs):
        self.released.wait(self.seconds)


def test_a_reviews_reads_are_given_up_at_their_deadline():
    client = _SlowClient(30.0)
    reviewer = webhook.Reviewer(client, "dpf-hcp-provisioner-system")  # type: ignore[arg-type]
    started = time.monotonic()
    try:
        with pytest.raises(ApiError) as err:
            reviewer._read_all({"dpucluster": client.get_or_none, "secret x": client.get_or_none})
    finally:
        client.released.set()
    assert time.monotonic() - started < webhook.READS_SECONDS + 1.0
    assert "dpucluster" in str(err.value) and "secret x" in str(err.value)


def _create(obj: dict, user: dict) -> dict:
    """An AdmissionRequest creating provisioner team/hcp, as ``user``."""
    return {
        "uid": "u",
        "kind": {"group": "provisioning.dpu.hcp.io", "version": "v1alpha1", "kind": "DPFHCPProvisioner"},
        "operation": "CREATE",
        "name": "hcp",
        "namespace": "team",
        "userInfo": dict(user),
        "object": obj,
    }


def test_a_hung_access_review_or_provisioner_list_is_a_denial_within_the_deadline():
    """Round 5: the SubjectAccessReview and the list of provisioners (a replica whose informer has
    not synced) ran outside the deadline, with the client's 30 s timeout."""
    from support import provisioner_body

    client = _SlowClient(30.0)
    client.create = lambda *args, **kwargs: client.get_or_none()  # type: ignore[attr-defined]
    client.list = lambda *args, **kwargs: client.get_or_none()  # type: ignore[attr-defined]
    reviewer = webhook.Reviewer(client, "dpf-hcp-provisioner-system")  # type: ignore[arg-type]
    body = provisioner_body("team", "hcp", "dpus", "dpucluster")  # another namespace: an access review
    request = _create(body, {"username": "alice", "groups": ["system:authenticated"]})
    try:
        for req in (request, {**request, "object": provisioner_body("team", "hcp", "team", "dpucluster")}):
            started = time.monotonic()
            answer = reviewer.review(req) if req is request else None
            if answer is None:
                with pytest.raises(ApiError):  # the list (same namespace: no access review)
                    reviewer.review(req)
            else:
                assert answer["allowed"] is False and answer["status"]["code"] == 500, answer
            assert time.monotonic() - started < webhook.READS_SECONDS + 1.0
    finally:
        client.released.set()


def test_a_huge_user_info_is_a_malformed_review():
    groups = [f"group-{i:06d}" for i in range(10_000)]
    request = _create({"metadata": {"name": "hcp", "namespace": "team"}, "spec": {}}, {"username": "system:admin"})
    request["userInfo"]["groups"] = groups
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    with pytest.raises(webhook.MalformedError, match="userInfo"):
        webhook.admission_request(review)
    request["userInfo"]["groups"] = groups[:100]
    assert webhook.admission_request(review)["userInfo"]["username"] == "system:admin"


class _Secrets:
    """The operator's cache of Secrets' metadata: synced, holding ``names`` in namespace team."""

    metadata_only = True

    def __init__(self, *names: str, synced: bool = True):
        self.synced = threading.Event()
        if synced:
            self.synced.set()
        self.objs = {("team", n): {"metadata": {"name": n, "namespace": "team"}} for n in names}

    def get(self, key):
        return self.objs.get(key)


class _Counting:
    """Counts the Secrets asked of the API server; ``present`` exist there."""

    def __init__(self, *present: str):
        self.present, self.asked = set(present), []

    def get_or_none(self, res, name, namespace=None, timeout=None, metadata_only=False):
        assert metadata_only, "a Secret's data is never read to see whether it exists"
        self.asked.append(name)
        return {"metadata": {"name": name}} if name in self.present else None


def test_a_secret_the_operators_cache_holds_is_not_asked_of_the_api_server_and_a_miss_is():
    """Whether the pull and SSH secrets exist (a warning when not) comes from the operator's cache of
    Secrets' metadata when it holds them; a Secret it does not hold yet (made a moment ago) or a cache
    not synced on this replica is asked of the API server, so a stale miss never warns."""
    client = _Counting("made-just-now", "pull")
    reviewer = webhook.Reviewer(client, "ns", secrets=_Secrets("pull"))  # type: ignore[arg-type]
    assert reviewer._secret("pull", "team") is not None and client.asked == []
    assert reviewer._secret("made-just-now", "team") is not None and client.asked == ["made-just-now"]
    assert reviewer._secret("missing", "team") is None and client.asked == ["made-just-now", "missing"]
    cold = webhook.Reviewer(client, "ns", secrets=_Secrets("pull", synced=False))  # type: ignore[arg-type]
    assert cold._secret("pull", "team") is not None and client.asked[-1] == "pull"
    full = _Secrets("pull")
    full.metadata_only = False  # type: ignore[misc]
    with pytest.raises(ValueError):
        webhook.Reviewer(client, "ns", secrets=full)  # type: ignore[arg-type]
