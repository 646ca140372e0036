"""The HyperShift stand-in's HostedCluster status, pass by pass, against what openshift/hypershift
reports (../shared/notes/upstream-behaviour.md, section C). Pure logic: each pass is what the
stand-in would write, fed back as the next pass's input, as its informer would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from dpf_hcp_dev.standins.config import StandinConfig
from dpf_hcp_dev.standins.hypershift import HyperShiftStandin, release_digest

OLD = "quay.io/openshift-release-dev/ocp-release:4.19.0-x86_64"
NEW = "quay.io/openshift-release-dev/ocp-release:4.19.1-x86_64"
KUBECONFIG = yaml.safe_dump({"clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}]})


class Nodes:
    """The hosted cluster's Node informer: items() only."""

    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []

    def items(self) -> list[dict[str, Any]]:
        return self.nodes

    def join(self, ready: str = "True") -> None:
        self.nodes.append(
            {"metadata": {"name": "dpu-0"}, "status": {"conditions": [{"type": "Ready", "status": ready}]}}
        )


def standin(nodes: Nodes) -> HyperShiftStandin:
    return HyperShiftStandin(client=None, hosted_admin_kubeconfig=KUBECONFIG, secrets=None, hosted_nodes=nodes)  # type: ignore[arg-type]


def hosted_cluster(image: str = OLD, age: float = 60.0) -> dict[str, Any]:
    created = (datetime.now(UTC) - timedelta(seconds=age)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "metadata": {"namespace": "t", "name": "hcp", "generation": 1, "creationTimestamp": created},
        "spec": {"release": {"image": image}},
    }


