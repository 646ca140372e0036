"""The validating webhook, through the real API server: bad input is refused before it is stored,
with a message naming the field, the value and what is accepted; good input passes; the webhook
being unreachable makes writes fail closed."""

from __future__ import annotations

import copy
import json
import socket
import ssl
import urllib.request
from dataclasses import dataclass

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.apply import apply
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import NAMESPACE, VALIDATING_WEBHOOK
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import HOSTED_CLUSTER, PROVISIONER
from dpf_hcp_operator import webhook
from support import (
    condition,
    dpucluster,
    namespace,
    provisioner_body,
    run_playbook,
    secrets,
    someone_elses_hosted_cluster,
    unique,
    wait_for,
)

SELECTOR = {"matchLabels": {"dpfhcp-test/webhook": "on"}}  # this module's objects only; see conftest
CANARY = "{{ lookup('ansible.builtin.pipe', 'touch pwned') }}"
EVIL_RELEASE = "evil.attacker.example/not-ocp/payload:4.19.0-ec.5-x86_64"  # 4.19.0-ec.5 is mapped


@pytest.fixture(scope="module")
def admission(mgmt, operator):
    """The webhook configuration, pointing at the session operator's webhook."""
    apply(mgmt, operator.process.webhook_configuration(SELECTOR))
    ns = namespace(mgmt, unique("adm"))
    dpu_ns = namespace(mgmt, unique("adm-dpus"))
    secrets(mgmt, ns)
    dpucluster(mgmt, dpu_ns, "dpucluster")
    dpucluster(mgmt, dpu_ns, "kamaji", cluster_type="kamaji")
    dpucluster(mgmt, dpu_ns, "taken")
    holder = provisioner_body(ns, "holder", dpu_ns, "taken")
    holder["metadata"]["labels"] = dict(SELECTOR["matchLabels"])
    # The admission path can be slow to notice a new configuration: wait until it answers.
    wait_for("the webhook to be consulted", lambda: _try_create(mgmt, holder), timeout=30)
    yield ns, dpu_ns
    mgmt.delete(VALIDATING_WEBHOOK, "dpf-hcp-provisioner")


def _try_create(mgmt, body):
    try:
        return mgmt.create(PROVISIONER, body, dry_run=True) and mgmt.create(PROVISIONER, body)
    except ApiError:
        return None


def body(ns, dpu_ns, name="p", **spec):
    b = provisioner_body(ns, name, dpu_ns, "dpucluster")
    b["metadata"]["labels"] = dict(SELECTOR["matchLabels"])
    b["spec"].update(spec)
    return b


def without(b, *path):
    b = copy.deepcopy(b)
    node = b["spec"]
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return b


def refused(mgmt, b, field):
    """Refused by the API server, by the CRD's schema (checked first) or by the webhook; the message names
    the field either way. Returns the message and whether the webhook gave it."""
    with pytest.raises(ApiError) as err:
        mgmt.create(PROVISIONER, b)
    message = err.value.message
    assert field in message, (field, message)
    return message, 'admission webhook "vdpfhcpprovisioner.provisioning.dpu.hcp.io" denied the request' in message


ADMIN = {"username": "admin", "uid": "uid-admin", "groups": ["system:masters", "system:authenticated"]}


def review(operator, obj, old=None):
    """Ask the webhook directly, over HTTPS verified against its CA, as the API server does (for the admin)."""
    request = {
        "uid": "test",
        "operation": "UPDATE" if old else "CREATE",
        "kind": {"kind": "DPFHCPProvisioner"},
        "namespace": obj["metadata"]["namespace"],
        "userInfo": ADMIN,
        "object": obj,
        **({"oldObject": old} if old else {}),
    }
    data = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}).encode()
    context = ssl.create_default_context(cafile=str(operator.process.webhook_ca))
    url = f"https://127.0.0.1:{operator.process.webhook_port}{webhook.PATH}"
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=context, timeout=5) as resp:  # noqa: S310
        return json.loads(resp.read())["response"]


