# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Runs the metallb_pool module's logic in the controller (see plugin_utils/local_module.py)."""

from __future__ import annotations

from ansible_collections.dpf_hcp.provisioner.plugins.plugin_utils.local_module import LocalModuleAction


class ActionModule(LocalModuleAction):
    module_name = "metallb_pool"
