# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""OCP release image references: the version they carry and its BlueField image."""

from __future__ import annotations

import re

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.formats import (
    ImageReferenceError,
    parse_image_reference,
)

ARCH_SUFFIXES = ("-x86_64", "-amd64", "-arm64", "-aarch64", "-multi", "-ppc64le", "-s390x")
VERSION = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$")


class ReleaseImageError(ValueError):
    """The release image reference does not name an OCP version."""


def ocp_version(release_image: str) -> str:
    """The OCP version in a release image tag, arch suffix removed.

    ``quay.io/openshift-release-dev/ocp-release:4.19.0-ec.5-x86_64`` -> ``4.19.0-ec.5``.
    """
    if not isinstance(release_image, str) or not release_image.strip():
        raise ReleaseImageError(
            "spec.ocpReleaseImage is empty; set it to a release image such as "
            "quay.io/openshift-release-dev/ocp-release:4.19.0-x86_64"
        )
    try:
        tag = parse_image_reference(release_image.strip()).tag
    except ImageReferenceError:
        tag = None
    if not tag:
        raise ReleaseImageError(
            f"spec.ocpReleaseImage {release_image!r} has no tag to read the OCP version from; "
            "use a tagged release image such as quay.io/openshift-release-dev/ocp-release:4.19.0-x86_64"
        )
    given = tag
    for suffix in ARCH_SUFFIXES:
        if tag.endswith(suffix):
            tag = tag[: -len(suffix)]
            break
    if not VERSION.match(tag):
        raise ReleaseImageError(
            f"spec.ocpReleaseImage {release_image!r}: tag {given!r} is not an OCP version "
            "(expected X.Y.Z with an optional pre-release and arch suffix, e.g. 4.19.0-ec.5-x86_64)"
        )
    return tag


def is_image_reference(value: object) -> bool:
    if not isinstance(value, str) or not value.strip():
        return False
    try:
        parse_image_reference(value.strip())
    except ImageReferenceError:
        return False
    return True


def sort_versions(versions: list[str]) -> list[str]:
    """Versions in numeric order (4.9 before 4.10), pre-releases by text."""

    def key(v: str) -> tuple[tuple[int, ...], str]:
        core, _sep, pre = v.partition("-")
        nums = tuple(int(p) if p.isdigit() else -1 for p in core.split("."))
        return nums, pre

    return sorted(versions, key=key)