CREATE_CORPUS = [
    # (id, how to break the valid body, fragments the message must carry)
    ("no-baseDomain", lambda b: without(b, "baseDomain"), ["spec.baseDomain: is required"]),
    ("no-dpuClusterRef", lambda b: without(b, "dpuClusterRef"), ["spec.dpuClusterRef: is required"]),
    ("no-release", lambda b: without(b, "ocpReleaseImage"), ["spec.ocpReleaseImage: is required"]),
    ("no-pullSecretRef", lambda b: without(b, "pullSecretRef"), ["spec.pullSecretRef: is required"]),
    ("no-sshKeySecretRef", lambda b: without(b, "sshKeySecretRef"), ["spec.sshKeySecretRef: is required"]),
    (
        "baseDomain-not-dns",
        lambda b: {**b, "spec": {**b["spec"], "baseDomain": "Not_A_Domain"}},
        ["spec.baseDomain", "'Not_A_Domain'", "DNS name"],
    ),
    ("baseDomain-too-short", lambda b: {**b, "spec": {**b["spec"], "baseDomain": "a.b"}}, ["spec.baseDomain", "'a.b'"]),
    (
        "virtualIP-not-ip",
        lambda b: {**b, "spec": {**b["spec"], "virtualIP": "300.1.1.1"}},
        ["spec.virtualIP", "'300.1.1.1'", "IPv4 or IPv6"],
    ),
    (
        "release-no-tag",
        lambda b: {**b, "spec": {**b["spec"], "ocpReleaseImage": "quay.io/ocp/release"}},
        ["spec.ocpReleaseImage", "'quay.io/ocp/release'", "tag or digest"],
    ),
    (
        "release-garbage",
        lambda b: {**b, "spec": {**b["spec"], "ocpReleaseImage": "not an image!"}},
        ["spec.ocpReleaseImage", "'not an image!'"],
    ),
    (
        # The tenant's own payload, of a mapped version: HyperShift would run its operators in the
        # management cluster. Only the administrator's allowedReleaseRepositories may be used.
        "release-evil-repository",
        lambda b: {**b, "spec": {**b["spec"], "ocpReleaseImage": EVIL_RELEASE}},
        [
            "spec.ocpReleaseImage",
            repr(EVIL_RELEASE),
            "not an allowed release repository",
            "quay.io/openshift-release-dev/ocp-release, quay.io/openshift-release-dev/ocp-v4.0-art-dev",
            "allowedReleaseRepositories",
        ],
    ),
    (
        "policy-enum",
        lambda b: {**b, "spec": {**b["spec"], "controlPlaneAvailabilityPolicy": "Sometimes"}},
        ["spec.controlPlaneAvailabilityPolicy", "'Sometimes'", "SingleReplica"],
    ),
    (
        "infra-policy-enum",
        lambda b: {**b, "spec": {**b["spec"], "infrastructureAvailabilityPolicy": "Always"}},
        ["spec.infrastructureAvailabilityPolicy", "'Always'"],
    ),
    (
        "ha-without-vip",
        lambda b: without(b, "virtualIP"),
        ["spec.virtualIP: is required when spec.controlPlaneAvailabilityPolicy is HighlyAvailable"],
    ),
    (
        "dpuClusterRef-bad-name",
        lambda b: {**b, "spec": {**b["spec"], "dpuClusterRef": {"name": "Bad_Name", "namespace": "x"}}},
        ["spec.dpuClusterRef.name", "'Bad_Name'"],
    ),
    (
        "dpuClusterRef-no-namespace",
        lambda b: {**b, "spec": {**b["spec"], "dpuClusterRef": {"name": "x"}}},
        ["spec.dpuClusterRef.namespace", "None"],
    ),
    (
        "pullSecretRef-empty-name",
        lambda b: {**b, "spec": {**b["spec"], "pullSecretRef": {"name": ""}}},
        ["spec.pullSecretRef.name", "''"],
    ),
    (
        "networking-not-cidr",
        lambda b: {**b, "spec": {**b["spec"], "networking": {"serviceNetwork": "10.0.0.0/99"}}},
        ["spec.networking.serviceNetwork", "'10.0.0.0/99'", "CIDR"],
    ),
    (
        "too-many-node-selector-keys",
        lambda b: {**b, "spec": {**b["spec"], "nodeSelector": {f"k{i}": "v" for i in range(21)}}},
        ["spec.nodeSelector", "at most 20"],
    ),
    (
        "nodeSelector-key-not-a-label",
        lambda b: {**b, "spec": {**b["spec"], "nodeSelector": {"bad key!": "x"}}},
        ["spec.nodeSelector", "key 'bad key!' is not a label key", "node-role.kubernetes.io/infra"],
    ),
    (
        "nodeSelector-key-two-slashes",
        lambda b: {**b, "spec": {**b["spec"], "nodeSelector": {"a.io/b/c": "x"}}},
        ["spec.nodeSelector", "'a.io/b/c'", "more than one '/'"],
    ),
    (
        "nodeSelector-value-template",
        lambda b: {**b, "spec": {**b["spec"], "nodeSelector": {"zone": CANARY}}},
        ["spec.nodeSelector", "is not a label value", "'zone'"],
    ),
    (
        "nodeSelector-value-too-long",
        lambda b: {**b, "spec": {**b["spec"], "nodeSelector": {"zone": "v" * 64}}},
        ["spec.nodeSelector", "has 64 characters, more than 63"],
    ),
    (
        "etcdStorageClass-not-dns",
        lambda b: {**b, "spec": {**b["spec"], "etcdStorageClass": "Fast_SSD"}},
        ["spec.etcdStorageClass", "'Fast_SSD'", "is not a StorageClass name", "DNS subdomain"],
    ),
    (
        "etcdStorageClass-template",
        lambda b: {**b, "spec": {**b["spec"], "etcdStorageClass": CANARY}},
        ["spec.etcdStorageClass", "is not a StorageClass name"],
    ),
    (
        "machineOSURL-not-an-image",
        lambda b: {**b, "spec": {**b["spec"], "machineOSURL": "https://example.com/os.img"}},
        ["spec.machineOSURL", "'https://example.com/os.img'", "is not an image reference", "[registry[:port]/]"],
    ),
    (
        "machineOSURL-template",
        lambda b: {**b, "spec": {**b["spec"], "machineOSURL": "quay.io/os:" + CANARY}},
        ["spec.machineOSURL", "is not an image reference"],
    ),
    (
        "machineOSURL-uppercase",
        lambda b: {**b, "spec": {**b["spec"], "machineOSURL": "quay.io/Example/os:1"}},
        ["spec.machineOSURL", "'quay.io/Example/os:1'", "must be lowercase"],
    ),
    (
        "machineOSURL-short-digest",
        lambda b: {**b, "spec": {**b["spec"], "machineOSURL": "quay.io/example/os@sha256:" + "a" * 32}},
        ["spec.machineOSURL", "is not an image reference", "sha256 digest that is not 64 lowercase hex digits"],
    ),
    (
        "machineOSURL-long-repository",
        lambda b: {**b, "spec": {**b["spec"], "machineOSURL": "quay.io/" + "p" * 256 + ":1"}},
        ["spec.machineOSURL", "repository name of 256 characters, more than 255"],
    ),
    (
        "unmapped-version",
        lambda b: {
            **b,
            "spec": {**b["spec"], "ocpReleaseImage": "quay.io/openshift-release-dev/ocp-release:4.55.0-x86_64"},
        },
        ["spec.ocpReleaseImage", "4.55.0", "ocp-bluefield-images", "4.18.0, 4.19.0-ec.5", "BlueFieldImageResolved"],
    ),
    (
        "capabilities-ingress-without-console",
        lambda b: {**b, "spec": {**b["spec"], "capabilities": {"disabled": ["Ingress"]}}},
        ["spec.capabilities.disabled", "disables Ingress without Console", "disable Console too"],
    ),
    (
        "capabilities-too-new-for-the-release",
        lambda b: {**b, "spec": {**b["spec"], "capabilities": {"disabled": ["ImageRegistry", "Insights"]}}},
        ["spec.capabilities.disabled", "Insights", "4.19.0-ec.5 cannot (4.20 and later only)", "4.20 or later release"],
    ),
    (
        "kamaji-dpucluster",
        lambda b: {**b, "spec": {**b["spec"], "dpuClusterRef": {**b["spec"]["dpuClusterRef"], "name": "kamaji"}}},
        ["spec.dpuClusterRef", "'kamaji'", "'static'"],
    ),
    (
        "dpucluster-in-use",
        lambda b: {**b, "spec": {**b["spec"], "dpuClusterRef": {**b["spec"]["dpuClusterRef"], "name": "taken"}}},
        ["spec.dpuClusterRef", "already used by DPFHCPProvisioner", "/holder"],
    ),
]


