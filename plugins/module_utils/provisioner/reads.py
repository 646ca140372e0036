# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""What a provisioner's run reads, and how a change of it reaches the provisioner again: declared
once, here, beside the rules that read it. The operator builds its informers from this list
(dpf_hcp_operator/dependencies.py), and a test runs the playbooks and fails when a run's journal
holds a kind declared nowhere here (tests/integration/test_reads_declared.py)."""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import (
    CLUSTER_ROLE,
    CLUSTER_ROLE_BINDING,
    CONFIGMAP,
    CSR,
    EVENT,
    NAMESPACE,
    NODE,
    SECRET,
    SERVICE_ACCOUNT,
    Resource,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    CLUSTER_OPERATOR,
    CLUSTER_VERSION,
    DPF_OPERATOR_CONFIG,
    DPU,
    DPU_CLUSTER,
    DPU_FLAVOR,
    HOSTED_CLUSTER,
    IP_ADDRESS_POOL,
    L2_ADVERTISEMENT,
    NODE_POOL,
    PROVISIONER,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.validation import BLUEFIELD_CONFIGMAP

# How a change of what a run read reaches the provisioner again.
INFORMER = "informer"  # an informer of the operator runs the provisioners it concerns
TIMER = "timer"  # the run asks to be run again (requeue_after) while the answer may change
RESYNC = "resync"  # nothing follows it: the next full pass (watches.yaml reconcilePeriod) sees a change
CSR_WATCHER = "csr-watcher"  # in the hosted cluster: the operator's CSR watcher follows it
# In the hosted cluster: the operator's watch of it runs the provisioner when what it says changes.
HOSTED_WATCH = "hosted-watch"
WRITTEN = "written"  # only written (recorded, never read back to decide anything)

# Where the operator follows it.
WATCHED = "watched namespaces"  # the operator's --watch-namespaces (all when empty)
OPERATOR = "operator namespace"  # the operator's own namespace
WATCHED_AND_DPF = "watched namespaces and DPF's"  # DPF's namespace added to a list that lacks it
CLUSTER = "cluster-wide"
METALLB = "MetalLB's namespace"  # the metallb role's metallb_namespace
DPF = "DPF's namespace"  # the operator's --dpf-operator-namespace
HOSTED = "hosted cluster"


@dataclass(frozen=True)
class Read:
    """One thing a provisioner's run reads (or only writes), and how a change of it is followed."""

    name: str  # what it is; an informer's name in the operator
    resource: Resource
    follow: str
    where: str
    owned: bool = False  # only the objects carrying a provisioner's labels (kinds.LABEL_NAME, LABEL_NAMESPACE)
    field_selector: str = ""
    metadata_only: bool = False  # the run depends on the object's version, never on its content
    by_spec: bool = False  # a run depends on its spec alone: its status changes run nothing
    why: str = ""


