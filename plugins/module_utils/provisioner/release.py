# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""OCP release image references: the version they carry and its BlueField image."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.formats import (
    IMAGE_REFERENCE_RULE,
    ImageReferenceError,
    parse_image_reference,
)

ARCH_SUFFIXES = ("-x86_64", "-amd64", "-arm64", "-aarch64", "-multi", "-ppc64le", "-s390x")
VERSION = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$")


# The repositories OpenShift's own images come from: its release payloads and the component images they
# name. openshift/api config/v1 types_cluster_image_policy.go (scopes: "the OpenShift image repositories
# quay.io/openshift-release-dev/ocp-release, quay.io/openshift-release-dev/ocp-v4.0-art-dev"), vendored in
# openshift/hypershift api/vendor/github.com/openshift/api/config/v1/. HyperShift runs the release payload's
# control-plane-operator in the management cluster, so only an administrator may widen this list.
DEFAULT_RELEASE_REPOSITORIES = (
    "quay.io/openshift-release-dev/ocp-release",
    "quay.io/openshift-release-dev/ocp-v4.0-art-dev",
)
# How the operator hands the installation's list to its playbooks (comma-separated), as POD_NAMESPACE.
RELEASE_REPOSITORIES_ENV = "DPFHCP_ALLOWED_RELEASE_REPOSITORIES"
RELEASE_REPOSITORY_RULE = (
    "registry/repository, without a tag or digest (e.g. quay.io/openshift-release-dev/ocp-release)"
)


class ReleaseImageError(ValueError):
    """The release image reference does not name an OCP version."""


def _has_registry(name: str) -> bool:
    """distribution/reference normalize.go (splitDockerDomain): the first part is a registry when it has a
    '.' or ':' or is 'localhost'; otherwise the name is Docker Hub's, which we never assume."""
    first, slash, _rest = name.partition("/")
    return bool(slash) and ("." in first or ":" in first or first == "localhost")


def release_repositories(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """The administrator's list of allowed release repositories (a list, or comma-separated text), each
    a repository as an image reference names it (the grammar of formats.parse_image_reference) with its
    registry and without a tag or digest. ValueError names an entry that is not one, or an empty list."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    out: list[str] = []
    for item in items:
        name = item.strip() if isinstance(item, str) else item
        if name == "":
            continue
        if not isinstance(name, str):
            raise ValueError(f"allowed release repository {name!r} is not a string; use {RELEASE_REPOSITORY_RULE}")
        try:
            ref = parse_image_reference(name)
        except ImageReferenceError as exc:
            raise ValueError(f"allowed release repository {name[:100]!r} {exc}; use {RELEASE_REPOSITORY_RULE}") from exc
        if ref.tag or ref.digest or not _has_registry(ref.name):
            raise ValueError(f"allowed release repository {name[:100]!r} is not {RELEASE_REPOSITORY_RULE}")
        if name not in out:
            out.append(name)
    if not out:
        raise ValueError(f"the allowed release repositories are empty; give at least one: {RELEASE_REPOSITORY_RULE}")
    return tuple(out)


def release_repository_problem(release_image: object, allowed: Iterable[str]) -> str | None:
    """Why ``release_image`` is not from one of the ``allowed`` repositories (a phrase that follows the
    value); None when it is. The image is read once, by formats.parse_image_reference (what the container
    runtime will pull), and its repository must equal an allowed one exactly: no prefix, no case folding,
    no implied registry."""
    if not isinstance(release_image, str):
        return "is not a string"
    try:
        ref = parse_image_reference(release_image)
    except ImageReferenceError as exc:
        return f"{exc} ({IMAGE_REFERENCE_RULE})"
    allowed = tuple(allowed)
    if ref.name in allowed:
        return None
    return (
        f"is from repository {ref.name[:100]!r}, which is not an allowed release repository; use a release "
        f"image from {', '.join(allowed)} (an administrator sets this list: the chart's "
        "allowedReleaseRepositories, the operator's --allowed-release-repositories)"
    )


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