@pytest.mark.parametrize(("case", "breaker", "fragments"), CREATE_CORPUS, ids=[c[0] for c in CREATE_CORPUS])
def test_bad_object_is_refused_with_field_value_and_fix(mgmt, operator, admission, case, breaker, fragments):
    ns, dpu_ns = admission
    bad = breaker(body(ns, dpu_ns, name=f"bad-{case.lower()}"))
    field = fragments[0].split(":")[0]
    message, by_webhook = refused(mgmt, bad, field)
    assert mgmt.get_or_none(PROVISIONER, bad["metadata"]["name"], ns) is None  # nothing was stored
    if by_webhook:
        for fragment in fragments:
            assert fragment in message, (fragment, message)
    # The webhook refuses it on its own too (it is what enforces the rules where the schema cannot).
    answer = review(operator, bad)
    assert answer["allowed"] is False
    for fragment in fragments:
        assert fragment in answer["status"]["message"], (fragment, answer["status"]["message"])


WEBHOOK_ONLY = (
    "nodeSelector-key-not-a-label",  # a 1.20 schema cannot check a map's keys (no propertyNames)
    "nodeSelector-key-two-slashes",
    "machineOSURL-long-repository",  # the repository's length, without its registry
    "ha-without-vip",
    "release-no-tag",
    "release-garbage",
    "release-evil-repository",
    "unmapped-version",
    "kamaji-dpucluster",
    "dpucluster-in-use",
)


