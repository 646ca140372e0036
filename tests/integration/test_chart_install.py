"""`helm install` of the chart into a real API server, then the operator, installed as the
Containerfile installs it, run with the Deployment's arguments as the chart's ServiceAccount (a
real token from the TokenRequest API, bound only by the chart's RBAC) through a whole life:
validate, HostedCluster, MetalLB, kubeconfig injection, DPUs joining with their CSRs approved,
status, deletion. Any verb or resource the chart forgot shows up as a 403 here."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import (
    CONFIGMAP,
    NAMESPACE,
    SECRET,
    VALIDATING_WEBHOOK,
    Resource,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    DPU,
    HOSTED_CLUSTER,
    IP_ADDRESS_POOL,
    LABEL_NAME,
    LABEL_NAMESPACE,
    NODE_POOL,
    PROVISIONER,
)
from dpf_hcp_dev.localcluster.controlplane import terminate
from dpf_hcp_dev.localcluster.environment import OPERATOR_NAMESPACE, Environment
from dpf_hcp_dev.processes import OperatorProcess, start_operator, start_standins, wait_ready
from support import (
    BLUEFIELD_IMAGES,
    REPO,
    condition,
    dpu,
    dpucluster,
    namespace,
    provisioner_body,
    secrets,
    unique,
    wait_condition,
    wait_for,
)

CHART = REPO / "helm" / "dpf-hcp-provisioner-operator"
RELEASE = "dpf-hcp-provisioner-operator"
WEBHOOK_NAME = "dpf-hcp-provisioner"
# Flags whose values only make sense inside the pod: the test gives loopback ones instead.
POD_ONLY_FLAGS = (
    "--health-probe-bind-address",
    "--metrics-bind-address",
    "--webhook-bind-address",
    "--webhook-cert-dir",
    "--work-dir",
)


@pytest.fixture(scope="module")
def helm() -> str:
    out = subprocess.run(
        ["bash", str(REPO / "dev" / "bootstrap" / "helm.sh")], check=True, capture_output=True, text=True
    )
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def installed(helm: str, tmp_path_factory: pytest.TempPathFactory):
    """A control plane of its own (the chart's webhook must not reach the shared one), with the chart installed."""
    env = Environment.up(tmp_path_factory.mktemp("chart-env"))
    logs = tmp_path_factory.mktemp("chart-logs")
    standins = start_standins(env, logs / "standins.log")
    escaped = {k.replace(".", "\\."): v for k, v in BLUEFIELD_IMAGES.items()}  # helm --set keys: dots escaped
    args = [f"--set-string=blueFieldImages.{k}={v}" for k, v in escaped.items()]
    try:
        result = subprocess.run(
            [helm, "install", RELEASE, str(CHART), "--namespace", OPERATOR_NAMESPACE, "--kubeconfig",
             str(env.management.kubeconfig_path()), *args],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        yield env, result.stdout, logs
    finally:
        terminate(standins.pid)
        env.down()


def test_helm_install_creates_the_chart_objects(installed):
    env, output, _ = installed
    client = env.client()
    assert "STATUS: deployed" in output
    for group, plural, namespaced, name in [
        ("apps", "deployments", True, RELEASE),
        ("", "serviceaccounts", True, RELEASE),
        ("", "services", True, f"{RELEASE}-metrics"),
        ("", "services", True, f"{RELEASE}-webhook"),
        ("", "secrets", True, f"{RELEASE}-webhook-tls"),
        ("rbac.authorization.k8s.io", "clusterroles", False, RELEASE),
        ("rbac.authorization.k8s.io", "clusterrolebindings", False, RELEASE),
        ("rbac.authorization.k8s.io", "roles", True, f"{RELEASE}-leader-election"),
        ("rbac.authorization.k8s.io", "rolebindings", True, f"{RELEASE}-leader-election"),
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations", False, WEBHOOK_NAME),
        ("apiextensions.k8s.io", "customresourcedefinitions", False, "dpfhcpprovisioners.provisioning.dpu.hcp.io"),
    ]:
        res = Resource(group, "v1", plural, plural, namespaced)
        assert client.get(res, name, OPERATOR_NAMESPACE if namespaced else None)["metadata"]["name"] == name
    images = client.get(CONFIGMAP, "ocp-bluefield-images", OPERATOR_NAMESPACE)["data"]
    assert images == BLUEFIELD_IMAGES


def service_account_kubeconfig(env: Environment, path: Path) -> Path:
    """A real ServiceAccount token (TokenRequest, as a pod's projected token) for the chart's account."""
    review = env.client().request(
        "POST",
        f"/api/v1/namespaces/{OPERATOR_NAMESPACE}/serviceaccounts/{RELEASE}/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}},
    )
    token = review["status"]["token"]
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["sub"] == f"system:serviceaccount:{OPERATOR_NAMESPACE}:{RELEASE}"
    path.write_text(env.management.kubeconfig_text(f"system:serviceaccount:{OPERATOR_NAMESPACE}:{RELEASE}", token))
    return path


def image_layout(venv: Path) -> Path:
    """What the Containerfile installs, in a venv: the operator's code and playbooks come from there."""
    subprocess.run(
        [str(REPO / "image" / "install-operator.sh"), str(REPO), str(venv)],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHON": sys._base_executable},  # the Python the venv was made with (3.12)
    )
    code = "import ansible_collections.dpf_hcp.provisioner as c, dpf_hcp_operator as o; print(*c.__path__, o.__file__)"
    found = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], check=True, capture_output=True, text=True, cwd=venv
    )
    assert all(p.startswith(str(venv)) for p in found.stdout.split()), found.stdout
    return venv


