"""What a run's workers inherit from the controller instead of doing each again: the plugins the
preload callback loads when the play starts, and task arguments as plain data."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar, trust_as_template

from ansible_collections.dpf_hcp.provisioner.plugins.action.in_controller import plain
from ansible_collections.dpf_hcp.provisioner.plugins.modules import k8s_apply

# Run in a fresh interpreter: the plugin loaders are process-wide, and another test may have
# loaded what this one checks is loaded. A "worker" is a child forked as Ansible forks one; it
# counts the plugin source files it has to load to evaluate what a task of ours evaluates.
WORKER = textwrap.dedent(
    """
    import json, os, sys
    from ansible.parsing.dataloader import DataLoader
    from ansible.playbook.play import Play
    from ansible.plugins.loader import init_plugin_loader, filter_loader, lookup_loader, action_loader, module_loader
    from ansible.plugins import loader as plugin_loader
    from ansible.template import Templar, trust_as_template
    from ansible.vars.manager import VariableManager

    init_plugin_loader()
    from ansible_collections.dpf_hcp.provisioner.plugins.callback import preload

    loader = DataLoader()
    HOME = "{{ lookup('ansible.builtin.env', 'HOME') }}"
    play = Play.load(
        {
            "hosts": "all",
            "gather_facts": False,
            "tasks": [
                {"name": "a lookup", "ansible.builtin.set_fact": {"home": HOME}},
                {"name": "one of ours", "dpf_hcp.provisioner.requeue_after": {"seconds": 1}, "when": "x is defined"},
                {"name": "a plain module", "ansible.builtin.command": "true"},
                # Another collection's: resolved by its task only (its routing may warn).
                {"name": "another collection's", "kubernetes.core.k8s_info": {"kind": "Pod"}},
            ],
        },
        variable_manager=VariableManager(loader=loader),
        loader=loader,
    )

    def worker():
        read, write = os.pipe()
        pid = os.fork()
        if pid:
            os.close(write)
            with os.fdopen(read) as pipe:
                answer = json.loads(pipe.read())
            os.waitpid(pid, 0)
            return answer
        loads = []
        original = plugin_loader.PluginLoader._load_module_source
        def counted(self, *args, **kwargs):
            loads.append(str(kwargs.get("path") or args[-1]))
            return original(self, *args, **kwargs)
        plugin_loader.PluginLoader._load_module_source = counted
        templar = Templar(loader=loader, variables={"x": 2})
        templar.evaluate_conditional(trust_as_template("x is defined and x | int > 1"))
        templar.template(trust_as_template("{{ x | dpf_hcp.provisioner.backoff_seconds(1, 300) }}"))
        templar.template(trust_as_template("{{ lookup('ansible.builtin.env', 'HOME') }}"))
        for name in ("ansible.builtin.set_fact", "dpf_hcp.provisioner.requeue_after", "ansible.builtin.command"):
            action_loader.get(name, class_only=True)
        with os.fdopen(write, "w") as pipe:
            pipe.write(json.dumps(loads))
        os._exit(0)

    cold = worker()
    preload.warm_plugins(play, preload.collection_filters())
    warm = worker()
    print(json.dumps({"cold": cold, "warm": warm}))
    """
)


def test_a_worker_forked_after_the_play_starts_loads_no_plugin_again():
    out = subprocess.run([sys.executable, "-c", WORKER], capture_output=True, text=True, timeout=120, check=True)
    loads = json.loads(out.stdout.strip().splitlines()[-1])
    # Without the warm-up a worker loads Ansible's filters and tests, ours, the lookup and the
    # action plugins: the check has something to find.
    assert any("filter" in path for path in loads["cold"]) and any("lookup" in path for path in loads["cold"])
    assert loads["warm"] == []
    assert "WARNING" not in out.stderr and "DEPRECAT" not in out.stderr, out.stderr


def _tagged_definition() -> dict:
    init_plugin_loader()
    entry = "k{0}:\n  name: value{0}\n  count: {0}\n  enabled: true\n  items: [a, {{b: c}}]"
    text = "\n".join(entry.format(i) for i in range(60))
    return Templar(loader=DataLoader(), variables={"s": text}).template(trust_as_template("{{ s | from_yaml }}"))


def test_task_arguments_reach_a_module_as_plain_data_equal_to_what_ansible_gave():
    tagged = _tagged_definition()
    assert type(tagged["k1"]["name"]) is not str  # Ansible's tagged string: the case in question
    converted = plain({"definition": tagged, "list": (1, 2.5, None)})
    assert converted == {"definition": tagged, "list": (1, 2.5, None)}

    def types(value):
        if isinstance(value, dict):
            return {type(value)} | {t for k, v in value.items() for t in types(k) | types(v)}
        if isinstance(value, (list, tuple)):
            return {type(value)} | {t for v in value for t in types(v)}
        return {type(value)}

    assert types(converted) <= {dict, list, tuple, str, int, float, bool, type(None)}
    assert type(converted["definition"]["k1"]["enabled"]) is bool
    validated = ArgumentSpecValidator(k8s_apply.ARGUMENT_SPEC).validate({"definition": converted["definition"]})
    assert validated.validated_parameters["definition"] == tagged


# The action plugin as a worker runs it, in a fresh interpreter (the plugin loaders are process-wide),
# with the module's execute replaced by one that reports the types it was given.
ACTION = textwrap.dedent(
    """
    import json
    from ansible.parsing.dataloader import DataLoader
    from ansible.playbook.play_context import PlayContext
    from ansible.playbook.task import Task
    from ansible.plugins.loader import action_loader, connection_loader, init_plugin_loader
    from ansible.template import Templar, trust_as_template

    init_plugin_loader()
    from ansible_collections.dpf_hcp.provisioner.plugins.modules import k8s_apply

    loader = DataLoader()
    text = "kind: ConfigMap\\ndata: {a: b}\\nitems: [x, {n: 1, on_: true}]"
    tagged = Templar(loader=loader, variables={"s": text}).template(trust_as_template("{{ s | from_yaml }}"))
    seen = {}

    def types(value):
        if isinstance(value, dict):
            return [type(value).__name__] + [t for k, v in value.items() for t in types(k) + types(v)]
        if isinstance(value, list):
            return [type(value).__name__] + [t for v in value for t in types(v)]
        return [type(value).__name__]

    def execute(params, check_mode):
        seen["equal"] = params["definition"] == tagged
        seen["given"] = sorted(set(types(tagged)))
        seen["types"] = sorted(set(types(params["definition"])))
        return {"changed": False}

    k8s_apply.execute = execute
    task = Task()
    task.action = "dpf_hcp.provisioner.k8s_apply"
    task.args = {"definition": tagged}
    context = PlayContext()
    action = action_loader.get(
        task.action,
        task=task,
        connection=connection_loader.get("local", context, None),
        play_context=context,
        loader=loader,
        templar=Templar(loader=loader),
        shared_loader_obj=None,
    )
    seen["result"] = action.run(task_vars={})
    print(json.dumps(seen))
    """
)


def test_the_action_plugin_hands_the_module_plain_data_equal_to_what_ansible_gave():
    out = subprocess.run([sys.executable, "-c", ACTION], capture_output=True, text=True, timeout=120, check=True)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert not seen["result"].get("failed"), seen["result"]
    assert seen["equal"]
    assert set(seen["given"]) - {"dict", "list", "str", "int", "bool"}  # Ansible's tagged types: the case in question
    assert set(seen["types"]) <= {"dict", "list", "str", "int", "bool"}
