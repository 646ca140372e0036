# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Small pure functions the roles' templates use (the rules live in module_utils)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import (
    admission,
    capabilities,
    conditions,
    metallb,
    naming,
    release,
    status,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import LABEL_NAME, LABEL_NAMESPACE
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.release import (
    ReleaseImageError,
    ocp_version,
)


def _as_filter(func: Callable[..., Any]) -> Callable[..., Any]:
    """Report bad input as a filter error that names the filter."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ValueError, KeyError, TypeError) as exc:
            raise AnsibleFilterError(f"dpf_hcp.provisioner.{func.__name__}: {exc}") from exc

    return wrapper


def release_version(release_image: str) -> str:
    """The OCP version in a release image tag: ``...:4.19.0-ec.5-x86_64`` -> ``4.19.0-ec.5``."""
    try:
        return ocp_version(release_image)
    except ReleaseImageError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def provisioner_labels(provisioner: dict[str, Any]) -> dict[str, str]:
    """The labels that mark an object as created for this provisioner."""
    ref = naming.hosted_cluster_ref(provisioner)
    return {LABEL_NAME: ref["name"], LABEL_NAMESPACE: ref["namespace"]}


def owner_references(provisioner: dict[str, Any]) -> list[dict[str, Any]]:
    """A controller ownerReference to the provisioner, or none when it is not stored in the API."""
    meta = provisioner["metadata"]
    if not meta.get("uid"):
        return []
    return [
        {
            "apiVersion": provisioner.get("apiVersion", "provisioning.dpu.hcp.io/v1alpha1"),
            "kind": provisioner.get("kind", "DPFHCPProvisioner"),
            "name": meta["name"],
            "uid": meta["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def spec_problems(spec: Any, release_repositories: Any = release.DEFAULT_RELEASE_REPOSITORIES) -> list[str]:
    """What the admission webhook would refuse in a DPFHCPProvisioner spec, one line per field."""
    return [str(p) for p in admission.check_spec(spec, release.release_repositories(release_repositories))]


def spec_validity(spec: Any, release_repositories: Any = release.DEFAULT_RELEASE_REPOSITORIES) -> dict[str, Any]:
    """The SpecValid condition of a DPFHCPProvisioner spec (the webhook's rules), and whether it passed."""
    check = admission.spec_validity(spec, release.release_repositories(release_repositories))
    return {"ok": check.ok, "conditions": check.conditions}


def metallb_condition(
    provisioner: dict[str, Any],
    namespace: str,
    recheck_seconds: float,
    missing_kinds: list[str] | None = None,
    missing_namespaces: list[str] | None = None,
    overlapping: list[str] | None = None,
    refused: list[str] | None = None,
    managed: bool = True,
) -> dict[str, Any]:
    """The provisioner's MetalLBConfigured condition from what the metallb role found."""
    spec = provisioner.get("spec") or {}
    return metallb.configured_condition(
        needed=naming.exposes_load_balancer(spec),
        vip=str(spec.get("virtualIP") or ""),
        namespace=namespace,
        name=naming.metallb_pool_name(provisioner),
        control_plane_namespace=naming.control_plane_namespace(provisioner),
        recheck_seconds=float(recheck_seconds),
        missing_kinds=list(missing_kinds or []),
        missing_namespaces=list(missing_namespaces or []),
        overlapping=list(overlapping or []),
        refused=list(refused or []),
        managed=bool(managed),
    )


def cleanup_condition(
    remaining: list[str],
    provisioner: dict[str, Any],
    namespace: str,
    elapsed_seconds: float,
    timeout_seconds: float,
    next_look_seconds: float,
) -> dict[str, Any]:
    """The provisioner's HostedClusterCleanup condition from what the cleanup role found left."""
    requested = (provisioner.get("metadata") or {}).get("deletionTimestamp") or ""
    return conditions.cleanup(
        [str(r) for r in remaining],
        namespace,
        str(requested),
        float(elapsed_seconds),
        float(timeout_seconds),
        float(next_look_seconds),
    )


def machineconfig_condition(image: str, namespace: str, configmap: str) -> dict[str, Any]:
    """The IgnitionConfigured condition of the ignition role's MachineConfig ConfigMap."""
    return conditions.machineconfig(str(image or ""), namespace, configmap)


def label_selector(labels: dict[str, str]) -> str:
    """``{a: 1, b: 2}`` -> ``a=1,b=2``."""
    return ",".join(f"{k}={v}" for k, v in labels.items())


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "release_version": release_version,
            "provisioner_labels": _as_filter(provisioner_labels),
            "owner_references": _as_filter(owner_references),
            "spec_problems": _as_filter(spec_problems),
            "spec_validity": _as_filter(spec_validity),
            "validation_failures": status.validation_failures,
            "label_selector": _as_filter(label_selector),
            "metallb_condition": _as_filter(metallb_condition),
            "metallb_rechecks": _as_filter(metallb.rechecks),
            "cleanup_condition": _as_filter(cleanup_condition),
            "machineconfig_condition": _as_filter(machineconfig_condition),
            "hosted_cluster_ref": _as_filter(naming.hosted_cluster_ref),
            "control_plane_namespace": _as_filter(naming.control_plane_namespace),
            "admin_kubeconfig_secret": _as_filter(naming.admin_kubeconfig_secret),
            "injected_kubeconfig_ref": _as_filter(naming.injected_kubeconfig_ref),
            "metallb_pool_name": _as_filter(naming.metallb_pool_name),
            "exposes_load_balancer": _as_filter(naming.exposes_load_balancer),
            "disabled_capabilities": _as_filter(capabilities.disabled),
            "machineconfig_configmap_name": _as_filter(naming.machineconfig_configmap_name),
        }