def deployment_args(env: Environment) -> list[str]:
    deployment = env.client().get(Resource("apps", "v1", "deployments", "Deployment"), RELEASE, OPERATOR_NAMESPACE)
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    return [a for a in args if not a.startswith(POD_ONLY_FLAGS)]


def helm_upgrade(helm: str, env: Environment, *args: str) -> None:
    """Change the installed release's values, keeping the others."""
    result = subprocess.run(
        [helm, "upgrade", RELEASE, str(CHART), "--namespace", OPERATOR_NAMESPACE, "--reuse-values", "--kubeconfig",
         str(env.management.kubeconfig_path()), *args],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def point_the_webhook_at(client: KubeClient, operator: OperatorProcess) -> None:
    """No pod network here: the chart's webhook is pointed at the operator on loopback instead of
    its Service; the rules, CA handling and failure policy stay the chart's."""
    hook = client.get(VALIDATING_WEBHOOK, WEBHOOK_NAME)
    hook["webhooks"][0]["clientConfig"] = operator.webhook_configuration()["webhooks"][0]["clientConfig"]
    client.replace(VALIDATING_WEBHOOK, hook)
    # The API server picks the new configuration up from its informer, not at once: until then it
    # still calls the Service (which has no endpoint here). Wait until a dry run reaches the operator.
    probe = provisioner_body(OPERATOR_NAMESPACE, "webhook-probe", OPERATOR_NAMESPACE, "none")

    def reached() -> bool:
        try:
            client.create(PROVISIONER, probe, dry_run=True)
        except ApiError as exc:
            return "failed calling webhook" not in exc.message
        return True

    wait_for("the API server to call the webhook on loopback", reached, timeout=30)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return image_layout(tmp_path_factory.mktemp("chart-image") / "image")


def chart_operator(env: Environment, image: Path, tmp_path: Path) -> tuple[OperatorProcess, Path]:
    """The operator as the image installs it (image/install-operator.sh, not the checkout), with
    the Deployment's arguments and a token of the chart's ServiceAccount."""
    args = deployment_args(env)
    assert "--leader-elect" in args
    log = tmp_path / "operator.log"
    environ = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(image / "collections"), "HOME": str(tmp_path)}
    environ.pop("WATCH_NAMESPACE", None)  # only the chart's arguments say what is watched
    operator = start_operator(
        env,
        tmp_path / "work",
        log,
        *args,
        kubeconfig=service_account_kubeconfig(env, tmp_path / "sa.kubeconfig"),
        python=str(image / "bin" / "python"),
        environ=environ,
    )
    wait_ready(operator.health_port, operator.process, log)
    return operator, log


