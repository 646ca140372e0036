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
    variables, in-cluster, then the kubeconfig) and builds its TLS context once; loads the
    plugins the play's tasks name (their action plugins and lookups, when named by fully qualified
    names of C(ansible.builtin), C(ansible.legacy) or this collection, whose routing deprecates
    nothing to warn about), this collection's filters and Ansible's own filters and tests, and
    evaluates one expression, so that no worker loads them or builds the template lexer again
    (each of those costs the first template a worker evaluates about a tenth of a second);
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
import re
from collections.abc import Iterator
from typing import Any

from ansible.plugins.callback import CallbackBase
from ansible.plugins.loader import action_loader, filter_loader, lookup_loader, module_loader
from ansible.template import Templar, trust_as_template

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import connect

PACKAGES = ("module_utils", "modules", "action", "filter")
ROOT = "ansible_collections.dpf_hcp.provisioner.plugins"


def warm_default_credentials() -> None:
    """Load the default connection (K8S_AUTH_* variables, in-cluster, $KUBECONFIG, ...) and build
    its TLS context; a task with other options or another environment makes its own. Nothing to
    warm without one."""
    with contextlib.suppress(ValueError, OSError, ImportError):
        connect({})


# A lookup named in a template: lookup('ansible.builtin.env', ...), query("template", ...).
LOOKUP = re.compile(r"""\b(?:lookup|query|q)\(\s*['"]([A-Za-z0-9_.]+)['"]""")
# Plugins loaded ahead only under these names: resolving a name another collection routes can
# print its deprecation, which the play would then show once more, and for tasks that never run.
WARMED = ("ansible.builtin.", "ansible.legacy.", "dpf_hcp.provisioner.")


def _tasks(blocks: list[Any]) -> Iterator[Any]:
    """Every task of these blocks, nested blocks included."""
    for block in blocks:
        for part in (block.block, block.rescue, block.always):
            for item in part or ():
                if hasattr(item, "block"):
                    yield from _tasks([item])
                else:
                    yield item


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _load_action(task: Any) -> None:
    """The action plugin the task's worker will use, found as the task executor finds it: the
    module's own action plugin, else one named as the task's action, else ``normal``."""
    collections = task.collections
    module = module_loader.find_plugin_with_context(task.action, collection_list=collections)
    if module.resolved and module.action_plugin:
        action_loader.get(module.action_plugin, class_only=True, collection_list=collections)
    elif action_loader.has_plugin(task.action, collection_list=collections):
        action_loader.get(task.action, class_only=True, collection_list=collections)
    else:
        action_loader.get("ansible.legacy.normal", class_only=True)


def warm_plugins(play: Any, filters: list[str]) -> None:
    """Load what the workers would each load again: the action plugin and the lookups of every task
    of the play, these filters, Ansible's own filters and tests, and the template lexer. A name that
    does not resolve is left for the task to report."""
    with contextlib.suppress(Exception):
        Templar().evaluate_conditional(trust_as_template("'yes' | bool is boolean"))
    for name in filters:
        with contextlib.suppress(Exception):
            filter_loader.get(name)
    with contextlib.suppress(Exception):
        tasks = list(_tasks(play.compile()))
        for task in tasks:
            if str(task.action).startswith(WARMED):
                with contextlib.suppress(Exception):
                    _load_action(task)
            for text in _strings([task.args, task.when, task.vars]):
                for lookup in LOOKUP.findall(text):
                    if lookup.startswith(WARMED):
                        with contextlib.suppress(Exception):
                            lookup_loader.get(lookup, class_only=True)


def collection_filters() -> list[str]:
    """The fully qualified names of this collection's filters."""
    names = []
    for info in pkgutil.iter_modules(importlib.import_module(f"{ROOT}.filter").__path__):
        module = importlib.import_module(f"{ROOT}.filter.{info.name}")
        with contextlib.suppress(Exception):
            names.extend(f"dpf_hcp.provisioner.{name}" for name in module.FilterModule().filters())
    return names


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
        copy the page it is on into the worker); the default kubeconfig's credentials and TLS
        context, and the plugins the tasks use, are loaded once here instead of once per task and
        host."""
        warm_default_credentials()
        warm_plugins(play, collection_filters())
        gc.collect()
        gc.freeze()