READS: tuple[Read, ...] = (
    Read(
        "provisioners",
        PROVISIONER,
        INFORMER,
        WATCHED,
        why="the object itself (the controller's informer), and the others on the same DPUCluster (DPUClusterInUse)",
    ),
    Read(
        "secrets",
        SECRET,
        INFORMER,
        WATCHED,
        metadata_only=True,
        why="the pull and SSH secrets, the copies made for HyperShift, its admin kubeconfig, the kubeconfig given "
        "to DPF, the etcd encryption key, the ignition server's CA and the NodePool's token (in the control "
        "plane's namespace, followed "
        "when it is watched: all namespaces, or a list that names it)",
    ),
    Read(
        "dpuclusters", DPU_CLUSTER, INFORMER, WATCHED, metadata_only=True, by_spec=True, why="its type and kubeconfig"
    ),
    Read(
        "bluefield-images",
        CONFIGMAP,
        INFORMER,
        OPERATOR,
        field_selector=f"metadata.name={BLUEFIELD_CONFIGMAP}",
        why="the BlueField image of the provisioner's OCP release",
    ),
    Read(
        "hosted-clusters",
        HOSTED_CLUSTER,
        INFORMER,
        WATCHED,
        owned=True,
        metadata_only=True,
        why="HyperShift's status of it, mirrored into the provisioner's",
    ),
    Read(
        "node-pools",
        NODE_POOL,
        INFORMER,
        WATCHED,
        owned=True,
        metadata_only=True,
        by_spec=True,
        why="HyperShift's refusal of its MachineConfig (ValidMachineConfig), looked at again on a timer",
    ),
    Read(
        "owned-configmaps",
        CONFIGMAP,
        INFORMER,
        WATCHED_AND_DPF,
        owned=True,
        metadata_only=True,
        why="the MachineConfig ConfigMap and DPF's bf.cfg templates, made again when deleted",
    ),
    Read(
        "others-bfcfg-templates",
        CONFIGMAP,
        RESYNC,
        DPF,
        why="other provisioners' bf.cfg templates for the same BFB and DPUFlavor (BFCFGTemplateConflict)",
    ),
    Read("dpus", DPU, INFORMER, WATCHED, why="which BFB and DPUFlavor the DPUCluster's DPUs use: one bf.cfg each"),
    Read(
        "dpuflavors",
        DPU_FLAVOR,
        RESYNC,
        WATCHED,
        why="whether a DPUFlavor skips DPF's bf.cfg size check (its annotation, read with the DPUs that name it)",
    ),
    Read(
        "dpf-operator-config",
        DPF_OPERATOR_CONFIG,
        RESYNC,
        CLUSTER,
        why="where DPF looks for bf.cfg templates and whether it takes dynamic ones",
    ),
    Read(
        "address-pools",
        IP_ADDRESS_POOL,
        TIMER,
        METALLB,
        why="MetalLB's other pools, for an overlap with the virtual IP: looked at again every metallb_recheck_seconds",
    ),
    Read("advertisements", L2_ADVERTISEMENT, WRITTEN, METALLB, why="the L2Advertisement of the provisioner's pool"),
    Read("namespaces", NAMESPACE, TIMER, CLUSTER, why="whether MetalLB's namespace exists (metallb_recheck_seconds)"),
    Read("nodes", NODE, RESYNC, CLUSTER, why="the management cluster's node addresses, for NodePort publishing"),
    Read("events", EVENT, WRITTEN, WATCHED, why="the provisioner's story (kubectl describe)"),
    Read("hosted-csrs", CSR, CSR_WATCHER, HOSTED, why="the joining DPUs' CSRs"),
    Read("hosted-nodes", NODE, CSR_WATCHER, HOSTED, why="the nodes the DPUs' CSRs name"),
    Read(
        "hosted-cluster-version",
        CLUSTER_VERSION,
        HOSTED_WATCH,
        HOSTED,
        why="the hosted cluster's ClusterVersion: Available and not Failing (HostedClusterHealthy)",
    ),
    Read(
        "hosted-cluster-operators",
        CLUSTER_OPERATOR,
        HOSTED_WATCH,
        HOSTED,
        why="the hosted cluster's ClusterOperators: Available, not Progressing, not Degraded (HostedClusterHealthy)",
    ),
    # Made when an approver starts and on each run: a change in the hosted cluster waits for either.
    Read("hosted-approver", SERVICE_ACCOUNT, RESYNC, HOSTED, why="the identity CSRs are approved under"),
    Read("hosted-approver-role", CLUSTER_ROLE, RESYNC, HOSTED, why="what that identity may do"),
    Read("hosted-approver-binding", CLUSTER_ROLE_BINDING, RESYNC, HOSTED, why="its binding"),
)

FOLLOWED_BY_INFORMER = tuple(r for r in READS if r.follow == INFORMER)
# Kinds whose spec alone a run depends on (their controllers' status writes run nothing).
BY_SPEC = frozenset(r.resource.kind for r in READS if r.by_spec)
DECLARED_KINDS = frozenset(r.resource.kind for r in READS)
