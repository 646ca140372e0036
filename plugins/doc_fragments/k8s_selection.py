# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Which objects a module acts on: one by name, or those matching a label selector."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  api_version:
    description: The objects' apiVersion.
    type: str
    required: true
  kind:
    description: The objects' kind.
    type: str
    required: true
  namespace:
    description: The namespace, for namespaced kinds; empty means all namespaces.
    type: str
  name:
    description: One object's name. Not with I(label_selector).
    type: str
  label_selector:
    description: A label selector choosing the objects, when I(name) is not given.
    type: str
"""
