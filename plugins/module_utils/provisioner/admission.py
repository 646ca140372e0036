# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Admission rules for DPFHCPProvisioner: what the CRD's schema and CEL rules say, enforced the
same way on API servers that cannot run CEL, plus the checks that need other objects.

Pure functions: the webhook reads the objects and calls these; the semantic checks come from
validation.py, which the validate role uses too, so each rule is written once.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s import formats
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.conditions import condition
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import capabilities, naming
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.conditions import SPEC_VALID
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    DPU_CLUSTER,
    LABEL_NAME,
    LABEL_NAMESPACE,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.release import (
    DEFAULT_RELEASE_REPOSITORIES,
    release_repository_problem,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.validation import (
    UNSUPPORTED_CLUSTER_TYPES,
    Check,
    other_users,
    resolve_bluefield_image,
    shown,
)

NODE_SELECTOR_MAX = 20
SPEC_PROBLEMS_SHOWN = 10  # in the SpecValid condition's message
POLICIES = ("SingleReplica", "HighlyAvailable")
REQUIRED = ("baseDomain", "dpuClusterRef", "ocpReleaseImage", "pullSecretRef", "sshKeySecretRef")
# Immutable after create: everything but ocpReleaseImage (an upgrade) and machineOSURL.
MUTABLE = ("ocpReleaseImage", "machineOSURL")


@dataclass(frozen=True)
class Problem:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def _malformed(field: str, what: str, why: str, rule: str) -> Problem:
    """A value that does not fit its format: what it is not, why, and what to use."""
    return Problem(field, f"{what}: it {why}; use {rule}")


def _name_ref(spec: dict[str, Any], key: str, with_namespace: bool) -> list[Problem]:
    ref = spec.get(key)
    if not isinstance(ref, dict):
        return [
            Problem(
                f"spec.{key}",
                f"must be an object with name{' and namespace' if with_namespace else ''}, got {shown(ref)}",
            )
        ]
    out = []
    for part in ("name", "namespace") if with_namespace else ("name",):
        value = ref.get(part)
        if part == "namespace":
            why, what, rule = formats.dns1123_label_problem(value), "namespace name", formats.DNS1123_LABEL_RULE
        else:
            why, what, rule = formats.dns1123_subdomain_problem(value), "object name", formats.DNS1123_SUBDOMAIN_RULE
        if why:
            out.append(_malformed(f"spec.{key}.{part}", f"{shown(value)} is not a valid {what}", why, rule))
    return out


def _node_selector(selector: Any) -> list[Problem]:
    """Label keys to label values, as the HostedCluster's nodeSelector (a pod's) must be."""
    field = "spec.nodeSelector"
    if not isinstance(selector, dict):
        return [Problem(field, f"{shown(selector)} is not a map of label keys to label values")]
    if len(selector) > NODE_SELECTOR_MAX:
        return [Problem(field, f"has {len(selector)} entries; use at most {NODE_SELECTOR_MAX} label keys")]
    out = []
    for key, value in selector.items():
        for what, why, rule in (
            (
                f"key {shown(key)} is not a label key",
                formats.label_key_problem(key),
                f"{formats.LABEL_KEY_RULE} (e.g. node-role.kubernetes.io/infra)",
            ),
            (
                f"value {shown(value)} of key {shown(key)} is not a label value",
                formats.label_value_problem(value),
                formats.LABEL_VALUE_RULE,
            ),
        ):
            if why:
                out.append(_malformed(field, what, why, rule))
    return out


def _capabilities(spec: dict[str, Any]) -> list[Problem]:
    """spec.capabilities: only ``disabled``, a list HyperShift takes for the spec's release."""
    value = spec["capabilities"]
    if not isinstance(value, dict):
        return [Problem("spec.capabilities", f"{shown(value)} is not an object; use {{disabled: [...]}}")]
    problems = [
        Problem("spec.capabilities", f"{shown(key)} is not a field; use disabled") for key in value if key != "disabled"
    ]
    if "disabled" in value:
        release = capabilities.release_of(spec)
        problems += [
            Problem("spec.capabilities.disabled", why) for why in capabilities.problems(value["disabled"], release)
        ]
    return problems


def _image_problem(value: Any, need_tag_or_digest: bool) -> str | None:
    if not isinstance(value, str):
        return "is not a string"
    try:
        ref = formats.parse_image_reference(value)
    except formats.ImageReferenceError as exc:
        return str(exc)
    if need_tag_or_digest and not (ref.tag or ref.digest):
        return "has neither a tag nor a digest"
    return None


def check_spec(spec: Any, release_repositories: tuple[str, ...] = DEFAULT_RELEASE_REPOSITORIES) -> list[Problem]:
    """Fields, formats, enums and cross-field rules of a spec on its own, and the installation's allowed
    release repositories (release.release_repositories; an administrator's setting, never the tenant's)."""
    if not isinstance(spec, dict):
        return [Problem("spec", "is required")]
    problems = [Problem(f"spec.{f}", "is required") for f in REQUIRED if spec.get(f) in (None, "", {})]
    domain = spec.get("baseDomain")
    if domain not in (None, "") and (
        not isinstance(domain, str)
        or not 4 <= len(domain) <= 253
        or "." not in domain
        or formats.dns1123_subdomain_problem(domain)
    ):
        problems.append(
            Problem(
                "spec.baseDomain",
                f"{shown(domain)} is not a DNS name of 4 to 253 characters (e.g. clusters.example.com)",
            )
        )
    image = spec.get("ocpReleaseImage")
    if image not in (None, ""):
        why = _image_problem(image, need_tag_or_digest=True)
        if why:
            problems.append(
                Problem(
                    "spec.ocpReleaseImage",
                    f"{shown(image)} is not an image reference with a tag or digest: it {why} "
                    "(e.g. quay.io/openshift-release-dev/ocp-release:4.19.0-x86_64)",
                )
            )
        else:
            why = release_repository_problem(image, release_repositories)
            if why:
                problems.append(Problem("spec.ocpReleaseImage", f"{shown(image)} {why}"))
    for key, ns in (("dpuClusterRef", True), ("pullSecretRef", False), ("sshKeySecretRef", False)):
        if spec.get(key) not in (None, "", {}):
            problems += _name_ref(spec, key, ns)
    for key in ("controlPlaneAvailabilityPolicy", "infrastructureAvailabilityPolicy"):
        if key in spec and spec[key] not in POLICIES:
            problems.append(Problem(f"spec.{key}", f"{shown(spec[key])} is not one of {list(POLICIES)}"))
    vip = spec.get("virtualIP")
    if vip not in (None, ""):
        try:
            address = ipaddress.ip_address(vip)
        except (ValueError, TypeError):
            problems.append(Problem("spec.virtualIP", f"{shown(vip)} is not an IPv4 or IPv6 address"))
        else:
            mapped = getattr(address, "ipv4_mapped", None)
            if mapped is not None:  # one host, two spellings: MetalLB's overlap check takes them as one
                problems.append(
                    Problem("spec.virtualIP", f"{shown(vip)} is an IPv4-mapped IPv6 address; write it as {mapped}")
                )
    if spec.get("controlPlaneAvailabilityPolicy", "HighlyAvailable") == "HighlyAvailable" and not vip:
        problems.append(
            Problem(
                "spec.virtualIP",
                "is required when spec.controlPlaneAvailabilityPolicy is "
                "HighlyAvailable; set a virtual IP or use SingleReplica",
            )
        )
    for key in ("exposeThroughLoadBalancer", "flannelEnabled"):
        if key in spec and not isinstance(spec[key], bool):
            problems.append(Problem(f"spec.{key}", f"{shown(spec[key])} is not true or false"))
    if spec.get("nodeSelector") is not None:
        problems += _node_selector(spec["nodeSelector"])
    if "etcdStorageClass" in spec:
        value = spec["etcdStorageClass"]
        why = formats.dns1123_subdomain_problem(value)
        if why:
            problems.append(
                _malformed(
                    "spec.etcdStorageClass",
                    f"{shown(value)} is not a StorageClass name",
                    why,
                    f"{formats.DNS1123_SUBDOMAIN_RULE} (kubectl get storageclass lists them), or leave it out for "
                    "the cluster default",
                )
            )
    if "machineOSURL" in spec:
        value = spec["machineOSURL"]
        why = _image_problem(value, need_tag_or_digest=False)
        if why:
            problems.append(
                _malformed(
                    "spec.machineOSURL",
                    f"{shown(value)} is not an image reference",
                    why,
                    f"{formats.IMAGE_REFERENCE_RULE} (e.g. quay.io/example/bluefield-rhcos:4.19.0), or leave it out "
                    "for the mapped BlueField image",
                )
            )
    if "capabilities" in spec:
        problems += _capabilities(spec)
    networking = spec.get("networking")
    if networking is not None:
        if not isinstance(networking, dict):
            problems.append(Problem("spec.networking", "must be an object"))
        else:
            for key, value in networking.items():
                if key not in ("serviceNetwork", "clusterNetwork", "machineNetwork"):
                    problems.append(
                        Problem(
                            f"spec.networking.{key}",
                            "is not a field; use serviceNetwork, clusterNetwork or machineNetwork",
                        )
                    )
                    continue
                try:
                    ipaddress.ip_network(value)
                except (ValueError, TypeError):
                    problems.append(
                        Problem(f"spec.networking.{key}", f"{shown(value)} is not a CIDR (e.g. 10.0.0.0/16)")
                    )
    return problems


def spec_validity(spec: Any, release_repositories: tuple[str, ...] = DEFAULT_RELEASE_REPOSITORIES) -> Check:
    """check_spec as the SpecValid condition: what the validate role reports where no webhook refused the
    spec (an API server without it, a one-off run), so that a bad spec stops before anything is applied."""
    problems = check_spec(spec, release_repositories)
    if not problems:
        return Check([condition(SPEC_VALID, True, "SpecValid", "The spec's fields and formats are valid")], True)
    listed = "; ".join(str(p) for p in problems[:SPEC_PROBLEMS_SHOWN])
    more = f"; and {len(problems) - SPEC_PROBLEMS_SHOWN} more" if len(problems) > SPEC_PROBLEMS_SHOWN else ""
    return Check([condition(SPEC_VALID, False, "InvalidSpec", listed + more)], False)


def check_update(old: dict[str, Any], new: dict[str, Any]) -> list[Problem]:
    """Everything but ocpReleaseImage and machineOSURL is immutable."""
    problems = []
    for key in sorted(set(old) | set(new)):
        if key in MUTABLE:
            continue
        if old.get(key) != new.get(key):
            problems.append(
                Problem(
                    f"spec.{key}",
                    f"is immutable (was {shown(old.get(key))}, now {shown(new.get(key))}); "
                    "create a new DPFHCPProvisioner to change it",
                )
            )
    return problems


def check_references(
    obj: dict[str, Any],
    dpucluster: dict[str, Any] | None,
    provisioners: list[dict[str, Any]],
    configmap: dict[str, Any] | None,
    configmap_namespace: str,
) -> list[Problem]:
    """What needs other objects: the BlueField mapping, the DPUCluster's type, the 1:1 rule."""
    spec = obj.get("spec") or {}
    problems = []
    image = resolve_bluefield_image(spec.get("ocpReleaseImage", ""), configmap, configmap_namespace)
    if not image.ok:
        cond = image.conditions[0]
        problems.append(
            Problem(
                "spec.ocpReleaseImage", f"{cond['message']} (condition BlueFieldImageResolved, reason {cond['reason']})"
            )
        )
    ref = spec.get("dpuClusterRef") or {}
    if dpucluster is not None:
        cluster_type = (dpucluster.get("spec") or {}).get("type")
        if cluster_type in UNSUPPORTED_CLUSTER_TYPES:
            problems.append(
                Problem(
                    "spec.dpuClusterRef",
                    f"DPUCluster {ref.get('namespace')}/{ref.get('name')} is of "
                    f"type {cluster_type!r}, which this operator does not "
                    "support; use a 'static' DPUCluster",
                )
            )
    # A new object never holds a DPUCluster against existing ones, whatever creationTimestamp the
    # API server stamped on it before admission (the same second as another's, say).
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "creationTimestamp"}
    holders = other_users({**obj, "metadata": meta}, provisioners)
    if holders:
        names = ", ".join(f"{h['metadata'].get('namespace')}/{h['metadata']['name']}" for h in holders)
        problems.append(
            Problem(
                "spec.dpuClusterRef",
                f"DPUCluster {ref.get('namespace')}/{ref.get('name')} is "
                f"already used by DPFHCPProvisioner {names}; a DPUCluster "
                "serves one provisioner",
            )
        )
    return problems