def empty_strings(value: Any, where: str = "status") -> list[str]:
    """Where ``value`` holds "": HyperShift's CRD on our 1.20 API server refuses them (as null)."""
    if value == "":
        return [where]
    if isinstance(value, dict):
        return [w for k, v in value.items() for w in empty_strings(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [w for i, v in enumerate(value) for w in empty_strings(v, f"{where}[{i}]")]
    return []


def step(s: HyperShiftStandin, hc: dict[str, Any], config: StandinConfig | None = None) -> dict[str, Any]:
    hc["status"] = s.desired_status(hc, config or StandinConfig({}))
    assert not empty_strings(hc["status"]), empty_strings(hc["status"])
    return hc


def conditions(hc: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in hc["status"]["conditions"]}


def test_a_healthy_cluster_reports_as_hypershift_does():
    hc = step(standin(Nodes()), hosted_cluster())
    found = conditions(hc)
    assert "IgnitionServerValidReleaseInfo" not in found  # set on the HostedControlPlane only
    assert "EtcdRecoveryActive" not in found  # set only once an etcd recovery runs
    assert found["HostedClusterRestoredFromBackup"] == ("Unknown", "StatusUnknown")  # never restored
    assert found["DataPlaneConnectionAvailable"] == ("Unknown", "NoWorkerNodesAvailable")
    assert found["Progressing"] == ("False", "AsExpected")
    assert found["Available"] == ("True", "AsExpected")


def test_the_release_is_named_by_digest_once_the_control_plane_reports():
    s, hc = standin(Nodes()), hosted_cluster(age=0)
    step(s, hc, StandinConfig({"availableAfterSeconds": "30"}))  # not up: seeded with the spec's image
    assert hc["status"]["version"]["desired"]["image"] == OLD
    assert hc["status"]["version"]["history"][0]["image"] == OLD
    step(s, hc, StandinConfig({"availableAfterSeconds": "0"}))
    assert hc["status"]["version"]["desired"]["image"] == release_digest(OLD)
    assert hc["status"]["version"]["history"][0]["image"] == release_digest(OLD)
    assert release_digest(OLD).startswith("quay.io/openshift-release-dev/ocp-release@sha256:")


def test_the_install_stays_partial_until_workers_join():
    nodes = Nodes()
    s, hc = standin(nodes), hosted_cluster()
    for _ in range(3):
        step(s, hc)
    history = hc["status"]["version"]["history"]
    assert [(h["image"], h["version"], h["state"]) for h in history] == [(release_digest(OLD), "4.19.0", "Partial")]
    assert hc["status"]["version"]["desired"]["image"] == release_digest(OLD)  # as the hosted CVO runs it
    nodes.join(ready="False")
    assert step(s, hc)["status"]["version"]["history"][0]["state"] == "Partial"
    nodes.join()
    nodes.nodes[-1]["spec"] = {"unschedulable": True}  # cordoned: not available (CountAvailableNodes)
    assert step(s, hc)["status"]["version"]["history"][0]["state"] == "Partial"
    nodes.join()
    step(s, hc)
    assert hc["status"]["version"]["history"][0]["state"] == "Completed"
    assert conditions(hc)["DataPlaneConnectionAvailable"] == ("True", "AsExpected")


def test_a_release_change_is_progressing_only_until_it_is_desired_then_partial_until_rolled():
    nodes = Nodes()
    nodes.join()
    s, hc = standin(nodes), hosted_cluster()
    step(s, hc)
    step(s, hc)
    assert hc["status"]["version"]["history"][0]["state"] == "Completed"
    held = StandinConfig({"t.hcp.upgradeHeld": "true", "upgradeAfterSeconds": "0"})
    hc["spec"]["release"]["image"] = NEW
    step(s, hc, held)  # seen: spec and desired differ
    assert conditions(hc)["Progressing"] == ("True", "Progressing")
    assert hc["status"]["version"]["desired"]["image"] == release_digest(OLD)
    step(s, hc, held)  # taken: desired, a Partial entry on top, no longer Progressing
    assert conditions(hc)["Progressing"] == ("False", "AsExpected")
    assert hc["status"]["version"]["desired"]["image"] == release_digest(NEW)
    history = hc["status"]["version"]["history"]
    assert [(h["version"], h["state"]) for h in history] == [("4.19.1", "Partial"), ("4.19.0", "Completed")]
    step(s, hc, held)
    assert hc["status"]["version"]["history"][0]["state"] == "Partial"  # held
    step(s, hc, StandinConfig({"upgradeAfterSeconds": "0"}))
    assert hc["status"]["version"]["history"][0]["state"] == "Completed"
    assert conditions(hc)["Progressing"] == ("False", "AsExpected")


class Secrets:
    """The stand-in's Secret informer: get((namespace, name)) only."""

    def __init__(self, **found: dict[str, Any]) -> None:
        self.found = {("t", name): secret for name, secret in found.items()}

    def get(self, key: tuple[str, str]) -> dict[str, Any] | None:
        return self.found.get(key)


def test_an_encrypted_cluster_waits_for_its_active_key_as_hypershift_does():
    """HyperShift's reconcile fails, with no condition, while spec.secretEncryption's AES-CBC
    active key Secret is missing, and the stand-in makes no progress either; a Secret without its
    "key" is only logged there, and the reconcile goes on."""
    hc = hosted_cluster()
    hc["spec"]["secretEncryption"] = {"type": "aescbc", "aescbc": {"activeKey": {"name": "hcp-etcd-encryption-key"}}}
    s = HyperShiftStandin(client=None, hosted_admin_kubeconfig=KUBECONFIG, secrets=Secrets())  # type: ignore[arg-type]
    assert s._encryption_key_missing(hc)
    keyless = Secrets(**{"hcp-etcd-encryption-key": {"data": {"other": "eA=="}}})
    s = HyperShiftStandin(client=None, hosted_admin_kubeconfig=KUBECONFIG, secrets=keyless)  # type: ignore[arg-type]
    assert not s._encryption_key_missing(hc)
    s = HyperShiftStandin(
        client=None,  # type: ignore[arg-type]
        hosted_admin_kubeconfig=KUBECONFIG,
        secrets=Secrets(**{"hcp-etcd-encryption-key": {"data": {"key": "eA=="}}}),  # type: ignore[arg-type]
    )
    assert not s._encryption_key_missing(hc)
    assert not s._encryption_key_missing(hosted_cluster())  # not encrypted: nothing to wait for


def cp_history(hc: dict[str, Any]) -> list[tuple[str, str]]:
    return [(h["version"], h["state"]) for h in hc["status"]["controlPlaneVersion"]["history"]]


def test_the_control_plane_completes_its_install_before_workers_join_and_records_the_digest():
    """controlplaneversion.go: the first pass makes a Partial entry and returns; the next one, with the
    components rolled out, completes it. The desired image is resolved to its digest
    (reconcileControlPlaneVersionStatus); no worker is needed (management-side components)."""
    s, hc = standin(Nodes()), hosted_cluster()
    step(s, hc)
    assert cp_history(hc) == [("4.19.0", "Partial")]
    assert hc["status"]["controlPlaneVersion"]["desired"] == {"version": "4.19.0", "image": release_digest(OLD)}
    step(s, hc)
    assert cp_history(hc) == [("4.19.0", "Completed")]
    assert hc["status"]["controlPlaneVersion"]["history"][0]["completionTime"]
    assert hc["status"]["version"]["history"][0]["state"] == "Partial"  # the ClusterVersion waits for workers


def test_a_control_plane_that_is_not_serving_stays_partial():
    s, hc = standin(Nodes()), hosted_cluster(age=0)
    for _ in range(3):
        step(s, hc, StandinConfig({"availableAfterSeconds": "30"}))
    assert cp_history(hc) == [("4.19.0", "Partial")]
    for _ in range(3):
        step(s, hc, StandinConfig({"t.hcp.degraded": "true", "availableAfterSeconds": "0"}))
    assert cp_history(hc) == [("4.19.0", "Partial")]


def test_an_upgrade_puts_a_partial_entry_on_top_and_closes_the_old_one_then_completes_unless_held():
    s, hc = standin(Nodes()), hosted_cluster()
    step(s, hc)
    step(s, hc)
    hc["spec"]["release"]["image"] = NEW
    held = StandinConfig({"t.hcp.upgradeHeld": "true", "upgradeAfterSeconds": "0"})
    step(s, hc, held)
    assert cp_history(hc) == [("4.19.1", "Partial"), ("4.19.0", "Completed")]
    old = hc["status"]["controlPlaneVersion"]["history"][1]
    assert old["completionTime"]
    for _ in range(2):
        step(s, hc, held)
    assert cp_history(hc) == [("4.19.1", "Partial"), ("4.19.0", "Completed")]
    step(s, hc, StandinConfig({"upgradeAfterSeconds": "0"}))
    assert cp_history(hc) == [("4.19.1", "Completed"), ("4.19.0", "Completed")]


def test_the_same_version_under_another_image_is_a_new_entry():
    """mergeEqualVersions merges only the same image (or an entry without one): another architecture's
    payload of the same version is a new release."""
    s, hc = standin(Nodes()), hosted_cluster()
    step(s, hc)
    step(s, hc)
    multi = "quay.io/openshift-release-dev/ocp-release:4.19.0-multi"
    hc["spec"]["release"]["image"] = multi
    step(s, hc)
    assert cp_history(hc) == [("4.19.0", "Partial"), ("4.19.0", "Completed")]
    assert hc["status"]["controlPlaneVersion"]["history"][0]["image"] == release_digest(multi)
    assert hc["status"]["controlPlaneVersion"]["history"][1]["image"] == release_digest(OLD)
    step(s, hc, StandinConfig({"upgradeAfterSeconds": "0"}))
    assert cp_history(hc) == [("4.19.0", "Completed"), ("4.19.0", "Completed")]


class Patches:
    """The client: records its patches."""

    def __init__(self) -> None:
        self.patches: list[tuple[Any, ...]] = []

    def patch(self, *args: Any) -> None:
        self.patches.append(args)


def test_an_api_endpoint_setting_is_published_alike_in_the_status_and_the_admin_kubeconfig():
    """openshift/hypershift: status.controlPlaneEndpoint and the admin kubeconfig's server come from
    the same APIHost and APIPort (hostedcontrolplane infra status; v2/kas/kubeconfig.go)."""
    s = standin(Nodes())
    for value, host, server in (
        ("127.0.0.1:4444", "127.0.0.1", "https://127.0.0.1:4444"),
        ("[::1]:4444", "::1", "https://[::1]:4444"),
    ):
        config = StandinConfig({"t.hcp.apiEndpoint": value})
        assert s.api_endpoint("t", "hcp", config) == {"host": host, "port": 4444}
        assert yaml.safe_load(s._admin_kubeconfig("t", "hcp", config))["clusters"][0]["cluster"]["server"] == server
    for garbage in ("", "no-port", "127.0.0.1:http", ":4444"):
        config = StandinConfig({"t.hcp.apiEndpoint": garbage})
        assert s.api_endpoint("t", "hcp", config) == {"host": "127.0.0.1", "port": 6443}, garbage
        assert s._admin_kubeconfig("t", "hcp", config) == KUBECONFIG


def test_a_moved_endpoint_is_written_to_the_published_admin_kubeconfig_again():
    """reconcileKubeconfigSync's create-or-update follows the control plane's kubeconfig: the secret
    never names another address than the status."""
    client = Patches()
    published = Secrets(**{"hcp-admin-kubeconfig": {}})
    s = HyperShiftStandin(client=client, hosted_admin_kubeconfig=KUBECONFIG, secrets=published)  # type: ignore[arg-type]
    hc = hosted_cluster()
    s._ensure_control_plane(hc, StandinConfig({}))  # published before: the default endpoint
    assert client.patches == []
    moved = StandinConfig({"t.hcp.apiEndpoint": "127.0.0.1:4444"})
    s._ensure_control_plane(hc, moved)
    s._ensure_control_plane(hc, moved)  # once per move
    assert len(client.patches) == 1
    _, name, body, namespace = client.patches[0]
    assert (namespace, name) == ("t", "hcp-admin-kubeconfig")
    assert (
        yaml.safe_load(body["stringData"]["kubeconfig"])["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:4444"
    )
    assert s.desired_status(hc, moved)["controlPlaneEndpoint"] == {"host": "127.0.0.1", "port": 4444}


class _Ignition:
    """The ignition server's payload cache: which tokens it serves."""

    def __init__(self) -> None:
        self.tokens: dict[str, tuple[str, ...]] = {}

    def register(self, token: str, *payload: str) -> None:
        self.tokens[token] = payload

    def forget(self, token: str) -> None:
        self.tokens.pop(token, None)


class _Secrets:
    def __init__(self, *secrets: dict[str, Any]) -> None:
        self.secrets = list(secrets)

    def indexed(self, key: tuple[str, str]) -> list[dict[str, Any]]:
        return [s for s in self.secrets if s["metadata"]["namespace"] == key[0]]

    def get(self, key: tuple[str, str]) -> dict[str, Any] | None:
        return None


class _Client:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def patch(self, _res: Any, name: str, *_args: Any, **_kw: Any) -> dict[str, Any]:
        self.calls.append(("patch", name))
        return {}

    def delete(self, _res: Any, name: str, *_args: Any, **_kw: Any) -> None:
        self.calls.append(("delete", name))


def _token_secret(uid: str, token: str) -> dict[str, Any]:
    import base64

    from dpf_hcp_dev.standins.hypershift import NODEPOOL_ANNOTATION, control_plane_namespace

    return {
        "metadata": {
            "name": f"token-hcp-{uid}",
            "namespace": control_plane_namespace("t", "hcp"),
            "uid": uid,
            "annotations": {NODEPOOL_ANNOTATION: "t/hcp"},
        },
        "data": {"token": base64.b64encode(token.encode()).decode()},
    }


def test_a_revoked_token_is_not_served_while_the_informer_still_shows_its_secret():
    """The ignition server's loop and the NodePool controller's run on two threads: a token secret
    revoked with its NodePool (its tokens forgotten, the secret deleted) is never served afterwards,
    also by a pass that still sees the secret in the informer's cache."""
    from dpf_hcp_dev.standins.hypershift import FINALIZER

    first, second = _token_secret("u1", "tok-1"), _token_secret("u2", "tok-2")
    ignition, client = _Ignition(), _Client()
    s = HyperShiftStandin(client, KUBECONFIG, _Secrets(first, second), ignition)  # type: ignore[arg-type]
    hc = hosted_cluster()
    hc["metadata"]["finalizers"] = [FINALIZER]
    hc["status"] = {"kubeconfig": {"name": "hcp-admin-kubeconfig"}}
    s._revoke(second)  # the NodePool controller, before the ignition server's first look at it
    s.serve_tokens(hc, StandinConfig({}))
    assert set(ignition.tokens) == {"tok-1"}, "the revoked token is not served"
    assert ("patch", "token-hcp-u1") in client.calls and ("patch", "token-hcp-u2") not in client.calls
    s._revoke(first)
    s.serve_tokens(hc, StandinConfig({}))
    assert ignition.tokens == {}