def test_rules_the_schema_cannot_express_on_1_20_are_the_webhooks(mgmt, admission):
    """CEL and cross-object rules: here the API server's refusal is the webhook's message."""
    ns, dpu_ns = admission
    for case, breaker, fragments in CREATE_CORPUS:
        if case not in WEBHOOK_ONLY:
            continue
        message, by_webhook = refused(
            mgmt, breaker(body(ns, dpu_ns, name=f"wh-{case.lower()}")), fragments[0].split(":")[0]
        )
        assert by_webhook, (case, message)
        for fragment in fragments:
            assert fragment in message, (case, fragment, message)


SCHEMA_FORMATS = (
    "nodeSelector-value-template",
    "nodeSelector-value-too-long",
    "etcdStorageClass-not-dns",
    "etcdStorageClass-template",
    "machineOSURL-not-an-image",
    "machineOSURL-template",
    "machineOSURL-uppercase",
    "machineOSURL-short-digest",
)


@pytest.mark.parametrize("case", SCHEMA_FORMATS)
def test_the_schema_refuses_bad_formats_without_the_webhook(mgmt, admission, case):
    """Where no webhook answers (this object is outside its objectSelector), the CRD's patterns still refuse
    a nodeSelector value that is not a label value, an etcdStorageClass that is not a DNS subdomain and a
    machineOSURL that is not an image reference, naming the field."""
    ns, dpu_ns = admission
    breaker, fragments = next((c[1], c[2]) for c in CREATE_CORPUS if c[0] == case)
    bad = breaker(body(ns, dpu_ns, name=f"schema-{case.lower()}"))
    del bad["metadata"]["labels"]
    message, by_webhook = refused(mgmt, bad, fragments[0])
    assert not by_webhook, message
    assert "Invalid value" in message or "Too long" in message, message
    assert mgmt.get_or_none(PROVISIONER, bad["metadata"]["name"], ns) is None


IMMUTABLE_CHANGES = [
    ("baseDomain", "other.example.com"),
    ("dpuClusterRef", {"name": "other", "namespace": "elsewhere"}),
    ("pullSecretRef", {"name": "another"}),
    ("sshKeySecretRef", {"name": "another"}),
    ("virtualIP", "192.168.1.200"),
    ("controlPlaneAvailabilityPolicy", "SingleReplica"),
    ("etcdStorageClass", "slow"),
    ("flannelEnabled", False),
    ("capabilities", {"disabled": []}),
]


@pytest.mark.parametrize(("field", "value"), IMMUTABLE_CHANGES, ids=[c[0] for c in IMMUTABLE_CHANGES])
def test_changing_an_immutable_field_is_refused(mgmt, admission, field, value):
    ns, dpu_ns = admission
    name = f"imm-{field.lower()}"
    mgmt.create(PROVISIONER, body(ns, dpu_ns, name=name, dpuClusterRef={"name": name, "namespace": dpu_ns}))
    with pytest.raises(ApiError) as err:
        mgmt.patch(PROVISIONER, name, {"spec": {field: value}}, ns)
    assert 'admission webhook "vdpfhcpprovisioner.provisioning.dpu.hcp.io" denied the request' in err.value.message
    assert f"spec.{field}: is immutable" in err.value.message
    assert "create a new DPFHCPProvisioner" in err.value.message


