"""Every module of the collection runs in the controller through the one action plugin, named as
each module's ``action_plugin`` in meta/runtime.yml. (An action redirect, ``plugin_routing.action``,
would make ansible-lint's fqcn rule tell every user to write the action plugin's name, which is no
module; ``modules.<name>.action_plugin`` leaves the module's own name canonical.)"""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_every_module_runs_through_the_one_action_plugin() -> None:
    modules = {p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if p.stem != "__init__"}
    assert [p.name for p in (REPO / "plugins" / "action").glob("*.py")] == ["in_controller.py"]
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    routed = runtime["plugin_routing"]["modules"]
    assert set(routed) == modules
    assert {r["action_plugin"] for r in routed.values()} == {"dpf_hcp.provisioner.in_controller"}
    assert "action" not in runtime["plugin_routing"]  # no action redirect: see the module docstring
    assert set(runtime["action_groups"]["k8s"]) == modules
