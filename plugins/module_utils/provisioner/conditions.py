# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""A DPFHCPProvisioner's own condition types, the reasons more than one step gives, and the
conditions of the steps whose roles have no module of their own to build them (the cleanup, the
MachineConfig ConfigMap). Every condition of ours is built in Python from these names; roles pass
results, never templates of a condition."""

from __future__ import annotations

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.conditions import Condition, condition

# -- types: the input's checks (validate role) ---------------------------------------------
SPEC_VALID = "SpecValid"
SECRETS_VALID = "SecretsValid"
BLUEFIELD_IMAGE_RESOLVED = "BlueFieldImageResolved"
DPUCLUSTER_MISSING = "DPUClusterMissing"
CLUSTER_TYPE_VALID = "ClusterTypeValid"
DPUCLUSTER_IN_USE = "DPUClusterInUse"
UPGRADE_ALLOWED = "UpgradeAllowed"  # nothing stands in the way of the release change the spec asks for
VALIDATION_CONDITIONS = (
    SPEC_VALID,
    SECRETS_VALID,
    BLUEFIELD_IMAGE_RESOLVED,
    DPUCLUSTER_MISSING,
    CLUSTER_TYPE_VALID,
    DPUCLUSTER_IN_USE,
    UPGRADE_ALLOWED,
)

# -- types: the steps ------------------------------------------------------------------------
KUBECONFIG_INJECTED = "KubeConfigInjected"
METALLB_CONFIGURED = "MetalLBConfigured"
IGNITION_CONFIGURED = "IgnitionConfigured"
STEP_CONDITIONS = (METALLB_CONFIGURED, IGNITION_CONFIGURED, KUBECONFIG_INJECTED)  # in the order a run reports them
CSR_AUTO_APPROVAL = "CSRAutoApprovalActive"
HOSTED_CLUSTER_HEALTHY = "HostedClusterHealthy"  # the hosted cluster's ClusterVersion and ClusterOperators
CLEANUP = "HostedClusterCleanup"

# -- types: what the status computes or mirrors --------------------------------------------------
READY = "Ready"
UPGRADING = "HostedClusterUpgrading"
HOSTED_CLUSTER_AVAILABLE = "HostedClusterAvailable"  # HyperShift's Available, mirrored
HOSTED_CLUSTER_PROGRESSING = "HostedClusterProgressing"  # its Progressing
HOSTED_CLUSTER_DEGRADED = "HostedClusterDegraded"  # its Degraded
ETCD_RECOVERY_ACTIVE = "EtcdRecoveryActive"  # its own name
INITIAL_INSTALL = "InitialInstall"  # UPGRADING's reason before the first install completes
CONTROL_PLANE_ROLLED_OUT = "ControlPlaneRolledOut"  # from HyperShift's status.controlPlaneVersion
DATA_PLANE_ROLLED_OUT = "DataPlaneRolledOut"  # from its status.version (the hosted ClusterVersion)
CONTROL_PLANE_ROLLING_OUT = "ControlPlaneRollingOut"  # Ready's reason while the control plane is not at the release

# -- reasons of a step that is on its way, not failing ----------------------------------------------
WAITING_FOR_KUBECONFIG = "WaitingForKubeconfig"
HOSTED_CLUSTER_NOT_CREATED = "HostedClusterNotCreated"
WAITING_FOR_IGNITION_ENDPOINT = "WaitingForIgnitionEndpoint"
WAITING_FOR_IGNITION_PAYLOAD = "WaitingForIgnitionPayload"
# Ready's reason while a step has not reported its condition for the current spec (a run stopped before
# it, or failed in it).
STEP_NOT_REPORTED = "StepNotReported"
WAITING_REASONS = frozenset(
    {WAITING_FOR_KUBECONFIG, HOSTED_CLUSTER_NOT_CREATED, WAITING_FOR_IGNITION_ENDPOINT, WAITING_FOR_IGNITION_PAYLOAD}
)

# -- reasons more than one place gives ---------------------------------------------------------
IMAGE_MISSING = "ImageMissing"
IMAGE_MISSING_MESSAGE = (
    "No BlueField image for the release: map its OCP version in the ocp-bluefield-images ConfigMap "
    "(see BlueFieldImageResolved) or set spec.machineOSURL"
)
MACHINECONFIG_APPLIED = "MachineConfigApplied"
CLEANUP_SUCCEEDED = "Succeeded"
CLEANUP_IN_PROGRESS = "InProgress"
CLEANUP_FAILED = "Failed"


def seconds(value: float) -> str:
    """``value`` seconds as a person reads them: 30s, 1800s, 2.5s (never 1e+06s)."""
    return f"{int(value)}s" if float(value).is_integer() else f"{value:.1f}s"


def machineconfig(image: str, namespace: str, configmap: str) -> Condition:
    """IgnitionConfigured when the NodePool boots ``image`` through the MachineConfig ConfigMap
    ``namespace``/``configmap`` (the ignition role without DPF's bf.cfg): True once there is an image."""
    if not image:
        return condition(IGNITION_CONFIGURED, False, IMAGE_MISSING, IMAGE_MISSING_MESSAGE)
    return condition(
        IGNITION_CONFIGURED,
        True,
        MACHINECONFIG_APPLIED,
        f"The NodePool boots {image} (MachineConfig ConfigMap {namespace}/{configmap})",
    )


def cleanup(
    remaining: list[str],
    namespace: str,
    deletion_requested: str,
    elapsed_seconds: float,
    timeout_seconds: float,
    next_look_seconds: float,
) -> Condition:
    """HostedClusterCleanup for what is still being deleted (``remaining``, as Kind/name), given
    when the deletion was requested and how long ago: Succeeded once nothing is left, InProgress
    until ``timeout_seconds``, then Failed, naming what to check. Each says when it looks again."""
    if not remaining:
        return condition(
            CLEANUP,
            True,
            CLEANUP_SUCCEEDED,
            "The injected kubeconfig, HostedCluster, NodePool, copied secrets, ignition ConfigMaps and MetalLB "
            "objects are deleted",
        )
    left = ", ".join(remaining)
    next_look = seconds(next_look_seconds)
    if elapsed_seconds < timeout_seconds:
        requested = f"deletion requested at {deletion_requested}; " if deletion_requested else ""
        return condition(
            CLEANUP,
            False,
            CLEANUP_IN_PROGRESS,
            f"Waiting for {left} in namespace {namespace} to be deleted ({requested}next look in {next_look})",
        )
    return condition(
        CLEANUP,
        False,
        CLEANUP_FAILED,
        f"{left} in namespace {namespace} still exist more than {seconds(timeout_seconds)} after deletion was "
        f"requested (at {deletion_requested}); check the HyperShift operator and the finalizers on them. The "
        f"DPFHCPProvisioner keeps its finalizer until they are gone (next look in {next_look})",
    )
