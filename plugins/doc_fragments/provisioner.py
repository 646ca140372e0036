# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""The ``provisioner`` option of the modules that act for one DPFHCPProvisioner (PROVISIONER_ARG_SPEC)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  provisioner:
    description:
      - The DPFHCPProvisioner object, as read from the API (metadata, spec and status), or built
        from a spec (metadata.name, metadata.namespace and spec) as C(playbooks/provision.yml) does.
    type: dict
    required: true
"""
