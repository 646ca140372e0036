"""The Helm chart, checked with the real helm and the real API server: it lints, renders for the
default, development, production and cert-manager values, agrees with the operator's own
webhook configuration and CLI, and its objects are accepted by kube-apiserver."""

from __future__ import annotations

import base64
import json
import re
import subprocess

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.release import VERSION
from dpf_hcp_operator import webhook
from dpf_hcp_operator.cli import parse
from support import REPO

CHART = REPO / "helm" / "dpf-hcp-provisioner-operator"
NAMESPACE = "dpf-hcp-provisioner-system"  # the release namespace of these renders, as the README installs it


@pytest.fixture(scope="module")
def helm() -> str:
    out = subprocess.run(
        ["bash", str(REPO / "dev" / "bootstrap" / "helm.sh")], check=True, capture_output=True, text=True
    )
    return out.stdout.strip().splitlines()[-1]


def documents(helm: str, *args: str) -> list[dict]:
    """The rendered objects, released into NAMESPACE unless ``args`` give another ``--namespace``."""
    out = subprocess.run(
        [helm, "template", "dpfhcp", str(CHART), "--namespace", NAMESPACE, *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def render(helm: str, *args: str) -> dict[tuple[str, str], dict]:
    return {(d["kind"], d["metadata"]["name"]): d for d in documents(helm, *args)}


def grants(rules: list[dict]) -> dict[str, list[str]]:
    """group/resource -> verbs (resourceNames after a '#')."""
    found = {}
    for rule in rules:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                names = "#" + ",".join(rule["resourceNames"]) if rule.get("resourceNames") else ""
                found[f"{group}/{resource}{names}"] = rule["verbs"]
    return found


# What the code reads and writes where a provisioner, its DPUCluster and its control plane live
# (the README's "Least privilege" table); nothing more.
NAMESPACED = {
    "provisioning.dpu.hcp.io/dpfhcpprovisioners": ["get", "list", "watch", "patch"],
    "provisioning.dpu.hcp.io/dpfhcpprovisioners/status": ["update"],
    "hypershift.openshift.io/hostedclusters": ["get", "list", "watch", "create", "patch", "delete"],
    "hypershift.openshift.io/nodepools": ["get", "list", "watch", "create", "patch", "delete"],
    "provisioning.dpu.nvidia.com/dpuclusters": ["get", "list", "watch", "patch"],
    "provisioning.dpu.nvidia.com/dpus": ["list", "watch"],
    "provisioning.dpu.nvidia.com/dpuflavors": ["get"],
    "/secrets": ["get", "list", "watch", "create", "patch", "delete"],
    "/configmaps": ["get", "list", "watch", "create", "patch", "delete"],
    "/events": ["create"],
}
CLUSTER_SCOPED = {
    "/nodes": ["list"],
    "authorization.k8s.io/subjectaccessreviews": ["create"],
    "/namespaces": ["get"],
    "operator.dpu.nvidia.com/dpfoperatorconfigs": ["list"],
}


def refused(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    """A render that must fail (a bad value): its result, to read the message in stderr."""
    command = [helm, "template", "x", str(CHART), "--namespace", NAMESPACE, *args]
    bad = subprocess.run(command, capture_output=True, text=True, check=False)
    assert bad.returncode != 0
    return bad


def test_chart_lints(helm):
    result = subprocess.run([helm, "lint", "--strict", str(CHART)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize(
    "values",
    [[], ["-f", str(CHART / "values-development.yaml")], ["-f", str(CHART / "values-production.yaml")]],
    ids=["default", "dev", "prod"],
)
def test_renders_and_the_deployment_uses_only_real_flags(helm, values):
    objs = render(helm, *values)
    deployment = objs[("Deployment", "dpfhcp")]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    parse(container["args"])  # the operator's own argument parser accepts every flag the chart passes
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    assert "--leader-elect" in container["args"]
    assert ("Role", "dpfhcp-leader-election") in objs
    assert ("ClusterRole", "dpfhcp") in objs
    rules = objs[("ClusterRole", "dpfhcp")]["rules"]
    assert all("*" not in r.get("verbs", []) and "*" not in r.get("resources", []) for r in rules)


def test_development_and_production_values_as_the_guide_describes(helm):
    dev = render(helm, "-f", str(CHART / "values-development.yaml"))[("Deployment", "dpfhcp")]
    prod = render(helm, "-f", str(CHART / "values-production.yaml"))[("Deployment", "dpfhcp")]
    dev_c, prod_c = dev["spec"]["template"]["spec"]["containers"][0], prod["spec"]["template"]["spec"]["containers"][0]
    assert (dev_c["image"].endswith(":latest"), dev_c["imagePullPolicy"], dev["spec"]["replicas"]) == (
        True,
        "Always",
        1,
    )
    assert "--log-level=debug" in dev_c["args"]
    assert dev_c["resources"]["limits"] == {"cpu": "50m", "memory": "128Mi"}
    assert (prod_c["image"].endswith(":v0.1.0"), prod_c["imagePullPolicy"], prod["spec"]["replicas"]) == (
        True,
        "IfNotPresent",
        2,
    )
    assert prod_c["resources"]["limits"] == {"cpu": "200m", "memory": "256Mi"}
    assert prod["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]


def test_bluefield_images_become_the_configmap(helm):
    objs = render(helm, "--set-string", "blueFieldImages.4\\.19\\.0=quay.io/x/bf:4.19")
    assert objs[("ConfigMap", "ocp-bluefield-images")]["data"] == {"4.19.0": "quay.io/x/bf:4.19"}


def test_webhook_configuration_matches_the_operators_and_trusts_its_certificate(helm):
    objs = render(helm)
    vwc = objs[("ValidatingWebhookConfiguration", "dpf-hcp-provisioner")]
    secret = objs[("Secret", "dpfhcp-webhook-tls")]
    ours = webhook.configuration(b"x", service={"name": "dpfhcp-webhook", "namespace": "dpf-hcp-provisioner-system"})
    rendered, expected = dict(vwc["webhooks"][0]), dict(ours["webhooks"][0])
    client_config = rendered.pop("clientConfig")
    expected.pop("clientConfig")
    assert rendered == expected  # one rule set: the chart and the operator agree
    assert client_config["service"] == {
        "name": "dpfhcp-webhook",
        "namespace": "dpf-hcp-provisioner-system",
        "path": webhook.PATH,
    }
    ca = x509.load_pem_x509_certificate(base64.b64decode(client_config["caBundle"]))
    cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    cert.verify_directly_issued_by(ca)
    names = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    assert "dpfhcp-webhook.dpf-hcp-provisioner-system.svc" in names.get_values_for_type(x509.DNSName)


def test_cert_manager_option_injects_the_ca(helm):
    objs = render(helm, "--set", "webhook.certificate=certManager")
    vwc = objs[("ValidatingWebhookConfiguration", "dpf-hcp-provisioner")]
    assert (
        vwc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == "dpf-hcp-provisioner-system/dpfhcp-webhook"
    )
    assert "caBundle" not in vwc["webhooks"][0]["clientConfig"]
    assert objs[("Certificate", "dpfhcp-webhook")]["spec"]["secretName"] == "dpfhcp-webhook-tls"
    assert ("Issuer", "dpfhcp-webhook-selfsigned") in objs
    assert ("Secret", "dpfhcp-webhook-tls") not in objs


def test_placement_targets_and_a_bad_one(helm):
    master = render(helm)[("Deployment", "dpfhcp")]["spec"]["template"]["spec"]
    assert master["nodeSelector"] == {"node-role.kubernetes.io/master": ""}
    worker = render(helm, "--set", "placement.target=worker")[("Deployment", "dpfhcp")]["spec"]["template"]["spec"]
    assert worker["nodeSelector"] == {"node-role.kubernetes.io/worker": ""}
    custom = render(helm, "--set", "placement.target=custom", "--set", "nodeSelector.zone=a")[("Deployment", "dpfhcp")][
        "spec"
    ]["template"]["spec"]
    assert custom["nodeSelector"] == {"zone": "a"}
    bad = refused(helm, "--set", "placement.target=everywhere")
    assert 'placement.target: placement.target must be one of the following: "master", "worker", "custom"' in bad.stderr


def test_rendered_objects_are_accepted_by_the_api_server(helm, mgmt):
    """Server-side dry run of every rendered object (cert-manager's kinds are not installed here)."""
    for (kind, name), obj in render(helm, "--set-string", "blueFieldImages.4\\.19\\.0=quay.io/x/bf:4.19").items():
        res = mgmt.resource(obj["apiVersion"], obj["kind"])
        try:
            mgmt.create(res, obj, namespace=obj["metadata"].get("namespace"), dry_run=True)
        except ApiError as exc:
            if exc.conflict:  # exists already (e.g. the namespace's ConfigMap): an update must validate too
                mgmt.patch(
                    res,
                    name,
                    obj,
                    obj["metadata"].get("namespace"),
                    kind="apply",
                    dry_run=True,
                    field_manager="chart-test",
                    force=True,
                )
            else:
                raise AssertionError(f"{kind}/{name} refused: {exc}") from exc


def test_chart_crd_is_the_one_source():
    from dpf_hcp_dev.localcluster.environment import OUR_CRDS

    assert [p.name for p in (CHART / "crds").glob("*.yaml")] == ["provisioning.dpu.hcp.io_dpfhcpprovisioners.yaml"]
    assert OUR_CRDS == CHART / "crds"  # the tests and the demo install it from the chart


def leaf_keys(values: dict, prefix: str = "") -> list[str]:
    keys = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        keys += leaf_keys(value, f"{path}.") if isinstance(value, dict) and value else [path]
    return keys


def test_the_chart_readme_documents_every_value():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    readme = (CHART / "README.md").read_text()
    missing = [key for key in leaf_keys(values) if f"| `{key}` |" not in readme]
    assert not missing, f"helm/dpf-hcp-provisioner-operator/README.md lacks {missing}"


def test_graceful_shutdown_gives_the_pod_ten_seconds_more_and_a_bad_value_is_refused(helm):
    pod = render(helm, "--set", "gracefulShutdownTimeoutSeconds=40")[("Deployment", "dpfhcp")]["spec"]["template"]
    assert pod["spec"]["terminationGracePeriodSeconds"] == 50
    assert "--graceful-shutdown-timeout=40" in pod["spec"]["containers"][0]["args"]
    bad = refused(helm, "--set", "gracefulShutdownTimeoutSeconds=soon")
    assert "gracefulShutdownTimeoutSeconds: Invalid type. Expected: integer, given: string" in bad.stderr


def test_the_run_deadline_reaches_the_operator_and_a_bad_value_is_refused(helm):
    args = render(helm)[("Deployment", "dpfhcp")]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--run-deadline=600" in args
    args = render(helm, "--set", "runDeadlineSeconds=0")[("Deployment", "dpfhcp")]["spec"]["template"]["spec"]
    assert "--run-deadline=0" in args["containers"][0]["args"]
    bad = refused(helm, "--set", "runDeadlineSeconds=-5")
    assert "runDeadlineSeconds: Must be greater than or equal to 0" in bad.stderr


def test_max_forks_reaches_the_operator_and_a_bad_value_is_refused(helm):
    args = render(helm)[("Deployment", "dpfhcp")]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--max-forks=0" in args  # from the memory limit
    args = render(helm, "--set", "maxForks=8")[("Deployment", "dpfhcp")]["spec"]["template"]["spec"]
    assert "--max-forks=8" in args["containers"][0]["args"]
    bad = refused(helm, "--set", "maxForks=-1")
    assert "maxForks: Must be greater than or equal to 0" in bad.stderr


def test_all_namespaces_grant_only_the_verbs_the_code_uses(helm):
    docs = documents(helm)
    cluster_role = next(d for d in docs if d["kind"] == "ClusterRole")
    assert grants(cluster_role["rules"]) == {**CLUSTER_SCOPED, **NAMESPACED}
    roles = {
        (d["metadata"]["namespace"], d["metadata"]["name"]): grants(d["rules"]) for d in docs if d["kind"] == "Role"
    }
    assert roles == {
        ("dpf-hcp-provisioner-system", "dpfhcp-leader-election"): {
            "coordination.k8s.io/leases": ["get", "create", "update"]
        },
        ("dpf-hcp-provisioner-system", "dpfhcp-bluefield-images"): {
            "/configmaps#ocp-bluefield-images": ["get", "list", "watch"]
        },
        ("metallb-system", "dpfhcp-metallb"): {
            "metallb.io/ipaddresspools": ["get", "list", "create", "patch", "delete"],
            "metallb.io/l2advertisements": ["get", "list", "create", "patch", "delete"],
        },
        ("dpf-operator-system", "dpfhcp-dpf"): {"/configmaps": ["get", "list", "watch", "create", "patch", "delete"]},
    }
    bindings = {(d["metadata"].get("namespace"), d["roleRef"]["name"]) for d in docs if d["kind"].endswith("Binding")}
    assert bindings == {(None, "dpfhcp"), *((ns, name) for ns, name in roles)}
    args = render(helm)[("Deployment", "dpfhcp")]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert parse(args).watch_namespaces == ()


def test_watch_namespaces_move_every_namespaced_rule_into_roles_there(helm):
    docs = documents(helm, "--set", "watchNamespaces={tenant-a,dpf-system}", "--set", "metallbNamespace=")
    cluster_role = next(d for d in docs if d["kind"] == "ClusterRole")
    assert grants(cluster_role["rules"]) == CLUSTER_SCOPED
    watched = {
        d["metadata"]["namespace"]: grants(d["rules"])
        for d in docs
        if d["kind"] == "Role" and d["metadata"]["name"] == "dpfhcp-watched"
    }
    assert watched == {"tenant-a": NAMESPACED, "dpf-system": NAMESPACED}
    assert {d["metadata"]["namespace"] for d in docs if d["kind"] == "RoleBinding"} == {
        "tenant-a",
        "dpf-system",
        "dpf-hcp-provisioner-system",
        "dpf-operator-system",  # DPF's: the bf.cfg templates
    }
    assert not [d for d in docs if "metallb" in d["metadata"]["name"]]
    args = render(helm, "--set", "watchNamespaces={tenant-a,dpf-system}")[("Deployment", "dpfhcp")]
    config = parse(args["spec"]["template"]["spec"]["containers"][0]["args"])
    assert config.watch_namespaces == ("tenant-a", "dpf-system")  # the operator lists and watches there alone


def test_a_bad_watch_namespace_or_metallb_namespace_is_refused(helm):
    bad = refused(helm, "--set", "watchNamespaces={tenant-a,Tenant_A}")
    assert "watchNamespaces.1: Does not match pattern" in bad.stderr
    bad = refused(helm, "--set", "metallbNamespace=MetalLB")
    assert "metallbNamespace: Does not match pattern" in bad.stderr
    bad = refused(helm, "--set", "dpfOperatorNamespace=DPF_System")
    assert "dpfOperatorNamespace: Does not match pattern" in bad.stderr


def test_every_rbac_rule_says_why():
    """Each rule in the chart's RBAC templates comes right after a comment saying what uses it."""
    for template in ("rbac.yaml", "_helpers.tpl"):
        lines = (CHART / "templates" / template).read_text().splitlines()
        for i, line in enumerate(lines):
            if line.strip().startswith("- apiGroups:"):
                assert lines[i - 1].strip().startswith("#"), f"{template}:{i + 1}: a rule without a comment saying why"


def test_allowed_release_repositories_reach_the_operator_and_an_empty_list_is_refused(helm):
    """Only the administrator decides which release payloads HyperShift may run: a chart value, passed as
    the operator's --allowed-release-repositories (the webhook's and the validate role's list)."""
    args = render(helm)[("Deployment", "dpfhcp")]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert parse(args).allowed_release_repositories == (
        "quay.io/openshift-release-dev/ocp-release",
        "quay.io/openshift-release-dev/ocp-v4.0-art-dev",
    )
    mirror = render(helm, "--set", "allowedReleaseRepositories={registry.example.com:5000/ocp/release}")
    args = mirror[("Deployment", "dpfhcp")]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert parse(args).allowed_release_repositories == ("registry.example.com:5000/ocp/release",)
    bad = refused(helm, "--set", "allowedReleaseRepositories=null")
    assert "(root): allowedReleaseRepositories is required" in bad.stderr
    bad = refused(helm, "--set-json", "allowedReleaseRepositories=[]")
    assert "allowedReleaseRepositories: Array must have at least 1 items" in bad.stderr
    bad = refused(helm, "--set", "allowedReleaseRepositories={quay.io/ocp/release:4.19.0}")
    assert "allowedReleaseRepositories.0: Does not match pattern" in bad.stderr


def test_disabled_capabilities_and_the_metallb_switch_reach_the_operator(helm):
    """disabledCapabilities becomes --disabled-capabilities ([] disables none), manageMetalLB
    --manage-metallb or --no-manage-metallb; a capability HyperShift does not know is refused."""

    def config(*args: str):
        rendered = render(helm, *args)
        return parse(rendered[("Deployment", "dpfhcp")]["spec"]["template"]["spec"]["containers"][0]["args"])

    default = config()
    assert default.disabled_capabilities == (
        "ImageRegistry",
        "Insights",
        "Console",
        "openshift-samples",
        "Ingress",
        "NodeTuning",
    )
    assert default.manage_metallb is True
    assert config("--set-json", "disabledCapabilities=[]").disabled_capabilities == ()
    assert config("--set", "manageMetalLB=false").manage_metallb is False
    bad = refused(helm, "--set", "disabledCapabilities={Monitoring}")
    assert "disabledCapabilities.0" in bad.stderr


def test_everything_goes_into_the_release_namespace(helm):
    """`helm install -n other` puts the operator, its objects, the webhook's Service reference, the RBAC
    subjects and the operator's own --operator-namespace in `other`."""
    docs = documents(helm, "--namespace", "other", "--set", "webhook.certificate=certManager")
    cluster_scoped = {"ClusterRole", "ClusterRoleBinding", "ValidatingWebhookConfiguration"}
    elsewhere = {  # in metallbNamespace and dpfOperatorNamespace
        ("Role", "dpfhcp-metallb"),
        ("RoleBinding", "dpfhcp-metallb"),
        ("Role", "dpfhcp-dpf"),
        ("RoleBinding", "dpfhcp-dpf"),
    }
    for d in docs:
        if d["kind"] not in cluster_scoped and (d["kind"], d["metadata"]["name"]) not in elsewhere:
            assert d["metadata"]["namespace"] == "other", (d["kind"], d["metadata"]["name"])
        for subject in d.get("subjects", []):
            assert subject["namespace"] == "other", (d["kind"], d["metadata"]["name"])
    objs = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    vwc = objs[("ValidatingWebhookConfiguration", "dpf-hcp-provisioner")]
    assert vwc["webhooks"][0]["clientConfig"]["service"]["namespace"] == "other"
    assert vwc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == "other/dpfhcp-webhook"
    assert objs[("Certificate", "dpfhcp-webhook")]["spec"]["dnsNames"][0] == "dpfhcp-webhook.other.svc"
    args = objs[("Deployment", "dpfhcp")]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert parse(args).operator_namespace == "other"
    secret = render(helm, "--namespace", "other")[("Secret", "dpfhcp-webhook-tls")]
    cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    names = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    assert "dpfhcp-webhook.other.svc" in names.get_values_for_type(x509.DNSName)


SCHEMA = CHART / "values.schema.json"


def schema_of(schema: dict, path: str) -> dict | None:
    """The part of the values schema that says what ``path`` (a leaf_keys path) may be."""
    for key in path.split("."):
        schema = schema.get("properties", {}).get(key)
        if schema is None:
            return None
    return schema


def test_the_values_schema_describes_every_value_and_closes_known_shapes():
    """values.schema.json (draft-07, as Helm 3 validates) has a typed, described entry for every leaf of
    values.yaml, and every object whose keys are known allows no other."""
    schema = json.loads(SCHEMA.read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    undescribed = [k for k in leaf_keys(values) if not (schema_of(schema, k) or {}).get("description")]
    assert not undescribed, f"values.schema.json lacks {undescribed}"
    untyped = [k for k in leaf_keys(values) if "type" not in schema_of(schema, k)]
    assert not untyped, untyped

    def open_objects(node: dict, path: str) -> list[str]:
        # Known keys and nothing else, or known keys beside a typed map (resources' other quantities).
        found = [path] if "properties" in node and node.get("additionalProperties", True) is True else []
        for key, child in node.get("properties", {}).items():
            found += open_objects(child, f"{path}.{key}")
        return found

    assert open_objects(schema, "(root)") == []

    def undescribed_properties(node: dict, path: str) -> list[str]:
        found = []
        for key, child in node.get("properties", {}).items():
            found += [] if child.get("description") else [f"{path}.{key}"]
            found += undescribed_properties(child, f"{path}.{key}")
        items = node.get("items")
        return found + (undescribed_properties(items, f"{path}[]") if isinstance(items, dict) else [])

    assert undescribed_properties(schema, "(root)") == []  # nested shapes (tolerations, issuerRef) too
    # The BlueField map's keys are OCP versions as the validate role reads them.
    assert schema["properties"]["blueFieldImages"]["propertyNames"]["pattern"] == VERSION.pattern


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "replicas=2"], "(root): Additional property replicas is not allowed"),
        (["--set", "namespace=ops"], "(root): Additional property namespace is not allowed"),  # gone: use -n
        (
            ["--set", "image.pullPolicy=Sometimes"],
            'image.pullPolicy: image.pullPolicy must be one of the following: "Always"',
        ),
        (["--set", "image.tag=2"], "image.tag: Invalid type. Expected: string, given: integer"),
        (["--set", "image.repository=Quay.io/x/Y"], "image.repository: Does not match pattern"),
        (["--set", "image.registry=quay.io"], "image: Additional property registry is not allowed"),
        (["--set", "replicaCount=0"], "replicaCount: Must be greater than or equal to 1"),
        (["--set", "logLevel=warn"], 'logLevel: logLevel must be one of the following: "debug", "info", "error"'),
        (["--set", "leaderElection.enabled=maybe"], "leaderElection.enabled: Invalid type. Expected: boolean"),
        (["--set", "healthProbe.port=70000"], "healthProbe.port: Must be less than or equal to 65535"),
        (["--set", "healthProbe.livenessProbe.periodSeconds=0"], "healthProbe.livenessProbe.periodSeconds: Must be"),
        (["--set", "metrics.port=http"], "metrics.port: Invalid type. Expected: integer, given: string"),
        (["--set", "webhook.timeoutSeconds=31"], "webhook.timeoutSeconds: Must be less than or equal to 30"),
        (
            ["--set", "webhook.certificate=acme"],
            "webhook.certificate: webhook.certificate must be one of the following",
        ),
        (
            ["--set", "webhook.certManager.issuerRef.kind=ClusterIssuer"],
            "webhook.certManager.issuerRef: Has a dependency",
        ),
        (["--set", "resources.limits.cpu=lots"], "resources.limits.cpu: Does not match pattern"),
        (["--set", "serviceAccount.name=Operator_SA"], "serviceAccount.name: Does not match pattern"),
        (["--set", "tolerations[0].operator=Maybe"], "tolerations.0.operator: tolerations.0.operator must be one of"),
        (
            ["--set-string", "blueFieldImages.latest=quay.io/x/bf:1"],
            'blueFieldImages: Property name of "latest" does not match',
        ),
        (["--set-string", "blueFieldImages.4\\.19\\.0=not an image"], "blueFieldImages.4.19.0: Does not match pattern"),
        (["--set", "commonLabels.team=a b"], "commonLabels.team: Does not match pattern"),
    ],
)
def test_a_bad_value_is_refused_by_the_schema_naming_it(helm, args, message):
    bad = refused(helm, *args)
    assert "values don't meet the specifications of the schema" in bad.stderr
    assert message in bad.stderr, bad.stderr


def test_the_development_and_production_presets_fit_the_schema(helm):
    for preset in ("values-development.yaml", "values-production.yaml"):
        result = subprocess.run(
            [helm, "lint", "--strict", str(CHART), "-f", str(CHART / preset)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_default_image_is_the_projects_and_pulled_if_not_present(helm):
    container = render(helm)[("Deployment", "dpfhcp")]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "quay.io/dpf-hcp/dpf-hcp-provisioner-operator:v0.1.0"
    assert container["imagePullPolicy"] == "IfNotPresent"
    mirror = render(helm, "--set", "image.repository=registry.example.com:5000/dpf/op", "--set-string", "image.tag=1.2")
    container = mirror[("Deployment", "dpfhcp")]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example.com:5000/dpf/op:1.2"


def test_a_disruption_budget_only_with_more_than_one_replica(helm):
    assert not [k for k in render(helm) if k[0] == "PodDisruptionBudget"]
    objs = render(helm, "-f", str(CHART / "values-production.yaml"))  # 2 replicas
    pdb = objs[("PodDisruptionBudget", "dpfhcp")]
    deployment = objs[("Deployment", "dpfhcp")]
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["metadata"]["namespace"] == NAMESPACE
    assert pdb["spec"] == {"minAvailable": 1, "selector": deployment["spec"]["selector"]}


def test_the_helm_test_checks_readyz_and_the_webhook_over_verified_https(helm):
    objs = render(helm)
    pod = objs[("Pod", "dpfhcp-test")]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["metadata"]["namespace"] == NAMESPACE
    selector = objs[("Deployment", "dpfhcp")]["spec"]["selector"]["matchLabels"]
    assert not selector.items() <= pod["metadata"]["labels"].items()  # no Service routes to it
    assert pod["spec"]["automountServiceAccountToken"] is False
    container = pod["spec"]["containers"][0]
    assert container["image"] == "quay.io/dpf-hcp/dpf-hcp-provisioner-operator:v0.1.0"  # the operator's, by default
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["READYZ_URL"] == f"http://dpfhcp-metrics.{NAMESPACE}.svc:8081/readyz"
    metrics = objs[("Service", "dpfhcp-metrics")]["spec"]["ports"]
    assert {"name": "health", "port": 8081, "targetPort": "health"} in metrics
    assert env["WEBHOOK_URL"] == f"https://dpfhcp-webhook.{NAMESPACE}.svc:443{webhook.PATH}"
    assert pod["spec"]["volumes"][0]["secret"] == {
        "secretName": "dpfhcp-webhook-tls",
        "items": [{"key": "ca.crt", "path": "ca.crt"}],  # the CA, never the key
    }
    script = container["args"][0]
    assert 'cafile="/etc/dpf-hcp-test/ca.crt"' in script
    assert "exc.code != 400" in script
    compile(script, "helm-test", "exec")  # the script is Python
    other = render(
        helm, "--set", "tests.image.repository=docker.io/library/python", "--set-string", "tests.image.tag=3.12"
    )
    assert other[("Pod", "dpfhcp-test")]["spec"]["containers"][0]["image"] == "docker.io/library/python:3.12"
    off = render(helm, "--set", "webhook.enabled=false")[("Pod", "dpfhcp-test")]
    assert "WEBHOOK_URL" not in {e["name"] for e in off["spec"]["containers"][0]["env"]}
    assert "volumes" not in off["spec"]


def test_service_monitor_and_prometheus_rule_are_off_by_default(helm):
    kinds = {kind for kind, _ in render(helm)}
    assert not kinds & {"ServiceMonitor", "PrometheusRule"}


def reported_metrics() -> set[str]:
    """The sample names the operator's metrics module registers (counters end in _total)."""
    from prometheus_client import Counter, Gauge, Histogram

    from dpf_hcp_operator import metrics

    names = set()
    for metric in vars(metrics).values():
        if isinstance(metric, Counter):
            names.add(f"{metric._name}_total")
        elif isinstance(metric, Gauge | Histogram):
            names.add(metric._name)
    return names


def test_service_monitor_scrapes_the_metrics_service_and_the_rules_use_real_metrics(helm):
    objs = render(
        helm,
        *("--set", "serviceMonitor.enabled=true", "--set", "serviceMonitor.labels.release=prometheus"),
        *("--set", "prometheusRule.enabled=true"),
    )
    monitor, rule = objs[("ServiceMonitor", "dpfhcp")], objs[("PrometheusRule", "dpfhcp")]
    assert monitor["apiVersion"] == rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    service = objs[("Service", "dpfhcp-metrics")]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    webhook_service = objs[("Service", "dpfhcp-webhook")]
    assert not monitor["spec"]["selector"]["matchLabels"].items() <= webhook_service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert {"name": "metrics", "port": 8080, "targetPort": "metrics"} in service["spec"]["ports"]

    rules = {r["alert"]: r for r in rule["spec"]["groups"][0]["rules"]}
    assert set(rules) == {
        "DPFHCPProvisionerNotReady",
        "DPFHCPProvisionerCSRsRefused",
        "DPFHCPProvisionerReconcileErrors",
        "DPFHCPProvisionerLeaseLost",
    }
    assert rules["DPFHCPProvisionerNotReady"]["for"] == "30m"
    assert 'result="refused"' in rules["DPFHCPProvisionerCSRsRefused"]["expr"]
    assert 'name="dpf-hcp-provisioner-leader"' in rules["DPFHCPProvisionerLeaseLost"]["expr"]
    assert parse([]).leader_election_id == "dpf-hcp-provisioner-leader"  # the Lease the chart's operator takes
    reported = reported_metrics()
    for name, r in rules.items():
        used = set(re.findall(r"([a-z_]+)\{", r["expr"]))
        assert used and used <= reported, f"{name} uses metrics the operator does not report: {used - reported}"
        assert f'namespace="{NAMESPACE}"' in r["expr"]
        assert "{{ $labels." in r["annotations"]["description"]  # Prometheus templates, not Helm's
    assert 'kind="DPFHCPProvisioner"' in rules["DPFHCPProvisionerNotReady"]["expr"]  # watches.yaml's kind
    assert 'controller="dpfhcpprovisioner"' in rules["DPFHCPProvisionerReconcileErrors"]["expr"]

    no_lease = render(helm, "--set", "prometheusRule.enabled=true", "--set", "leaderElection.enabled=false")
    alerts = {r["alert"] for r in no_lease[("PrometheusRule", "dpfhcp")]["spec"]["groups"][0]["rules"]}
    assert "DPFHCPProvisionerLeaseLost" not in alerts
