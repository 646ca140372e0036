# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Admission rules for DPFHCPProvisioner: what the CRD's schema and CEL rules say, enforced the
same way on API servers that cannot run CEL, plus the checks that need other objects.

Pure functions: the webhook reads the objects and calls these; the semantic checks come from
validation.py, which the validate role uses too, so each rule is written once.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.release import IMAGE_REF
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.validation import (
    UNSUPPORTED_CLUSTER_TYPES,
    other_users,
    resolve_bluefield_image,
)

DNS_NAME = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
OBJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
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


def _name_ref(spec: dict[str, Any], key: str, with_namespace: bool) -> list[Problem]:
    ref = spec.get(key)
    if not isinstance(ref, dict):
        return [
            Problem(
                f"spec.{key}", f"must be an object with name{' and namespace' if with_namespace else ''}, got {ref!r}"
            )
        ]
    out = []
    for part in ("name", "namespace") if with_namespace else ("name",):
        value = ref.get(part)
        if not isinstance(value, str) or not OBJECT_NAME.match(value) or len(value) > 253:
            out.append(
                Problem(
                    f"spec.{key}.{part}",
                    f"{value!r} is not a valid object name (lowercase letters, "
                    "digits, '-' and '.', starting and ending with a letter or digit)",
                )
            )
    return out


def check_spec(spec: Any) -> list[Problem]:
    """Fields, formats, enums and cross-field rules of a spec on its own."""
    if not isinstance(spec, dict):
        return [Problem("spec", "is required")]
    problems = [Problem(f"spec.{f}", "is required") for f in REQUIRED if spec.get(f) in (None, "", {})]
    domain = spec.get("baseDomain")
    if domain not in (None, "") and (
        not isinstance(domain, str) or not 4 <= len(domain) <= 253 or not DNS_NAME.match(domain)
    ):
        problems.append(
            Problem(
                "spec.baseDomain", f"{domain!r} is not a DNS name of 4 to 253 characters (e.g. clusters.example.com)"
            )
        )
    image = spec.get("ocpReleaseImage")
    if image not in (None, ""):
        match = IMAGE_REF.match(image) if isinstance(image, str) else None
        if not match or not (match.group("tag") or match.group("digest")):
            problems.append(
                Problem(
                    "spec.ocpReleaseImage",
                    f"{image!r} is not an image reference with a tag or digest "
                    "(e.g. quay.io/openshift-release-dev/ocp-release:4.19.0-x86_64)",
                )
            )
    for key, ns in (("dpuClusterRef", True), ("pullSecretRef", False), ("sshKeySecretRef", False)):
        if spec.get(key) not in (None, "", {}):
            problems += _name_ref(spec, key, ns)
    for key in ("controlPlaneAvailabilityPolicy", "infrastructureAvailabilityPolicy"):
        if key in spec and spec[key] not in POLICIES:
            problems.append(Problem(f"spec.{key}", f"{spec[key]!r} is not one of {list(POLICIES)}"))
    vip = spec.get("virtualIP")
    if vip not in (None, ""):
        try:
            ipaddress.ip_address(vip)
        except (ValueError, TypeError):
            problems.append(Problem("spec.virtualIP", f"{vip!r} is not an IPv4 or IPv6 address"))
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
            problems.append(Problem(f"spec.{key}", f"{spec[key]!r} is not true or false"))
    selector = spec.get("nodeSelector")
    if selector is not None and (
        not isinstance(selector, dict) or len(selector) > 20 or not all(isinstance(v, str) for v in selector.values())
    ):
        problems.append(Problem("spec.nodeSelector", "must map at most 20 label keys to string values"))
    for key in ("etcdStorageClass", "machineOSURL"):
        if key in spec and (not isinstance(spec[key], str) or not spec[key]):
            problems.append(Problem(f"spec.{key}", f"{spec[key]!r} must be a non-empty string"))
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
                    problems.append(Problem(f"spec.networking.{key}", f"{value!r} is not a CIDR (e.g. 10.0.0.0/16)"))
    return problems


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
                    f"is immutable (was {old.get(key)!r}, now {new.get(key)!r}); "
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
