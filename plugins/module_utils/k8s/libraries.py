# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Third-party Python libraries the collection uses, reported as a task error when one is missing.

Modules import these guarded (Ansible imports a module to read its documentation and argument
spec, where they may be absent), and call ``require`` where the library is first needed.
"""

from __future__ import annotations

import sys

# Import name -> the name pip installs it by.
PIP_NAMES = {
    "yaml": "PyYAML",
    "urllib3": "urllib3",
    "cryptography": "cryptography",
    "kubernetes": "kubernetes",
    "jmespath": "jmespath",
}


class MissingLibraryError(ValueError):
    """A library is not installed for the Python that runs Ansible's controller (or the operator)."""


def require(error: ImportError | None) -> None:
    """Raise a MissingLibraryError naming the library and how to install it, if ``error`` is set."""
    if error is None:
        return
    name = error.name or str(error)
    package = PIP_NAMES.get(name, name)
    raise MissingLibraryError(
        f"the Python library {package} is not installed for {sys.executable}; "
        f"install it with: {sys.executable} -m pip install {package}"
    )