def test_valid_objects_pass_with_warnings_for_what_comes_later(mgmt, admission):
    ns, dpu_ns = admission
    ok = mgmt.create(
        PROVISIONER,
        body(
            ns,
            dpu_ns,
            name="fine",
            pullSecretRef={"name": "not-yet"},
            dpuClusterRef={"name": "later", "namespace": dpu_ns},
        ),
    )
    assert ok["metadata"]["name"] == "fine"
    # An upgrade to a mapped release and metadata edits pass too.
    mgmt.patch(
        PROVISIONER,
        "fine",
        {"spec": {"ocpReleaseImage": "quay.io/openshift-release-dev/ocp-release:4.18.0-x86_64"}},
        ns,
    )
    mgmt.patch(PROVISIONER, "fine", {"metadata": {"labels": {"team": "edge"}}}, ns)
    reviewer = webhook.Reviewer(mgmt, "dpf-hcp-provisioner-system")
    answer = reviewer.review(
        {
            "uid": "u",
            "operation": "CREATE",
            "kind": {"kind": "DPFHCPProvisioner"},
            "namespace": ns,
            "userInfo": ADMIN,
            "object": body(
                ns,
                dpu_ns,
                name="again",
                pullSecretRef={"name": "not-yet"},
                dpuClusterRef={"name": "later2", "namespace": dpu_ns},
            ),
        }
    )
    assert answer["allowed"] is True
    assert any("secret" in w and "not-yet" in w and "does not exist yet" in w for w in answer["warnings"])
    assert any("DPUCluster" in w and "later2" in w for w in answer["warnings"])


def test_unreachable_webhook_fails_closed_and_recovers(mgmt, admission, operator):
    ns, dpu_ns = admission
    config = operator.process.webhook_configuration(SELECTOR)
    down = copy.deepcopy(config)
    down["webhooks"][0]["clientConfig"]["url"] = "https://127.0.0.1:9/validate-dpfhcpprovisioner"  # nothing there
    apply(mgmt, down)
    try:
        b = body(ns, dpu_ns, name="closed", dpuClusterRef={"name": "closed", "namespace": dpu_ns})
        wait_for("creates to fail closed", lambda: _refused_by_unreachable(mgmt, b), timeout=30)
        assert mgmt.get_or_none(PROVISIONER, "closed", ns) is None
    finally:
        apply(mgmt, config)
    wait_for("creates to pass again", lambda: _try_create(mgmt, b), timeout=30)


def _refused_by_unreachable(mgmt, b):
    try:
        mgmt.create(PROVISIONER, b, dry_run=True)
    except ApiError as exc:
        return "failed calling webhook" in exc.message
    return False


