"""A missing third-party library is a task error that names it and how to install it."""

from __future__ import annotations

import sys

import pytest

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.libraries import MissingLibraryError, require


def test_nothing_missing_is_silent():
    require(None)


def test_missing_library_names_the_pip_package_and_the_interpreter():
    with pytest.raises(MissingLibraryError) as err:
        require(ModuleNotFoundError("No module named 'yaml'", name="yaml"))
    assert "PyYAML" in str(err.value) and sys.executable in str(err.value)
    assert isinstance(err.value, ValueError)  # modules and action plugins report ValueError as a task failure
