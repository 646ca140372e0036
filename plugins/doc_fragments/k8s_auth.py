# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Connection options shared by every module of the collection."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to the kubeconfig of the management cluster.
      - Defaults to E(K8S_AUTH_KUBECONFIG), then E(KUBECONFIG), then C(~/.kube/config), then the
        in-cluster service account.
    type: path
  context:
    description:
      - The kubeconfig context to use; the current context when omitted.
    type: str
"""
