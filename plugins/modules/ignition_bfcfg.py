#!/usr/bin/python
# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Write DPF's bf.cfg template: HyperShift's ignition for the NodePool with the BlueField OS image."""

from __future__ import annotations

DOCUMENTATION = r"""
module: ignition_bfcfg
short_description: Store the NodePool's ignition, booting the BlueField OS image, as DPF's bf.cfg template
version_added: "0.1.0"
description:
  - Fetches C(https://<status.ignitionEndpoint>/ignition) of the provisioner's HostedCluster with
    the NodePool's current token, sent base64-encoded after C(Bearer) in C(Authorization), the way
    HyperShift's ignition server decodes it. The token is key C(token) of secret
    C(token-<nodepool>-<hash>) in the control plane namespace C(<namespace>-<name>), for the hash
    in the NodePool's C(hypershift.openshift.io/nodePoolCurrentConfigVersion) annotation (before
    HyperShift writes it, the newest such secret annotated with the NodePool and not retiring).
    The server is verified against the CA in secret C(ignition-server-ca-cert) (key C(tls.crt)).
    TLS verification is never skipped.
  - HTTP 511 (the server has not generated the payload for the token yet) gives reason
    C(WaitingForIgnitionPayload), a wait rather than an error, and C(requeue_after) of I(recheck_seconds);
    or reason C(PayloadNotGenerated) when the token secret's C(reason) and C(message) (written by the
    ignition server) say why it was not generated.
  - When the NodePool's C(ValidMachineConfig) condition has been False for its current generation
    for two minutes, HyperShift makes no ignition for it; the reason is C(NodePoolConfigInvalid), with
    HyperShift's reason and message quoted. A younger one (HyperShift says so briefly while the
    control plane starts, or before it sees a ConfigMap just written) asks for C(requeue_after).
  - Rewrites C(spec.osImageURL) of the MachineConfig the ignition carries
    (C(/etc/ignition-machine-config-encapsulated.json)) to I(image), written back as a plain
    percent-escaped C(data:,) URL as the Machine Config Operator writes it.
  - Compresses every inline file (gzip, as Ignition 3 allows) and sets C(/etc/hostname) to
    C({{.DPUHostName}}), the one Go template action in the text (DPF fills in the DPU's name, the
    node name its kubelet joins with); everything else that could read as an action is escaped.
  - Stores the result where DPF's provisioning controller selects it (with
    C(enableDynamicBFCFGTemplates) in the DPFOperatorConfig), in I(dpf_namespace); one ConfigMap
    per BFB and DPUFlavor the DPUCluster's DPUs use (DPUs in the DPUCluster's namespace whose
    C(spec.cluster) names it), key C(BF_CFG_TEMPLATE), label
    C(provisioning.dpu.nvidia.com/bfcfg-template=true), annotations
    C(provisioning.dpu.nvidia.com/bfcfg-template-{bfb,cluster,dpuflavor}-{name,namespace}) equal
    to the DPU's; writes only when it differs. Templates of this provisioner that no DPU uses any
    more, and those earlier versions wrote in the DPUCluster's namespace, are deleted.
  - DPF refuses a rendered bf.cfg over 128 KiB unless the DPUFlavor carries the annotation
    C(provisioning.dpu.nvidia.com/skip-bfcfg-size-check); a template that could render larger for a
    DPUFlavor without it gives reason C(BFCFGTooLarge) and nothing is written.
  - DPF selects these templates only if there is exactly one DPFOperatorConfig, in I(dpf_namespace),
    with C(spec.provisioningController.enableDynamicBFCFGTemplates=true) and no
    C(bfCFGTemplateConfigMap); otherwise reason C(DPFTemplatesNotSelected) says what to change.
  - Returns the C(IgnitionConfigured) condition; an unreachable endpoint, a refused token, a
    certificate that does not verify or a missing image is a condition, not a task failure.
  - Never returns the token or the ignition.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - dpf_hcp.provisioner.provisioner
options:
  image:
    description:
      - The OS image the DPUs boot, usually the BlueField image resolved by the validate role,
        or C(spec.machineOSURL) when set. Empty gives reason C(ImageMissing).
    type: str
    default: ""
  dpf_namespace:
    description:
      - The namespace of DPF's DPFOperatorConfig, where DPF looks for bf.cfg templates.
      - Defaults to the environment variable E(DPFHCP_DPF_OPERATOR_NAMESPACE) (the operator sets it from
        C(--dpf-operator-namespace)), else C(dpf-operator-system).
    type: str
  watch_namespaces:
    description:
      - The namespaces the operator watches (its RBAC covers only those); the DPUs of the DPUCluster
        are listed in each of them rather than cluster-wide. Unset or empty, every namespace.
      - Defaults to the environment variable E(WATCH_NAMESPACE) (comma-separated), which the operator sets.
    type: list
    elements: str
  recheck_seconds:
    description:
      - While the ignition server is generating the payload (reason C(WaitingForIgnitionPayload)), the
        seconds (more than 0, at most a day) after which to ask again, returned as C(requeue_after).
        The operator looks again then
        (as after M(dpf_hcp.provisioner.requeue_after)); a playbook run once may ignore it.
    type: float
    default: 30
attributes:
  check_mode:
    support: full
    description: Writes become server-side dry runs or are skipped; the result tells what would change.
author:
  - dpf_hcp.provisioner contributors (@dpf-hcp)
"""

