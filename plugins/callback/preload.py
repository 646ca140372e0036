# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Import the collection's plugin code once, in the controller, before Ansible forks its workers."""

from __future__ import annotations

DOCUMENTATION = r"""
name: preload
type: aggregate
short_description: Import this collection's plugin code once, before Ansible forks its workers
description:
  - Ansible runs every task of every host in a process forked from the controller. Code the
    controller has not imported yet is imported again in each of those processes, once per
    host and task.
  - This callback imports the collection's modules, action plugins, filters and their
    C(module_utils) when the run starts, so every worker inherits them already imported.
  - It changes no output and no result. The operator enables it for its runs; enable it for
    one-off runs that serve many hosts with C(callbacks_enabled = dpf_hcp.provisioner.preload).
author:
  - dpf_hcp.provisioner contributors (@dpf-hcp)
requirements:
  - enabled in C(callbacks_enabled) (C(ANSIBLE_CALLBACKS_ENABLED))
"""

import importlib
import pkgutil

from ansible.plugins.callback import CallbackBase

PACKAGES = ("module_utils", "plugin_utils", "modules", "action", "filter")
ROOT = "ansible_collections.dpf_hcp.provisioner.plugins"


def preload() -> list[str]:
    """Import every Python module of the collection's plugin packages; returns their names."""
    names = []
    for package in PACKAGES:
        base = importlib.import_module(f"{ROOT}.{package}")
        for info in pkgutil.iter_modules(base.__path__):
            name = f"{ROOT}.{package}.{info.name}"
            importlib.import_module(name)
            names.append(name)
    return names


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "dpf_hcp.provisioner.preload"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.preloaded = preload()
