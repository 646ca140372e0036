"""Each role's README.md is what its meta/argument_specs.yml renders to (python -m dpf_hcp_dev.role_readmes)."""

from __future__ import annotations

import pytest

from dpf_hcp_dev.role_readmes import ROLES, render

ROLE_NAMES = sorted(p.name for p in ROLES.iterdir() if (p / "meta" / "argument_specs.yml").exists())


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_readme_is_rendered_from_the_argument_specs(role):
    readme = ROLES / role / "README.md"
    assert readme.exists() and readme.read_text() == render(role), (
        f"{readme} is out of date: run .venv/bin/python -m dpf_hcp_dev.role_readmes"
    )
