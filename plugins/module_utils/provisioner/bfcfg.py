# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""DPF's bf.cfg templates for a provisioner's DPUCluster: the ignition HyperShift serves for the
NodePool, with the BlueField OS image in its MachineConfig, and the DPU's hostname, written where
and as DPF's provisioning controller selects them (NVIDIA/doca-platform
internal/provisioning/controllers/dpu/bfcfg/bfcfg.go, getTemplateDataFromConfigMap): in the
DPFOperatorConfig's namespace, one ConfigMap per BFB and DPUFlavor the DPUCluster's DPUs use,
labelled ``provisioning.dpu.nvidia.com/bfcfg-template: "true"`` and annotated with the six names
DPF matches exactly. DPF renders the text as a Go text/template (sprig functions) and refuses a
result over 128 KiB (MaxBFSize)."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s import journal, query
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.apply import apply
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.conditions import Condition, condition
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.formats import dns1123_subdomain_problem
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import CONFIGMAP, SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import naming, scope
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.conditions import (
    IGNITION_CONFIGURED,
    IMAGE_MISSING,
    IMAGE_MISSING_MESSAGE,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.conditions import (
    WAITING_FOR_IGNITION_ENDPOINT as WAITING,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.ignition import (
    BFCFG_KEY,
    BFCFG_LABEL,
    CA_SECRET,
    NODEPOOL_CURRENT_CONFIG_VERSION,
    TOKEN_EXPIRATION_ANNOTATION,
    TOKEN_NODEPOOL_ANNOTATION,
    WAITING_FOR_PAYLOAD,
    IgnitionError,
    compress_files,
    fetch_ignition,
    is_endpoint,
    override_os_image,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    DPF_OPERATOR_CONFIG,
    DPU,
    DPU_FLAVOR,
    HOSTED_CLUSTER,
    IGNITION_ENDPOINT,
    LABEL_NAME,
    LABEL_NAMESPACE,
    NODE_POOL,
    check_owned,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.scope import Scope
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.validation import shown

DPF_NAMESPACE = "dpf-operator-system"  # where DPF's documentation installs its operator
DPF_NAMESPACE_ENV = "DPFHCP_DPF_OPERATOR_NAMESPACE"  # set by the operator for its runs (--dpf-operator-namespace)
# DPF's annotations (internal/provisioning/controllers/util: BFCFGTemplate*Annotation); the values
# must equal the DPU's: spec.bfb and the DPU's namespace, spec.cluster, spec.dpuFlavor and the DPU's namespace.
ANNOTATION = "provisioning.dpu.nvidia.com/bfcfg-template-"
MAX_BFCFG_BYTES = 128 * 1024  # bfcfg.go MaxBFSize: the rendered result, unless the DPUFlavor skips the check
HOSTNAME_ACTION = "{{.DPUHostName}}"  # bfcfg.go BFCFGData.DPUHostName: cutil.GenerateNodeName(dpu), the DPU's name
LONGEST_HOSTNAME = 253  # a DPU's name, a DNS subdomain
SKIP_SIZE_CHECK = "provisioning.dpu.nvidia.com/skip-bfcfg-size-check"  # on a DPUFlavor: its key alone counts
# At most this many BFB and DPUFlavor combinations per DPUCluster get a template (each up to 128 KiB
# in DPF's namespace): whoever writes DPUs must not make us fill etcd. More is a condition.
MAX_COMBINATIONS = 16


@dataclass
class Generation:
    condition: Condition
    changed: bool = False
    configmap_ref: dict[str, str] | None = None
    requeue_after: float | None = None  # look again then (a refusal HyperShift may still take back)


def _not_yet(reason: str, message: str) -> Generation:
    return Generation(condition(IGNITION_CONFIGURED, False, reason, message))


def _secret_text(secret: dict[str, Any] | None, key: str, errors: str = "strict") -> str:
    value = ((secret or {}).get("data") or {}).get(key)
    return base64.b64decode(value).decode(errors=errors) if value else ""


def _is_our_token(secret: dict[str, Any], provisioner: dict[str, Any]) -> bool:
    """HyperShift's current token secret for this provisioner's NodePool: named token-<nodepool>-<hash>,
    annotated with the NodePool (<namespace>/<name>) and not being retired. A name prefix alone also
    matches NodePools named <nodepool>-..., and anything else put in the namespace."""
    meta = secret.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    return (
        str(meta.get("name", "")).startswith(naming.ignition_token_prefix(provisioner))
        and annotations.get(TOKEN_NODEPOOL_ANNOTATION) == naming.node_pool_key(provisioner)
        and TOKEN_EXPIRATION_ANNOTATION not in annotations
    )


def _token_secret(
    client: KubeClient, provisioner: dict[str, Any], node_pool: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The current token secret of this provisioner's NodePool, as HyperShift names it: the secret
    token-<nodepool>-<hash> for the hash in the NodePool's nodePoolCurrentConfigVersion annotation;
    before HyperShift has written that, the newest secret _is_our_token finds."""
    control_plane = naming.control_plane_namespace(provisioner)
    version = query.field(node_pool, f'metadata.annotations."{NODEPOOL_CURRENT_CONFIG_VERSION}"')
    if isinstance(version, str) and version:
        name = naming.ignition_token_prefix(provisioner) + version
        # The annotation is read from an object in the tenant's namespace: a name, or nothing.
        secret = None if dns1123_subdomain_problem(name) else client.get_or_none(SECRET, name, control_plane)
        ok = secret is not None and _is_our_token(secret, provisioner) and _secret_text(secret, "token")
        return secret if ok else None
    secrets = client.list(SECRET, control_plane).get("items") or []
    candidates = sorted(
        (s for s in secrets if _is_our_token(s, provisioner) and _secret_text(s, "token")),
        key=lambda s: s["metadata"].get("creationTimestamp", ""),
    )
    return candidates[-1] if candidates else None


def _token_unchanged(client: KubeClient, provisioner: dict[str, Any], used: dict[str, Any] | None) -> None:
    """Once the ignition fetched with ``used``'s token is written, read the token secret again. The
    ignition server writes on it while a run goes on (reason and message once it has generated the
    payload: openshift/hypershift ignition-server/controllers/tokensecret_controller.go, Reconcile);
    a version that is still the NodePool's token with the same data but those two keys (the token,
    the release, the hashes the ignition server generates the payload from) gives this step the
    outcome it had, so the journal says so (journal.same_outcome) and the operator does not run the
    provisioner again to confirm. Compared here, in memory, as stored: nothing of the data is
    written. Only for a run that keeps a journal (a module run in the controller); an answer other
    than the secret marks nothing."""
    if used is None or client.journal is None:
        return
    meta = used.get("metadata") or {}
    try:
        again = client.get_or_none(SECRET, str(meta.get("name", "")), str(meta.get("namespace", "")))
    except ApiError:
        return  # the ignition is written; whether it is current is the next run's to tell
    if (
        again is not None
        and (again.get("metadata") or {}).get("uid") == meta.get("uid")
        and _is_our_token(again, provisioner)
        and _payload_inputs(again) == _payload_inputs(used)
    ):
        journal.same_outcome(client.journal, SECRET.kind, used, again)


def _payload_inputs(secret: dict[str, Any]) -> dict[str, Any]:
    """A token secret's data but what the ignition server reports in it (reason, message), as stored."""
    return {k: v for k, v in (secret.get("data") or {}).items() if k not in ("reason", "message")}


# What stops HyperShift's NodePool controller before it makes a token for the NodePool's config:
# openshift/hypershift hypershift-operator/controllers/nodepool/conditions.go (validMachineConfigCondition:
# False/ValidationFailed, and the reconcile returns). It also says so for a while in normal operation:
# until the control-plane operator has written its core configs ("expected N core ignition configs",
# config.go getCoreConfigs) and until it sees a ConfigMap we have just written (its next reconcile),
# so a refusal counts once it has lasted REFUSAL_GRACE_SECONDS. ValidReleaseImage is not read: it
# is False through every y-stream upgrade until the control plane completes it
# (nodepool_controller.go getReleaseImage, supportedversion/version.go IsValidReleaseVersion), and
# a release HyperShift cannot read shows on the HostedCluster, whose conditions are mirrored.
NODE_POOL_REFUSALS = ("ValidMachineConfig",)
REFUSAL_GRACE_SECONDS = 120.0
# How often a wait on HyperShift's NodePool is looked at again (its status is not followed: the
# operator follows the NodePool by its spec, dependencies.py BY_SPEC).
RELEASE_RECHECK_SECONDS = 60.0


def _node_pool_refusal(node_pool: dict[str, Any] | None, now: datetime | None = None) -> tuple[str, float] | None:
    """HyperShift's reason for not generating the NodePool's config, as its condition says, for the
    NodePool's current generation, and the seconds until it has lasted REFUSAL_GRACE_SECONDS (0 or
    less: it counts); None when it says nothing of the kind. The status is data: any shape that is
    not a list of conditions says nothing, and a time that does not parse is taken as now."""
    node_pool = node_pool if isinstance(node_pool, dict) else {}
    meta, status = node_pool.get("metadata"), node_pool.get("status")
    generation = meta.get("generation") if isinstance(meta, dict) else None
    found = status.get("conditions") if isinstance(status, dict) else None
    listed = [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []
    now = now or datetime.now(UTC)
    for type_ in NODE_POOL_REFUSALS:
        refusal = next((c for c in listed if c.get("type") == type_ and c.get("status") == "False"), None)
        if refusal is None:
            continue
        seen = refusal.get("observedGeneration")
        if isinstance(seen, int) and seen != generation:
            continue  # about an earlier spec
        try:
            since = datetime.fromisoformat(str(refusal.get("lastTransitionTime")).replace("Z", "+00:00"))
            lasted = (now - since).total_seconds() if since.tzinfo else 0.0
        except ValueError:
            lasted = 0.0
        text = f"{type_}=False {shown(refusal.get('reason', ''))}: {shown(refusal.get('message', ''))}"
        return text, REFUSAL_GRACE_SECONDS - max(lasted, 0.0)
    return None


def _payload_failure(secret: dict[str, Any]) -> str | None:
    """Why HyperShift's ignition server could not generate the payload, as it wrote it on the token
    secret (keys reason and message; AsExpected when it could: openshift/hypershift
    ignition-server/controllers/tokensecret_controller.go, Reconcile); None when it says nothing."""
    reason = _secret_text(secret, "reason", errors="replace")
    if not reason or reason == "AsExpected":
        return None
    return f"{shown(reason)}: {shown(_secret_text(secret, 'message', errors='replace'))}"


@dataclass(frozen=True, order=True)
class Combination:
    """What DPF matches a bf.cfg template on, besides the DPUCluster: the DPUs' namespace (their
    BFB's and DPUFlavor's too), BFB and DPUFlavor."""

    namespace: str
    bfb: str
    flavor: str


def combinations(client: KubeClient, provisioner: dict[str, Any], watch: Scope = ()) -> list[Combination]:
    """Every BFB and DPUFlavor the DPUCluster's DPUs use: DPUs in any watched namespace whose
    spec.cluster names the DPUCluster exactly as DPF compares it (name and namespace as written:
    bfcfg.go getTemplateData; DPF's allocator always writes both)."""
    ref = (provisioner.get("spec") or {}).get("dpuClusterRef") or {}
    found = set()
    for dpu in scope.list_items(client, DPU, watch):
        spec, namespace = dpu.get("spec") or {}, dpu["metadata"].get("namespace", "")
        cluster = spec.get("cluster") or {}
        if (cluster.get("namespace"), cluster.get("name")) != (ref.get("namespace"), ref.get("name")):
            continue
        bfb, flavor = spec.get("bfb"), spec.get("dpuFlavor")
        # Object names or nothing: whoever writes DPUs does not choose what else goes in an annotation.
        if dns1123_subdomain_problem(bfb) is None and dns1123_subdomain_problem(flavor) is None:
            found.add(Combination(namespace, str(bfb), str(flavor)))
    return sorted(found)


def annotations(provisioner: dict[str, Any], combination: Combination) -> dict[str, str]:
    ref = (provisioner.get("spec") or {}).get("dpuClusterRef") or {}
    return {
        f"{ANNOTATION}bfb-name": combination.bfb,
        f"{ANNOTATION}bfb-namespace": combination.namespace,
        f"{ANNOTATION}cluster-name": ref.get("name", ""),
        f"{ANNOTATION}cluster-namespace": ref.get("namespace", ""),
        f"{ANNOTATION}dpuflavor-name": combination.flavor,
        f"{ANNOTATION}dpuflavor-namespace": combination.namespace,
    }


def template_text(ignition: dict[str, Any]) -> str:
    """The ignition as DPF's bf.cfg template: its JSON with one Go template action, the DPU's
    hostname in /etc/hostname (the kubelet's node name, the name DPU CSRs are matched on), and
    no other. DPF renders BF_CFG_TEMPLATE with text/template and sprig (`env`, `expandenv`: see
    ../shared/notes/upstream-behaviour.md), and the ignition carries what tenants wrote (the SSH
    key's comment). Compact JSON has `{{` only inside strings, where `{\\u007b` reads the same to
    any JSON parser and opens no action; the hostname's action is put in after that, where a
    marker no input can know (a fresh random one) stands."""
    marker = uuid.uuid4().hex
    body = compress_files(ignition)
    files = [f for f in (body.get("storage") or {}).get("files") or [] if f.get("path") != "/etc/hostname"]
    files.append({"path": "/etc/hostname", "mode": 420, "overwrite": True, "contents": {"source": f"data:,{marker}"}})
    body.setdefault("storage", {})["files"] = files
    text = json.dumps(body, sort_keys=True, separators=(",", ":")).replace("{{", "{\\u007b")
    if text.count(marker) != 1:  # a marker is 128 random bits: no input holds it
        raise ValueError("the hostname marker is not unique in the bf.cfg template")
    return text.replace(marker, HOSTNAME_ACTION)


def rendered_size_bound(text: str) -> int:
    """The most bytes DPF's rendering of ``text`` can make: the hostname action replaced by the
    longest DPU name."""
    return len(text.encode()) - len(HOSTNAME_ACTION) + LONGEST_HOSTNAME


def _desired(provisioner: dict[str, Any], combination: Combination, namespace: str, text: str) -> dict[str, Any]:
    ref = naming.hosted_cluster_ref(provisioner)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": naming.bfcfg_configmap_name(
                provisioner, combination.namespace, combination.bfb, combination.flavor
            ),
            "namespace": namespace,
            "labels": {BFCFG_LABEL: "true", LABEL_NAME: ref["name"], LABEL_NAMESPACE: ref["namespace"]},
            "annotations": annotations(provisioner, combination),
        },
        "data": {BFCFG_KEY: text},
    }


def ours(provisioner: dict[str, Any]) -> str:
    """The label selector of this provisioner's bf.cfg templates."""
    ref = naming.hosted_cluster_ref(provisioner)
    return f"{BFCFG_LABEL}=true,{LABEL_NAME}={ref['name']},{LABEL_NAMESPACE}={ref['namespace']}"


def _skips_size_check(client: KubeClient, combination: Combination) -> bool:
    """Whether DPF skips its size check for this DPUFlavor: the annotation's key, whatever its
    value (bfcfg.go GenerateBFConfig, util.SkipBFCFGSizeCheck)."""
    try:
        flavor = client.get_or_none(DPU_FLAVOR, combination.flavor, combination.namespace)
    except ApiError as exc:
        if exc.not_found:  # no DPUFlavor kind served: nothing skips
            return False
        raise
    return SKIP_SIZE_CHECK in query.field(flavor, "metadata.annotations", dict, {})


def write_templates(
    client: KubeClient,
    provisioner: dict[str, Any],
    namespace: str,
    text: str,
    check_mode: bool,
    wanted: list[Combination],
) -> bool:
    """One template per combination in ``namespace``; ours that no DPU uses any more, and those
    an earlier version wrote in the DPUCluster's namespace, deleted. Whether anything changed."""
    changed = False
    names = set()
    for combination in wanted:
        desired = _desired(provisioner, combination, namespace, text)
        names.add(desired["metadata"]["name"])
        changed = apply(client, desired, check_mode=check_mode, adopt=check_owned).changed or changed
    ref = (provisioner.get("spec") or {}).get("dpuClusterRef") or {}
    for where in dict.fromkeys([namespace, ref.get("namespace", "")]):
        listed = client.list(CONFIGMAP, where, label_selector=ours(provisioner), metadata_only=True)
        for stale in listed.get("items") or []:
            meta = stale["metadata"]
            if where == namespace and meta["name"] in names:
                continue
            changed = True
            if not check_mode:
                try:
                    client.delete(CONFIGMAP, meta["name"], where)
                except ApiError as exc:
                    if not exc.not_found:
                        raise
    return changed


def conflicts(client: KubeClient, provisioner: dict[str, Any], namespace: str, wanted: list[Combination]) -> list[str]:
    """Templates in ``namespace`` that are not ours yet match one of our combinations: DPF would find
    two and use neither ("exactly one is required"). Names, shown; never deleted (not ours)."""
    mine = {tuple(sorted(annotations(provisioner, c).items())) for c in wanted}
    listed = client.list(CONFIGMAP, namespace, label_selector=f"{BFCFG_LABEL}=true", metadata_only=True)
    found = []
    for cm in listed.get("items") or []:
        meta = cm.get("metadata") or {}
        if owned(meta, provisioner):
            continue
        keys = {k: v for k, v in (meta.get("annotations") or {}).items() if k.startswith(ANNOTATION)}
        if tuple(sorted(keys.items())) in mine:
            found.append(shown(meta.get("name")))
    return sorted(found)


def owned(meta: dict[str, Any], provisioner: dict[str, Any]) -> bool:
    ref = naming.hosted_cluster_ref(provisioner)
    labels = meta.get("labels") or {}
    return labels.get(LABEL_NAME) == ref["name"] and labels.get(LABEL_NAMESPACE) == ref["namespace"]


def dpf_config_problem(client: KubeClient, namespace: str) -> str | None:
    """Why DPF would not select our templates in ``namespace``, None when it would: DPF reads the one
    DPFOperatorConfig (exactly one), uses its namespace, and takes dynamic templates only with
    spec.provisioningController.enableDynamicBFCFGTemplates and without the deprecated
    bfCFGTemplateConfigMap, which comes first (bfcfg.go GenerateBFConfig, getTemplateData)."""
    try:
        configs = client.list(DPF_OPERATOR_CONFIG).get("items") or []
    except ApiError as exc:
        if not exc.not_found:
            raise
        configs = []
    if len(configs) != 1:
        return (
            f"DPF needs exactly one DPFOperatorConfig and there are {len(configs)}; install DPF (or remove the "
            "extra DPFOperatorConfigs) before its DPUs can boot"
        )
    meta, spec = configs[0]["metadata"], configs[0].get("spec") or {}
    where = "DPFOperatorConfig " + shown(f"{meta.get('namespace')}/{meta.get('name')}")
    if meta.get("namespace") != namespace:
        return (
            f"{where} is not in {shown(namespace)}, where the bf.cfg templates are written; set the operator's "
            f"--dpf-operator-namespace (chart value dpfOperatorNamespace, role variable ignition_dpf_namespace) to "
            f"{shown(meta.get('namespace'))}"
        )
    provisioning = spec.get("provisioningController") or {}
    if provisioning.get("bfCFGTemplateConfigMap") is not None:  # a pointer in DPF: set, even empty
        return (
            f"{where} sets spec.provisioningController.bfCFGTemplateConfigMap, which DPF uses before any "
            "dynamic template; remove it and set enableDynamicBFCFGTemplates: true"
        )
    if provisioning.get("enableDynamicBFCFGTemplates") is not True:
        return (
            f"{where} has spec.provisioningController.enableDynamicBFCFGTemplates "
            f"{shown(provisioning.get('enableDynamicBFCFGTemplates'))}, so DPF uses its built-in bf.cfg and never "
            "these templates; set it to true"
        )
    return None


def generate(
    client: KubeClient,
    provisioner: dict[str, Any],
    image: str,
    check_mode: bool = False,
    dpf_namespace: str = DPF_NAMESPACE,
    watch: Scope = (),
) -> Generation:
    """Fetch, rewrite and store the ignition; a condition says how far it got and why."""
    ref = naming.hosted_cluster_ref(provisioner)
    if not image:
        return _not_yet(IMAGE_MISSING, IMAGE_MISSING_MESSAGE)
    hosted_cluster = client.get_or_none(HOSTED_CLUSTER, ref["name"], ref["namespace"])
    journal.decided_on(client.journal, HOSTED_CLUSTER.kind, hosted_cluster, (IGNITION_ENDPOINT,))
    endpoint = query.field(hosted_cluster, IGNITION_ENDPOINT)
    if not endpoint:
        return _not_yet(WAITING, f"HostedCluster {ref['namespace']}/{ref['name']} has no status.ignitionEndpoint yet")
    if not is_endpoint(endpoint):  # host[:port], as HyperShift publishes it: never a path or a query
        return _not_yet(
            "InvalidIgnitionEndpoint",
            f"HostedCluster {ref['namespace']}/{ref['name']} status.ignitionEndpoint {shown(endpoint)} is not "
            "host[:port]; the ignition is fetched from what HyperShift publishes there, nothing else",
        )
    node_pool = client.get_or_none(NODE_POOL, ref["name"], ref["namespace"])  # named like the HostedCluster
    refusal = _node_pool_refusal(node_pool)
    if refusal is not None and refusal[1] <= 0:  # looked at again: HyperShift's status is not followed
        return Generation(
            condition(
                IGNITION_CONFIGURED,
                False,
                "NodePoolConfigInvalid",
                f"HyperShift makes no ignition for NodePool {ref['namespace']}/{ref['name']}: for "
                f"{REFUSAL_GRACE_SECONDS:g}s and more its status says {refusal[0]}. Fix what it names (the "
                f"ConfigMaps spec.config lists, ours being {ref['namespace']}/"
                f"{naming.machineconfig_configmap_name(provisioner)}), or see the HostedCluster's conditions",
            ),
            requeue_after=RELEASE_RECHECK_SECONDS,
        )
    result = _fetch_and_write(client, provisioner, image, check_mode, dpf_namespace, watch, endpoint, node_pool)
    if refusal is not None:  # not yet counted: look again when it would
        result.requeue_after = refusal[1]
    return result


def _fetch_and_write(
    client: KubeClient,
    provisioner: dict[str, Any],
    image: str,
    check_mode: bool,
    dpf_namespace: str,
    watch: Scope,
    endpoint: str,
    node_pool: dict[str, Any] | None,
) -> Generation:
    """The rest of ``generate``: the token, the ignition, the templates."""
    ref = naming.hosted_cluster_ref(provisioner)
    control_plane = naming.control_plane_namespace(provisioner)
    ca_pem = _secret_text(client.get_or_none(SECRET, CA_SECRET, control_plane), "tls.crt")
    token_secret = _token_secret(client, provisioner, node_pool)
    token = _secret_text(token_secret, "token")
    if not ca_pem or not token:
        missing = (
            f"secret {control_plane}/{CA_SECRET} (key tls.crt)"
            if not ca_pem
            else (
                f"a secret {control_plane}/{naming.ignition_token_prefix(provisioner)}* (key token) annotated "
                f"{TOKEN_NODEPOOL_ANNOTATION}: {naming.node_pool_key(provisioner)}"
            )
        )
        return _not_yet(WAITING, f"HyperShift has not published {missing} yet")
    # The token secret names the release its payload is for (key release: the NodePool's
    # spec.release.image, openshift/hypershift hypershift-operator/controllers/nodepool/token.go).
    # Through a y-stream upgrade HyperShift keeps the old one current until the control plane has
    # completed the new release: its ignition would boot a kubelet newer than the API server.
    made_for = _secret_text(token_secret, "release", errors="replace")
    wanted = query.field(node_pool, "spec.release.image")
    if made_for and isinstance(wanted, str) and made_for != wanted:
        return Generation(
            condition(
                IGNITION_CONFIGURED,
                False,
                WAITING,
                f"HyperShift's current token for NodePool {ref['namespace']}/{ref['name']} is for release "
                f"{shown(made_for)}, the NodePool asks for {shown(wanted)}: HyperShift takes it once the control plane "
                "has completed that release; until then nothing is written",
            ),
            requeue_after=RELEASE_RECHECK_SECONDS,
        )
    try:
        ignition = override_os_image(fetch_ignition(endpoint, token, ca_pem), image)
    except IgnitionError as exc:
        failure = _payload_failure(token_secret or {}) if exc.reason == WAITING_FOR_PAYLOAD else None
        if failure is not None:  # not on its way: HyperShift says why; the secret's next change runs us again
            name = (token_secret or {}).get("metadata", {}).get("name", "")
            return _not_yet(
                "PayloadNotGenerated",
                f"HyperShift's ignition server did not generate the NodePool's ignition; token secret "
                f"{control_plane}/{name} says {failure}. Fix the NodePool's config (spec.config, the release)",
            )
        return _not_yet(exc.reason, str(exc))
    problem = dpf_config_problem(client, dpf_namespace)
    if problem is not None:
        return _not_yet("DPFTemplatesNotSelected", problem)
    text = template_text(ignition)
    used = combinations(client, provisioner, watch)
    if len(used) > MAX_COMBINATIONS:
        return _not_yet(
            "TooManyBFCFGCombinations",
            f"The DPUCluster's DPUs use {len(used)} BFB and DPUFlavor combinations; a bf.cfg template is written "
            f"for at most {MAX_COMBINATIONS}. Give its DPUs fewer BFBs and DPUFlavors",
        )
    size = rendered_size_bound(text)
    too_large = [] if size <= MAX_BFCFG_BYTES else [c for c in used if not _skips_size_check(client, c)]
    if too_large:
        flavors = ", ".join(sorted({shown(f"{c.namespace}/{c.flavor}") for c in too_large}))
        return _not_yet(
            "BFCFGTooLarge",
            f"DPF's bf.cfg template for the NodePool's ignition would render up to {size} bytes; DPF refuses more "
            f"than {MAX_BFCFG_BYTES} (bfcfg.go MaxBFSize) for DPUFlavor {flavors}. Make the NodePool's ignition "
            f"smaller (its spec.config MachineConfigs), or annotate those DPUFlavors {SKIP_SIZE_CHECK} if their BFB "
            "takes more",
        )
    changed = write_templates(client, provisioner, dpf_namespace, text, check_mode, used)
    others = conflicts(client, provisioner, dpf_namespace, used)
    _token_unchanged(client, provisioner, token_secret)
    if others:
        return Generation(
            condition(
                IGNITION_CONFIGURED,
                False,
                "BFCFGTemplateConflict",
                f"ConfigMaps {', '.join(others)} in {dpf_namespace} are not this provisioner's yet carry the label "
                f"{BFCFG_LABEL}=true and the annotations of one of its BFB and DPUFlavor combinations: DPF finds two "
                "templates and uses neither. Delete them, or remove their label",
            ),
            changed=changed,
        )
    machine_config = f"{ref['namespace']}/{naming.machineconfig_configmap_name(provisioner)}"
    if not used:
        cluster = (provisioner.get("spec") or {}).get("dpuClusterRef") or {}
        message = (
            f"The NodePool boots {image}: MachineConfig ConfigMap {machine_config}. No DPU of DPUCluster "
            f"{cluster.get('namespace')}/{cluster.get('name')} yet: DPF's bf.cfg template is written in "
            f"{dpf_namespace} for each BFB and DPUFlavor its DPUs use, as they appear"
        )
    else:
        pairs = ", ".join(shown(f"{c.bfb}+{c.flavor}") for c in used)
        message = (
            f"The NodePool boots {image}: MachineConfig ConfigMap {machine_config}, and DPF's bf.cfg templates "
            f"in {dpf_namespace} (label {BFCFG_LABEL}=true) for BFB+DPUFlavor {pairs} carry the rewritten ignition"
        )
    return Generation(
        condition(IGNITION_CONFIGURED, True, "Generated", message),
        changed=changed,
        configmap_ref={"namespace": dpf_namespace, "label_selector": ours(provisioner)},
    )
