"""Rewriting the OS image of the MachineConfig an ignition carries (pure logic)."""

from __future__ import annotations

import base64
import gzip
import json
from urllib.parse import quote, unquote

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import naming
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.bfcfg import (
    ANNOTATION,
    HOSTNAME_ACTION,
    MAX_BFCFG_BYTES,
    Combination,
    combinations,
    conflicts,
    dpf_config_problem,
    rendered_size_bound,
    template_text,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.bfcfg import (
    annotations as template_annotations,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.ignition import (
    ENCAPSULATED_PATH,
    NODEPOOL_CURRENT_CONFIG_VERSION,
    IgnitionError,
    bearer,
    machine_config,
    os_image,
    override_os_image,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import LABEL_NAME, LABEL_NAMESPACE

MC = {"kind": "MachineConfig", "spec": {"osImageURL": "quay.io/rhcos@sha256:abc", "config": {"ignition": {}}}}


def ignition(source: str, compression: str | None = None) -> dict:
    contents = {"source": source} | ({"compression": compression} if compression else {})
    files = [
        {"path": "/etc/hostname", "contents": {"source": "data:,x"}},
        {"path": ENCAPSULATED_PATH, "contents": contents},
    ]
    return {"ignition": {"version": "3.2.0"}, "storage": {"files": files}}


@pytest.mark.parametrize(
    "source,compression",
    [
        ("data:;base64," + base64.b64encode(gzip.compress(json.dumps(MC).encode())).decode(), "gzip"),
        ("data:;base64," + base64.b64encode(json.dumps(MC).encode()).decode(), None),
        ("data:," + quote(json.dumps(MC)), None),
    ],
    ids=["gzip-base64", "base64", "percent-encoded"],
)
def test_the_encapsulated_machine_config_boots_the_new_image_and_nothing_else_changes(source, compression):
    original = ignition(source, compression)
    rewritten = override_os_image(original, "quay.io/example/bluefield:4.19")
    assert os_image(rewritten) == "quay.io/example/bluefield:4.19"
    assert os_image(original) == "quay.io/rhcos@sha256:abc"  # the input is not modified
    assert rewritten["storage"]["files"][0] == original["storage"]["files"][0]
    entry = rewritten["storage"]["files"][1]["contents"]
    # Written back as MCO writes it and the upstream operator requires it (machineos.go,
    # ReplaceMachineOSURL: "data:," or refused): plain, percent-escaped, uncompressed.
    assert entry["source"].startswith("data:,") and "compression" not in entry
    config = json.loads(unquote(entry["source"].removeprefix("data:,")))
    assert config["spec"]["config"] == MC["spec"]["config"]


def test_the_bearer_value_is_the_token_base64_encoded_as_hypershift_decodes_it():
    """ignition-server/cmd/start.go base64-decodes what follows "Bearer "; a raw UUID has "-",
    which StdEncoding refuses (401)."""
    token = "5f0c1b8e-6a7d-4c39-9c52-0d1e2f3a4b5c"
    value = bearer(token)
    assert value.startswith("Bearer ")
    assert base64.b64decode(value.removeprefix("Bearer "), validate=True).decode() == token


def test_an_ignition_without_a_machine_config_is_invalid_not_a_crash():
    with pytest.raises(IgnitionError) as err:
        override_os_image({"ignition": {"version": "3.2.0"}}, "img")
    assert err.value.reason == "InvalidIgnition" and ENCAPSULATED_PATH in str(err.value)
    with pytest.raises(IgnitionError):
        override_os_image(ignition("https://example.com/mc.json"), "img")
    with pytest.raises(IgnitionError):
        override_os_image(ignition("data:;base64,bm90IGpzb24="), "img")


def test_the_machine_config_for_nodepool_spec_config():
    mc = machine_config("quay.io/example/bluefield:4.19")
    assert mc["spec"] == {"osImageURL": "quay.io/example/bluefield:4.19"}
    assert mc["metadata"]["labels"] == {"machineconfiguration.openshift.io/role": "worker"}


def test_the_bfcfg_template_opens_no_go_template_action_but_the_hostname_and_reads_back_the_same():
    """DPF renders BF_CFG_TEMPLATE as a Go text/template: a tenant's SSH key comment must not
    become an action there (sprig's `env` would read DPF's environment into a DPU's config). The
    one action is ours: /etc/hostname, {{.DPUHostName}}; a tenant writing that text gets it escaped."""
    hostile = [
        'ssh-ed25519 AAAA u@h {{ env "TOKEN" }}',
        "{{{",
        "\\{{x}}",
        "}}{{",
        "{{-/* */-}}",
        "{",
        "{{.DPUHostName}}",
        "data:,{{.DPUHostName}}",
    ]
    ignition = {"passwd": {"users": [{"name": "core", "sshAuthorizedKeys": hostile}]}, "{{key}}": [{}, {"a": {}}]}
    text = template_text(ignition)
    assert text.count("{{") == 1 and text.count(HOSTNAME_ACTION) == 1
    read = json.loads(text)
    (hostname,) = read["storage"]["files"]
    assert hostname == {
        "path": "/etc/hostname",
        "mode": 420,
        "overwrite": True,
        "contents": {"source": "data:," + HOSTNAME_ACTION},
    }
    del read["storage"]
    assert read == ignition


def test_the_bfcfg_template_compresses_files_and_keeps_what_lands_on_disk():
    big = "x" * 300_000
    ignition = {
        "ignition": {"version": "3.2.0"},
        "storage": {
            "files": [
                {"path": "/etc/big", "contents": {"source": "data:," + big}},
                {"path": "/etc/hostname", "contents": {"source": "data:,hostile"}},  # replaced by DPF's
            ]
        },
    }
    text = template_text(ignition)
    assert rendered_size_bound(text) < MAX_BFCFG_BYTES
    files = {f["path"]: f for f in json.loads(text)["storage"]["files"]}
    assert set(files) == {"/etc/big", "/etc/hostname"}
    packed = files["/etc/big"]["contents"]
    assert packed["compression"] == "gzip"
    assert gzip.decompress(base64.b64decode(packed["source"].removeprefix("data:;base64,"))).decode() == big


def test_a_template_that_could_render_over_128_kib_is_measured_with_the_longest_dpu_name():
    text = "a" * (MAX_BFCFG_BYTES - 253 + len(HOSTNAME_ACTION)) + HOSTNAME_ACTION
    assert rendered_size_bound(text) == MAX_BFCFG_BYTES + len(HOSTNAME_ACTION)


class _Secrets:
    """A KubeClient that holds the given Secrets in the control plane namespace only, and a
    NodePool t/x with ``version`` as its nodePoolCurrentConfigVersion (none: no annotation)."""

    def __init__(self, namespace: str, items: list[dict], version: str | None = None):
        self.namespace, self.items, self.version = namespace, items, version
        self.asked: list[str] = []

    def list(self, resource, namespace):
        return {"items": self.items if namespace == self.namespace else []}

    def get_or_none(self, resource, name, namespace=None):
        self.asked.append(f"{resource.kind} {namespace}/{name}")
        if resource.kind == "NodePool":
            annotations = {} if self.version is None else {NODEPOOL_CURRENT_CONFIG_VERSION: self.version}
            return {"metadata": {"name": "x", "namespace": "t", "annotations": annotations}}
        found = [i for i in self.items if i["metadata"]["name"] == name]
        return found[0] if found and namespace == self.namespace else None


def _token_secret(name: str, token: str, created: str, **annotations: str) -> dict:
    return {
        "metadata": {"name": name, "creationTimestamp": created, "annotations": annotations},
        "data": {"token": base64.b64encode(token.encode()).decode()},
    }


def _token(client, provisioner: dict) -> str:
    """The token the module would send: the text of the token secret it picks, or ""."""
    from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.bfcfg import (
        _secret_text,
        _token_secret,
    )
    from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import NODE_POOL

    node_pool = client.get_or_none(NODE_POOL, "x", "t")
    return _secret_text(_token_secret(client, provisioner, node_pool), "token")


def test_the_ignition_token_is_the_nodepools_by_hypershifts_annotation_not_a_decoy_named_like_it():
    """A newer token-<name>-* secret without the NodePool annotation (someone else's NodePool x-y, or
    anything put in the namespace) is never sent; nor is a token HyperShift is retiring."""

    provisioner = {"metadata": {"name": "x", "namespace": "t"}}
    ours = {"hypershift.openshift.io/nodePool": "t/x"}
    secrets = [
        _token_secret("token-x-aaaaaaaa", "ours", "2026-01-01T00:00:00Z", **ours),
        _token_secret("token-x-decoy", "decoy", "2026-01-02T00:00:00Z"),
        _token_secret(
            "token-x-y-bbbbbbbb", "victims", "2026-01-03T00:00:00Z", **{"hypershift.openshift.io/nodePool": "t/x-y"}
        ),
        _token_secret(
            "token-x-cccccccc",
            "retiring",
            "2026-01-04T00:00:00Z",
            **ours,
            **{"hypershift.openshift.io/ignition-token-expiration-timestamp": "2026-01-04T02:00:00Z"},
        ),
    ]
    assert _token(_Secrets("t-x", secrets), provisioner) == "ours"
    assert _token(_Secrets("t-x", secrets[1:3]), provisioner) == ""  # none of ours: wait, send nothing


def test_the_token_is_the_one_the_nodepools_current_config_version_names():
    """nodepool_controller.go writes nodePoolCurrentConfigVersion on a platform-None NodePool: the
    current token is token-<nodepool>-<that hash>, even when a newer one of the NodePool exists
    (a config change on its way); the annotation is read from the tenant's namespace, so what is
    not a name is never looked up, and a secret so named but not the NodePool's is not sent."""

    provisioner = {"metadata": {"name": "x", "namespace": "t"}}
    ours = {"hypershift.openshift.io/nodePool": "t/x"}
    secrets = [
        _token_secret("token-x-aaaaaaaa", "current", "2026-01-01T00:00:00Z", **ours),
        _token_secret("token-x-bbbbbbbb", "next", "2026-01-02T00:00:00Z", **ours),
        _token_secret("token-x-dddddddd", "decoy", "2026-01-02T00:00:00Z"),
    ]
    assert _token(_Secrets("t-x", secrets, "aaaaaaaa"), provisioner) == "current"
    assert _token(_Secrets("t-x", secrets, None), provisioner) == "next"  # before HyperShift wrote it: newest
    assert _token(_Secrets("t-x", secrets, "dddddddd"), provisioner) == ""  # not annotated as the NodePool's
    assert _token(_Secrets("t-x", secrets, "eeeeeeee"), provisioner) == ""  # not published yet: wait
    for hostile in ("../../../api/v1/secrets", "a/b", "A" * 300, "x?watch=1"):
        client = _Secrets("t-x", secrets, hostile)
        assert _token(client, provisioner) == ""
        assert client.asked == ["NodePool t/x"], client.asked  # no request made of it


def test_an_ignition_endpoint_is_host_and_port_nothing_else():
    """Round 5: whoever writes HostedCluster status chose the path and query the token went to."""
    from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.ignition import (
        fetch_ignition,
        is_endpoint,
    )

    for good in ("127.0.0.1:9090", "ignition-server.apps.example.com", "[fd00::1]:443", "[::1]"):
        assert is_endpoint(good), good
    for bad in ("evil.example:8443#", "ign.example/../../x?y=", "u:p@h:1", "h:99999", "h:0", "https://h", "", " h", 7):
        assert not is_endpoint(bad), bad
        with pytest.raises(IgnitionError) as err:
            fetch_ignition(bad, "token", "not used")  # type: ignore[arg-type]
        assert err.value.reason == "InvalidIgnitionEndpoint"


def test_a_failure_reason_that_is_not_text_is_still_reported():
    from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.bfcfg import _payload_failure

    data = {"reason": b"Invalid\xffConfig", "message": b"\xfe"}
    secret = {"data": {k: base64.b64encode(v).decode() for k, v in data.items()}}
    failure = _payload_failure(secret)
    assert failure is not None and "Invalid" in failure
    assert _payload_failure({"data": {"reason": base64.b64encode(b"AsExpected").decode()}}) is None
    assert _payload_failure({"data": {}}) is None


class _DPF:
    """A KubeClient holding DPFOperatorConfigs and DPUs (list only), for the pure checks below."""

    def __init__(self, configs: list[dict], dpus: list[dict] | None = None):
        self.configs, self.dpus = configs, dpus or []

    def list(self, resource, namespace=None, **_kw):
        items = self.configs if resource.kind == "DPFOperatorConfig" else self.dpus
        return {"items": [i for i in items if namespace in (None, i["metadata"]["namespace"])]}


def _config(namespace="dpf-operator-system", **provisioning):
    return {"metadata": {"name": "c", "namespace": namespace}, "spec": {"provisioningController": provisioning}}


def test_dpf_selects_the_templates_only_as_its_one_dpfoperatorconfig_says():
    """bfcfg.go GenerateBFConfig and getTemplateData: exactly one DPFOperatorConfig; its namespace;
    dynamic templates on; the deprecated bfCFGTemplateConfigMap (a pointer: set even when empty) first."""
    ns = "dpf-operator-system"
    assert dpf_config_problem(_DPF([_config(enableDynamicBFCFGTemplates=True)]), ns) is None
    cases = {
        "exactly one DPFOperatorConfig and there are 0": [],
        "exactly one DPFOperatorConfig and there are 2": [_config(enableDynamicBFCFGTemplates=True)] * 2,
        "--dpf-operator-namespace": [_config("dpf", enableDynamicBFCFGTemplates=True)],
        "enableDynamicBFCFGTemplates None": [_config()],
        "enableDynamicBFCFGTemplates 'true'": [_config(enableDynamicBFCFGTemplates="true")],
        "bfCFGTemplateConfigMap": [_config(enableDynamicBFCFGTemplates=True, bfCFGTemplateConfigMap="")],
    }
    for says, configs in cases.items():
        problem = dpf_config_problem(_DPF(configs), ns)
        assert problem is not None and says in problem, (says, problem)


def test_the_combinations_are_those_of_dpus_naming_the_dpucluster_as_dpf_compares_it():
    """spec.cluster as written (DPF looks the DPUCluster up and matches the annotation with it): a DPU
    without the namespace is not the DPUCluster's; DPUs in other namespaces are."""

    def dpu(ns, name, cluster_ns, flavor="f", bfb="b"):
        cluster = {"name": "dc"} | ({"namespace": cluster_ns} if cluster_ns is not None else {})
        spec = {"bfb": bfb, "dpuFlavor": flavor, "cluster": cluster}
        return {"metadata": {"namespace": ns, "name": name}, "spec": spec}

    ref = {"name": "dc", "namespace": "d"}
    provisioner = {"metadata": {"name": "p", "namespace": "t"}, "spec": {"dpuClusterRef": ref}}
    dpus = [
        dpu("d", "a", "d"),
        dpu("d", "b", "d"),  # the same combination
        dpu("d", "c", None),  # no namespace written: DPF would not find the DPUCluster
        dpu("x", "e", "d", flavor="g"),  # another namespace, the same DPUCluster
        dpu("d", "h", "other"),
    ]
    assert combinations(_DPF([], dpus), provisioner) == [Combination("d", "b", "f"), Combination("x", "b", "g")]


def test_only_object_names_from_dpus_reach_a_template_and_a_foreign_match_is_a_conflict():
    """Whoever writes DPUs chooses spec.bfb and spec.dpuFlavor: only DNS names become annotations
    (a 300 KiB or upper-case value would fail the write, or be no object DPF could find). A template
    that is not ours with one of our combinations' annotations makes DPF find two: reported, kept."""
    ref = {"name": "dc", "namespace": "d"}
    provisioner = {"metadata": {"name": "p", "namespace": "t"}, "spec": {"dpuClusterRef": ref}}

    def dpu(name, bfb, flavor="f"):
        spec = {"bfb": bfb, "dpuFlavor": flavor, "cluster": dict(ref)}
        return {"metadata": {"namespace": "d", "name": name}, "spec": spec}

    hostile = [dpu("a", "B"), dpu("b", "x" * 300_000), dpu("c", "ok", "{{ env }}"), dpu("e", "ok", 7), dpu("g", "ok")]
    assert combinations(_DPF([], hostile), provisioner) == [Combination("d", "ok", "f")]

    ours = template_annotations(provisioner, Combination("d", "ok", "f"))
    label = {"provisioning.dpu.nvidia.com/bfcfg-template": "true"}
    mine = {"name": "mine", "labels": {**label, LABEL_NAME: "p", LABEL_NAMESPACE: "t"}, "annotations": ours}
    theirs = {"name": "theirs", "labels": label, "annotations": ours}
    other = {"name": "other", "labels": label, "annotations": {**ours, f"{ANNOTATION}bfb-name": "else"}}

    class Maps:
        def list(self, resource, namespace=None, **_kw):
            return {"items": [{"metadata": {"namespace": "dpf", **m}} for m in (mine, theirs, other)]}

    assert conflicts(Maps(), provisioner, "dpf", [Combination("d", "ok", "f")]) == ["'theirs'"]


def test_a_templates_name_is_unique_to_its_combination_with_a_128_bit_digest():
    provisioner = {"metadata": {"name": "p", "namespace": "t"}, "spec": {}}
    first = naming.bfcfg_configmap_name(provisioner, "d", "bfb", "flavor")
    assert first != naming.bfcfg_configmap_name(provisioner, "d", "bfb", "flavor2")
    assert len(first.rsplit("-", 1)[1]) == 32 and len(first) <= 253