def served_certificate(port: int) -> bytes:
    """The DER certificate the webhook presents now (no verification: we only look at it)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, context.wrap_socket(raw) as tls:
        return tls.getpeercert(binary_form=True)


def test_new_certificate_files_are_served_without_a_restart(mgmt, operator, admission, tmp_path):
    ns, dpu_ns = admission
    port, cert_dir = operator.process.webhook_port, operator.process.webhook_ca.parent
    before = served_certificate(port)
    fresh = tmp_path / "new"
    webhook.ensure_self_signed(fresh, ["127.0.0.1", "localhost"])
    for name in ("tls.key", "tls.crt", "ca.crt"):  # as a Secret volume or cert-manager would renew them
        (cert_dir / name).write_bytes((fresh / name).read_bytes())
    wait_for("the webhook to serve the new certificate", lambda: served_certificate(port) != before, timeout=30)
    apply(mgmt, operator.process.webhook_configuration(SELECTOR))  # caBundle: the new CA
    b = body(ns, dpu_ns, name="after-rotation", dpuClusterRef={"name": "after-rotation", "namespace": dpu_ns})
    wait_for("admission to work with the new certificate", lambda: _try_create(mgmt, b), timeout=30)


# -- References are authority: a DPUCluster of another namespace only for who may update it ----------

TENANT = "intruder"  # a token user of the local control plane: no rights on the management cluster but these
PROVISIONER_EDITOR = [
    {
        "apiGroups": ["provisioning.dpu.hcp.io"],
        "resources": ["dpfhcpprovisioners"],
        "verbs": ["create", "get", "list", "update", "patch", "delete"],
    }
]


def grant(mgmt, ns, name, rules, subject=TENANT, kind="User"):
    """A Role with ``rules`` in ``ns``, bound to one user or group."""
    rbac = "rbac.authorization.k8s.io"
    apply(
        mgmt, {"apiVersion": f"{rbac}/v1", "kind": "Role", "metadata": {"name": name, "namespace": ns}, "rules": rules}
    )
    apply(
        mgmt,
        {
            "apiVersion": f"{rbac}/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": ns},
            "roleRef": {"apiGroup": rbac, "kind": "Role", "name": name},
            "subjects": [{"apiGroup": rbac, "kind": kind, "name": subject}],
        },
    )


def may_update(name):
    return [
        {
            "apiGroups": ["provisioning.dpu.nvidia.com"],
            "resources": ["dpuclusters"],
            "verbs": ["update"],
            "resourceNames": [name],
        }
    ]


@dataclass
class Tenant:
    client: KubeClient  # as the tenant user, through the real API server
    ns: str  # where it may edit DPFHCPProvisioners (its secrets are there)
    other: str  # another team's namespace, with DPUClusters "theirs" and "another"

    def claim(self, name, cluster="theirs", cluster_ns=None):
        b = body(self.ns, self.other, name=name, dpuClusterRef={"name": cluster, "namespace": cluster_ns or self.other})
        return self.client.create(PROVISIONER, b)


@pytest.fixture
def tenant(env, mgmt, admission):
    ns, other = namespace(mgmt, unique("tenant")), namespace(mgmt, unique("team-b"))
    secrets(mgmt, ns)
    for name in ("theirs", "another"):
        dpucluster(mgmt, other, name)
    grant(mgmt, ns, "provisioner-editor", PROVISIONER_EDITOR)
    client = env.client(user=TENANT)
    wait_for("the tenant's own rights", lambda: _answers(lambda: client.list(PROVISIONER, ns)), timeout=10)
    return Tenant(client, ns, other)


def _answers(call):
    try:
        return call() or True
    except ApiError:
        return None


def _last_refusal(tenant):
    """Why a new claim of "theirs" is refused now."""
    try:
        tenant.claim("probe")
    except ApiError as exc:
        return exc.message
    return ""


def _refusal(call):
    with pytest.raises(ApiError) as err:
        call()
    return err.value.message


def test_a_tenant_cannot_claim_a_dpucluster_in_a_namespace_it_may_not_update(mgmt, tenant):
    message = _refusal(lambda: tenant.claim("claim"))
    assert 'admission webhook "vdpfhcpprovisioner.provisioning.dpu.hcp.io" denied the request' in message
    for fragment in (
        "spec.dpuClusterRef",
        f"DPUCluster {tenant.other}/theirs is in namespace {tenant.other}, not {tenant.ns}",
        f"user '{TENANT}' may not update it",
        f"Ask an administrator of namespace {tenant.other} for 'update' on dpuclusters.provisioning.dpu.nvidia.com",
    ):
        assert fragment in message, (fragment, message)
    assert mgmt.get_or_none(PROVISIONER, "claim", tenant.ns) is None
    # Nothing about the other namespace leaks to someone without rights there: a DPUCluster that does not
    # exist is refused in the same words (no "does not exist yet" warning, no type, no other user).
    absent = _refusal(lambda: tenant.claim("probe", cluster="nothing-here"))
    assert absent.replace("nothing-here", "theirs").replace("probe", "claim") == message


def test_a_user_who_may_update_the_dpucluster_is_admitted(mgmt, tenant):
    grant(mgmt, tenant.other, "dpucluster-updater", may_update("theirs"))
    created = wait_for("the claim to be admitted", lambda: _answers(lambda: tenant.claim("granted")), timeout=10)
    assert created["spec"]["dpuClusterRef"] == {"name": "theirs", "namespace": tenant.other}
    # The review names the object: the right on "theirs" is no right on "another".
    assert "spec.dpuClusterRef" in _refusal(lambda: tenant.claim("other-one", cluster="another"))


def test_rights_through_a_group_count(mgmt, tenant):
    """The review carries the requester's groups, not only the name."""
    grant(
        mgmt, tenant.other, "authenticated-update", may_update("another"), subject="system:authenticated", kind="Group"
    )
    wait_for(
        "the claim to be admitted", lambda: _answers(lambda: tenant.claim("by-group", cluster="another")), timeout=10
    )


def test_same_namespace_needs_no_rights_beyond_its_own(mgmt, tenant):
    dpucluster(mgmt, tenant.ns, "own")
    created = tenant.claim("own", cluster="own", cluster_ns=tenant.ns)  # no right on any DPUCluster at all
    assert created["metadata"]["name"] == "own"


def test_an_update_that_keeps_the_reference_is_not_asked_again(mgmt, tenant):
    grant(mgmt, tenant.other, "dpucluster-updater", may_update("theirs"))
    wait_for("the claim to be admitted", lambda: _answers(lambda: tenant.claim("kept")), timeout=10)
    mgmt.delete(mgmt.resource("rbac.authorization.k8s.io/v1", "RoleBinding"), "dpucluster-updater", tenant.other)
    # Gone for new claims (while it held, "theirs" was refused as already used by "kept" instead).
    wait_for("the right to be gone", lambda: "may not update it" in _last_refusal(tenant), timeout=10)
    new_os = "quay.io/example/custom-os:2"
    patched = tenant.client.patch(PROVISIONER, "kept", {"spec": {"machineOSURL": new_os}}, tenant.ns)
    assert patched["spec"]["machineOSURL"] == new_os
    moved = {"dpuClusterRef": {"name": "another", "namespace": tenant.other}}
    assert "spec.dpuClusterRef: is immutable" in _refusal(
        lambda: tenant.client.patch(PROVISIONER, "kept", {"spec": moved}, tenant.ns)
    )


