import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.release import (
    ReleaseImageError,
    is_image_reference,
    ocp_version,
    sort_versions,
)


@pytest.mark.parametrize(
    ("image", "version"),
    [
        ("quay.io/openshift-release-dev/ocp-release:4.19.0-ec.5-x86_64", "4.19.0-ec.5"),
        ("quay.io/openshift-release-dev/ocp-release:4.18.0-multi", "4.18.0"),
        ("quay.io/openshift-release-dev/ocp-release:4.17.3-aarch64", "4.17.3"),
        ("quay.io/openshift-release-dev/ocp-release:4.17.3-arm64", "4.17.3"),
        ("quay.io/openshift-release-dev/ocp-release:4.17.3-amd64", "4.17.3"),
        ("quay.io/openshift-release-dev/ocp-release:4.16.1-ppc64le", "4.16.1"),
        ("quay.io/openshift-release-dev/ocp-release:4.16.1-s390x", "4.16.1"),
        ("registry.local:5000/ocp/release:4.19.0-rc.1", "4.19.0-rc.1"),
        ("quay.io/ocp/release:4.19.0@sha256:" + "a" * 64, "4.19.0"),
    ],
)
def test_version_is_the_tag_without_arch_suffix(image, version):
    assert ocp_version(image) == version


@pytest.mark.parametrize(
    ("image", "fragment"),
    [
        ("", "empty"),
        ("quay.io/ocp/release", "no tag"),
        ("quay.io/ocp/release@sha256:" + "b" * 64, "no tag"),
        ("quay.io/ocp/release:latest", "not an OCP version"),
        ("Not An Image", "no tag"),
    ],
)
def test_unreadable_release_image_names_the_field_and_an_example(image, fragment):
    with pytest.raises(ReleaseImageError) as err:
        ocp_version(image)
    assert "spec.ocpReleaseImage" in str(err.value)
    assert fragment in str(err.value)


def test_versions_sort_numerically():
    assert sort_versions(["4.10.0", "4.9.0", "4.19.0-ec.5", "4.19.0"]) == ["4.9.0", "4.10.0", "4.19.0", "4.19.0-ec.5"]


def test_image_reference_check():
    assert is_image_reference("quay.io/example/bf:4.19")
    assert not is_image_reference("")
    assert not is_image_reference("   ")
    assert not is_image_reference(42)