# HyperShift labels the control-plane namespace it reconciles, whether it created it or found it:
# openshift/hypershift hypershift-operator/controllers/hostedcluster/hostedcluster_controller.go
# (reconcileControlPlaneNamespace: Labels[ControlPlaneNamespaceLabelKey] = "true").
CONTROL_PLANE_NAMESPACE_LABEL = "hypershift.openshift.io/hosted-control-plane"


def _made_by(obj: dict[str, Any] | None, ns: str, name: str) -> bool:
    labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
    return labels.get(LABEL_NAME) == name and labels.get(LABEL_NAMESPACE) == ns


def control_plane_namespace_problems(
    obj: dict[str, Any],
    provisioners: list[dict[str, Any]],
    existing_namespace: dict[str, Any] | None,
    hosted_cluster: dict[str, Any] | None,
) -> list[Problem]:
    """A new provisioner's control-plane namespace (naming.control_plane_namespace) must be its own:
    no other provisioner maps to it, and, if it exists already, it is either pre-created for this
    provisioner by an administrator (the provisioner labels naming it) or HyperShift's namespace of this
    provisioner's own HostedCluster (HyperShift's label, and the HostedCluster carries our labels).
    HyperShift runs the control plane in whatever namespace has that name: a tenant's namespace would
    receive another tenant's control plane and its secrets."""
    meta = obj.get("metadata") or {}
    ns, name = meta.get("namespace") or "", meta.get("name") or ""
    if not ns or not name:
        return []
    mine = naming.control_plane_namespace(obj)
    fix = "choose another metadata.name"
    problems = []
    for other in provisioners:
        ometa = other.get("metadata") or {}
        if (ometa.get("namespace"), ometa.get("name")) == (ns, name) or not ometa.get("name"):
            continue
        if not ometa.get("namespace") or naming.control_plane_namespace(other) != mine:
            continue
        problems.append(
            Problem(
                "metadata.name",
                f"the hosted control plane would run in namespace {mine}, which is already that of "
                f"DPFHCPProvisioner {ometa['namespace']}/{ometa['name']} (HyperShift uses <namespace>-<name>, "
                f"'.' read as '-'); {fix}",
            )
        )
    if existing_namespace is not None and not _made_by(existing_namespace, ns, name):
        labels = (existing_namespace.get("metadata") or {}).get("labels") or {}
        if not (labels.get(CONTROL_PLANE_NAMESPACE_LABEL) == "true" and _made_by(hosted_cluster, ns, name)):
            problems.append(
                Problem(
                    "metadata.name",
                    f"the hosted control plane would run in namespace {mine}, which exists and is neither "
                    f"pre-created for this provisioner nor HyperShift's namespace of its HostedCluster: HyperShift "
                    f"would put the control plane and its secrets there. {fix}; or, if an administrator made "
                    f"{mine} for it, label it {LABEL_NAME}={name} and {LABEL_NAMESPACE}={ns}",
                )
            )
    return problems


