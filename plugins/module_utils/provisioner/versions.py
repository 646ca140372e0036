# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""The two versions HyperShift reports of a HostedCluster, as our conditions and status fields.

- ``status.controlPlaneVersion``: the rollout of the management-side control plane components.
  The HostedControlPlane fills it and HyperShift copies it to the HostedCluster whole
  (openshift/hypershift control-plane-operator/controllers/hostedcontrolplane/controlplaneversion.go,
  reconcileControlPlaneVersion; hypershift-operator/controllers/hostedcluster/hostedcluster_controller.go,
  propagateControlPlaneVersion). Its desired image is resolved to a digest; the newest history entry
  is Completed once every control plane component reports the desired version and RolloutComplete.
  Its observedGeneration is the HostedControlPlane's, not the HostedCluster's, so it is not compared.
- ``status.version``: the hosted cluster's ClusterVersion, which stays Partial until workers (here,
  DPUs) joined and the hosted CVO completed the release.

Whether an entry is the release we asked for follows the upstream DPF-HCP operator
(rh-ecosystem-edge/dpf-hcp-provisioner-operator internal/controller/dpfhcpprovisioner_controller.go,
versionMatchesImage): a tagged release image matches an entry of the tag's version (the recorded
image is a digest); an image by digest only matches the same image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s import query
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.conditions import Condition, condition
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.conditions import (
    CONTROL_PLANE_ROLLED_OUT,
    DATA_PLANE_ROLLED_OUT,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.release import (
    ReleaseImageError,
    ocp_version,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.status import SHOWN

COMPLETED = "Completed"
PARTIAL = "Partial"
NOT_STARTED = "NotStarted"
NOT_REPORTED = "NotReported"


@dataclass(frozen=True)
class Rollout:
    """The newest history entry of one of HyperShift's version statuses."""

    version: str
    image: str
    state: str
    started: str


def _text(value: object, limit: int = SHOWN) -> str:
    return str(value)[:limit] if isinstance(value, str | int | float) and not isinstance(value, bool) else ""


def newest(hosted_cluster: dict[str, Any] | None, field: str) -> Rollout | None:
    """``status.<field>.history[0]``, or None when HyperShift reports no such history."""
    history = query.field(hosted_cluster, f"status.{field}.history", list, [])
    if not history or not isinstance(history[0], dict):  # the newest is the first, whatever follows
        return None
    top = history[0]
    return Rollout(
        _text(top.get("version")), _text(top.get("image"), 1024), _text(top.get("state")), _text(top.get("startedTime"))
    )


def digest(image: str) -> str:
    """The ``sha256:...`` of an image by digest, or ""."""
    return image.rsplit("@", 1)[1] if "@" in image else ""


def is_release(entry: Rollout, release_image: str) -> bool:
    """Whether ``entry`` is of ``release_image`` (the HostedCluster's spec.release.image): by digest when
    it names one (a tag beside a digest says nothing: the digest is what is pulled), else by the tag's
    version (HyperShift records the digest it resolved)."""
    if digest(release_image):
        return digest(entry.image) == digest(release_image)
    try:
        return entry.version == ocp_version(release_image)
    except ReleaseImageError:
        return entry.image == release_image


def _named(entry: Rollout) -> str:
    return entry.version or entry.image[:SHOWN] or "an unnamed release"


def _target(release_image: str) -> str:
    try:
        return ocp_version(release_image)
    except ReleaseImageError:
        return release_image[:SHOWN]


def rolled_out(hosted_cluster: dict[str, Any], field: str, kind: str, what: str, hint: str = "") -> Condition:
    """``kind`` (a condition type) for ``status.<field>``: True once its newest entry is the desired
    release and Completed; False while it is Partial or another release's; Unknown when HyperShift
    reports nothing. ``what`` names the rollout for a person; ``hint`` follows while not Completed."""
    release_image = query.text(hosted_cluster, "spec.release.image")
    target = _target(release_image)
    entry = newest(hosted_cluster, field)
    if entry is None:
        return condition(kind, None, NOT_REPORTED, f"HyperShift has not reported the {what} yet (status.{field})")
    if not is_release(entry, release_image):
        return condition(
            kind,
            False,
            NOT_STARTED,
            f"The {what} has not started {target} yet; its newest release is {_named(entry)}"
            f" ({entry.state or 'no state'}){hint}",
        )
    if entry.state == COMPLETED:
        return condition(kind, True, COMPLETED, f"The {what} completed {_named(entry)}")
    since = f" since {entry.started}" if entry.started else ""
    return condition(
        kind, False, PARTIAL, f"The {what} is rolling out {_named(entry)} ({entry.state or 'no state'}{since}){hint}"
    )


def conditions(hosted_cluster: dict[str, Any] | None) -> list[Condition]:
    """ControlPlaneRolledOut and DataPlaneRolledOut for ``hosted_cluster`` (None: not made yet)."""
    if hosted_cluster is None:
        message = "The HostedCluster does not exist yet"
        return [
            condition(CONTROL_PLANE_ROLLED_OUT, None, NOT_REPORTED, message),
            condition(DATA_PLANE_ROLLED_OUT, None, NOT_REPORTED, message),
        ]
    return [
        rolled_out(hosted_cluster, "controlPlaneVersion", CONTROL_PLANE_ROLLED_OUT, "control plane"),
        rolled_out(
            hosted_cluster,
            "version",
            DATA_PLANE_ROLLED_OUT,
            "hosted cluster's ClusterVersion",
            "; it completes once the DPUs joined as workers and the hosted cluster's operators rolled out",
        ),
    ]


def fields(hosted_cluster: dict[str, Any] | None) -> dict[str, Any]:
    """``status.versions``: each rollout's newest version and state, as ``kubectl get -o wide`` shows."""
    out: dict[str, Any] = {}
    for key, field in (("controlPlane", "controlPlaneVersion"), ("dataPlane", "version")):
        entry = newest(hosted_cluster, field)
        # Only what HyperShift filled: an empty string reaches the API server as null, which the
        # schema's string type refuses (seen on 1.20), and the whole status write with it.
        shown = {k: v for k, v in (("version", entry.version), ("state", entry.state)) if v} if entry else {}
        if shown:
            out[key] = shown
    return out