def test_the_platform_engineers_flow_keeps_working(mgmt, tenant):
    """The seed's flow: someone with rights on both namespaces (here the admin) points across them."""
    b = body(tenant.ns, tenant.other, name="platform", dpuClusterRef={"name": "theirs", "namespace": tenant.other})
    assert mgmt.create(PROVISIONER, b)["metadata"]["name"] == "platform"


def test_a_failed_access_review_fails_closed(env, tenant):
    """When the SubjectAccessReview cannot be made (here: the webhook's identity may not create one), the
    answer is no, even for a requester who would be allowed."""
    reviewer = webhook.Reviewer(env.client(user=TENANT), "dpf-hcp-provisioner-system")
    obj = body(tenant.ns, tenant.other, name="closed", dpuClusterRef={"name": "theirs", "namespace": tenant.other})
    request = {"uid": "u", "operation": "CREATE", "kind": {"kind": "DPFHCPProvisioner"}, "namespace": tenant.ns}
    answer = reviewer.review({**request, "userInfo": ADMIN, "object": obj})
    assert answer["allowed"] is False
    assert answer["status"]["code"] == 500
    assert "cannot check who may use the DPUCluster" in answer["status"]["message"]
    assert "403" in answer["status"]["message"]


def test_a_bad_spec_no_webhook_saw_is_a_condition_and_nothing_is_applied(env, mgmt, admission, tmp):
    """Where no webhook refused it (this object is outside its objectSelector), a nodeSelector key the
    schema cannot check reaches the reconcile: the validate role reports SpecValid=False naming the field,
    the run succeeds (a bad spec is not a failure to retry) and applies nothing; fixing the spec recovers.
    The reconcile playbook runs here as the operator runs it, so the session operator's backlog of this
    module's other objects does not set the pace."""
    ns, dpu_ns = admission
    bad = body(ns, dpu_ns, name="late", dpuClusterRef={"name": "late", "namespace": dpu_ns})
    del bad["metadata"]["labels"]
    bad["spec"]["nodeSelector"] = {"bad key!": "x"}
    dpucluster(mgmt, dpu_ns, "late")
    mgmt.create(PROVISIONER, bad)

    def reconcile():
        obj = mgmt.get(PROVISIONER, "late", ns)
        result = run_playbook("reconcile.yml", [obj], env.management.kubeconfig_path("dpf-hcp-operator"), tmp)
        assert result.returncode == 0, result.stdout + result.stderr
        return mgmt.get(PROVISIONER, "late", ns)

    obj = reconcile()
    spec_valid = condition(obj, "SpecValid")
    assert (spec_valid["status"], spec_valid["reason"]) == ("False", "InvalidSpec")
    assert "spec.nodeSelector: key 'bad key!' is not a label key" in spec_valid["message"]
    assert obj["status"]["phase"] == "Failed"
    assert condition(obj, "Ready")["reason"] == "ValidationFailed"
    assert mgmt.get_or_none(HOSTED_CLUSTER, "late", ns) is None
    mgmt.patch(PROVISIONER, "late", {"spec": {"nodeSelector": {"bad key!": None, "zone": "x"}}}, ns)
    assert condition(reconcile(), "SpecValid")["status"] == "True"
    assert mgmt.get(HOSTED_CLUSTER, "late", ns)["spec"]["nodeSelector"] == {"zone": "x"}
    mgmt.delete(PROVISIONER, "late", ns)


def test_the_webhook_refuses_a_name_that_is_someone_elses_hosted_cluster(mgmt, admission):
    """A provisioner named like a HostedCluster no provisioner made would make the operator refuse to
    touch it (tests/integration/test_ownership.py); the webhook refuses the name before it is stored."""
    ns, dpu_ns = admission
    mgmt.create(HOSTED_CLUSTER, someone_elses_hosted_cluster(ns, "taken-name"))
    with pytest.raises(ApiError) as refused:
        mgmt.create(PROVISIONER, body(ns, dpu_ns, name="taken-name"))
    message = refused.value.message
    assert f"metadata.name: HostedCluster {ns}/taken-name exists and is not a provisioner's" in message, message
    assert "choose another name" in message
    assert mgmt.get_or_none(PROVISIONER, "taken-name", ns) is None


