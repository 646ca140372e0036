# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""The action plugin of every module of this collection (each module's action plugin is a link to
this file, as kubernetes.core links its own): it runs the module's logic inside the Ansible worker
instead of a new Python process.

Each module of this collection exposes ``ARGUMENT_SPEC`` and ``execute(params, check_mode)``.
As a module (``main()``) it runs them through AnsibleModule; through this action plugin it runs
them here, in the controller, which costs milliseconds instead of
the start-up, imports and client set-up of a fresh interpreter per task. Connections are made
from the task's environment (``environment:`` over the controller's), as a module process would
see it, so K8S_AUTH_* and KUBECONFIG set there apply as they do for kubernetes.core's modules.

The result also lists, as ``api_objects``, each object the task read or wrote, in order (op,
kind, namespace, name, resourceVersion, generation, labels): the operator tells its own changes
from others' with it, and does not run a provisioner's playbook again only to see the echo of
its last run.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.plugins.loader import module_loader

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import (
    ApiError,
    KubeClient,
    task_environment,
)

# The provisioner's kinds known to every client without discovery, whichever module runs.
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import kinds  # noqa: F401 pylint: disable=unused-import

COLLECTION = "dpf_hcp.provisioner."


def plain(value: Any) -> Any:
    """``value`` with its strings, numbers, mappings, lists and tuples as Python's own types; other
    values (a date, bytes, a vaulted string) as they are. Ansible hands a task's arguments over as
    tagged strings, mappings and lists (their origin, their trust), which the validator copies
    deeply one object at a time (a rendered HostedCluster: tens of milliseconds, against under one
    as plain data). A module takes its arguments as data, never as templates: the tags it loses
    only ever granted trust, never took it away."""
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dict):
        return {plain(key): plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, tuple):
        return tuple(plain(item) for item in value)
    return value


MODULES = "ansible_collections.dpf_hcp.provisioner.plugins.modules."


class ActionModule(ActionBase):
    """Validate the task's arguments and call its module's ``execute``, in the controller."""

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    @property
    def module_name(self) -> str:
        """The task's module, found as Ansible finds it (a short name under ``collections:``, an
        FQCN, a redirect): one of this collection's, since only those are routed here. (The task's
        ``resolved_action`` names this action plugin, the target of the routing.)"""
        context = module_loader.find_plugin_with_context(self._task.action, collection_list=self._task.collections)
        resolved = context.resolved_fqcn if context.resolved else ""
        if not resolved.startswith(COLLECTION) or not resolved[len(COLLECTION) :].isidentifier():
            raise AnsibleActionFail(f"{resolved!r} is not a module of {COLLECTION.rstrip('.')}")
        return resolved[len(COLLECTION) :]

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        if self._connection.transport != "local" or self._play_context.become:
            # On another host, or as another user: the module runs there, in a process of its own,
            # as kubernetes.core's modules do (and needs the kubernetes client there).
            result.update(
                self._execute_module(
                    module_name=f"dpf_hcp.provisioner.{self.module_name}",
                    module_args=self._task.args,
                    task_vars=task_vars,
                )
            )
            return result
        module = importlib.import_module(MODULES + self.module_name)
        if not (hasattr(module, "ARGUMENT_SPEC") and hasattr(module, "execute")):
            raise AnsibleActionFail(f"{self.module_name} does not run in the controller (no ARGUMENT_SPEC and execute)")
        self._decrypted: list[str] = []
        task_env: dict[str, Any] = {}
        self._compute_environment_string(task_env)  # the task's, its block's and its play's environment:
        KubeClient.journal = []
        try:
            with task_environment(task_env):  # also for the arguments' ~ and $VARIABLES
                validated = ArgumentSpecValidator(module.ARGUMENT_SPEC).validate(plain(self._local_kubeconfig()))
                if validated.error_messages:
                    result.update(failed=True, msg="; ".join(validated.error_messages))
                    return result
                result.update(module.execute(validated.validated_parameters, bool(self._task.check_mode)))
        except (ApiError, ValueError) as exc:
            result.update(failed=True, msg=f"{self.module_name}: {exc}")
        finally:
            if KubeClient.journal:
                result["api_objects"] = KubeClient.journal
            KubeClient.journal = None
            for path in self._decrypted:  # a vaulted kubeconfig's plain copy: gone with the task
                self._loader.cleanup_tmp_file(path)
        if not self._task.diff:
            result.pop("diff", None)
        return result

    def _local_kubeconfig(self) -> dict[str, Any]:
        """The task's arguments, a kubeconfig path looked up and decrypted as kubernetes.core's
        action plugins do (kubernetes.core plugins/action/k8s_info.py, get_kubeconfig): each of
        its ':'-joined paths searched in the role's and play's files/, a vaulted one decrypted."""
        args = dict(self._task.args)
        kubeconfig = args.get("kubeconfig")
        if isinstance(kubeconfig, str) and kubeconfig:
            real = []
            for path in kubeconfig.split(os.pathsep):
                found = self._find_needle("files", path)
                real.append(self._loader.get_real_file(found, decrypt=True))
                if real[-1] != found:
                    self._decrypted.append(real[-1])
            args["kubeconfig"] = os.pathsep.join(real)
        elif kubeconfig is not None and not isinstance(kubeconfig, dict):
            raise ValueError(f"kubeconfig must be a path or a mapping, not {type(kubeconfig).__name__}")
        return args
