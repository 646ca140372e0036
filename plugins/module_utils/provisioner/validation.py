# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""The rules a DPFHCPProvisioner must meet before anything is provisioned.

Pure functions over objects already read from the API: the ``validate`` role and the
admission webhook both call these, so a rule is written once.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.conditions import Condition, condition
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.conditions import (
    BLUEFIELD_IMAGE_RESOLVED,
    CLUSTER_TYPE_VALID,
    DPUCLUSTER_IN_USE,
    DPUCLUSTER_MISSING,
    SECRETS_VALID,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.release import (
    ReleaseImageError,
    is_image_reference,
    ocp_version,
    sort_versions,
)

PULL_SECRET_KEY = ".dockerconfigjson"  # noqa: S105 - a key name
SSH_KEY_KEY = "id_rsa.pub"
BLUEFIELD_CONFIGMAP = "ocp-bluefield-images"
UNSUPPORTED_CLUSTER_TYPES = ("kamaji",)
SHOWN_CHARACTERS = 100  # of a value quoted in a message (a DPUCluster type, an image mapping)
SSH_PUBLIC_KEY = re.compile(
    r"(?:^|\s)(?:ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-nistp(?:256|384|521)"
    r"|sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)\s+[A-Za-z0-9+/]+={0,3}(?:\s|$)"
)


@dataclass
class Check:
    """What one rule found: its conditions and whether provisioning may go on."""

    conditions: list[Condition]
    ok: bool
    facts: dict[str, Any] = field(default_factory=dict)


def shown(value: Any) -> str:
    """``value`` quoted for a message, cut to SHOWN_CHARACTERS: hostile input does not make a huge condition."""
    text = repr(value)
    if len(text) <= SHOWN_CHARACTERS:
        return text
    return f"{text[:SHOWN_CHARACTERS]}... ({len(text)} characters)"


def _listed(names: list[str], most: int = 10) -> str:
    if not names:
        return "none"
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(shown(n).strip("'") for n in names[:most]) + more


class _NotTextError(ValueError):
    """A secret's key whose value is not UTF-8 text."""


def _decoded(secret: dict[str, Any], key: str) -> str | None:
    """The key's value as text; None when the key is absent; _NotTextError when it is not text."""
    raw = (secret.get("data") or {}).get(key)
    if raw is None:
        value = (secret.get("stringData") or {}).get(key)
        return value if isinstance(value, str) or value is None else str(value)
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, TypeError, ValueError) as exc:
        raise _NotTextError(key) from exc


