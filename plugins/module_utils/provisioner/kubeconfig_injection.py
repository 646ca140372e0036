# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Hand the hosted cluster's kubeconfig to DPF: a secret in the DPUCluster's namespace, and
DPUCluster.spec.kubeconfig pointing at it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.apply import apply
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.conditions import Condition, condition
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import hosted_kubeconfig, naming
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.conditions import (
    KUBECONFIG_INJECTED,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    DPU_CLUSTER,
    LABEL_NAME,
    LABEL_NAMESPACE,
    check_owned,
)


@dataclass
class Injection:
    condition: Condition
    changed: bool = False
    secret_ref: dict[str, str] | None = None
    actions: list[str] = field(default_factory=list)


def _waiting(reason: str, message: str) -> Injection:
    return Injection(condition(KUBECONFIG_INJECTED, False, reason, message))


def inject(
    client: KubeClient, provisioner: dict[str, Any], key: str = "super-admin.conf", check_mode: bool = False
) -> Injection:
    """Copy the owned HostedCluster's kubeconfig (checked by hosted_kubeconfig.read) next to the
    DPUCluster; what DPF was given is left as it was while the source is not usable."""
    target = naming.injected_kubeconfig_ref(provisioner)
    dpu_ref = (provisioner.get("spec") or {}).get("dpuClusterRef") or {}
    try:
        source = hosted_kubeconfig.read(client, provisioner)
    except hosted_kubeconfig.Unavailable as exc:
        waiting = exc.reason in (hosted_kubeconfig.WAITING, hosted_kubeconfig.NOT_CREATED)
        return _waiting(exc.reason, exc.message + ("" if waiting else ". What DPF was given is left as it was"))
    hc_ref = naming.hosted_cluster_ref(provisioner)
    content = source.data
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
        adopt=check_owned,
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
