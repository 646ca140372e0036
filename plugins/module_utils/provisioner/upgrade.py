# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""What is checked before an upgrade starts, by the admission webhook (old and new spec) and by
the validate role (the HostedCluster's release and the spec): no new release while the previous
upgrade still rolls out, and no spec.machineOSURL left naming another release's BlueField image.
The target's own mapping is checked where it always is (BlueFieldImageResolved)."""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s import query
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.conditions import condition
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import status, versions
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.conditions import UPGRADE_ALLOWED
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.release import (
    ReleaseImageError,
    ocp_version,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.validation import Check, shown

# The annotation that lets an update retarget an upgrade still under way to the version it names
# (HyperShift itself takes a new release at any time: the CVO retargets; this guard is ours). Naming
# the version, it lets that one retarget through and no later upgrade.
FORCE_ANNOTATION = "provisioning.dpu.hcp.io/retarget-upgrade"
PREVIOUS_UPGRADE_ROLLING = "PreviousUpgradeRolling"
MACHINE_OS_URL_OF_ANOTHER_RELEASE = "MachineOSURLOfAnotherRelease"


def _version(release_image: str) -> str | None:
    try:
        return ocp_version(release_image)
    except ReleaseImageError:
        return None


def same_release(current: str, target: str) -> bool:
    """Whether moving from ``current`` to ``target`` starts no upgrade: the same image, the same digest,
    or (neither by digest) the same version under another name, a mirror say. A tag beside a digest
    is not read: the digest is what HyperShift pulls."""
    if current == target:
        return True
    if versions.digest(current) or versions.digest(target):
        return versions.digest(current) == versions.digest(target)
    return _version(current) is not None and _version(current) == _version(target)


def rolling_upgrade(hosted_cluster: dict[str, Any] | None) -> str | None:
    """The release an upgrade under way rolls out (its version, else its image), or None.

    An upgrade is under way once an install completed (a Completed entry in the ClusterVersion's
    history) and either HostedClusterUpgrading says so (HyperShift's Progressing, or the newest
    history entry Partial) or the control plane's newest entry is not Completed. The first install
    is no upgrade: a release that never came up may be replaced."""
    if hosted_cluster is None:
        return None
    upgrade = status.upgrade_condition(hosted_cluster)
    control_plane = versions.newest(hosted_cluster, "controlPlaneVersion")
    release = query.text(hosted_cluster, "spec.release.image")
    installed = bool(upgrade and upgrade["reason"] != status.INITIAL_INSTALL)
    # Right after the spec changed HyperShift still reports the old release Completed and is not yet
    # Progressing (it pulls the new release first): the control plane not at the spec's release is
    # an upgrade under way too.
    under_way = bool(upgrade and upgrade["status"] == "True") or bool(
        control_plane and (control_plane.state != versions.COMPLETED or not versions.is_release(control_plane, release))
    )
    if not (installed and under_way):
        return None
    return _version(release) or shown(release)


def _mapping(configmap: dict[str, Any] | None) -> dict[str, str]:
    data = (configmap or {}).get("data") or {}
    return {k: v.strip() for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def _names_version(url: str, version: str) -> bool:
    """Whether ``version`` appears in ``url`` as a whole token (4.19.1 not inside 4.19.10)."""
    return re.search(rf"(?<![0-9A-Za-z.]){re.escape(version)}(?![0-9A-Za-z]|\.[0-9])", url) is not None


def machine_os_url_problem(
    machine_os_url: str, target_release: str, previous_release: str, configmap: dict[str, Any] | None
) -> str | None:
    """Why ``machine_os_url`` cannot stay as it is for an upgrade from ``previous_release`` to
    ``target_release``: it is the BlueField image the map gives another release and not the
    target's, or it names the previous release's version and not the target's."""
    target, previous = _version(target_release), _version(previous_release)
    if not machine_os_url or not target:
        return None
    mapping = _mapping(configmap)
    fix = f"set spec.machineOSURL to the BlueField image for {target}"
    fix += f" ({shown(mapping[target])} in the ocp-bluefield-images ConfigMap)" if target in mapping else ""
    fix += " or remove it so that the ConfigMap's image is used"
    if mapping.get(target) == machine_os_url:
        return None
    others = sorted(v for v, image in mapping.items() if image == machine_os_url and v != target)
    if others:
        other = others[0][: status.SHOWN]
        return f"is {shown(machine_os_url)}, the BlueField image mapped to OCP {other}, not to {target}; {fix}"
    if (
        previous
        and previous != target
        and _names_version(machine_os_url, previous)
        and not _names_version(machine_os_url, target)
    ):
        return f"is {shown(machine_os_url)}, which names OCP {previous}, the release before; {fix}"
    return None


def check(
    target_release: str,
    hosted_cluster: dict[str, Any] | None,
    machine_os_url: str,
    configmap: dict[str, Any] | None,
    annotations: dict[str, Any] | None = None,
) -> Check:
    """UpgradeAllowed for moving ``hosted_cluster`` (as it is) to ``target_release``: True when no
    upgrade starts (no HostedCluster yet, or already at that version) or nothing stands in its way."""
    current = query.text(hosted_cluster, "spec.release.image") if hosted_cluster else ""
    if not current or same_release(current, target_release):
        return Check([condition(UPGRADE_ALLOWED, True, "NoUpgrade", "No upgrade starts")], True)
    problems = upgrade_problems(current, target_release, hosted_cluster, machine_os_url, configmap, annotations)
    if not problems:
        to = _version(target_release) or target_release[: status.SHOWN]
        message = f"The upgrade from {_version(current) or shown(current)} to {to} may start"
        return Check([condition(UPGRADE_ALLOWED, True, "Allowed", message)], True)
    message = "; ".join(f"{field}: {text}" for _reason, field, text in problems)
    return Check([condition(UPGRADE_ALLOWED, False, problems[0][0], message)], False)


def upgrade_problems(
    previous_release: str,
    target_release: str,
    hosted_cluster: dict[str, Any] | None,
    machine_os_url: str,
    configmap: dict[str, Any] | None,
    annotations: dict[str, Any] | None = None,
) -> list[tuple[str, str, str]]:
    """(reason, field, what and the fix) for each thing that stands in the way of an upgrade from
    ``previous_release`` to ``target_release``."""
    out = []
    rolling = rolling_upgrade(hosted_cluster)
    target = _version(target_release) or target_release
    forced = (annotations or {}).get(FORCE_ANNOTATION) == target
    if rolling and not forced and not same_release(query.text(hosted_cluster, "spec.release.image"), target_release):
        out.append(
            (
                PREVIOUS_UPGRADE_ROLLING,
                "spec.ocpReleaseImage",
                f"the upgrade to {rolling} is still rolling out (HostedClusterUpgrading, "
                f"ControlPlaneRolledOut); wait until HostedClusterUpgrading is False, or set the annotation "
                f"{FORCE_ANNOTATION}: {target!r} to retarget it to {target} anyway",
            )
        )
    pinned = machine_os_url_problem(machine_os_url, target_release, previous_release, configmap)
    if pinned:
        out.append((MACHINE_OS_URL_OF_ANOTHER_RELEASE, "spec.machineOSURL", pinned))
    return out
