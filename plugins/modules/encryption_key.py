#!/usr/bin/python
# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Generate, once, the AES-CBC key a HostedCluster encrypts its Secrets in etcd with."""

from __future__ import annotations

DOCUMENTATION = r"""
module: encryption_key
short_description: Generate once the AES-CBC key a HostedCluster encrypts its etcd Secrets with
version_added: "0.1.0"
description:
  - Makes sure a Secret holds an AES-CBC key under C(key), as HyperShift's
    C(spec.secretEncryption.aescbc.activeKey) names it.
  - When the Secret does not exist, creates it with I(size) random bytes from the operating
    system's generator. When it exists and is this provisioner's (its owner labels), the key is
    never replaced, since the hosted cluster's data was encrypted with it; only its labels and
    owner are brought up to date.
  - A Secret of that name that is not labelled as this provisioner's is never taken over, and a
    key that is not 16, 24 or 32 bytes (what the kube-apiserver takes for AES-CBC) is reported,
    not replaced. The tenant who owns the namespace can read and change the Secret, as any other
    of theirs; this guards against name collisions, not against them.
  - The key is never returned, logged or shown in a diff.
  - In check mode the creation is a server-side dry run.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
options:
  name:
    description: The Secret's name.
    type: str
    required: true
  namespace:
    description: The Secret's namespace (the HostedCluster's).
    type: str
    required: true
  size:
    description: Bytes of a new key (AES-128, AES-192 or AES-256).
    type: int
    choices: [16, 24, 32]
    default: 32
  hosted_cluster:
    description:
      - The HostedCluster (in I(namespace)) that encrypts with this key. While it names the
        Secret as its active or backup key, a missing Secret is never made anew (HyperShift
        would hand the new key to its control plane, and what was encrypted with the old one
        would be lost); the task fails, naming the control plane's copy to restore it from.
    type: str
  labels:
    description:
      - Labels on the Secret. With both provisioner owner labels, a Secret of that name without
        them (someone else's, a name collision) is never taken over.
    type: dict
    default: {}
  owner:
    description: An ownerReference for the Secret (same namespace only).
    type: dict
attributes:
  check_mode:
    support: full
    description: The creation becomes a server-side dry run; the result tells what would change.
author:
  - dpf_hcp.provisioner contributors (@dpf-hcp)
"""

EXAMPLES = r"""
- name: The etcd encryption key of the HostedCluster
  dpf_hcp.provisioner.encryption_key:
    namespace: clusters
    name: prod-etcd-encryption-key
"""

RETURN = r"""
action:
  description: created, updated (labels or owner) or unchanged.
  returned: always
  type: str
"""

import base64
import binascii
import secrets
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.apply import apply
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.args import (
    client_from_params,
    run_module,
    with_auth,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import HOSTED_CLUSTER, check_owned
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.naming import control_plane_namespace

# HyperShift reads the key under this name (openshift/hypershift api/hypershift/v1beta1/
# hostedcluster_types.go, AESCBCKeySecretKey); the kube-apiserver's aescbc provider takes keys of
# these lengths (kubernetes staging/src/k8s.io/apiserver/pkg/server/options/encryptionconfig/config.go).
KEY = "key"
AES_KEY_BYTES = (16, 24, 32)

ARGUMENT_SPEC = with_auth(
    {
        "name": {"type": "str", "required": True},
        "namespace": {"type": "str", "required": True},
        "size": {"type": "int", "choices": list(AES_KEY_BYTES), "default": 32},
        "labels": {"type": "dict", "default": {}},
        "owner": {"type": "dict"},
        "hosted_cluster": {"type": "str"},
    }
)


def key_problem(secret: dict[str, Any]) -> str | None:
    """What makes the Secret's key unusable for AES-CBC, or None."""
    raw = (secret.get("data") or {}).get(KEY)
    if not isinstance(raw, str):
        return f"has no {KEY!r}"
    try:
        size = len(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        return f"holds a {KEY!r} that is not base64"
    if size not in AES_KEY_BYTES:
        return f"holds a {KEY!r} of {size} bytes, and AES-CBC takes 16, 24 or 32"
    return None


def _control_plane(namespace: str, hosted_cluster: str) -> str:
    return control_plane_namespace({"metadata": {"namespace": namespace, "name": hosted_cluster}})


def _refuse_a_lost_key(client: Any, namespace: str, name: str, hosted_cluster: str) -> None:
    """ValueError when the HostedCluster encrypts with the Secret that is gone."""
    hc = client.get_or_none(HOSTED_CLUSTER, hosted_cluster, namespace)
    aescbc = (((hc or {}).get("spec") or {}).get("secretEncryption") or {}).get("aescbc") or {}
    named = {(aescbc.get(role) or {}).get("name") for role in ("activeKey", "backupKey")}
    if name in named:
        raise ValueError(
            f"Secret {namespace}/{name} is gone, and HostedCluster {namespace}/{hosted_cluster} encrypts its "
            "Secrets with the key it held: a new key would make them unreadable. Restore the Secret from "
            f"HyperShift's copy (Secret {name} in namespace {_control_plane(namespace, hosted_cluster)}, "
            f"key {KEY!r}), with this provisioner's labels"
        )


def execute(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    client = client_from_params(params)
    meta: dict[str, Any] = {"name": params["name"], "namespace": params["namespace"], "labels": params["labels"]}
    if params.get("owner"):
        meta["ownerReferences"] = [params["owner"]]
    desired: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque"}
    current = client.get_or_none(SECRET, params["name"], params["namespace"])
    if current is None and params.get("hosted_cluster"):
        _refuse_a_lost_key(client, params["namespace"], params["name"], params["hosted_cluster"])
    if current is None:
        new = {**desired, "data": {KEY: base64.b64encode(secrets.token_bytes(params["size"])).decode("ascii")}}
        try:
            client.create(SECRET, new, params["namespace"], dry_run=check_mode)
            return {"changed": True, "action": "created"}
        except ApiError as exc:
            if not exc.conflict:
                raise
        current = client.get(SECRET, params["name"], params["namespace"])  # made meanwhile: never overwritten
    check_owned(desired, current)  # never another's Secret, whatever its name
    problem = key_problem(current)
    if problem:
        raise ValueError(
            f"Secret {params['namespace']}/{params['name']} {problem}: it is the hosted cluster's etcd "
            "encryption key and is never replaced (data encrypted with it would be lost); restore the key "
            "it had, or delete the provisioner and its hosted cluster"
        )
    res = apply(client, desired, check_mode=check_mode, adopt=check_owned)  # no data: labels and owner only
    return {"changed": res.changed, "action": res.action}


def main() -> None:
    run_module(ARGUMENT_SPEC, execute)


if __name__ == "__main__":
    main()
