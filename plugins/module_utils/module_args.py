# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Argument specs shared by the modules, and the client they build from them."""

from __future__ import annotations

from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.kube import ApiError, KubeClient

AUTH_ARG_SPEC: dict[str, dict[str, Any]] = {
    "kubeconfig": {"type": "path"},
    "context": {"type": "str"},
}

PROVISIONER_ARG_SPEC: dict[str, dict[str, Any]] = {
    "provisioner": {"type": "dict", "required": True},
}


def with_auth(spec: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {**AUTH_ARG_SPEC, **spec}


def client_from_params(params: dict[str, Any]) -> KubeClient:
    return KubeClient.from_kubeconfig(params.get("kubeconfig"), params.get("context"))


def provisioner_identity(provisioner: dict[str, Any]) -> tuple[str, str]:
    """(namespace, name) of a provisioner object given as a module argument."""
    meta = provisioner.get("metadata") or {}
    if not meta.get("name") or not meta.get("namespace"):
        raise ValueError("provisioner must be a DPFHCPProvisioner object with metadata.name and metadata.namespace")
    return meta["namespace"], meta["name"]


def run_module(argument_spec: dict[str, dict[str, Any]], execute: Any) -> None:
    """The ``main()`` of every module: parse arguments, run ``execute``, report."""
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        module.exit_json(**execute(module.params, module.check_mode))
    except (ApiError, ValueError) as exc:
        module.fail_json(msg=str(exc))
