"""Issue 15, item 1: data is never code. A canary template (a lookup that would `touch` a marker
file, in `{{ }}`, `{% %}` and `{# #}` forms, and an expression whose rendered value we look for)
goes into every string the operator and the one-off playbooks read from the API: the provisioner's
metadata, spec and status, its Secrets, DPUCluster and DPUs, the ocp-bluefield-images ConfigMap,
the HostedCluster's and NodePool's status, the hosted kubeconfig and CSRs in the hosted cluster.
Create, update, a second pass that reads back what was mirrored into the status, and deletion:
no canary fires. No admission webhook is registered (this defence must not lean on it); what the
API server's schema refuses or prunes is counted and printed, not a failure."""

from __future__ import annotations

import base64
import contextlib
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from canary import Canaries, Where

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import CONFIGMAP, CSR, EVENT, SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    DPU,
    DPU_CLUSTER,
    HOSTED_CLUSTER,
    IP_ADDRESS_POOL,
    LABEL_NAME,
    LABEL_NAMESPACE,
    NODE_POOL,
    PROVISIONER,
)
from dpf_hcp_dev.certificates import request_pem
from dpf_hcp_dev.localcluster.environment import OPERATOR_NAMESPACE, Environment
from dpf_hcp_dev.standins.dpf import render, template_for
from fault_harness import Replica
from support import (
    BLUEFIELD_IMAGES,
    PULL_SECRET_VALUE,
    SSH_KEY_VALUE,
    ansible_playbook,
    dpu,
    namespace,
    provisioner_body,
    standin_settings,
    unique,
    wait_condition,
    wait_for,
    wait_idle,
)

CANARY_RELEASE = "quay.io/openshift-release-dev/ocp-release:4.17.0-x86_64"  # maps to a canary
# What must hold real values for the flow to go on (references, the release, the secrets' content,
# what HyperShift's status says about health); the "everywhere" tenant has canaries there too.
REFERENCES: tuple[Where, ...] = (
    ("spec", "dpuClusterRef", "**"),
    ("spec", "pullSecretRef", "**"),
    ("spec", "sshKeySecretRef", "**"),
    ("spec", "ocpReleaseImage"),
    ("spec", "virtualIP"),
)
QUIET: dict[str, tuple[Where, ...]] = {  # kind -> where a quiet tenant keeps real values
    "DPFHCPProvisioner": (("spec", "**"),),
    "Secret": (("stringData", ".dockerconfigjson"), ("stringData", "id_rsa.pub"), ("type",)),
    "DPUCluster": (("spec", "type"),),
    # spec.bfb and spec.dpuFlavor: object names, or the DPU gets no bf.cfg template (bfcfg.combinations)
    "DPU": (("spec", "cluster", "**"), ("spec", "bfb"), ("spec", "dpuFlavor"), ("status", "**")),
}
HOSTED_STATUS_SKIP: tuple[Where, ...] = (
    ("status", "conditions", "*", "type"),
    ("status", "conditions", "*", "status"),
    ("status", "conditions", "*", "lastTransitionTime"),
    ("status", "kubeconfig", "**"),
    ("status", "ignitionEndpoint"),
    ("status", "version", "**"),
)
MAPPED = dict(BLUEFIELD_IMAGES)


@dataclass
class Tenant:
    """A provisioner with its secrets, DPUCluster and DPUs, canaries planted per its ``style``:
    quiet (everything but what the flow needs), spec (and every spec field but the references),
    everywhere (every string), mapped (quiet, its release mapped to a canary)."""

    style: str
    ns: str
    dpu_ns: str
    name: str = "hcp"

    def skip(self, kind: str) -> tuple[Where, ...]:
        if self.style == "everywhere":
            return ()
        if self.style == "spec" and kind == "DPFHCPProvisioner":
            return REFERENCES
        return QUIET.get(kind, ())


def same(obj: dict[str, Any]) -> dict[str, Any]:
    return obj


def secret_view(obj: dict[str, Any]) -> dict[str, Any]:
    """A Secret as written: its data decoded into stringData, so canaries are planted as text."""
    data = {k: base64.b64decode(v).decode(errors="replace") for k, v in (obj.get("data") or {}).items()}
    return {**{k: v for k, v in obj.items() if k != "data"}, "stringData": data}