def crosses_namespaces(namespace: str, spec: dict[str, Any], old_spec: dict[str, Any] | None) -> bool:
    """Whether this write points the provisioner at a DPUCluster of another namespace: on create, or on an
    update that changes spec.dpuClusterRef (check_update refuses that today; this does not rely on it)."""
    ref = spec.get("dpuClusterRef") or {}
    if ref.get("namespace") == namespace:
        return False  # the tenant's own namespace: its own DPUCluster
    return old_spec is None or (old_spec.get("dpuClusterRef") or {}) != ref


def dpucluster_access_review(user_info: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    """A SubjectAccessReview asking whether the requesting user (AdmissionRequest.userInfo) may update the
    DPUCluster ``ref`` names: the right a provisioner pointing at it exercises on their behalf."""
    spec: dict[str, Any] = {
        "user": user_info.get("username") or "",
        "resourceAttributes": {
            "group": DPU_CLUSTER.group,
            "resource": DPU_CLUSTER.plural,
            "verb": "update",
            "namespace": ref.get("namespace"),
            "name": ref.get("name"),
        },
    }
    for key, field in (("uid", "uid"), ("groups", "groups"), ("extra", "extra")):
        if user_info.get(key):
            spec[field] = user_info[key]
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}


def authority_problem(
    namespace: str, user_info: dict[str, Any], ref: dict[str, Any], review_status: dict[str, Any] | None
) -> Problem | None:
    """None when the SubjectAccessReview allowed it; else what the refusal says: who, what, and the fix."""
    if isinstance(review_status, dict) and review_status.get("allowed") is True:
        return None
    where = f"{ref.get('namespace')}/{ref.get('name')}"
    user = shown(user_info.get("username") or "an anonymous user")
    reason = review_status.get("reason") if isinstance(review_status, dict) else None
    return Problem(
        "spec.dpuClusterRef",
        f"DPUCluster {where} is in namespace {ref.get('namespace')}, not {namespace}, and user {user} may not "
        f"update it{f' ({shown(reason)})' if reason else ''}: a provisioner acts on its DPUCluster, so it may only "
        f"point at one its creator may update. Ask an administrator of namespace {ref.get('namespace')} for "
        f"'update' on dpuclusters.{DPU_CLUSTER.group} {ref.get('name')} (a Role and RoleBinding), or have "
        "someone who has it create this DPFHCPProvisioner",
    )


def warnings_for(obj: dict[str, Any], dpucluster_exists: bool, secrets_present: dict[str, bool]) -> list[str]:
    """What may still be fixed after admission: missing inputs that the provisioner will wait for."""
    spec = obj.get("spec") or {}
    ns = (obj.get("metadata") or {}).get("namespace")
    out = []
    ref = spec.get("dpuClusterRef") or {}
    if not dpucluster_exists:
        out.append(
            f"spec.dpuClusterRef: DPUCluster {ref.get('namespace')}/{ref.get('name')} does not exist yet; "
            "the provisioner waits for it (condition DPUClusterMissing)"
        )
    for field, name in (
        ("pullSecretRef", (spec.get("pullSecretRef") or {}).get("name")),
        ("sshKeySecretRef", (spec.get("sshKeySecretRef") or {}).get("name")),
    ):
        if name and not secrets_present.get(name, True):
            out.append(
                f"spec.{field}.name: secret {ns}/{name} does not exist yet; the provisioner waits for it "
                "(condition SecretsValid)"
            )
    return out
