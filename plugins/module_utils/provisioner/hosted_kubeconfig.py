# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""The hosted cluster's admin kubeconfig, trusted only as far as it must be.

It is read only from the secret ``status.kubeconfig`` names (key ``kubeconfig``, in the
HostedCluster's namespace) of the HostedCluster this provisioner owns, and used only when it
holds inline credentials for the endpoint that HostedCluster publishes
(``status.controlPlaneEndpoint``), its server verified against its own CA. HyperShift writes it
so (hypershift control-plane-operator/controllers/hostedcontrolplane/v2/kas/kubeconfig.go,
``adapExternalAdminKubeconfigSecret``: server ``https://<APIHost>:<APIPort>``, the same address
hostedcluster_controller.go copies into ``status.controlPlaneEndpoint``). Anything else is
refused with a reason and a message that names the field and the fix, never a credential.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field, replace
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s import journal, query
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import (
    Credentials,
    KubeClient,
    KubeconfigRefusedError,
    credentials_from_kubeconfig_text,
    https_server,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import naming
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.conditions import (
    HOSTED_CLUSTER_NOT_CREATED as NOT_CREATED,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.conditions import (
    WAITING_FOR_KUBECONFIG as WAITING,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    HOSTED_CLUSTER,
    HOSTED_KUBECONFIG_FIELDS,
    LABEL_NAME,
    LABEL_NAMESPACE,
)

KEY = "kubeconfig"  # HyperShift's key in the secret
# The hosted API server inside the management cluster: HyperShift's Service ``kube-apiserver`` in
# the control-plane namespace, port 6443 (openshift/hypershift support/config/constants.go,
# KASSVCPort; 2040 on IBM Cloud). Its certificate kas-server-private-crt names
# ``kube-apiserver.<ns>.svc`` and ``...svc.cluster.local`` and is signed by the root CA the admin
# kubeconfig carries (control-plane-operator/controllers/hostedcontrolplane/pki/kas.go,
# ReconcileKASServerPrivateCertSecret), so the kubeconfig's CA and client certificate hold. Fully
# qualified, as the upstream operator writes it (internal/controller/csrapproval/client.go): a
# short ``.svc`` name is tried in the DNS search domains first, where a namespace named ``svc``
# could answer.
SERVICE = "kube-apiserver.{namespace}.svc.cluster.local:6443"
# Reasons: the first three mean "not yet", the others "something is wrong".
NOT_OWNED = "HostedClusterNotOwned"
INVALID = "KubeconfigSecretInvalid"
REFUSED = "KubeconfigRefused"


class Unavailable(Exception):  # noqa: N818 - "the kubeconfig is unavailable", a state, not a bug
    """No usable kubeconfig: ``reason`` (a condition reason) and a message a user can act on."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class HostedKubeconfig:
    hosted_cluster: dict[str, Any]
    secret_name: str
    data: str = field(repr=False)  # the secret's value, base64 (what is handed to DPF)
    text: str = field(repr=False)
    credentials: Credentials

    @property
    def namespace(self) -> str:
        return str(self.hosted_cluster["metadata"]["namespace"])


def owned(obj: dict[str, Any], provisioner: dict[str, Any]) -> str | None:
    """Why ``obj`` is not one this provisioner created (our labels, and our controller
    ownerReference when the provisioner is stored in the API), or None when it is."""
    ref = naming.hosted_cluster_ref(provisioner)
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for label, want in ((LABEL_NAME, ref["name"]), (LABEL_NAMESPACE, ref["namespace"])):
        if labels.get(label) != want:
            return f"its label {label} is not {want!r}"
    uid = (provisioner.get("metadata") or {}).get("uid")
    owners = (obj.get("metadata") or {}).get("ownerReferences") or []
    if uid and not any(isinstance(o, dict) and o.get("uid") == uid and o.get("controller") for o in owners):
        return f"it has no controller ownerReference to DPFHCPProvisioner uid {uid}"
    return None


def endpoint(hosted_cluster: dict[str, Any]) -> tuple[str, int] | None:
    """(host, port) of ``status.controlPlaneEndpoint``, None while it is not published."""
    published = (hosted_cluster.get("status") or {}).get("controlPlaneEndpoint") or {}
    host, port = published.get("host"), published.get("port")
    if not isinstance(host, str) or not host or not isinstance(port, int) or isinstance(port, bool):
        return None
    return host.strip("[]").lower(), port


def read(mgmt: KubeClient, provisioner: dict[str, Any]) -> HostedKubeconfig:
    """The owned HostedCluster's kubeconfig, checked; Unavailable saying why not."""
    ref = naming.hosted_cluster_ref(provisioner)
    where = f"HostedCluster {ref['namespace']}/{ref['name']}"
    hc = mgmt.get_or_none(HOSTED_CLUSTER, ref["name"], ref["namespace"])
    journal.decided_on(mgmt.journal, HOSTED_CLUSTER.kind, hc, HOSTED_KUBECONFIG_FIELDS)
    if hc is None:
        raise Unavailable(NOT_CREATED, f"{where} does not exist yet")
    why = owned(hc, provisioner)
    if why:
        raise Unavailable(
            NOT_OWNED,
            f"{where} is not this provisioner's ({why}): its kubeconfig is neither used nor handed to DPF. "
            "Delete that HostedCluster, or give the provisioner another name",
        )
    name = query.field(hc, "status.kubeconfig.name")
    if not name or not isinstance(name, str):
        raise Unavailable(WAITING, f"{where} has not published status.kubeconfig yet")
    published = endpoint(hc)
    if published is None:
        raise Unavailable(WAITING, f"{where} has not published status.controlPlaneEndpoint yet")
    expected = naming.admin_kubeconfig_secret(provisioner)
    if name != expected:  # HyperShift names it after the HostedCluster; another name is another cluster's
        raise Unavailable(
            REFUSED,
            f"{where} status.kubeconfig.name {name[:100]!r} is not {expected!r}, the secret HyperShift publishes "
            "this HostedCluster's kubeconfig in: it is not read. Check who else writes that HostedCluster's status",
        )
    secret_where = f"secret {ref['namespace']}/{name} (named by {where} status.kubeconfig)"
    source = mgmt.get_or_none(SECRET, name, ref["namespace"])
    if source is None:
        raise Unavailable(WAITING, f"{secret_where} does not exist yet")
    hc_uid = (hc.get("metadata") or {}).get("uid")
    owners = (source.get("metadata") or {}).get("ownerReferences") or []
    if not any(isinstance(o, dict) and o.get("uid") == hc_uid and o.get("kind") == "HostedCluster" for o in owners):
        raise Unavailable(
            REFUSED,
            f"{secret_where} has no ownerReference to {where} (uid {hc_uid}), which HyperShift sets on the secret "
            "it publishes: it is not read. Delete that secret; HyperShift writes it again",
        )
    data = (source.get("data") or {}).get(KEY)
    if not data:
        raise Unavailable(
            INVALID, f"{secret_where} has no key {KEY!r}; HyperShift writes it there, check the HyperShift operator"
        )
    try:
        text = base64.b64decode(data).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError
        raise Unavailable(
            INVALID, f"{secret_where} key {KEY!r} is not a usable kubeconfig (it is not base64-encoded UTF-8 text)"
        ) from None
    try:
        creds = credentials_from_kubeconfig_text(text)
    except ValueError as exc:
        reason = REFUSED if isinstance(exc, KubeconfigRefusedError) else INVALID
        raise Unavailable(
            reason,
            f"{secret_where} key {KEY!r} is not a usable kubeconfig ({exc}); HyperShift writes inline credentials "
            "there: check who else writes that secret",
        ) from None
    host, port = https_server(creds.server)
    if (host.strip("[]"), port) != published:
        raise Unavailable(
            REFUSED,
            f"{secret_where} key {KEY!r}: clusters[0].cluster.server {creds.server[:200]!r} is not the endpoint "
            f"{where} publishes in status.controlPlaneEndpoint ({published[0]}:{published[1]}); credentials are "
            "only sent there. Check who else writes that secret",
        )
    return HostedKubeconfig(hc, name, data, text, creds)


def through_service(source: HostedKubeconfig, provisioner: dict[str, Any], service: str = SERVICE) -> Credentials:
    """The kubeconfig's credentials for the hosted API server's in-cluster Service (``service``,
    ``host:port`` with ``{namespace}`` for the control-plane namespace) instead of the published
    endpoint: what an operator inside the management cluster uses, as the upstream operator does."""
    address = service.format(namespace=naming.control_plane_namespace(provisioner))
    return replace(source.credentials, server=f"https://{address}")
