# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""DPF's bf.cfg template for a provisioner's DPUCluster: the ignition HyperShift serves for the
NodePool, with the BlueField OS image in its MachineConfig, as ConfigMap ``bfcfg-<dpucluster>.cfg``."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils import naming
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.apply import apply
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.conditions import Condition, condition
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.formats import dns1123_subdomain_problem
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.ignition import (
    BFCFG_KEY,
    BFCFG_LABEL,
    CA_SECRET,
    NODEPOOL_CURRENT_CONFIG_VERSION,
    TOKEN_EXPIRATION_ANNOTATION,
    TOKEN_NODEPOOL_ANNOTATION,
    WAITING_FOR_PAYLOAD,
    IgnitionError,
    fetch_ignition,
    is_endpoint,
    override_os_image,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.kube import KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.resources import (
    HOSTED_CLUSTER,
    LABEL_NAME,
    LABEL_NAMESPACE,
    NODE_POOL,
    SECRET,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.validation import shown

IGNITION_CONFIGURED = "IgnitionConfigured"
WAITING = "WaitingForIgnitionEndpoint"


@dataclass
class Generation:
    condition: Condition
    changed: bool = False
    configmap_ref: dict[str, str] | None = None


def _not_yet(reason: str, message: str) -> Generation:
    return Generation(condition(IGNITION_CONFIGURED, False, reason, message))


def _secret_text(secret: dict[str, Any] | None, key: str, errors: str = "strict") -> str:
    value = ((secret or {}).get("data") or {}).get(key)
    return base64.b64decode(value).decode(errors=errors) if value else ""


def _is_our_token(secret: dict[str, Any], provisioner: dict[str, Any]) -> bool:
    """HyperShift's current token secret for this provisioner's NodePool: named token-<nodepool>-<hash>,
    annotated with the NodePool (<namespace>/<name>) and not being retired. A name prefix alone also
    matches NodePools named <nodepool>-..., and anything else put in the namespace."""
    meta = secret.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    return (
        str(meta.get("name", "")).startswith(naming.ignition_token_prefix(provisioner))
        and annotations.get(TOKEN_NODEPOOL_ANNOTATION) == naming.node_pool_key(provisioner)
        and TOKEN_EXPIRATION_ANNOTATION not in annotations
    )


def _token_secret(client: KubeClient, provisioner: dict[str, Any]) -> dict[str, Any] | None:
    """The current token secret of this provisioner's NodePool, as HyperShift names it: the secret
    token-<nodepool>-<hash> for the hash in the NodePool's nodePoolCurrentConfigVersion annotation;
    before HyperShift has written that, the newest secret _is_our_token finds."""
    control_plane = naming.control_plane_namespace(provisioner)
    ref = naming.hosted_cluster_ref(provisioner)  # the NodePool is named like the HostedCluster
    node_pool = client.get_or_none(NODE_POOL, ref["name"], ref["namespace"])
    version = (((node_pool or {}).get("metadata") or {}).get("annotations") or {}).get(NODEPOOL_CURRENT_CONFIG_VERSION)
    if isinstance(version, str) and version:
        name = naming.ignition_token_prefix(provisioner) + version
        # The annotation is read from an object in the tenant's namespace: a name, or nothing.
        secret = None if dns1123_subdomain_problem(name) else client.get_or_none(SECRET, name, control_plane)
        ok = secret is not None and _is_our_token(secret, provisioner) and _secret_text(secret, "token")
        return secret if ok else None
    secrets = client.list(SECRET, control_plane).get("items") or []
    candidates = sorted(
        (s for s in secrets if _is_our_token(s, provisioner) and _secret_text(s, "token")),
        key=lambda s: s["metadata"].get("creationTimestamp", ""),
    )
    return candidates[-1] if candidates else None


def _payload_failure(secret: dict[str, Any]) -> str | None:
    """Why HyperShift's ignition server could not generate the payload, as it wrote it on the token
    secret (keys reason and message; AsExpected when it could: openshift/hypershift
    ignition-server/controllers/tokensecret_controller.go, Reconcile); None when it says nothing."""
    reason = _secret_text(secret, "reason", errors="replace")
    if not reason or reason == "AsExpected":
        return None
    return f"{shown(reason)}: {shown(_secret_text(secret, 'message', errors='replace'))}"


def template_text(ignition: dict[str, Any]) -> str:
    """The ignition as DPF's bf.cfg template: its JSON, with no Go template action in it. DPF
    renders BF_CFG_TEMPLATE with text/template and sprig (`env`, `expandenv`: see
    ../shared/notes/upstream-behaviour.md), and the ignition carries what tenants wrote (the SSH
    key's comment). Compact JSON has `{{` only inside strings, where `{\\u007b` reads the same to
    any JSON parser and opens no action."""
    return json.dumps(ignition, sort_keys=True, separators=(",", ":")).replace("{{", "{\\u007b")


def generate(client: KubeClient, provisioner: dict[str, Any], image: str, check_mode: bool = False) -> Generation:
    """Fetch, rewrite and store the ignition; a condition says how far it got and why."""
    ref = naming.hosted_cluster_ref(provisioner)
    target = naming.bfcfg_configmap_ref(provisioner)
    if not image:
        return _not_yet(
            "ImageMissing",
            "No BlueField image for the release: map its OCP version in the ocp-bluefield-images ConfigMap "
            "(see BlueFieldImageResolved) or set spec.machineOSURL",
        )
    hosted_cluster = client.get_or_none(HOSTED_CLUSTER, ref["name"], ref["namespace"])
    endpoint = ((hosted_cluster or {}).get("status") or {}).get("ignitionEndpoint")
    if not endpoint:
        return _not_yet(WAITING, f"HostedCluster {ref['namespace']}/{ref['name']} has no status.ignitionEndpoint yet")
    if not is_endpoint(endpoint):  # host[:port], as HyperShift publishes it: never a path or a query
        return _not_yet(
            "InvalidIgnitionEndpoint",
            f"HostedCluster {ref['namespace']}/{ref['name']} status.ignitionEndpoint {shown(endpoint)} is not "
            "host[:port]; the ignition is fetched from what HyperShift publishes there, nothing else",
        )
    control_plane = naming.control_plane_namespace(provisioner)
    ca_pem = _secret_text(client.get_or_none(SECRET, CA_SECRET, control_plane), "tls.crt")
    token_secret = _token_secret(client, provisioner)
    token = _secret_text(token_secret, "token")
    if not ca_pem or not token:
        missing = (
            f"secret {control_plane}/{CA_SECRET} (key tls.crt)"
            if not ca_pem
            else (
                f"a secret {control_plane}/{naming.ignition_token_prefix(provisioner)}* (key token) annotated "
                f"{TOKEN_NODEPOOL_ANNOTATION}: {naming.node_pool_key(provisioner)}"
            )
        )
        return _not_yet(WAITING, f"HyperShift has not published {missing} yet")
    try:
        ignition = override_os_image(fetch_ignition(endpoint, token, ca_pem), image)
    except IgnitionError as exc:
        failure = _payload_failure(token_secret or {}) if exc.reason == WAITING_FOR_PAYLOAD else None
        if failure is not None:  # not on its way: HyperShift says why; the secret's next change runs us again
            name = (token_secret or {}).get("metadata", {}).get("name", "")
            return _not_yet(
                "PayloadNotGenerated",
                f"HyperShift's ignition server did not generate the NodePool's ignition; token secret "
                f"{control_plane}/{name} says {failure}. Fix the NodePool's config (spec.config, the release)",
            )
        return _not_yet(exc.reason, str(exc))
    labels = {
        BFCFG_LABEL: "true",
        LABEL_NAME: ref["name"],
        LABEL_NAMESPACE: ref["namespace"],
    }
    desired = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": target["name"], "namespace": target["namespace"], "labels": labels},
        "data": {BFCFG_KEY: template_text(ignition)},
    }
    result = apply(client, desired, check_mode=check_mode)
    return Generation(
        condition(
            IGNITION_CONFIGURED,
            True,
            "Generated",
            f"The NodePool boots {image}: MachineConfig ConfigMap {ref['namespace']}/"
            f"{naming.machineconfig_configmap_name(provisioner)}, and DPF's bf.cfg template "
            f"{target['namespace']}/{target['name']} carries the rewritten ignition",
        ),
        changed=result.changed,
        configmap_ref=target,
    )
