# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Argument specs shared by the modules, and the client they build from them."""

from __future__ import annotations

from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC as K8S_AUTH_ARG_SPEC

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import Resource

# kubernetes.core's connection options, under its names (doc fragment kubernetes.core.k8s_auth_options).
AUTH_ARG_SPEC: dict[str, dict[str, Any]] = {name: dict(spec) for name, spec in K8S_AUTH_ARG_SPEC.items()}

# Which objects k8s_info and k8s_absent act on (doc fragment dpf_hcp.provisioner.k8s_selection).
SELECTION_ARG_SPEC: dict[str, dict[str, Any]] = {
    "api_version": {"type": "str", "required": True},
    "kind": {"type": "str", "required": True},
    "namespace": {"type": "str"},
    "name": {"type": "str"},
    "label_selector": {"type": "str"},
}


def with_auth(spec: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {**AUTH_ARG_SPEC, **spec}


def client_from_params(params: dict[str, Any]) -> KubeClient:
    return KubeClient.from_params(params)


def selected_objects(client: KubeClient, params: dict[str, Any]) -> tuple[Resource, list[dict[str, Any]]] | None:
    """The objects SELECTION_ARG_SPEC's parameters name (one by name, those matching a label
    selector, the named one only if it matches the selector, else all), each with apiVersion and
    kind; None when the server does not serve the kind."""
    ns = params.get("namespace") or None
    selector = params.get("label_selector") or None
    try:
        res = client.resource(params["api_version"], params["kind"])
        if params.get("name") and not selector:
            return res, [o for o in [client.get_or_none(res, params["name"], ns)] if o]
        fields = f"metadata.name={params['name']}" if params.get("name") else None
        listed = client.list(res, ns, label_selector=selector, field_selector=fields)
    except ApiError as exc:
        if exc.not_found:  # the kind's API is not installed
            return None
        raise
    typed = {"apiVersion": params["api_version"], "kind": params["kind"]}  # items of a list carry neither
    return res, [{**typed, **o} for o in listed.get("items") or []]


def run_module(argument_spec: dict[str, dict[str, Any]], execute: Any) -> None:
    """The ``main()`` of every module: parse arguments, run ``execute``, report."""
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        module.exit_json(**execute(module.params, module.check_mode))
    except (ApiError, ValueError) as exc:
        module.fail_json(msg=str(exc))