def whole_life(client: KubeClient, log: Path, ns: str, dpu_ns: str) -> None:
    """A provisioner from creation to Ready, its DPUs joining (their CSRs approved by the operator),
    then its deletion; failing at once on anything RBAC refused."""
    secrets(client, ns)
    dpucluster(client, dpu_ns, "dpucluster")
    for i in range(2):
        client.create(DPU, dpu(dpu_ns, f"dpu-node-{i}"))
    client.create(PROVISIONER, provisioner_body(ns, "hcp", dpu_ns, "dpucluster"))

    def ready_unless_denied():
        assert not denials(log), yaml.safe_dump(denials(log)[:3])  # fail at once, naming what RBAC refused
        obj = client.get_or_none(PROVISIONER, "hcp", ns)
        return obj if (condition(obj, "Ready") or {}).get("status") == "True" else None

    ready = wait_for("Ready=True as the ServiceAccount", ready_unless_denied, timeout=90)
    assert ready["status"]["phase"] == "Ready"
    for kind in (
        "SecretsValid",
        "ClusterTypeValid",
        "BlueFieldImageResolved",
        "MetalLBConfigured",
        "IgnitionConfigured",
        "KubeConfigInjected",
    ):
        assert wait_condition(client, ns, "hcp", kind, "True")
    assert client.get(HOSTED_CLUSTER, "hcp", ns) and client.get(NODE_POOL, "hcp", ns)
    assert client.list(IP_ADDRESS_POOL, "metallb-system", label_selector=f"{LABEL_NAME}=hcp")["items"]
    for i in range(2):
        wait_for(
            f"DPU dpu-node-{i} to join (its CSRs approved by the operator)",
            lambda i=i: (client.get(DPU, f"dpu-node-{i}", dpu_ns).get("status") or {}).get("phase") == "Ready",
            timeout=60,
        )

    client.delete(PROVISIONER, "hcp", ns)
    wait_for("the provisioner to be finalized", lambda: client.get_or_none(PROVISIONER, "hcp", ns) is None, timeout=90)
    assert client.get_or_none(HOSTED_CLUSTER, "hcp", ns) is None
    assert not client.list(SECRET, ns, label_selector=f"{LABEL_NAME}=hcp")["items"]
    assert not denials(log), yaml.safe_dump(denials(log)[:5])


def test_the_operator_as_the_chart_service_account_runs_a_whole_life(installed, image, tmp_path):
    """watchNamespaces empty (the default): the ClusterRole's rules."""
    env, _, _ = installed
    client = env.client()
    operator, log = chart_operator(env, image, tmp_path)
    try:
        point_the_webhook_at(client, operator)
        whole_life(client, log, namespace(client, unique("tenant")), namespace(client, unique("dpus")))
    finally:
        terminate(operator.process.pid)


