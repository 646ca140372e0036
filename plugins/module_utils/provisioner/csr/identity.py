# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""The identity CSRs are approved under in a hosted cluster: a ServiceAccount bound to a
ClusterRole that can read CSRs and Nodes and approve the two kubelet signers, and read the
ClusterVersion and ClusterOperators the hosted cluster's health is judged by; nothing else.

The admin kubeconfig HyperShift published is used only to create (and repair) these objects and
to ask for the ServiceAccount's short-lived tokens (TokenRequest); every CSR and Node read or
watch and every approval goes out with such a token. The objects are not deleted: the hosted
cluster ends with its HostedCluster, and one identity serves every pass and operator replica.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.apply import apply
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.formats import parse_time
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import SERVICE_ACCOUNT
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.csr.policy import (
    CLIENT_SIGNER,
    SERVING_SIGNER,
)

NAME = "dpf-hcp-csr-approver"
NAMESPACE = "kube-system"  # present in every cluster
LABELS = {"app.kubernetes.io/managed-by": "dpf-hcp-provisioner", "app.kubernetes.io/component": "csr-approver"}
TOKEN_SECONDS = 3600  # asked for; the API server's answer says when it really expires
RENEW_AFTER = 0.8  # renewed once this share of its life has passed
RBAC = "rbac.authorization.k8s.io/v1"

RULES: list[dict[str, Any]] = [
    # The pending CSRs, listed and watched (never fetched one by one).
    {"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests"], "verbs": ["list", "watch"]},
    # The Approved condition goes through this subresource only.
    {"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests/approval"], "verbs": ["update"]},
    # The API server also asks for "approve" on the CSR's signer: the two kubelet signers only.
    {
        "apiGroups": ["certificates.k8s.io"],
        "resources": ["signers"],
        "resourceNames": [CLIENT_SIGNER, SERVING_SIGNER],
        "verbs": ["approve"],
    },
    # The policy looks at the Nodes: a bootstrap CSR for a joined node is refused, a serving one needs it.
    {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list", "watch"]},
    # The hosted cluster's health (hosted_health.py): read, never written.
    {
        "apiGroups": ["config.openshift.io"],
        "resources": ["clusterversions", "clusteroperators"],
        "verbs": ["list", "watch"],
    },
]


def objects() -> list[dict[str, Any]]:
    """The ServiceAccount, its ClusterRole and the ClusterRoleBinding between them."""
    meta = {"name": NAME, "labels": LABELS}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {**meta, "namespace": NAMESPACE}},
        {"apiVersion": RBAC, "kind": "ClusterRole", "metadata": meta, "rules": RULES},
        {
            "apiVersion": RBAC,
            "kind": "ClusterRoleBinding",
            "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NAME},
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}],
        },
    ]


class ApproverIdentity:
    """The approver of one hosted cluster, reached with ``admin`` (its admin kubeconfig's client)."""

    def __init__(self, admin: KubeClient, lifetime: int = TOKEN_SECONDS):
        self.admin = admin
        self.lifetime = lifetime
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = threading.Lock()

    def ensure(self, check_mode: bool = False) -> bool:
        """Create or repair the three objects (server-side dry runs in check mode); True if any changed."""
        changed = [apply(self.admin, obj, check_mode=check_mode).changed for obj in objects()]  # all three, always
        return any(changed)

    def token(self) -> str:
        """A token of the ServiceAccount, asked for again once most of its life has passed."""
        with self._lock:
            if self._token is None or time.monotonic() >= self._renew_at:
                try:
                    self._token, seconds = self._request()
                finally:  # asked for rarely: no connection with the admin credential is kept open meanwhile
                    self.admin.reset_connections()
                self._renew_at = time.monotonic() + RENEW_AFTER * seconds
            return self._token

    def _request(self) -> tuple[str, float]:
        answer = self.admin.request(
            "POST",
            SERVICE_ACCOUNT.path(NAMESPACE, NAME, "token"),
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": self.lifetime},
            },
        )
        status = answer.get("status") or {}
        token = status.get("token")
        if not isinstance(token, str) or not token:
            raise ApiError(500, "NoToken", f"the TokenRequest for serviceaccount {NAMESPACE}/{NAME} returned no token")
        seconds = float(self.lifetime)
        expires = parse_time(status.get("expirationTimestamp"))
        if expires is not None:
            seconds = min(seconds, expires.timestamp() - time.time())
        return token, max(seconds, 1.0)

    def client(self, timeout: float = 10.0) -> KubeClient:
        """A client for the hosted cluster that proves itself with the ServiceAccount's token only
        (the server verified against the admin kubeconfig's CA)."""
        return self.admin.with_token(self.token, timeout=timeout)
