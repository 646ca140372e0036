"""The operator's wheel, and so its image, ship product code only: no stand-ins, no bench, no
local control plane."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_the_operator_only() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    found = project["tool"]["setuptools"]["packages"]["find"]
    packages = [  # as setuptools' find_packages: folders with an __init__.py, filtered by include
        ".".join(init.parent.relative_to(REPO / where).parts)
        for where in found["where"]
        for init in (REPO / where).rglob("__init__.py")
    ]
    packages = [name for name in packages if any(fnmatch.fnmatchcase(name, pat) for pat in found["include"])]
    assert packages, "no package found"
    assert all(name.split(".")[0] == "dpf_hcp_operator" for name in packages), packages
    scripts = project["project"]["scripts"]
    assert all(target.startswith("dpf_hcp_operator.") for target in scripts.values()), scripts
