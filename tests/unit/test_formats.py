"""The names the webhook, the validate role and the CRD's schema accept: as Kubernetes' apimachinery
validation and distribution/reference's Parse accept them, no more and no less."""

from datetime import UTC, datetime

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s import formats

LABEL_KEYS_OK = ["zone", "node-role.kubernetes.io/infra", "a", "A_b.c-D", "example.com/" + "k" * 63, "x" * 63]
LABEL_KEYS_BAD = {
    "": "has a name that is empty",
    "a/b/c": "more than one '/'",
    "/name": "has a prefix that is empty",
    "example.com/": "has a name that is empty",
    "-lead": "has a name that has a character",
    "trail.": "has a name that has a character",
    "sp ace": "has a name that has a character",
    "x" * 64: "more than 63",
    "Example.com/name": "prefix",
    ("a" * 254) + "/n": "prefix that has 254 characters",
    "zone\n": "has a name that has a character",
    "zon\u0665": "has a name that has a character",  # an Arabic-Indic digit: not ASCII
    "{{ lookup('ansible.builtin.pipe', 'touch pwned') }}": "has a name that has a character",
    7: "is not a string",
}
LABEL_VALUES_OK = ["", "a", "eu-west-1a", "A.b_c-9", "v" * 63]
LABEL_VALUES_BAD = ["-a", "a-", "with space", "v" * 64, "a\n", "{{ x }}", "ü"]


@pytest.mark.parametrize("key", LABEL_KEYS_OK)
def test_label_keys_kubernetes_accepts_pass(key):
    assert formats.label_key_problem(key) is None


@pytest.mark.parametrize(("key", "why"), LABEL_KEYS_BAD.items(), ids=[repr(k)[:30] for k in LABEL_KEYS_BAD])
def test_label_keys_kubernetes_refuses_are_refused_saying_why(key, why):
    assert why in (formats.label_key_problem(key) or "")


@pytest.mark.parametrize("value", LABEL_VALUES_OK)
def test_label_values_kubernetes_accepts_pass(value):
    assert formats.label_value_problem(value) is None


@pytest.mark.parametrize("value", LABEL_VALUES_BAD, ids=[repr(v)[:30] for v in LABEL_VALUES_BAD])
def test_label_values_kubernetes_refuses_are_refused(value):
    assert formats.label_value_problem(value)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("ocs-storagecluster-ceph-rbd", True),
        ("fast.ssd", True),
        ("a" * 253, True),
        ("a" * 254, False),
        ("Fast", False),
        ("fast_ssd", False),
        ("fast..ssd", False),
        ("-fast", False),
        ("fast\n", False),
        ("", False),
    ],
)
def test_dns_subdomains_as_kubernetes_reads_them(value, ok):
    assert (formats.dns1123_subdomain_problem(value) is None) is ok


IMAGES_OK = [
    "quay.io/example/bluefield-rhcos:4.19.0",
    "bluefield",
    "localhost:5000/a/b:tag",
    "registry.example.com:443/ns/img@sha256:" + "a" * 64,
    "Registry.Example.com/ns/img:Tag_1.x-y",  # the registry host may have capitals, the repository not
    "[fd00::1]:5000/img:1",
    "quay.io/a__b/c---d/e.f_g:1",
    "quay.io/img:1@sha512:" + "0" * 128,
    "quay.io/" + "p" * 255 + ":1",
]
IMAGES_BAD = {
    "": "empty",
    "quay.io/Example/img:1": "must be lowercase",
    "not an image!": "not of the form",
    "quay.io/img:1\n": "not of the form",
    "quay.io/img:" + "t" * 129: "not of the form",
    "quay.io/img@sha256:" + "a" * 63: "64 lowercase hex",
    "quay.io/img@sha256:" + "A" * 64: "64 lowercase hex",
    "quay.io/img@md5:" + "a" * 32: "not one of sha256",
    "quay.io/" + "p" * 256 + ":1": "more than 255",
    "https://quay.io/img:1": "not of the form",
    "quay.io/img:{{ lookup('pipe', 'id') }}": "not of the form",
}


@pytest.mark.parametrize("image", IMAGES_OK, ids=[i[:40] for i in IMAGES_OK])
def test_image_references_distribution_accepts_pass(image):
    assert formats.image_reference_problem(image) is None


@pytest.mark.parametrize(("image", "why"), IMAGES_BAD.items(), ids=[repr(i)[:40] for i in IMAGES_BAD])
def test_image_references_distribution_refuses_are_refused_saying_why(image, why):
    assert why in (formats.image_reference_problem(image) or "")


@pytest.mark.parametrize(
    "value",
    [
        "2026-01-01T12:00:00",  # no zone
        "2026-01-01T12:00:00+00:00",  # an offset: the API server writes Z
        "2026-01-01T12:00:00.5Z",  # a fraction: metav1.Time is to the second
        "2026-13-01T12:00:00Z",
        "2026-02-31T12:00:00Z",
        "2026-01-01T12:00:00Z\n",
        "\uff12026-01-01T12:00:00Z",  # a fullwidth digit: not ASCII
        "{{ now() }}",
        20260101,
        None,
        ["2026-01-01T12:00:00Z"],
    ],
)
def test_a_time_not_as_the_api_server_writes_it_is_none(value):
    assert formats.parse_time(value) is None


def test_a_time_as_the_api_server_writes_it_is_read_in_utc():
    assert formats.parse_time("2026-02-28T23:59:58Z") == datetime(2026, 2, 28, 23, 59, 58, tzinfo=UTC)
