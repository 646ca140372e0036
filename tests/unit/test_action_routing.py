"""Every module of the collection runs in the controller through the one action plugin: each
module's action plugin is a link to it, as kubernetes.core links its modules' action plugins.

Not meta/runtime.yml: an action redirect (``plugin_routing.action``) makes ansible-lint's fqcn rule
tell every user to write the action plugin's name, which is no module; a module's
``action_plugin`` key made each task about 120 ms slower (400 tasks of a module: 56 to 64 s
against 7 s with links, ansible-core 2.20.10)."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
ACTION = REPO / "plugins" / "action"


def test_every_module_has_the_one_action_plugin() -> None:
    modules = {p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if p.stem != "__init__"}
    actions = {p.stem: p for p in ACTION.glob("*.py")}
    assert set(actions) == modules | {"in_controller"}
    assert not actions.pop("in_controller").is_symlink()
    for name, path in actions.items():
        assert path.is_symlink() and path.readlink() == Path("in_controller.py"), name
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    assert set(runtime["action_groups"]["k8s"]) == modules
    assert "plugin_routing" not in runtime