def planted_tenant(
    client: KubeClient,
    canaries: Canaries,
    style: str,
    release: str | None = None,
    provisioner: bool = True,
    ssh_key: str = SSH_KEY_VALUE,
) -> Tenant:
    t = Tenant(style, namespace(client, unique(f"dnc-{style[:5]}")), namespace(client, unique("dnc-dpus")))
    for name, data in (
        ("pull-secret", {".dockerconfigjson": PULL_SECRET_VALUE}),
        ("ssh-key", {"id_rsa.pub": ssh_key}),
    ):
        meta = {"name": name, "namespace": t.ns, "annotations": {}, "labels": {}}
        body = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "stringData": data}
        canaries.plant(client, SECRET, body, t.skip("Secret"), create=True, view=secret_view)
    cluster = {
        "apiVersion": "provisioning.dpu.nvidia.com/v1alpha1",
        "kind": "DPUCluster",
        "metadata": {"name": "dpucluster", "namespace": t.dpu_ns, "annotations": {}, "labels": {}},
        "spec": {"type": "static", "maxNodes": 10, "clusterEndpoint": {"host": "dpus.example.com"}},
    }
    canaries.plant(client, DPU_CLUSTER, cluster, t.skip("DPUCluster"), create=True)
    canaries.plant(client, DPU, dpu(t.dpu_ns, f"dpu-{style[:5]}"), t.skip("DPU"), create=True)
    spec: dict[str, Any] = {}
    if style in ("spec", "everywhere"):
        spec = {
            "nodeSelector": {"node-role.kubernetes.io/control-plane": "true"},
            "etcdStorageClass": "fast",
            "machineOSURL": "quay.io/example/bluefield-os:1",
            "infrastructureAvailabilityPolicy": "SingleReplica",
            "networking": {"machineNetwork": "192.168.10.0/24"},
        }
    if release:
        spec["ocpReleaseImage"] = release
    body = provisioner_body(t.ns, t.name, t.dpu_ns, "dpucluster", **spec)
    body["metadata"].update(annotations={"note": "planted"}, labels={"team": "a"})
    if provisioner:
        canaries.plant(client, PROVISIONER, body, t.skip("DPFHCPProvisioner"), create=True)
    return t


def replant_inputs(client: KubeClient, canaries: Canaries, t: Tenant, variant: int) -> None:
    """Fresh canaries in the tenant's provisioner (its status too, as if we had mirrored them
    there ourselves), Secrets, DPUCluster and DPU."""
    for res, name, where, view in (
        (PROVISIONER, t.name, t.ns, None),
        (SECRET, "pull-secret", t.ns, secret_view),
        (SECRET, "ssh-key", t.ns, secret_view),
        (DPU_CLUSTER, "dpucluster", t.dpu_ns, None),
        (DPU, f"dpu-{t.style[:5]}", t.dpu_ns, None),
    ):
        if client.get_or_none(res, name, where) is None:
            continue  # no provisioner in the one-off playbooks' case
        shown = view or same
        current = functools.partial(lambda *a, shown=shown: shown(client.get(*a)), res, name, where)
        skip = t.skip(res.kind)
        if res is not SECRET:  # a status subresource: written on its own, ignored in the object
            canaries.plant(client, res, current, skip, variant, "status")
            skip = (*skip, ("status", "**"))
        canaries.plant(client, res, current, skip, variant, view=shown)


def plant_bluefield_configmap(client: KubeClient, canaries: Canaries, variant: int | None) -> None:
    """The shared image map: a canary in every value but the releases the tenants use, and one
    release (CANARY_RELEASE's) mapped to a canary."""

    def fresh() -> dict[str, Any]:
        cm = client.get(CONFIGMAP, "ocp-bluefield-images", OPERATOR_NAMESPACE)
        cm["data"] = {**MAPPED, "4.17.0": "x", "notes": "x"}
        cm["metadata"].update(annotations={}, labels={})
        return cm

    skip = tuple(("data", v) for v in MAPPED)
    canaries.plant(client, CONFIGMAP, fresh, skip, variant)


