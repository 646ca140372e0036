# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Kubernetes objects as inventory hosts, every value untrusted data: nothing read from the API
is ever evaluated as a template."""

from __future__ import annotations

DOCUMENTATION = r"""
name: objects
version_added: "0.1.0"
short_description: Kubernetes objects as inventory hosts, their content never trusted as templates
description:
  - >-
    Reads a JSON file C({"plugin": "dpf_hcp.provisioner.objects", "hosts": {"<namespace>/<name>": {<var>: <value>}}})
    and adds each host with its variables. The dpf-hcp-operator writes one per run, each
    DPFHCPProvisioner a host with the object in C(_provisioning_dpu_hcp_io_dpfhcpprovisioner).
  - Every value is data, never code. ansible-core (2.19 and later) evaluates a string as a
    template only when it is trusted; the C(yaml), C(ini) and C(toml) inventory plugins trust
    all their strings, this plugin trusts none. A C({{ ... }}) or C({% ... %}) anywhere in an
    object (an annotation, a spec field, a status message) stays that text wherever the playbooks
    pass it on.
  - The file is parsed as JSON whatever its extension. Name it C(*.json) and enable the plugin
    (C(ANSIBLE_INVENTORY_ENABLED=dpf_hcp.provisioner.objects)), as the operator does; or name it
    C(*.yml) and the default C(auto) plugin hands it to this one by its C(plugin) key. The
    C(yaml) plugin refuses such a file (it has a C(plugin) key) rather than trusting it.
author:
  - dpf_hcp.provisioner contributors (@dpf-hcp)
options:
  plugin:
    description: The name of this plugin.
    type: str
    required: true
    choices: [dpf_hcp.provisioner.objects]
  hosts:
    description: Each host's name and its variables.
    type: dict
    default: {}
"""

EXAMPLES = r"""
# ANSIBLE_INVENTORY_ENABLED=dpf_hcp.provisioner.objects ansible-playbook -i objects.json playbooks/reconcile.yml
# objects.json:
# {"plugin": "dpf_hcp.provisioner.objects",
#  "hosts": {"my-ns/my-provisioner": {"_provisioning_dpu_hcp_io_dpfhcpprovisioner": {"apiVersion": "..."}}}}
"""

import json
from typing import Any

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseFileInventoryPlugin

NAME = "dpf_hcp.provisioner.objects"
EXTENSIONS = (".json", ".yml", ".yaml")


def read(path: str) -> dict[str, dict[str, Any]]:
    """The hosts of an objects file, checked for shape; the message names the file and the fix."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise AnsibleParserError(f"{path}: not a readable JSON objects inventory: {exc}") from exc
    if not isinstance(data, dict) or data.get("plugin") != NAME:
        raise AnsibleParserError(f'{path}: expected a JSON object with "plugin": "{NAME}"')
    hosts = data.get("hosts") or {}
    if not isinstance(hosts, dict) or not all(isinstance(v, dict | None) for v in hosts.values()):
        raise AnsibleParserError(f'{path}: "hosts" must map each host name to a mapping of its variables')
    return hosts


class InventoryModule(BaseFileInventoryPlugin):
    NAME = NAME
    # The point of this plugin: never mark a value as a template (BaseInventoryPlugin's default too).
    trusted_by_default = False

    def verify_file(self, path: str) -> bool:
        return super().verify_file(path) and path.endswith(EXTENSIONS)

    def parse(self, inventory: Any, loader: Any, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        for host, variables in read(path).items():
            self.inventory.add_host(host, group="all")
            for name, value in (variables or {}).items():
                self.inventory.set_variable(host, name, value)
