"""Every module's DOCUMENTATION, EXAMPLES and RETURN are YAML that ansible-doc can read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

MODULES = sorted((Path(__file__).resolve().parents[2] / "plugins" / "modules").glob("*.py"))


def docs(path: Path) -> dict[str, str]:
    out = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in ("DOCUMENTATION", "EXAMPLES", "RETURN"):
                    out[target.id] = node.value.value
    return out


@pytest.mark.parametrize("path", MODULES, ids=[p.stem for p in MODULES])
def test_a_modules_documentation_is_valid_yaml(path):
    found = docs(path)
    assert set(found) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    assert yaml.safe_load(found["DOCUMENTATION"])["module"] == path.stem
    assert isinstance(yaml.safe_load(found["EXAMPLES"]), list)
    assert isinstance(yaml.safe_load(found["RETURN"]), dict)
