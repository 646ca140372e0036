# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Hand the hosted cluster's kubeconfig to DPF: a secret in the DPUCluster's namespace, and
DPUCluster.spec.kubeconfig pointing at it."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils import naming
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.apply import apply
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.conditions import Condition, condition
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.kube import KubeClient, check_kubeconfig_text
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.resources import (
    DPU_CLUSTER,
    HOSTED_CLUSTER,
    LABEL_NAME,
    LABEL_NAMESPACE,
    SECRET,
)

KUBECONFIG_INJECTED = "KubeConfigInjected"
HYPERSHIFT_KEY = "kubeconfig"


@dataclass
class Injection:
    condition: Condition
    changed: bool = False
    secret_ref: dict[str, str] | None = None
    actions: list[str] = field(default_factory=list)


def _waiting(reason: str, message: str) -> Injection:
    return Injection(condition(KUBECONFIG_INJECTED, False, reason, message))


def _kubeconfig_problem(content: str) -> str | None:
    """What makes a secret's base64 value unusable as a kubeconfig, never quoting it."""
    try:
        text = base64.b64decode(content).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError
        return "it is not base64-encoded UTF-8 text"
    try:
        check_kubeconfig_text(text)
    except ValueError as exc:
        return str(exc)
    return None


def inject(
    client: KubeClient, provisioner: dict[str, Any], key: str = "super-admin.conf", check_mode: bool = False
) -> Injection:
    hc_ref = naming.hosted_cluster_ref(provisioner)
    target = naming.injected_kubeconfig_ref(provisioner)
    dpu_ref = (provisioner.get("spec") or {}).get("dpuClusterRef") or {}
    hc_where = f"HostedCluster {hc_ref['namespace']}/{hc_ref['name']}"
    hc = client.get_or_none(HOSTED_CLUSTER, hc_ref["name"], hc_ref["namespace"])
    if hc is None:
        return _waiting("HostedClusterNotCreated", f"{hc_where} does not exist yet")
    source_name = (((hc.get("status") or {}).get("kubeconfig")) or {}).get("name")
    if not source_name:
        return _waiting("WaitingForKubeconfig", f"{hc_where} has not published status.kubeconfig yet")
    source = client.get_or_none(SECRET, source_name, hc_ref["namespace"])
    if source is None:
        return _waiting(
            "WaitingForKubeconfig",
            f"{hc_where} names kubeconfig secret {hc_ref['namespace']}/{source_name}, which does not exist yet",
        )
    content = (source.get("data") or {}).get(HYPERSHIFT_KEY)
    if not content:
        return _waiting(
            "KubeconfigSecretInvalid",
            f"secret {hc_ref['namespace']}/{source_name} has no key {HYPERSHIFT_KEY!r}; HyperShift "
            "writes it there, check the HyperShift operator",
        )
    problem = _kubeconfig_problem(content)
    if problem:
        return _waiting(
            "KubeconfigSecretInvalid",
            f"secret {hc_ref['namespace']}/{source_name} key {HYPERSHIFT_KEY!r} is not a usable kubeconfig "
            f"({problem}); HyperShift writes it there, check the HyperShift operator. What DPF was given is left "
            "as it was",
        )
    dpucluster = client.get_or_none(DPU_CLUSTER, dpu_ref.get("name", ""), dpu_ref.get("namespace"))
    dpu_where = f"DPUCluster {dpu_ref.get('namespace')}/{dpu_ref.get('name')}"
    if dpucluster is None:
        return _waiting("DPUClusterMissing", f"{dpu_where} does not exist; the kubeconfig is handed over once it does")
    current = (dpucluster.get("spec") or {}).get("kubeconfig")
    if current and current != target["name"]:
        return Injection(
            condition(
                KUBECONFIG_INJECTED,
                False,
                "KubeconfigConflict",
                f"{dpu_where} spec.kubeconfig already names secret {current!r}, not {target['name']!r}; DPF lets this "
                "field be set once. Recreate the DPUCluster without spec.kubeconfig, or point spec.dpuClusterRef at a "
                "DPUCluster that has none",
            )
        )
    labels = {LABEL_NAME: hc_ref["name"], LABEL_NAMESPACE: hc_ref["namespace"]}
    secret = apply(
        client,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": target["name"], "namespace": target["namespace"], "labels": labels},
            "type": "Opaque",
            "data": {key: content},
        },
        check_mode=check_mode,
    )
    result = Injection(
        condition(
            KUBECONFIG_INJECTED,
            True,
            "KubeconfigInjected",
            f"secret {target['namespace']}/{target['name']} (key {key}) holds the hosted cluster's kubeconfig and "
            f"{dpu_where} spec.kubeconfig points at it",
        ),
        secret.changed,
        target,
    )
    if secret.changed:
        result.actions.append(f"secret {secret.action}")
    if not current:
        client.patch(
            DPU_CLUSTER,
            dpu_ref["name"],
            {"spec": {"kubeconfig": target["name"]}},
            dpu_ref["namespace"],
            dry_run=check_mode,
        )
        result.changed = True
        result.actions.append("DPUCluster spec.kubeconfig set")
    return result
