# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Where kinds live in the Kubernetes REST API: the ``Resource`` of a kind, Kubernetes' own kinds, and the
table a client looks kinds up in before it asks the API server."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Resource:
    """Where a kind lives in the REST API."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        """The API path; the namespace, name and subresource each one path segment, whatever
        they hold (names reach us from objects anyone may write: never a query, a fragment, or a
        step up the path)."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{_segment(namespace)}"
        base += f"/{self.plural}"
        if name:
            base += f"/{_segment(name)}"
            if subresource:
                base += f"/{_segment(subresource)}"
        return base


def _segment(value: str) -> str:
    """``value`` as one URL path segment: percent-escaped (":" and "@" kept, as in RBAC names);
    "." and ".." are no name and are refused."""
    if value in (".", ".."):
        raise ValueError(f"{value!r} is not a Kubernetes name")
    return quote(value, safe=":@")


SECRET = Resource("", "v1", "secrets", "Secret")
CONFIGMAP = Resource("", "v1", "configmaps", "ConfigMap")
NAMESPACE = Resource("", "v1", "namespaces", "Namespace", namespaced=False)
EVENT = Resource("", "v1", "events", "Event")
NODE = Resource("", "v1", "nodes", "Node", namespaced=False)
LEASE = Resource("coordination.k8s.io", "v1", "leases", "Lease")
CSR = Resource("certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest", False)
CRD = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False)
SERVICE_ACCOUNT = Resource("", "v1", "serviceaccounts", "ServiceAccount")
CLUSTER_ROLE = Resource("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False)
CLUSTER_ROLE_BINDING = Resource("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False)
VALIDATING_WEBHOOK = Resource(
    "admissionregistration.k8s.io",
    "v1",
    "validatingwebhookconfigurations",
    "ValidatingWebhookConfiguration",
    False,
)
SUBJECT_ACCESS_REVIEW = Resource(
    "authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", namespaced=False
)

# The kinds a client knows without asking the API server (discovery): Kubernetes' own here,
# others registered by the code that reads them (``register``).
KNOWN: dict[tuple[str, str], Resource] = {
    (r.api_version, r.kind): r
    for r in (
        SECRET,
        CONFIGMAP,
        NAMESPACE,
        EVENT,
        NODE,
        LEASE,
        CSR,
        CRD,
        SERVICE_ACCOUNT,
        CLUSTER_ROLE,
        CLUSTER_ROLE_BINDING,
        VALIDATING_WEBHOOK,
    )
}


def register(*resources: Resource) -> None:
    """Make ``resources`` known to every client, so none is looked up by discovery."""
    KNOWN.update({(r.api_version, r.kind): r for r in resources})
