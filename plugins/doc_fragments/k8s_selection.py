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
    description:
      - One object's name.
      - With I(label_selector), that object only if it matches the selector (an object of that
        name that is not ours is neither returned nor deleted).
    type: str
  label_selector:
    description: A label selector choosing the objects.
    type: str
"""