def content_problem(key: str, value: str) -> str | None:
    """What is wrong with a secret's content, in words that never quote it; None when it is usable."""
    if not value.strip():
        return "is empty"
    if key == PULL_SECRET_KEY:
        try:
            auths = json.loads(value).get("auths")
        except (ValueError, AttributeError):
            return 'is not JSON (a pull secret is a docker config JSON: {"auths": {...}})'
        if not isinstance(auths, dict):
            return 'has no "auths" object (a pull secret is a docker config JSON: {"auths": {...}})'
        return None
    lines = [line for line in value.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    bad = [n for n, line in enumerate(lines, 1) if not SSH_PUBLIC_KEY.search(line)]
    if bad:
        return (
            f"is not an OpenSSH public key (line {bad[0]} of {len(lines)} is not '<type> <base64> [comment]', "
            "e.g. ssh-ed25519 AAAA... user@host)"
        )
    return None


def check_secrets(
    namespace: str,
    pull_secret_name: str,
    pull_secret: dict[str, Any] | None,
    ssh_secret_name: str,
    ssh_secret: dict[str, Any] | None,
) -> Check:
    """Both secrets exist in the provisioner's namespace and carry their keys."""
    problems: list[tuple[str, str]] = []
    for field_path, name, secret, key, create in (
        (
            "spec.pullSecretRef.name",
            pull_secret_name,
            pull_secret,
            PULL_SECRET_KEY,
            f"kubectl create secret generic {pull_secret_name} -n {namespace} "
            f"--from-file={PULL_SECRET_KEY}=pull-secret.json",
        ),
        (
            "spec.sshKeySecretRef.name",
            ssh_secret_name,
            ssh_secret,
            SSH_KEY_KEY,
            f"kubectl create secret generic {ssh_secret_name} -n {namespace} --from-file={SSH_KEY_KEY}=id_rsa.pub",
        ),
    ):
        what = "pull secret" if key == PULL_SECRET_KEY else "SSH key secret"
        reason_prefix = "PullSecret" if key == PULL_SECRET_KEY else "SSHKeySecret"
        if secret is None:
            problems.append(
                (
                    f"{reason_prefix}NotFound",
                    f"{field_path}: {what} {namespace}/{name} not found; create it: {create}",
                )
            )
            continue
        fix = f"put the {'pull secret JSON' if key == PULL_SECRET_KEY else 'public SSH key'} in it"
        try:
            value = _decoded(secret, key)
        except _NotTextError:
            problems.append(
                (
                    f"{reason_prefix}Invalid",
                    f"{field_path}: {what} {namespace}/{name} key {key!r} is not base64-encoded UTF-8 text; {fix}",
                )
            )
            continue
        if value is None:
            keys = sorted(set(secret.get("data") or {}) | set(secret.get("stringData") or {}))
            problems.append(
                (
                    f"{reason_prefix}KeyMissing",
                    f"{field_path}: {what} {namespace}/{name} has no key {key!r} "
                    f"(it has {shown(keys) if keys else 'no keys'}); add the key {key!r}",
                )
            )
            continue
        problem = content_problem(key, value)
        if problem == "is empty":
            problems.append(
                (f"{reason_prefix}KeyMissing", f"{field_path}: {what} {namespace}/{name} key {key!r} is empty; {fix}")
            )
        elif problem:
            problems.append(
                (f"{reason_prefix}Invalid", f"{field_path}: {what} {namespace}/{name} key {key!r} {problem}; {fix}")
            )
    if problems:
        return Check(
            [condition(SECRETS_VALID, False, problems[0][0], "; ".join(problem[1] for problem in problems))], False
        )
    return Check(
        [
            condition(
                SECRETS_VALID,
                True,
                "SecretsValid",
                f"pull secret {pull_secret_name} and SSH key secret {ssh_secret_name} are valid",
            )
        ],
        True,
    )


def _sort_key(obj: dict[str, Any]) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("creationTimestamp") or "", meta.get("namespace") or "", meta.get("name") or ""


def other_users(provisioner: dict[str, Any], all_provisioners: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Provisioners that reference the same DPUCluster and hold it before this one (older first)."""
    ref = (provisioner.get("spec") or {}).get("dpuClusterRef") or {}
    me = provisioner.get("metadata") or {}
    key = _sort_key(provisioner)
    holders = []
    for other in all_provisioners:
        ometa = other.get("metadata") or {}
        if (ometa.get("namespace"), ometa.get("name")) == (me.get("namespace"), me.get("name")):
            continue
        if ometa.get("deletionTimestamp"):
            continue
        oref = (other.get("spec") or {}).get("dpuClusterRef") or {}
        if (oref.get("name"), oref.get("namespace")) != (ref.get("name"), ref.get("namespace")):
            continue
        # Without a creation time (admission of a new object) every existing one holds it.
        if not me.get("creationTimestamp") or _sort_key(other) < key:
            holders.append(other)
    return sorted(holders, key=_sort_key)


def check_dpucluster(
    provisioner: dict[str, Any],
    dpucluster: dict[str, Any] | None,
    all_provisioners: list[dict[str, Any]],
    previously_seen: bool = False,
) -> Check:
    """The referenced DPUCluster exists, is of a supported type and is not another provisioner's."""
    ref = (provisioner.get("spec") or {}).get("dpuClusterRef") or {}
    where = f"{ref.get('namespace')}/{ref.get('name')}"
    if dpucluster is None:
        reason = "DPUClusterDeleted" if previously_seen else "DPUClusterNotFound"
        message = (
            f"spec.dpuClusterRef: DPUCluster {where} was deleted; the HostedCluster is kept. "
            "Recreate the DPUCluster to resume, or delete this DPFHCPProvisioner to tear the hosted cluster down"
            if previously_seen
            else f"spec.dpuClusterRef: DPUCluster {where} not found; create it or point spec.dpuClusterRef "
            "at an existing DPUCluster (kubectl get dpuclusters -A)"
        )
        unknown = "the DPUCluster is missing"
        return Check(
            [
                condition(DPUCLUSTER_MISSING, True, reason, message),
                condition(CLUSTER_TYPE_VALID, None, "DPUClusterMissing", f"Cannot check the type: {unknown}"),
                condition(DPUCLUSTER_IN_USE, None, "DPUClusterMissing", f"Cannot check who uses it: {unknown}"),
            ],
            False,
        )
    conds = [condition(DPUCLUSTER_MISSING, False, "DPUClusterFound", f"DPUCluster {where} exists")]
    ok = True
    cluster_type = (dpucluster.get("spec") or {}).get("type")
    if not isinstance(cluster_type, str) or not cluster_type or cluster_type in UNSUPPORTED_CLUSTER_TYPES:
        ok = False
        conds.append(
            condition(
                CLUSTER_TYPE_VALID,
                False,
                "UnsupportedClusterType",
                f"DPUCluster {where} spec.type is {shown(cluster_type)}; a HyperShift-backed DPUCluster must be of "
                "type 'static' (or a vendor type 'vendor/...'); 'kamaji' clusters are managed by Kamaji, not by this "
                "operator",
            )
        )
    else:
        conds.append(
            condition(
                CLUSTER_TYPE_VALID,
                True,
                "SupportedClusterType",
                f"DPUCluster {where} is of type {shown(cluster_type)}",
            )
        )
    holders = other_users(provisioner, all_provisioners)
    if holders:
        ok = False
        names = ", ".join(f"{h['metadata'].get('namespace')}/{h['metadata']['name']}" for h in holders)
        conds.append(
            condition(
                DPUCLUSTER_IN_USE,
                True,
                "InUseByAnotherProvisioner",
                f"spec.dpuClusterRef: DPUCluster {where} is already used by DPFHCPProvisioner {names}; "
                "a DPUCluster serves one provisioner: point spec.dpuClusterRef at another DPUCluster",
            )
        )
    else:
        conds.append(
            condition(
                DPUCLUSTER_IN_USE,
                False,
                "NotInUse",
                f"DPUCluster {where} is used by no other DPFHCPProvisioner",
            )
        )
    return Check(conds, ok)


def resolve_bluefield_image(
    release_image: str,
    configmap: dict[str, Any] | None,
    configmap_namespace: str,
    configmap_name: str = BLUEFIELD_CONFIGMAP,
) -> Check:
    """The BlueField image mapped to the release's OCP version in the ConfigMap."""
    where = f"ConfigMap {configmap_namespace}/{configmap_name}"
    try:
        version = ocp_version(release_image)
    except ReleaseImageError as exc:
        return Check([condition(BLUEFIELD_IMAGE_RESOLVED, False, "InvalidReleaseImage", str(exc))], False)
    if configmap is None:
        return Check(
            [
                condition(
                    BLUEFIELD_IMAGE_RESOLVED,
                    False,
                    "ConfigMapNotFound",
                    f"{where} not found; create it with a key {version!r} whose value is the BlueField image "
                    "(the chart's blueFieldImages value does this)",
                )
            ],
            False,
            {"ocp_version": version},
        )
    data = configmap.get("data") or {}
    mapped = sort_versions([k for k in data if isinstance(k, str)])
    if version not in data:
        return Check(
            [
                condition(
                    BLUEFIELD_IMAGE_RESOLVED,
                    False,
                    "VersionNotMapped",
                    f"spec.ocpReleaseImage {release_image!r} is OCP {version}, which {where} does not map to a "
                    f"BlueField image; mapped versions: {_listed(mapped)}. Add {version!r} "
                    f"to the ConfigMap or use a mapped release",
                )
            ],
            False,
            {"ocp_version": version},
        )
    image = data[version]
    if not is_image_reference(image):
        return Check(
            [
                condition(
                    BLUEFIELD_IMAGE_RESOLVED,
                    False,
                    "InvalidImageMapping",
                    f"{where} maps {version!r} to {shown(image)}, which is not an image reference; set it to the "
                    "BlueField container image (registry/repository:tag)",
                )
            ],
            False,
            {"ocp_version": version},
        )
    image = image.strip()
    return Check(
        [
            condition(
                BLUEFIELD_IMAGE_RESOLVED,
                True,
                "ImageResolved",
                f"OCP {version} maps to BlueField image {image}",
            )
        ],
        True,
        {"ocp_version": version, "bluefield_image": image},
    )
