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
  - When the play starts it also loads the default connection (kubernetes.core's C(K8S_AUTH_*)
    variables, in-cluster, then the kubeconfig) and builds its TLS context once,
    and freezes the objects the controller holds (C(gc.freeze)), so the workers' garbage
    collector does not copy the controller's memory page by page.
  - It changes no output and no result. The operator enables it for its runs; enable it for
    one-off runs that serve many hosts with C(callbacks_enabled = dpf_hcp.provisioner.preload).
author:
  - dpf_hcp.provisioner contributors (@dpf-hcp)
requirements:
  - enabled in C(callbacks_enabled) (C(ANSIBLE_CALLBACKS_ENABLED))
"""

import contextlib
import gc
import importlib
import pkgutil
from typing import Any

from ansible.plugins.callback import CallbackBase

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import connect

PACKAGES = ("module_utils", "modules", "action", "filter")
ROOT = "ansible_collections.dpf_hcp.provisioner.plugins"


def warm_default_credentials() -> None:
    """Load the default connection (K8S_AUTH_* variables, in-cluster, $KUBECONFIG, ...) and build
    its TLS context; a task with other options or another environment makes its own. Nothing to
    warm without one."""
    with contextlib.suppress(ValueError, OSError, ImportError):
        connect({})


def preload() -> list[str]:
    """Import every Python module of the collection's plugin packages; returns their names."""
    names = []
    for package in PACKAGES:
        base = importlib.import_module(f"{ROOT}.{package}")
        for info in pkgutil.walk_packages(base.__path__, prefix=f"{ROOT}.{package}."):
            importlib.import_module(info.name)
            names.append(info.name)
    return names


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "dpf_hcp.provisioner.preload"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.preloaded = preload()

    def v2_playbook_on_play_start(self, play: Any) -> None:
        """The play is loaded: what the controller holds now is what every worker inherits.
        Freezing it keeps the workers' garbage collector off those objects (each visit would
        copy the page it is on into the worker), and the default kubeconfig's credentials and TLS
        context are made once here instead of once per task and host."""
        warm_default_credentials()
        gc.collect()
        gc.freeze()
