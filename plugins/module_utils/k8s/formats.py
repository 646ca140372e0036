# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Names as Kubernetes and container registries parse them: DNS subdomains and labels, label keys
and values, image references. Each follows its upstream parser (cited below), so what we admit is
what HyperShift, the kubelet and the container runtime will accept later.

The ``*_FMT`` strings are the patterns of the DPFHCPProvisioner CRD too, anchored with ``^`` and
``$`` there (the API server's Go regexp: ``$`` is the end of the text, there is no multiline mode);
tests/unit/test_admission_rules.py checks the CRD carries exactly these. They use explicit ASCII
classes (no ``\\w``, no ``[[:xdigit:]]``), so Go and Python read them alike; Python matches them
with ``fullmatch`` so that a trailing newline never passes as it would with ``$``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime

# kubernetes/kubernetes staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go
# (dns1123LabelFmt, dns1123SubdomainFmt, IsDNS1123Label, IsDNS1123Subdomain).
DNS1123_LABEL_FMT = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + r"(\." + DNS1123_LABEL_FMT + r")*"
DNS1123_SUBDOMAIN_MAX = 253
# kubernetes/kubernetes staging/src/k8s.io/apimachinery/pkg/api/validate/content/kube.go
# (labelKeyFmt, IsLabelKey: an optional DNS subdomain prefix and '/', then a name; labelValueFmt, IsLabelValue).
LABEL_NAME_FMT = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_NAME_MAX = 63
LABEL_VALUE_FMT = r"(" + LABEL_NAME_FMT + r")?"
LABEL_VALUE_MAX = 63

# distribution/reference regexp.go (referencePat and its parts) and reference.go (Parse): a name with an
# optional registry host and port, an optional tag, an optional digest.
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = r"(?:" + _DOMAIN_COMPONENT + r"(?:\." + _DOMAIN_COMPONENT + r")*|\[(?:[a-fA-F0-9:]+)\])"
_DOMAIN_AND_PORT = _HOST + r"(?::[0-9]+)?"
_REMOTE_NAME = _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*"
_NAME = r"(?:" + _DOMAIN_AND_PORT + r"/)?" + _REMOTE_NAME
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
# The digest as Parse accepts it: digest.Parse validates the algorithm and the length of its hex
# (opencontainers/go-digest algorithm.go: sha256, sha384 and sha512, lowercase hex), stricter than
# regexp.go's digestPat, which only shapes it.
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_DIGEST = r"(?:" + r"|".join(f"{a}:[a-f0-9]{{{n}}}" for a, n in _DIGEST_LENGTHS.items()) + r")"
_DIGEST_SHAPE = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
IMAGE_REFERENCE_FMT = _NAME + r"(?::" + _TAG + r")?(?:@" + _DIGEST + r")?"
IMAGE_NAME_PATH_MAX = 255  # reference.go RepositoryNameTotalLengthMax: the name without its registry

_DNS1123_LABEL = re.compile(DNS1123_LABEL_FMT, re.ASCII)
_DNS1123_SUBDOMAIN = re.compile(DNS1123_SUBDOMAIN_FMT, re.ASCII)
_LABEL_NAME = re.compile(LABEL_NAME_FMT, re.ASCII)
_LABEL_VALUE = re.compile(LABEL_VALUE_FMT, re.ASCII)
_IMAGE_REFERENCE = re.compile(
    r"(?P<name>" + _NAME + r")(?::(?P<tag>" + _TAG + r"))?(?:@(?P<digest>" + _DIGEST_SHAPE + r"))?", re.ASCII
)
_IMAGE_NAME = re.compile(r"(?:(?P<domain>" + _DOMAIN_AND_PORT + r")/)?(?P<path>" + _REMOTE_NAME + r")", re.ASCII)

DNS1123_SUBDOMAIN_RULE = (
    "a DNS subdomain: at most 253 characters, lowercase letters, digits, '-' and '.', "
    "starting and ending with a letter or digit"
)
DNS1123_LABEL_RULE = (
    "a DNS label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
)
_DNS1123_SUBDOMAIN_CHARACTERS = (
    "a character other than lowercase letters, digits, '-' and '.', or a part between dots with an end that is "
    "not a letter or digit"
)
_DNS1123_LABEL_CHARACTERS = "a character other than lowercase letters, digits and '-', or an end that is not one"
_LABEL_CHARACTERS = "a character other than letters, digits, '-', '_' and '.', or an end that is not a letter or digit"
_LABEL_NAME_RULE = "at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
LABEL_KEY_RULE = f"an optional DNS subdomain prefix and '/', then a name of {_LABEL_NAME_RULE}"
LABEL_VALUE_RULE = f"an empty value, or {_LABEL_NAME_RULE}"
IMAGE_REFERENCE_RULE = (
    "[registry[:port]/]repository[:tag][@sha256:<64 hex digits>], the repository in lowercase letters, "
    "digits and separators ('.', '_', '__', '-')"
)


def _problem(value: object, pattern: re.Pattern[str], most: int, characters: str, empty: bool = False) -> str | None:
    """Why ``value`` does not fit: a phrase that follows the value ("is empty", "has ..."); None when it fits."""
    if not isinstance(value, str):
        return "is not a string"
    if not value and not empty:
        return "is empty"
    if len(value) > most:
        return f"has {len(value)} characters, more than {most}"
    if not pattern.fullmatch(value):
        return f"has {characters}"
    return None


def dns1123_subdomain_problem(value: object) -> str | None:
    """Why ``value`` is not a DNS-1123 subdomain (an object name, a StorageClass); None when it is one."""
    return _problem(value, _DNS1123_SUBDOMAIN, DNS1123_SUBDOMAIN_MAX, _DNS1123_SUBDOMAIN_CHARACTERS)


def dns1123_label_problem(value: object) -> str | None:
    """Why ``value`` is not a DNS-1123 label (a namespace name); None when it is one."""
    return _problem(value, _DNS1123_LABEL, DNS1123_LABEL_MAX, _DNS1123_LABEL_CHARACTERS)


def label_key_problem(key: object) -> str | None:
    """Why ``key`` is not a label key; None when it is one."""
    if not isinstance(key, str):
        return "is not a string"
    parts = key.split("/")
    if len(parts) > 2:
        return "has more than one '/'"
    prefix = dns1123_subdomain_problem(parts[0]) if len(parts) == 2 else None
    if prefix:
        return f"has a prefix that {prefix}"
    name = _problem(parts[-1], _LABEL_NAME, LABEL_NAME_MAX, _LABEL_CHARACTERS)
    return f"has a name that {name}" if name else None


def label_value_problem(value: object) -> str | None:
    """Why ``value`` is not a label value; None when it is one (the empty string is)."""
    return _problem(value, _LABEL_VALUE, LABEL_VALUE_MAX, _LABEL_CHARACTERS, empty=True)


@dataclass(frozen=True)
class ImageReference:
    name: str
    tag: str | None
    digest: str | None


class ImageReferenceError(ValueError):
    """Not an image reference; the message says why (a phrase that follows the value: "is empty", "has ...")."""


def parse_image_reference(value: str) -> ImageReference:
    """``value`` as distribution/reference's Parse reads it, or ImageReferenceError saying why not."""
    if not value:
        raise ImageReferenceError("is empty")
    match = _IMAGE_REFERENCE.fullmatch(value)
    if match is None:
        if value.lower() != value and _IMAGE_REFERENCE.fullmatch(value.lower()):
            raise ImageReferenceError("has capitals in its repository name, which must be lowercase")
        raise ImageReferenceError("is not of the form " + IMAGE_REFERENCE_RULE)
    name = _IMAGE_NAME.fullmatch(match.group("name"))
    path = name.group("path") if name else match.group("name")
    if len(path) > IMAGE_NAME_PATH_MAX:
        raise ImageReferenceError(f"has a repository name of {len(path)} characters, more than {IMAGE_NAME_PATH_MAX}")
    digest = match.group("digest")
    if digest:
        algorithm, _colon, encoded = digest.partition(":")
        length = _DIGEST_LENGTHS.get(algorithm)
        if length is None:
            raise ImageReferenceError(
                f"has a digest algorithm {algorithm[:20]!r} that is not one of {', '.join(_DIGEST_LENGTHS)}"
            )
        if len(encoded) != length or encoded.lower() != encoded:
            raise ImageReferenceError(f"has a {algorithm} digest that is not {length} lowercase hex digits")
    return ImageReference(match.group("name"), match.group("tag"), digest)


def image_reference_problem(value: str) -> str | None:
    """Why ``value`` is not an image reference; None when it is one."""
    try:
        parse_image_reference(value)
    except ImageReferenceError as exc:
        return str(exc)
    return None


# kubernetes/kubernetes staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/time.go (Time.MarshalJSON:
# RFC 3339 to the second, in UTC, as the API server writes every creationTimestamp).
TIME_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")


def parse_time(value: object) -> datetime | None:
    """A metav1.Time as the API server writes it (``2006-01-02T15:04:05Z``), None for anything else."""
    return _parse_time(value) if isinstance(value, str) and len(value) == 20 else None


@functools.lru_cache(maxsize=4096)
def _parse_time(value: str) -> datetime | None:
    """Remembered: a pass over thousands of CSRs reads each one's time more than once, and times to
    the second repeat (strptime cost ten times this match)."""
    found = TIME_RE.fullmatch(value)
    if found is None:
        return None
    try:
        return datetime(*(int(part) for part in found.groups()), tzinfo=UTC)
    except ValueError:  # a 13th month, a 31st of February
        return None
