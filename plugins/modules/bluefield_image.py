#!/usr/bin/python
# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Map an OCP release image to its BlueField image."""

from __future__ import annotations

DOCUMENTATION = r"""
module: bluefield_image
short_description: Resolve the BlueField image for an OCP release image
version_added: "0.1.0"
description:
  - Reads the OCP version from the release image tag (after the last C(:), without an
    architecture suffix such as C(-x86_64) or C(-multi)) and looks it up in the
    C(ocp-bluefield-images) ConfigMap.
  - Returns the C(BlueFieldImageResolved) condition. An unmapped version is a failed
    condition whose message lists the versions that are mapped.
  - When I(hosted_cluster) is given and its release is another OCP version than I(release_image),
    an upgrade starts; it also returns C(UpgradeAllowed), False when the previous upgrade is still
    rolling out (reason C(PreviousUpgradeRolling), unless the annotation
    C(provisioning.dpu.hcp.io/retarget-upgrade) in I(annotations) names the target version) or when
    I(machine_os_url) names another release's BlueField image (reason C(MachineOSURLOfAnotherRelease)),
    each message naming the field and the fix. C(ok) is then False too.
  - Reads only, so check mode behaves the same.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
options:
  release_image:
    description: The OCP release image, e.g. C(quay.io/openshift-release-dev/ocp-release:4.19.0-ec.5-x86_64).
    type: str
    required: true
  configmap_name:
    description: Name of the ConfigMap mapping OCP versions to BlueField images.
    type: str
    default: ocp-bluefield-images
  configmap_namespace:
    description: Namespace of that ConfigMap, usually the operator's.
    type: str
    required: true
  hosted_cluster:
    description:
      - The HostedCluster the release is for (C(namespace), C(name)). When given, the upgrade checks run
        against it as it is; when it does not exist yet, no upgrade starts.
    type: dict
  machine_os_url:
    description: The provisioner's C(spec.machineOSURL), checked for an upgrade; empty when not set.
    type: str
    default: ""
  annotations:
    description: The provisioner's annotations, where C(provisioning.dpu.hcp.io/retarget-upgrade) is read.
    type: dict
    default: {}
  provisioner_uid:
    description:
      - The provisioner's C(metadata.uid). When given, only a HostedCluster with a controller
        ownerReference to it is checked (one left by an earlier provisioner of that name is not).
    type: str
    default: ""
attributes:
  check_mode:
    support: full
    description: Only reads, so it runs the same in check mode.
author:
  - dpf_hcp.provisioner contributors (@dpf-hcp)
"""

EXAMPLES = r"""
- name: Resolve the BlueField image
  dpf_hcp.provisioner.bluefield_image:
    release_image: quay.io/openshift-release-dev/ocp-release:4.19.0-ec.5-x86_64
    configmap_namespace: dpf-hcp-provisioner-system
  register: bluefield
"""

RETURN = r"""
ok:
  description: Whether an image was resolved.
  returned: always
  type: bool
ocp_version:
  description: The OCP version read from the release image tag, empty when it could not be read.
  returned: always
  type: str
  sample: 4.19.0-ec.5
image:
  description: The BlueField image, empty when not resolved.
  returned: always
  type: str
conditions:
  description: The BlueFieldImageResolved condition, and UpgradeAllowed when I(hosted_cluster) is given.
  returned: always
  type: list
  elements: dict
"""

from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.args import (
    client_from_params,
    run_module,
    with_auth,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import CONFIGMAP
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import upgrade
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.hosted_kubeconfig import owned
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import HOSTED_CLUSTER
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.validation import (
    BLUEFIELD_CONFIGMAP,
    resolve_bluefield_image,
)

ARGUMENT_SPEC = with_auth(
    {
        "release_image": {"type": "str", "required": True},
        "configmap_name": {"type": "str", "default": BLUEFIELD_CONFIGMAP},
        "configmap_namespace": {"type": "str", "required": True},
        "hosted_cluster": {"type": "dict"},
        "machine_os_url": {"type": "str", "default": ""},
        "annotations": {"type": "dict", "default": {}},
        "provisioner_uid": {"type": "str", "default": ""},
    }
)


def execute(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    client = client_from_params(params)
    configmap = client.get_or_none(CONFIGMAP, params["configmap_name"], params["configmap_namespace"])
    check = resolve_bluefield_image(
        params["release_image"], configmap, params["configmap_namespace"], params["configmap_name"]
    )
    conditions, ok = check.conditions, check.ok
    ref = params.get("hosted_cluster")
    if ref:
        hosted_cluster = client.get_or_none(HOSTED_CLUSTER, ref["name"], ref["namespace"])
        provisioner = {"metadata": {**ref, "uid": params["provisioner_uid"] or None}}
        if hosted_cluster is not None and owned(hosted_cluster, provisioner):
            hosted_cluster = None  # not made by a provisioner of this name: nothing of ours to upgrade
        allowed = upgrade.check(
            params["release_image"], hosted_cluster, params["machine_os_url"] or "", configmap, params["annotations"]
        )
        conditions, ok = conditions + allowed.conditions, ok and allowed.ok
    return {
        "changed": False,
        "ok": ok,
        "conditions": conditions,
        "ocp_version": check.facts.get("ocp_version", ""),
        "image": check.facts.get("bluefield_image", ""),
    }


def main() -> None:
    run_module(ARGUMENT_SPEC, execute)


if __name__ == "__main__":
    main()