def plant_hosted(env: Environment, canaries: Canaries, t: Tenant, variant: int | None) -> None:
    """HyperShift's side, for a tenant that has a HostedCluster: the HostedCluster's and
    NodePool's status, the admin kubeconfig's names, and a CSR in the hosted cluster."""
    client = env.client()
    if client.get_or_none(HOSTED_CLUSTER, t.name, t.ns) is None:
        return
    standin_settings(client, **{f"{t.ns}.{t.name}.statusFrozen": "true"})
    canaries.plant(
        client, HOSTED_CLUSTER, lambda: client.get(HOSTED_CLUSTER, t.name, t.ns), HOSTED_STATUS_SKIP, variant, "status"
    )

    def nodepool() -> dict[str, Any]:
        pool = client.get(NODE_POOL, t.name, t.ns)
        ready = {"type": "Ready", "status": "True", "reason": "AsExpected", "message": "x"}
        pool["status"] = {"conditions": [{**ready, "lastTransitionTime": "2026-01-01T00:00:00Z"}], "version": "4.19.0"}
        return pool

    canaries.plant(client, NODE_POOL, nodepool, HOSTED_STATUS_SKIP, variant, "status")

    secret = client.get(SECRET, f"{t.name}-admin-kubeconfig", t.ns)
    config = yaml.safe_load(base64.b64decode(secret["data"]["kubeconfig"]))
    names: dict[str, str] = {}

    def renamed(name: str) -> str:
        return names.setdefault(name, canaries.make(f"hosted kubeconfig name {name!r}", variant))

    for section, refs in (("clusters", ()), ("users", ()), ("contexts", ("cluster", "user"))):
        for entry in config.get(section) or []:
            entry["name"] = renamed(entry["name"])
            for ref in refs:
                entry["context"][ref] = renamed(entry["context"][ref])
    config["current-context"] = renamed(config["current-context"])
    encoded = base64.b64encode(yaml.safe_dump(config).encode()).decode()
    client.patch(SECRET, secret["metadata"]["name"], {"data": {"kubeconfig": encoded}}, t.ns)

    short = canaries.make("CSR subject organization", form=0)  # a subject field holds 64 characters
    request = request_pem("system:node:dpu-canary", [short[:64], "system:nodes"])
    csr = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": unique("dnc-csr"), "annotations": {}},
        "spec": {
            "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
            "request": request,
            "usages": ["digital signature", "key encipherment", "client auth"],
        },
    }
    canaries.plant(env.client("hosted"), CSR, csr, (("spec", "**"),), variant, create=True)


def everything(env: Environment, replica: Replica | None, output: str = "") -> str:
    """The text of every object the tenants touch, the operator's log and its runs' output."""
    client = env.client()
    parts = [output]
    for res in (PROVISIONER, HOSTED_CLUSTER, NODE_POOL, CONFIGMAP, DPU_CLUSTER, DPU, IP_ADDRESS_POOL, EVENT):
        parts.append(json.dumps(client.list(res, None).get("items") or []))
    for secret in client.list(SECRET, None).get("items") or []:
        parts.append(json.dumps(secret_view(secret)))
    parts.append(json.dumps(env.client("hosted").list(CSR, None).get("items") or []))
    if replica is not None:
        parts.append(replica.log.read_text(errors="replace"))
        parts += [p.read_text(errors="replace") for p in replica.work_dir.glob("runner-*/artifacts/*/stdout")]
    return "\n".join(parts)


def assert_silent(canaries: Canaries, phase: str, text: str) -> None:
    fired, rendered = canaries.fired(), canaries.rendered(text)
    print(
        f"{phase}: {len(canaries.planted)} canaries planted; kept by the API server {dict(canaries.kept)};"
        f" refused or pruned by its schema {dict(canaries.refused)}"
    )
    assert not fired and not rendered, f"{phase}: canaries fired:\n" + "\n".join(fired + rendered)


@contextlib.contextmanager
def unfrozen(client: KubeClient, tenants: list[Tenant]) -> Iterator[None]:
    try:
        yield
    finally:
        standin_settings(client, **{f"{t.ns}.{t.name}.statusFrozen": "" for t in tenants})


@pytest.fixture(scope="module")
def canaries(fault_env: Environment) -> Iterator[Canaries]:
    found = Canaries()
    plant_bluefield_configmap(fault_env.client(), found, None)
    yield found
    cm = fault_env.client().get(CONFIGMAP, "ocp-bluefield-images", OPERATOR_NAMESPACE)
    fault_env.client().replace(CONFIGMAP, {**cm, "metadata": {**cm["metadata"], "annotations": {}}, "data": MAPPED})


def test_no_canary_fires_in_the_operator(fault_env, canaries, tmp_path):
    client = fault_env.client()
    replica = Replica(fault_env, tmp_path / "operator").start()
    tenants = [
        planted_tenant(client, canaries, "quiet"),
        planted_tenant(client, canaries, "spec"),
        planted_tenant(client, canaries, "everywhere"),
        planted_tenant(client, canaries, "mapped", CANARY_RELEASE),
    ]
    quiet = tenants[0]
    assert replica.started is not None
    with unfrozen(client, tenants):
        try:
            # Create: the quiet tenant goes all the way (HostedCluster, kubeconfig, ignition, CSRs).
            wait_condition(client, quiet.ns, quiet.name, "Ready", "True", timeout=120)
            wait_idle(replica.started.metrics_port, timeout=120)
            assert_silent(canaries, "create", everything(fault_env, replica))

            # Update: fresh canaries everywhere, one variant in each (in turn); HyperShift's side
            # too, and the provisioners' status as if we had mirrored canaries into it ourselves.
            plant_bluefield_configmap(client, canaries, 0)
            for t in tenants:
                plant_hosted(fault_env, canaries, t, 0)
                replant_inputs(client, canaries, t, 0)
            wait_idle(replica.started.metrics_port, timeout=120)
            assert_silent(canaries, "update", everything(fault_env, replica))

            # A second pass: an annotation changes, the run reads back what the last one mirrored.
            for t in tenants:
                client.patch(PROVISIONER, t.name, {"metadata": {"annotations": {"pass": "second"}}}, t.ns)
            wait_idle(replica.started.metrics_port, timeout=120)
            assert_silent(canaries, "second pass", everything(fault_env, replica))
            for t in tenants:
                obj = client.get(PROVISIONER, t.name, t.ns)
                print(f"{t.style}: phase {obj.get('status', {}).get('phase')}")
        finally:
            # Deletion: the finalizer's run reads the same objects.
            for t in tenants:
                client.delete(PROVISIONER, t.name, t.ns)
    try:
        for t in tenants:
            wait_for(f"{t.style} tenant gone", lambda t=t: client.get_or_none(PROVISIONER, t.name, t.ns) is None, 120)
        assert_silent(canaries, "delete", everything(fault_env, replica))
        assert replica.process.poll() is None
    finally:
        replica.close()