EXAMPLES = r"""
- name: Give DPF the ignition that boots the BlueField image
  dpf_hcp.provisioner.ignition_bfcfg:
    provisioner: "{{ dpfhcp_provisioner }}"
    image: quay.io/example/bluefield-rhcos:4.19.0-ec.5
  register: bfcfg
"""

RETURN = r"""
conditions:
  description: The IgnitionConfigured condition (reasons Generated, ImageMissing, WaitingForIgnitionEndpoint,
    WaitingForIgnitionPayload, PayloadNotGenerated, NodePoolConfigInvalid, InvalidIgnitionEndpoint,
    EndpointUnreachable, InvalidIgnition,
    BFCFGTooLarge, DPFTemplatesNotSelected, TooManyBFCFGCombinations, BFCFGTemplateConflict).
  returned: always
  type: list
  elements: dict
configmap_ref:
  description: C(namespace) and C(label_selector) of this provisioner's bf.cfg template ConfigMaps, once written.
  returned: always
  type: dict
requeue_after:
  description:
    - I(recheck_seconds), when the ignition server is still generating the payload.
    - The seconds until a NodePool refusal younger than two minutes would count; 60 while HyperShift refuses
      the NodePool (C(NodePoolConfigInvalid)) or its current token is for another release (an upgrade under way).
  returned: when the ignition waits on HyperShift's NodePool or its ignition server
  type: float
  sample: 30
"""

from typing import Any

from ansible.module_utils.basic import env_fallback

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.args import (
    client_from_params,
    run_module,
    with_auth,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.formats import dns1123_label_problem
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import scope
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.args import (
    PROVISIONER_ARG_SPEC,
    provisioner_identity,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.bfcfg import (
    DPF_NAMESPACE,
    DPF_NAMESPACE_ENV,
    generate,
)

ARGUMENT_SPEC = with_auth(
    {
        **PROVISIONER_ARG_SPEC,
        "image": {"type": "str", "default": ""},
        "dpf_namespace": {"type": "str", "fallback": (env_fallback, [DPF_NAMESPACE_ENV])},
        "watch_namespaces": {"type": "list", "elements": "str", "fallback": (env_fallback, [scope.ENV])},
        "recheck_seconds": {"type": "float", "default": 30},
    }
)
WAITING = "WaitingForIgnitionPayload"


def execute(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    if not 0 < params["recheck_seconds"] <= 86400:  # never a loop without pause, nor a wait without end
        raise ValueError(f"recheck_seconds must be more than 0 and at most 86400, got {params['recheck_seconds']}")
    provisioner_identity(params["provisioner"])
    namespace = params.get("dpf_namespace") or DPF_NAMESPACE
    problem = dns1123_label_problem(namespace)
    if problem:
        raise ValueError(f"dpf_namespace {namespace!r} is not a namespace name: {problem}; give DPF's namespace")
    watch = scope.parse(params.get("watch_namespaces"))
    client = client_from_params(params)
    result = generate(client, params["provisioner"], params["image"], check_mode, namespace, watch)
    out = {"changed": result.changed, "conditions": [result.condition], "configmap_ref": result.configmap_ref or {}}
    if result.condition.get("reason") == WAITING:
        out["requeue_after"] = params["recheck_seconds"]
    elif result.requeue_after is not None:
        out["requeue_after"] = max(result.requeue_after, 1.0)
    return out


def main() -> None:
    run_module(ARGUMENT_SPEC, execute)


if __name__ == "__main__":
    main()
