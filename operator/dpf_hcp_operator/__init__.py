"""dpf-hcp-operator: runs the dpf_hcp.provisioner playbooks when DPFHCPProvisioners change."""

__version__ = "0.1.0"