def test_no_canary_fires_in_the_one_off_playbooks(fault_env, canaries):
    """What a user passes with -e is theirs; everything the playbooks read from the cluster is not."""
    client = fault_env.client()
    t = planted_tenant(client, canaries, "quiet", provisioner=False)  # the one-off playbooks have none
    kubeconfig = fault_env.management.kubeconfig_path()
    spec = provisioner_body(t.ns, t.name, t.dpu_ns, "dpucluster")["spec"]
    variables = {"dpfhcp_name": t.name, "dpfhcp_namespace": t.ns, "dpfhcp_spec": spec}
    variables.update(dpfhcp_wait_delay=1, dpfhcp_wait_timeout=60)
    with unfrozen(client, [t]):
        first = ansible_playbook("provision.yml", kubeconfig, extra_vars=variables)
        assert first.returncode == 0, first.stdout + first.stderr
        assert_silent(canaries, "provision.yml", everything(fault_env, None, first.stdout + first.stderr))
        plant_hosted(fault_env, canaries, t, None)
        replant_inputs(client, canaries, t, 1)
        again = ansible_playbook("provision.yml", kubeconfig, extra_vars=variables)
        assert_silent(canaries, "provision.yml again", everything(fault_env, None, again.stdout + again.stderr))
        check = ansible_playbook("deprovision.yml", kubeconfig, extra_vars=variables, check=True)
        assert_silent(canaries, "deprovision.yml --check", everything(fault_env, None, check.stdout + check.stderr))
        gone = ansible_playbook("deprovision.yml", kubeconfig, extra_vars=variables)
        assert gone.returncode == 0, gone.stdout + gone.stderr
        assert_silent(canaries, "deprovision.yml", everything(fault_env, None, gone.stdout + gone.stderr))
    assert client.get_or_none(HOSTED_CLUSTER, t.name, t.ns) is None


def test_the_bfcfg_template_given_to_dpf_opens_no_go_template_action(fault_env, canaries, tmp_path):
    """DPF renders the bf.cfg template as a Go text/template with sprig (`env`): the SSH key's
    comment, which HyperShift's ignition carries in clear, must not become an action there. The
    text is escaped, not changed: any JSON reader gets the key back as the tenant wrote it."""
    client = fault_env.client()
    comment = '{{ env "HOME" }} {{ .DPUName }} ' + canaries.make("SSH key comment")
    t = planted_tenant(client, canaries, "quiet", ssh_key=f"{SSH_KEY_VALUE} {comment}")
    replica = Replica(fault_env, tmp_path / "operator").start()
    try:
        wait_condition(client, t.ns, t.name, "IgnitionConfigured", "True", timeout=180)
        selector = f"{LABEL_NAME}={t.name},{LABEL_NAMESPACE}={t.ns}"
        (template,) = client.list(CONFIGMAP, "dpf-operator-system", label_selector=selector)["items"]
        bfcfg = template["data"]["BF_CFG_TEMPLATE"]
        assert bfcfg.count("{{") == 1 == bfcfg.count("{{.DPUHostName}}"), "DPF would evaluate more than the hostname"
        dpu_obj = client.get(DPU, f"dpu-{t.style[:5]}", t.dpu_ns)
        rendered = json.loads(render(template_for(client, dpu_obj), dpu_obj))  # DPF's rendering
        (core,) = rendered["passwd"]["users"]
        assert core["sshAuthorizedKeys"] == [f"{SSH_KEY_VALUE} {comment}"]
        assert_silent(canaries, "bf.cfg", everything(fault_env, replica))
        client.delete(PROVISIONER, t.name, t.ns)
        wait_for("the tenant gone", lambda: client.get_or_none(PROVISIONER, t.name, t.ns) is None, 120)
    finally:
        replica.close()