def test_a_provisioner_being_deleted_keeps_its_spec(mgmt, admission):
    """Cleanup acts on the spec: while deletion waits on finalizers, a spec change (a DPUCluster in
    another namespace, say) is refused; metadata changes, such as removing a finalizer, are not."""
    ns, dpu_ns = admission
    held = body(ns, dpu_ns, name="leaving")
    held["metadata"]["finalizers"] = ["dpfhcp-test/hold"]
    mgmt.create(PROVISIONER, held)
    mgmt.delete(PROVISIONER, "leaving", ns)
    with pytest.raises(ApiError) as refused:
        elsewhere = {"spec": {"dpuClusterRef": {"name": "theirs", "namespace": "kube-system"}}}
        mgmt.patch(PROVISIONER, "leaving", elsewhere, ns)
    assert "spec: cannot change while the provisioner is being deleted" in refused.value.message
    assert mgmt.get(PROVISIONER, "leaving", ns)["spec"]["dpuClusterRef"]["namespace"] == dpu_ns
    mgmt.patch(PROVISIONER, "leaving", {"metadata": {"finalizers": None}}, ns)
    wait_for("the provisioner gone", lambda: mgmt.get_or_none(PROVISIONER, "leaving", ns) is None, timeout=120)


def test_a_provisioner_whose_control_plane_namespace_is_another_provisioners_is_refused(mgmt, admission):
    """Tenant t-x's provisioner x runs its control plane in t-x-x, HyperShift's <namespace>-<name>; tenant
    t's provisioner x-x would share it (and its NodePool token, and its secrets): the second is refused."""
    _, dpu_ns = admission
    t = namespace(mgmt, unique("t"))
    t_x = namespace(mgmt, f"{t}-x")
    for ns in (t, t_x):
        secrets(mgmt, ns)
    dpucluster(mgmt, dpu_ns, f"{t}-first")
    dpucluster(mgmt, dpu_ns, f"{t}-second")
    first = body(t_x, dpu_ns, name="x", dpuClusterRef={"name": f"{t}-first", "namespace": dpu_ns})
    mgmt.create(PROVISIONER, first)
    second = body(t, dpu_ns, name="x-x", dpuClusterRef={"name": f"{t}-second", "namespace": dpu_ns})
    wait_for("the webhook's cache to hold the first", lambda: _refused_now(mgmt, second), timeout=30)
    message, by_webhook = refused(mgmt, second, "metadata.name")
    assert by_webhook
    assert f"namespace {t}-x-x, which is already that of DPFHCPProvisioner {t_x}/x" in message, message
    assert mgmt.get_or_none(PROVISIONER, "x-x", t) is None
    mgmt.delete(PROVISIONER, "x", t_x)


def _refused_now(mgmt, b):
    """Why a dry-run create of ``b`` is refused, or None when it would be admitted."""
    try:
        mgmt.create(PROVISIONER, b, dry_run=True)
    except ApiError as exc:
        return exc.message
    return None


def test_an_existing_namespace_named_like_the_control_plane_namespace_is_refused(mgmt, admission):
    """A tenant owning namespace <ns>-<name> would receive the control plane HyperShift puts there (it adopts
    an existing namespace). Refused, unless an administrator labelled it for this provisioner."""
    ns, dpu_ns = admission
    squat = namespace(mgmt, f"{ns}-squat")
    dpucluster(mgmt, dpu_ns, "squat")
    b = body(ns, dpu_ns, name="squat", dpuClusterRef={"name": "squat", "namespace": dpu_ns})
    message, by_webhook = refused(mgmt, b, "metadata.name")
    assert by_webhook
    assert f"namespace {squat}, which exists and is neither pre-created for this provisioner" in message, message
    mgmt.patch(NAMESPACE, squat, {"metadata": {"labels": {"hypershift.openshift.io/hosted-control-plane": "true"}}})
    refused(mgmt, b, "metadata.name")  # a control plane's namespace, but not of a HostedCluster of this provisioner
    marker = {"dpfhcpprovisioner.dpu.hcp.io/name": "squat", "dpfhcpprovisioner.dpu.hcp.io/namespace": ns}
    mgmt.patch(NAMESPACE, squat, {"metadata": {"labels": marker}})  # the administrator's pre-creation
    mgmt.create(PROVISIONER, b, dry_run=True)
