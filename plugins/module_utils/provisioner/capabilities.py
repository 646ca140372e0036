# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""The hosted cluster capabilities a provisioner disables: which exist, which a release can
disable, the default, and the HostedCluster's ``spec.capabilities.disabled`` they become."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.release import (
    ReleaseImageError,
    ocp_version,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.validation import shown

# HyperShift's OptionalCapability values (openshift/hypershift api/hypershift/v1beta1/hostedcluster_types.go),
# in its enum's order.
KNOWN = ("ImageRegistry", "openshift-samples", "Insights", "baremetal", "Console", "NodeTuning", "Ingress")
# "Disabling 'openshift-samples','Insights', 'Console', 'NodeTuning', 'Ingress' are only supported in
# OpenShift versions 4.20 and above." (the same file, Capabilities.Disabled).
SINCE_4_20 = frozenset({"openshift-samples", "Insights", "Console", "NodeTuning", "Ingress"})
# What the upstream operator disables on every HostedCluster, as a DPU cluster uses none of it
# (rh-ecosystem-edge/dpf-hcp-provisioner-operator internal/controller/hostedcluster/hostedcluster.go).
DEFAULT_DISABLED = ("ImageRegistry", "Insights", "Console", "openshift-samples", "Ingress", "NodeTuning")
# How the operator hands its --disabled-capabilities to the hosted_cluster role (comma-separated).
ENV = "DPFHCP_DISABLED_CAPABILITIES"
RULE = f"a list of {', '.join(KNOWN)}"


def parse(value: str | Iterable[Any] | None) -> tuple[str, ...]:
    """An administrator's list (a list, or comma-separated text; empty: none disabled), checked as
    ``problems`` checks it without a release. ValueError names what is wrong and the fix."""
    items = [i.strip() for i in value.split(",")] if isinstance(value, str) else list(value or [])
    names = tuple(i for i in items if i != "")
    found = problems(names)
    if found:
        raise ValueError("; ".join(found))
    return names


def _before_4_20(version: str | None) -> bool:
    if version is None:
        return False
    try:
        major, minor = (int(p) for p in version.split("-", 1)[0].split(".")[:2])
    except ValueError:
        return False
    return (major, minor) < (4, 20)


def release_of(spec: Mapping[str, Any]) -> str | None:
    """The OCP version of ``spec.ocpReleaseImage``, None when it names none (validated elsewhere)."""
    try:
        return ocp_version(spec.get("ocpReleaseImage"))  # type: ignore[arg-type]
    except ReleaseImageError:
        return None


def problems(disabled: Any, version: str | None = None) -> list[str]:
    """What HyperShift (its CRD, or the release) would not take in this list, each with the fix."""
    if not isinstance(disabled, list | tuple):
        return [f"is not a list; use {RULE}"]
    out = []
    for name in disabled:
        if name not in KNOWN:
            out.append(f"{shown(name)} is not a capability HyperShift can disable; use {RULE}")
    if len(set(map(str, disabled))) != len(disabled):
        out.append("names a capability twice; list each once")
    if "Ingress" in disabled and "Console" not in disabled:
        out.append("disables Ingress without Console, which HyperShift refuses; disable Console too, or keep Ingress")
    late = sorted(SINCE_4_20.intersection(n for n in disabled if isinstance(n, str)))
    if late and _before_4_20(version):
        out.append(
            f"disables {', '.join(late)}, which OpenShift {version} cannot (4.20 and later only); "
            "remove them, or use a 4.20 or later release"
        )
    return out


def disabled(spec: Mapping[str, Any], default: Iterable[str] = DEFAULT_DISABLED) -> list[str]:
    """The HostedCluster's ``spec.capabilities.disabled``: the provisioner's own
    ``spec.capabilities.disabled`` when it has one, else ``default`` without what its release
    cannot disable (before 4.20 only ImageRegistry and baremetal)."""
    own = spec.get("capabilities")
    if isinstance(own, Mapping) and "disabled" in own:
        return list(own["disabled"] or [])
    early = _before_4_20(release_of(spec))
    return [name for name in default if not (early and name in SINCE_4_20)]