def test_with_watch_namespaces_a_whole_life_runs_on_roles_alone_and_nothing_outside_is_reached(
    installed, helm, image, tmp_path
):
    """watchNamespaces set: Roles in the tenant's, the DPUs' and the control plane's namespaces, and
    nothing namespaced cluster-wide. The operator's token may not touch a Secret anywhere else, a
    provisioner in another namespace is refused at admission, and one that got in anyway is ignored."""
    env, _, _ = installed
    client = env.client()
    tenant, dpus = unique("tenant"), unique("dpus")
    watched = [tenant, dpus, f"{tenant}-hcp"]  # the control plane's namespace: <namespace>-<name>
    outside = namespace(client, unique("other"))
    for ns in watched:
        namespace(client, ns)
    # The control plane's namespace, pre-created for the Role: labelled for its provisioner as the
    # README says, or the webhook refuses the provisioner (a namespace that is not for it).
    client.patch(NAMESPACE, watched[2], {"metadata": {"labels": {LABEL_NAME: "hcp", LABEL_NAMESPACE: tenant}}})
    client.create(SECRET, {"metadata": {"name": "crown-jewels", "namespace": outside}, "stringData": {"k": "v"}})
    # A provisioner that got into an unwatched namespace while the webhook was away (the upgrade
    # puts the chart's webhook back).
    client.delete(VALIDATING_WEBHOOK, WEBHOOK_NAME)
    secrets(client, outside)
    client.create(PROVISIONER, provisioner_body(outside, "stray", dpus, "dpucluster"))
    helm_upgrade(helm, env, f"--set=watchNamespaces={{{','.join(watched)}}}")

    # The token the chart's ServiceAccount holds, asked and tried against the real API server.
    sa = KubeClient.from_kubeconfig(str(service_account_kubeconfig(env, tmp_path / "probe.kubeconfig")))
    for verb in ("get", "list", "watch", "create", "patch", "delete"):
        assert not may(sa, verb, "secrets", outside), f"{verb} secrets in {outside}"
        assert not may(sa, verb, "secrets", None), f"{verb} secrets cluster-wide"
        assert not may(sa, verb, "configmaps", outside), f"{verb} configmaps in {outside}"
        assert may(sa, verb, "secrets", tenant), f"{verb} secrets in {tenant}"  # the Role is there
    assert not may(sa, "list", "dpfhcpprovisioners", None, "provisioning.dpu.hcp.io")
    with pytest.raises(ApiError) as forbidden:
        sa.get(SECRET, "crown-jewels", outside)
    assert forbidden.value.status == 403
    assert f"--watch-namespaces={','.join(watched)}" in deployment_args(env)

    operator, log = chart_operator(env, image, tmp_path)
    try:
        point_the_webhook_at(client, operator)
        with pytest.raises(ApiError) as refused:
            client.create(PROVISIONER, provisioner_body(outside, "another", dpus, "dpucluster"))
        assert f"metadata.namespace: '{outside}' is not watched by the operator" in refused.value.message
        with pytest.raises(ApiError) as refused:
            client.create(PROVISIONER, provisioner_body(tenant, "elsewhere", outside, "dpucluster"))
        assert f"spec.dpuClusterRef.namespace: '{outside}' is not watched" in refused.value.message

        whole_life(client, log, tenant, dpus)

        stray = client.get(PROVISIONER, "stray", outside)
        assert not stray["metadata"].get("finalizers") and not stray.get("status"), stray
        assert client.get_or_none(HOSTED_CLUSTER, "stray", outside) is None
        assert str(outside) not in log.read_text()  # never listed, read or written there
    finally:
        terminate(operator.process.pid)
        client.delete(PROVISIONER, "stray", outside)


def may(client: KubeClient, verb: str, resource: str, ns: str | None, group: str = "") -> bool:
    """A SelfSubjectAccessReview: whether ``client``'s identity may ``verb`` ``resource`` in ``ns``
    (None: in every namespace at once)."""
    attributes = {"verb": verb, "group": group, "resource": resource, **({"namespace": ns} if ns else {})}
    review = client.request(
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
         "spec": {"resourceAttributes": attributes}},
    )  # fmt: skip
    return bool(review["status"].get("allowed"))


def denials(log: Path) -> list[dict]:
    """The operator's log records that carry an authorization failure."""
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [r for r in records if "forbidden" in json.dumps(r).lower() or " 403" in json.dumps(r)]
