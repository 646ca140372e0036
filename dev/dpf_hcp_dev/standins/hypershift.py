"""A HyperShift stand-in: gives HostedClusters the status HyperShift would, over time, and
finishes their deletion, acting only through the management API server.

The admin kubeconfig it publishes (``status.kubeconfig`` -> secret ``<hc>-admin-kubeconfig``, key
``kubeconfig``) is HyperShift's shape: an inline system:admin client certificate and the CA, for
the address ``status.controlPlaneEndpoint`` names (hypershift
hypershift-operator/controllers/hostedcluster/hostedcluster_controller.go, reconcileKubeconfigSync;
control-plane-operator/controllers/hostedcontrolplane/v2/kas/kubeconfig.go)."""

from __future__ import annotations

import base64
import functools
import hashlib
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import yaml

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.apply import apply
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.conditions import merge
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import NAMESPACE, SECRET, Resource
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.ignition import (
    CA_SECRET,
    NODEPOOL_CURRENT_CONFIG_VERSION,
    TOKEN_EXPIRATION_ANNOTATION,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import HOSTED_CLUSTER, NODE_POOL
from dpf_hcp_dev.standins.config import StandinConfig
from dpf_hcp_dev.standins.ignition import IgnitionServer
from dpf_hcp_operator.informers import Informer

FINALIZER = "hypershift.openshift.io/finalizer"
# openshift/hypershift hypershift-operator/controllers/hostedcluster/hostedcluster_controller.go
# (ControlPlaneNamespaceLabelKey, set in reconcileControlPlaneNamespace).
CONTROL_PLANE_NAMESPACE_LABEL = "hypershift.openshift.io/hosted-control-plane"
# openshift/hypershift hypershift-operator/controllers/nodepool/token.go (TokenSecretAnnotation, and
# reconcileTokenSecret: tokenSecret.Annotations[nodePoolAnnotation] = client.ObjectKeyFromObject(nodePool)),
# nodepool_controller.go (nodePoolAnnotation).
TOKEN_SECRET_ANNOTATION = "hypershift.openshift.io/ignition-config"
NODEPOOL_ANNOTATION = "hypershift.openshift.io/nodePool"
# What the ignition server writes on a token secret after serving it: ignition-server/cmd/start.go
# (run); the NodePool's ReachedIgnitionEndpoint follows it (nodepool/conditions.go).
IGNITION_REACHED = "hypershift.openshift.io/ignition-reached"
# An outdated token stays usable this long after its NodePool's config changed: openshift/hypershift
# hypershift-operator/controllers/nodepool/token.go (setExpirationTimestampOnToken, 2 hours).
OUTDATED_TOKEN_LIFETIME = timedelta(hours=2)
STANDIN_FIELD_MANAGER = "hypershift-standin"
# In-place rotation by the ignition server: openshift/hypershift ignition-server/controllers/
# tokensecret_controller.go (TokenSecretOldTokenKey, TokenSecretTokenGenerationTime, ttl = 11 h,
# tokenNeedRotation: no generation time yet, or lived >= ttl/2; rotateToken: a new UUID in token,
# the previous one in old_token, the older old_token dropped from the cache, the new one cached
# before the patch).
OLD_TOKEN_KEY = "old_token"
TOKEN_GENERATION_TIME = "hypershift.openshift.io/last-token-generation-time"
TOKEN_ROTATE_AFTER = timedelta(hours=11) / 2
# What the ignition server writes on a token secret (keys reason, message) once it has tried to
# generate the payload: openshift/hypershift ignition-server/controllers/tokensecret_controller.go
# (Reconcile: TokenSecretReasonKey, TokenSecretMessageKey); the failure's message follows
# hypershift-operator/controllers/nodepool/config.go (a config document that fails validation).
PAYLOAD_GENERATED = ("AsExpected", "Payload generated successfully")
PAYLOAD_INVALID = ("InvalidConfig", 'configmap "hcp-bluefield-os" yaml document failed validation')


# What HyperShift's NodePool controller writes on a NodePool of platform None (no CAPI machines):
# openshift/hypershift hypershift-operator/controllers/nodepool/nodepool_controller.go (Reconcile,
# reconcile, signalConditions: the setters' order) and conditions.go (the setters), constants in
# api/hypershift/v1beta1/nodepool_conditions.go. Ready, UpdatingPlatformMachineTemplate and
# AutorepairEnabled come from capi.go only, which platform None skips: they are never set.
NODEPOOL_CURRENT_CONFIG = "hypershift.openshift.io/nodePoolCurrentConfig"
# config.go (defaultAndValidateConfigManifest): the kinds a spec.config document may hold.
NODEPOOL_CONFIG_KINDS = {
    ("machineconfiguration.openshift.io/v1", "MachineConfig"),
    ("machineconfiguration.openshift.io/v1", "KubeletConfig"),
    ("machineconfiguration.openshift.io/v1", "ContainerRuntimeConfig"),
    ("operator.openshift.io/v1alpha1", "ImageContentSourcePolicy"),
    ("config.openshift.io/v1", "ImageDigestMirrorSet"),
    ("config.openshift.io/v1", "ClusterImagePolicy"),
    ("config.openshift.io/v1alpha1", "ClusterImagePolicy"),
}
# The groups defaultAndValidateConfigManifest's scheme installs (mcfgv1, operator v1alpha1, configv1,
# configv1alpha1): their other kinds decode and are refused as "unsupported config type"; the
# stand-in takes every kind of these groups as registered.
NODEPOOL_CONFIG_SCHEME = {
    "machineconfiguration.openshift.io/v1",
    "operator.openshift.io/v1alpha1",
    "config.openshift.io/v1",
    "config.openshift.io/v1alpha1",
}


def node_pool_config_problem(
    node_pool: dict[str, Any], config_maps: Informer | None, config: StandinConfig | None = None
) -> str | None:
    """Why HyperShift's config generator fails for the NodePool's spec.config, in its words, or
    None: config.go (getUserConfigs: each ConfigMap in the NodePool's namespace, a missing one is
    the client's NotFound; parse: key ``config``, several YAML documents, "configmap %q contains
    invalid yaml" / "configmap %q yaml document failed validation: error decoding config: ...";
    the errors aggregated, one alone as itself, several as ``[a, b]``). For a kind outside the
    scheme the decoder's message is apimachinery's (runtime.notRegisteredErr) without the scheme's
    source location. With the stand-ins' ``<ns>.<name>.coreConfigsMissing``, the control-plane
    operator has not written its core configs yet (getCoreConfigs, MissingCoreConfigError: platform
    None with HAProxy in the ignition expects 2)."""
    namespace = node_pool["metadata"]["namespace"]
    if config is not None and config.flag(namespace, node_pool["metadata"]["name"], "coreConfigsMissing"):
        return "expected 2 core ignition configs, found 0"
    if config_maps is None:
        return None
    errors: list[str] = []
    for ref in (node_pool.get("spec") or {}).get("config") or []:
        name = str((ref or {}).get("name", ""))
        cm = config_maps.get((namespace, name))
        if cm is None:
            errors.append(f'configmaps "{name}" not found')
            continue
        try:
            documents = list(yaml.safe_load_all(str((cm.get("data") or {}).get("config", ""))))
        except yaml.YAMLError as exc:
            errors.append(f'configmap "{name}" contains invalid yaml: {exc}')
            continue
        for doc in documents:
            if doc is None:
                continue
            found = (doc.get("apiVersion"), doc.get("kind")) if isinstance(doc, dict) else (None, None)
            if found in NODEPOOL_CONFIG_KINDS:
                continue
            prefix = f'configmap "{name}" yaml document failed validation: '
            if found[0] in NODEPOOL_CONFIG_SCHEME:  # a kind of a group in the scheme: decoded, then refused
                errors.append(f"{prefix}unsupported config type: *{str(found[0]).rsplit('/', 1)[-1]}.{found[1]}")
            else:
                errors.append(
                    f'{prefix}error decoding config: no kind "{found[1]}" is registered for version "{found[0]}"'
                )
    if not errors:
        return None
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


def user_config_text(node_pool: dict[str, Any], config_maps: Informer | None) -> str:
    """What the config generator reads from spec.config: each ConfigMap's key ``config``, in order
    (config.go getUserConfigs, parse); a missing one is empty here (the generator refuses it)."""
    namespace = node_pool["metadata"]["namespace"]
    texts = []
    for ref in (node_pool.get("spec") or {}).get("config") or []:
        cm = config_maps.get((namespace, str((ref or {}).get("name", "")))) if config_maps is not None else None
        texts.append(str(((cm or {}).get("data") or {}).get("config", "")))
    return "\n---\n".join(texts)


@functools.lru_cache(maxsize=4096)  # asked on every pass for every NodePool
def config_version(release_version: str, config_text: str) -> str:
    """The NodePool's config hash, 8 hex digits of FNV-32a over the rendered config and the release
    *version* (not the image: a digest of the same release hashes alike): openshift/hypershift
    hypershift-operator/controllers/nodepool/config.go (Hash: HashSimple(mcoRawConfig +
    releaseImage.Version() + pullSecretName + ...); HashWithoutVersion without the version) and
    support/util/util.go (HashSimple). A changed MachineConfig ConfigMap is a new config, so a new token."""
    value = 0x811C9DC5
    for byte in f"{config_text}{release_version}".encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"{value:08x}"


def control_plane_namespace(ns: str, name: str) -> str:
    """openshift/hypershift hypershift-operator/controllers/manifests/manifests.go (HostedControlPlaneNamespace)."""
    return f"{ns}-{name.replace('.', '-')}"


def _control_plane_namespace_object(ns: str, name: str) -> dict[str, Any]:
    """The namespace as HyperShift reconciles it, created or found: labelled as a control plane's."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": control_plane_namespace(ns, name), "labels": {CONTROL_PLANE_NAMESPACE_LABEL: "true"}},
    }


# The HostedCluster's conditions as openshift/hypershift sets them on a healthy cluster of platform
# None: hypershift-operator/controllers/hostedcluster/hostedcluster_controller.go
# (computeHostedClusterAvailability; the blocks "Set Progressing condition", "Copy conditions from
# hostedcontrolplane", the Degraded and ignition blocks) and api/hypershift/v1beta1/hostedcluster_conditions.go
# (reasons, AllIsWellMessage). EtcdRecoveryActive is absent until an etcd recovery runs
# (hostedcluster/etcd_recovery.go, setEtcdRecoveryCondition). HostedClusterRestoredFromBackup is copied
# from the HostedControlPlane, which sets it only after a restore: Unknown otherwise
# (reconcileRestoredFromBackupWithStatus). DataPlaneConnectionAvailable is Unknown while the hosted
# cluster has no nodes (control-plane-operator/hostedclusterconfigoperator/controllers/resources/resources.go).
# IgnitionServerValidReleaseInfo stays on the HostedControlPlane (ignition-server/controllers/
# local_ignitionprovider.go): HyperShift does not copy it to the HostedCluster.
HEALTHY = {
    "Available": ("True", "AsExpected", "The hosted control plane is available"),
    "Progressing": ("False", "AsExpected", "HostedCluster is at expected version"),
    "Degraded": ("False", "AsExpected", "The hosted cluster is not degraded"),
    "InfrastructureReady": ("True", "AsExpected", "All is well"),
    "KubeAPIServerAvailable": ("True", "AsExpected", "Kube APIServer deployment is available"),
    # HyperShift leaves this message empty (etcdStatefulSetCondition); the 1.20 API server of our tests
    # refuses an empty condition message in the HostedCluster CRD ("must be of type string: null").
    "EtcdAvailable": ("True", "QuorumAvailable", "Etcd has quorum"),
    "ValidReleaseInfo": ("True", "AsExpected", "All is well"),
    "ValidReleaseImage": ("True", "AsExpected", "Release image is valid"),
    "IgnitionEndpointAvailable": ("True", "AsExpected", "Ignition server deployment is available"),
    "HostedClusterRestoredFromBackup": ("Unknown", "StatusUnknown", "Condition not found in the HCP"),
    "DataPlaneConnectionAvailable": ("Unknown", "NoWorkerNodesAvailable", "No worker nodes available"),
}
# Once the hosted cluster has a Ready node.
DATA_PLANE_CONNECTED = {"DataPlaneConnectionAvailable": ("True", "AsExpected", "All is well")}
# hostedcluster_controller.go ("Set Progressing condition", isProgressing): True only while
# spec.release.image differs from status.version.desired.image (or there is no version yet).
PROGRESSING = {"Progressing": ("True", "Progressing", "HostedCluster is deploying, upgrading, or reconfiguring")}
STARTING = {
    "Available": ("False", "WaitingForAvailable", "Waiting for hosted control plane to be healthy"),
    "Progressing": ("False", "AsExpected", "HostedCluster is at expected version"),
    "Degraded": ("False", "AsExpected", "The hosted cluster is not degraded"),
    "ValidReleaseImage": ("True", "AsExpected", "Release image is valid"),
    "InfrastructureReady": ("True", "AsExpected", "All is well"),
}
# A control plane whose kube-apiserver lost its replicas: Degraded copied from the HostedControlPlane
# (control-plane-operator/controllers/hostedcontrolplane/hostedcontrolplane_controller.go,
# reconcileDegradedStatus: UnavailableReplicas, "<deployment> deployment has N unavailable replicas"),
# KubeAPIServerAvailable False as reconcileKASStatus sets it, and Available copying its reason and message.
DEGRADED = {
    "Available": ("False", "WaitingForAvailable", "Waiting for Kube APIServer deployment to become available"),
    "Degraded": ("True", "UnavailableReplicas", "kube-apiserver deployment has 3 unavailable replicas"),
    "KubeAPIServerAvailable": (
        "False",
        "WaitingForAvailable",
        "Waiting for Kube APIServer deployment to become available",
    ),
}


def _age(stamp: str | None) -> float:
    if not stamp:
        return 0.0
    return time.time() - _epoch(stamp)


@functools.lru_cache(maxsize=4096)
def _epoch(stamp: str) -> float:
    """A time stamp's seconds since the epoch, parsed once (each pass asks again for every object)."""
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def release_digest(image: str) -> str:
    """A release image by digest, as the hosted CVO names the release it runs: a stand-in's
    fixed digest of the tag (a real one is the manifest's)."""
    if "@" in image:
        return image
    repository = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    return f"{repository}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def _ocp_version(image: str) -> str:
    """The version HyperShift reads from the release payload; here, the tag's (a digest dropped)."""
    name = image.split("@", 1)[0]
    tag = name.rsplit(":", 1)[-1] if ":" in name.rsplit("/", 1)[-1] else ""
    for suffix in ("-x86_64", "-amd64", "-arm64", "-aarch64", "-multi"):
        tag = tag.removesuffix(suffix)
    return tag


def _merges(current: dict[str, Any], desired: dict[str, str]) -> bool:
    """controlplaneversion.go, mergeEqualVersions: the newest entry is the desired release when the
    images are equal (and the versions, or one is empty), or the versions are equal and the entry has
    no image. The same version under another image (another architecture, say) is a new release."""
    image, version = current.get("image") or "", current.get("version") or ""
    if desired["image"] and desired["image"] == image:
        return not desired["version"] or not version or desired["version"] == version
    return bool(desired["version"]) and desired["version"] == version and not image


def workers_joined(nodes: list[dict[str, Any]]) -> bool:
    """A Ready node that is not cordoned: openshift/hypershift support/util/util.go, CountAvailableNodes."""
    for node in nodes:
        if (node.get("spec") or {}).get("unschedulable"):
            continue
        for c in (node.get("status") or {}).get("conditions") or []:
            if c.get("type") == "Ready" and c.get("status") == "True":
                return True
    return False


def by_namespace(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["metadata"].get("namespace", ""), ""


class HyperShiftStandin:
    """``secrets`` is an informer of all Secrets indexed with ``by_namespace``: the control plane's
    secrets are checked in it on every pass (none is polled from the API server), and created
    when missing, never overwritten."""

    GRACE = 3.0  # seconds a created secret may take to reach the cache before it is created again

    def __init__(
        self,
        client: KubeClient,
        hosted_admin_kubeconfig: str,
        secrets: Informer,
        ignition: IgnitionServer | None = None,
        node_pools: Informer | None = None,
        hosted_nodes: Informer | None = None,
        config_maps: Informer | None = None,
    ):
        self.client = client
        self.kubeconfig = hosted_admin_kubeconfig
        # HyperShift's kubeconfig and status.controlPlaneEndpoint name the same address (APIHost,
        # APIPort): hypershift v2/kas/kubeconfig.go externalURL; hostedcontrolplane_controller.go and
        # hostedcluster_controller.go ("Set the Control Plane and OAuth endpoints URL").
        server = urlsplit(yaml.safe_load(hosted_admin_kubeconfig)["clusters"][0]["cluster"]["server"])
        self.endpoint = {"host": server.hostname or "", "port": server.port or 443}
        self.secrets = secrets
        self.ignition = ignition
        self.node_pools = node_pools
        self.hosted_nodes = hosted_nodes  # the hosted cluster's Nodes: the workers that joined
        self.config_maps = config_maps  # the NodePools' spec.config ConfigMaps
        self._generated_cache: dict[tuple[str, str], tuple[Any, str | None, str]] = {}
        self._created: dict[tuple[str, str], float] = {}  # (namespace, name or prefix) -> when created
        self._last_created: dict[str, float] = {}  # namespace -> when its newest of them was created
        # (namespace, name) -> the endpoint its admin kubeconfig names
        self._published: dict[tuple[str, str], dict[str, Any]] = {}
        self._token_secrets: set[str] = set()  # uids of the token secrets whose token is served
        self._rotated: dict[str, str] = {}  # token secret uid -> the token its last rotation replaced
        # The ignition server's loop serves and rotates tokens while the HostedCluster loop revokes
        # them (a NodePool deleted): one at a time, and a revoked secret's tokens are never served
        # again, also while the informer still shows the secret.
        self._token_lock = threading.RLock()
        self._revoked: set[str] = set()  # uids of the token secrets revoked

    def workers_joined(self) -> bool:
        """Whether the hosted cluster has a Ready node that is not cordoned (one hosted API server serves
        every HostedCluster here)."""
        return workers_joined(self.hosted_nodes.items() if self.hosted_nodes is not None else [])

    def desired_status(self, hc: dict[str, Any], config: StandinConfig) -> dict[str, Any]:
        """The status as HyperShift reports it, one step per pass (each pass is written, and wakes
        the next): a release change is first seen as Progressing (the desired version is still the
        old one), then the new version is desired and its history entry Partial until rolled out.

        status.version follows the HCP's versionStatus, which the hosted cluster's ClusterVersion
        fills: seeded with the desired image and one Partial entry, newest first, the install Partial
        until the workers joined and the hosted CVO completed it (openshift/hypershift
        control-plane-operator/hostedclusterconfigoperator/controllers/hcpstatus/hcpstatus.go, reconcile;
        hostedcluster_controller.go, computeClusterVersionStatus; docs/content/labs/IPv4/hostedcluster/
        hostedcluster.md: PROGRESS Partial while no workers joined). An upgrade completes
        ``upgradeAfterSeconds`` after it started, unless ``<ns>.<name>.upgradeHeld``."""
        meta, spec = hc["metadata"], hc.get("spec") or {}
        status = dict(hc.get("status") or {})
        image = (spec.get("release") or {}).get("image", "")
        up = _age(meta.get("creationTimestamp")) >= config.available_after
        degraded = config.flag(meta["namespace"], meta["name"], "degraded")
        joined = self.workers_joined()
        table = dict(HEALTHY) if up else dict(STARTING)
        if degraded:
            table.update(DEGRADED)
        if up and joined:
            table.update(DATA_PLANE_CONNECTED)
        # Once the hosted CVO reports (the control plane is up), the release is named by digest, as
        # the CVO runs it (control-plane-operator/controllers/hostedcontrolplane/v2/cvo/deployment.go,
        # discoverCVOReleaseImages); HyperShift compares both forms (isProgressing).
        release = release_digest(image) if up else image
        version = status.get("version") or {}
        history = [dict(h) for h in version.get("history") or []]
        desired = (version.get("desired") or {}).get("image")
        if up and history and desired == image:  # the CVO's first report: its digest form
            desired = release
            history = [
                {**h, "image": release_digest(h["image"])} if "@" not in h.get("image", "@") else h for h in history
            ]
        seen = any(c.get("type") == "Progressing" and c.get("status") == "True" for c in status.get("conditions") or [])
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        # configv1.UpdateHistory: completionTime is null until the entry completes or the next one starts
        # (the CVO's pkg/cvo/status.go closes the previous entry); the CRD requires the key (nullable).
        entry = {
            "image": release,
            "version": _ocp_version(image),
            "startedTime": now,
            "completionTime": None,
            "verified": True,
        }
        if not history:  # seeded: the first install, Partial
            history, desired = [{**entry, "state": "Partial"}], release
        elif desired not in (image, release) and not seen:  # this pass the change is seen; the next one takes it
            table.update(PROGRESSING)
        elif desired not in (image, release) or history[0].get("image") not in (image, release):
            if not history[0].get("completionTime"):
                history[0]["completionTime"] = now
            history.insert(0, {**entry, "state": "Partial"})
            desired = release
        elif up and not degraded and history[0].get("state") == "Partial" and self._rolled_out(history, hc, config):
            history[0].update(state="Completed", completionTime=now)
        status["version"] = {
            # While a change is only seen, the desired release is still the old one, with its version.
            "desired": {
                "image": desired,
                "version": _ocp_version(image)
                if desired in (image, release)
                else str((version.get("desired") or {}).get("version") or _ocp_version(desired or image)),
            },
            "history": history,
            "observedGeneration": meta.get("generation", 1),
            # Required, nullable (configv1.ClusterVersionStatus): HyperShift leaves it null on platform None.
            "availableUpdates": version.get("availableUpdates"),
        }
        status["controlPlaneVersion"] = self._control_plane_version(hc, config, up and not degraded, now)
        if up and not degraded:
            status["kubeconfig"] = {"name": f"{meta['name']}-admin-kubeconfig"}
            status["ignitionEndpoint"] = (
                self.ignition.endpoint
                if self.ignition
                else f"ignition-server-{meta['namespace']}-{meta['name']}.apps.example.com"
            )
            status["controlPlaneEndpoint"] = self.api_endpoint(meta["namespace"], meta["name"], config)
        updates = [{"type": t, "status": s, "reason": r, "message": m} for t, (s, r, m) in table.items()]
        status["conditions"] = merge(status.get("conditions"), updates, meta.get("generation"))
        return status

    def _control_plane_version(
        self, hc: dict[str, Any], config: StandinConfig, serving: bool, now: str
    ) -> dict[str, Any]:
        """status.controlPlaneVersion as the HostedControlPlane fills it and HyperShift copies it whole
        (openshift/hypershift control-plane-operator/controllers/hostedcontrolplane/controlplaneversion.go,
        reconcileControlPlaneVersion, mergeEqualVersions, pruneHistory; hostedcontrolplane_controller.go,
        reconcileControlPlaneVersionStatus, which resolves the release image to its digest first;
        hypershift-operator/controllers/hostedcluster/hostedcluster_controller.go, propagateControlPlaneVersion).

        The first pass makes a Partial entry; a desired release that does not merge with the newest entry
        (neither the same image nor the same version) closes that entry and puts a Partial one on top;
        the newest is Completed once every control plane component runs the version and rolled out. Here
        the components are rolled out once the control plane serves, not degraded: at once for the first
        install (no workers needed), ``upgradeAfterSeconds``/2 after an upgrade started unless held. The
        observedGeneration upstream is the HostedControlPlane's; the stand-in has none and gives the
        HostedCluster's."""
        meta = hc["metadata"]
        image = ((hc.get("spec") or {}).get("release") or {}).get("image", "")
        desired = {"version": _ocp_version(image), "image": release_digest(image)}
        existing = (hc.get("status") or {}).get("controlPlaneVersion") or {}
        history = [dict(h) for h in existing.get("history") or []]
        entry = {"state": "Partial", "startedTime": now, **desired}
        if not (existing.get("desired") or {}).get("image") or not history:
            history = [entry]  # first population, returned as it is
        elif not _merges(history[0], desired):
            history[0].setdefault("completionTime", now)
            history = [entry, *history][:100]  # a new release, returned as it is
        else:
            history[0].update(desired)
            held = config.flag(meta["namespace"], meta["name"], "upgradeHeld") and len(history) > 1
            due = len(history) == 1 or _age(history[0].get("startedTime")) >= config.upgrade_after / 2
            if history[0].get("state") == "Partial" and serving and due and not held:
                history[0].update(state="Completed", completionTime=now)
        return {"desired": desired, "history": history, "observedGeneration": meta.get("generation", 1)}

    def _rolled_out(self, history: list[dict[str, Any]], hc: dict[str, Any], config: StandinConfig) -> bool:
        """The install completes once workers joined; an upgrade after ``upgradeAfterSeconds`` (unless held)."""
        meta = hc["metadata"]
        if len(history) == 1:
            return self.workers_joined()
        if config.flag(meta["namespace"], meta["name"], "upgradeHeld"):
            return False
        return _age(history[0].get("startedTime")) >= config.upgrade_after

    def reconcile(self, hc: dict[str, Any], config: StandinConfig) -> None:
        # What this reads and when time changes it: keep hosted_cluster_inputs and _settled in step.
        meta = hc["metadata"]
        ns, name = meta["namespace"], meta["name"]
        if meta.get("deletionTimestamp"):
            if config.flag(ns, name, "stuckDeletion") or _age(meta["deletionTimestamp"]) < config.delete_after:
                return
            self.client.delete(SECRET, f"{name}-admin-kubeconfig", ns)
            self.client.delete(NAMESPACE, control_plane_namespace(ns, name))
            self._drop_finalizer(hc)
            return
        if FINALIZER not in (meta.get("finalizers") or []):
            self.client.patch(
                HOSTED_CLUSTER,
                name,
                {"metadata": {"finalizers": [*(meta.get("finalizers") or []), FINALIZER]}},
                ns,
            )
            return
        if config.flag(ns, name, "statusFrozen"):
            return
        if self._encryption_key_missing(hc):
            return
        status = self.desired_status(hc, config)
        if status.get("kubeconfig"):
            # The control plane's namespace and secrets before the status that announces them;
            # a deleted one comes back.
            self._ensure_control_plane(hc, config)
            if self.ignition is not None:
                self._ensure_ignition(hc, config)
        if status != (hc.get("status") or {}):
            try:
                self.client.replace(HOSTED_CLUSTER, {**hc, "status": status}, subresource="status")
            except ApiError as exc:
                if not (exc.conflict or exc.not_found):
                    raise

    def hosted_cluster_inputs(self, hc: dict[str, Any], config: StandinConfig) -> tuple[Any, ...] | None:
        """What ``reconcile`` reads, by resourceVersion, or None when a pass may change something
        while none of it changes: a deletion or an install still waiting out ``availableAfterSeconds``,
        an upgrade waiting out ``upgradeAfterSeconds``, a secret created moments ago that has not
        reached the cache (``GRACE``). A pass whose inputs equal the last completed pass's has nothing
        to do: HyperShift's controllers run on watch events of what they read (openshift/hypershift
        hypershift-operator/controllers/hostedcluster/hostedcluster_controller.go, SetupWithManager;
        nodepool/nodepool_controller.go, SetupWithManager, which also watches Secrets and ConfigMaps)."""
        meta = hc["metadata"]
        ns, name = meta["namespace"], meta["name"]
        if meta.get("deletionTimestamp") or not self._settled(hc, config):
            return None
        encryption = (hc.get("spec") or {}).get("secretEncryption") or {}
        key_name = ((encryption.get("aescbc") or {}).get("activeKey") or {}).get("name")
        node_pool = self.node_pools.get((ns, name)) if self.node_pools is not None else None
        return (
            meta.get("resourceVersion"),
            config.data,
            self.workers_joined(),
            _version(self.secrets.get((ns, key_name))) if key_name else None,
            _version(self.secrets.get((ns, f"{name}-admin-kubeconfig"))),
            self._secret_versions(control_plane_namespace(ns, name)),
            _version(node_pool),
            self._config_map_versions(node_pool),
        )

    def node_pool_inputs(
        self, node_pool: dict[str, Any], hc: dict[str, Any] | None, config: StandinConfig
    ) -> tuple[Any, ...] | None:
        """What ``reconcile_node_pool`` reads, by resourceVersion (see ``hosted_cluster_inputs``); None
        while the NodePool is deleting. Nothing in it depends on the time."""
        meta = node_pool["metadata"]
        if meta.get("deletionTimestamp"):
            return None
        cluster = str((node_pool.get("spec") or {}).get("clusterName", ""))
        return (
            meta.get("resourceVersion"),
            _version(hc),
            config.data,
            self._secret_versions(control_plane_namespace(meta["namespace"], cluster)),
            self._config_map_versions(node_pool),
        )

    def _settled(self, hc: dict[str, Any], config: StandinConfig) -> bool:
        """Whether time alone can no longer change what a pass does: the control plane is up, no
        upgrade is Partial (the first install's entries wait for workers and the control plane, not
        for time), and no secret created moments ago may have to be created again."""
        meta = hc["metadata"]
        if _age(meta.get("creationTimestamp")) < config.available_after:
            return False
        for namespace in (meta["namespace"], control_plane_namespace(meta["namespace"], meta["name"])):
            if time.monotonic() - self._last_created.get(namespace, -self.GRACE) < self.GRACE:
                return False
        status = hc.get("status") or {}
        for version in (status.get("version"), status.get("controlPlaneVersion")):
            history = (version or {}).get("history") or []
            if len(history) > 1 and history[0].get("state") == "Partial":
                return False
        return True

    def _secret_versions(self, namespace: str) -> tuple[tuple[str, str | None], ...]:
        return tuple(sorted((s["metadata"]["name"], _version(s)) for s in self.secrets.indexed((namespace, ""))))

    def _config_map_versions(self, node_pool: dict[str, Any] | None) -> tuple[str | None, ...]:
        if node_pool is None or self.config_maps is None:
            return ()
        ns = node_pool["metadata"]["namespace"]
        refs = [str((r or {}).get("name", "")) for r in (node_pool.get("spec") or {}).get("config") or []]
        return tuple(_version(self.config_maps.get((ns, r))) for r in refs)

    def _encryption_key_missing(self, hc: dict[str, Any]) -> bool:
        """HyperShift copies spec.secretEncryption.aescbc.activeKey's ``key`` into the control plane
        before it reconciles anything else; while the Secret is missing the reconcile fails ("failed
        to get active aescbc secret"), with no condition, and retries. A Secret without ``key`` is
        only logged ("no key field key specified", "reconciling won't fix input error") and the
        reconcile goes on (openshift/hypershift hypershift-operator/controllers/hostedcluster/
        hostedcluster_controller.go, the aescbc branch of reconcileSecretEncryption)."""
        encryption = (hc.get("spec") or {}).get("secretEncryption") or {}
        if encryption.get("type") != "aescbc":
            return False
        name = ((encryption.get("aescbc") or {}).get("activeKey") or {}).get("name")
        if not name:
            return False  # "aescbc metadata is nil": logged, the reconcile goes on
        return self.secrets.get((hc["metadata"]["namespace"], name)) is None

    def api_endpoint(self, namespace: str, name: str, config: StandinConfig) -> dict[str, Any]:
        """Where the HostedCluster's API server is published: the one hosted API server of the tests,
        or the address ``<ns>.<name>.apiEndpoint`` names."""
        host, _, port = config.value(namespace, name, "apiEndpoint").rpartition(":")
        host = host.removeprefix("[").removesuffix("]")  # the bare address; brackets only in a URL
        return {"host": host, "port": int(port)} if host and port.isdigit() else dict(self.endpoint)

    def _admin_kubeconfig(self, namespace: str, name: str, config: StandinConfig) -> str:
        endpoint = self.api_endpoint(namespace, name, config)
        if endpoint == self.endpoint:
            return self.kubeconfig
        kubeconfig = yaml.safe_load(self.kubeconfig)
        host = f"[{endpoint['host']}]" if ":" in endpoint["host"] else endpoint["host"]
        kubeconfig["clusters"][0]["cluster"]["server"] = f"https://{host}:{endpoint['port']}"
        return yaml.safe_dump(kubeconfig)

    def _ensure_control_plane(self, hc: dict[str, Any], config: StandinConfig) -> None:
        """The hosted control plane namespace and the admin kubeconfig secret HyperShift publishes."""
        ns, name = hc["metadata"]["namespace"], hc["metadata"]["name"]
        endpoint = self.api_endpoint(ns, name, config)
        if self._missing(ns, f"{name}-admin-kubeconfig"):
            apply(self.client, _control_plane_namespace_object(ns, name))
            # An ownerReference to the HostedCluster, as openshift/hypershift
            # hypershift-operator/controllers/hostedcluster/hostedcluster_controller.go (reconcileKubeconfigSync)
            # sets on the secret manifests.KubeConfigSecret names.
            kubeconfig = self._admin_kubeconfig(ns, name, config)
            self._create_secret(ns, f"{name}-admin-kubeconfig", {"kubeconfig": kubeconfig}, owner=hc)
            self._published[(ns, name)] = endpoint
        elif self._published.setdefault((ns, name), endpoint) != endpoint:
            # The endpoint moved: reconcileKubeconfigSync's create-or-update copies the control plane's
            # kubeconfig (control-plane-operator/controllers/hostedcontrolplane/v2/kas/kubeconfig.go,
            # its external URL: the same host and port as status.controlPlaneEndpoint) again. Other
            # writers' content is left to the tests that play them.
            kubeconfig = self._admin_kubeconfig(ns, name, config)
            self.client.patch(SECRET, f"{name}-admin-kubeconfig", {"stringData": {"kubeconfig": kubeconfig}}, ns)
            self._published[(ns, name)] = endpoint

    def _tokens(self, ns: str, name: str) -> list[dict[str, Any]]:
        """The token secrets of the provisioner's NodePool (named like its HostedCluster) in the
        control plane's namespace."""
        prefix, node_pool_key = f"token-{name}-", f"{ns}/{name}"
        return [
            s
            for s in self.secrets.indexed((control_plane_namespace(ns, name), ""))
            if s["metadata"]["name"].startswith(prefix)
            and (s["metadata"].get("annotations") or {}).get(NODEPOOL_ANNOTATION) == node_pool_key
        ]

    def serve_tokens(self, hc: dict[str, Any], config: StandinConfig) -> None:
        """HyperShift's ignition server, its own process upstream (a loop of its own here, woken by
        the token secrets' events, not held by a pass over every HostedCluster): each NodePool token
        of ``hc`` gets its payload cached and served, the outcome written on the secret, and is
        rotated when due (openshift/hypershift ignition-server/controllers/tokensecret_controller.go,
        Reconcile). Tokens found are served again after a restart. Not while the HostedCluster is
        deleted, its status frozen by a test, or its etcd key missing (no token is made then either)."""
        if self.ignition is None:
            return
        meta = hc["metadata"]
        ns, name = meta["namespace"], meta["name"]
        if meta.get("deletionTimestamp") or FINALIZER not in (meta.get("finalizers") or []):
            return
        if config.flag(ns, name, "statusFrozen") or self._encryption_key_missing(hc):
            return
        if not (hc.get("status") or {}).get("kubeconfig"):
            return  # the control plane, and the ignition server in it, is not up
        control_plane = control_plane_namespace(ns, name)
        release = ((hc.get("spec") or {}).get("release") or {}).get("image", "")
        for secret in self._tokens(ns, name):  # tokens issued before a restart; a token edited later is not trusted
            with self._token_lock:
                if secret["metadata"]["uid"] in self._revoked:
                    continue  # revoked while the informer still shows it
                uid = secret["metadata"]["uid"]
                data = secret.get("data") or {}
                value = base64.b64decode(data.get("token") or "").decode()
                generated = base64.b64decode(data.get("reason") or "").decode() == PAYLOAD_GENERATED[0]
                # The payload is generated for the release the token secret names (Reconcile: TokenSecretReleaseKey).
                made_for = base64.b64decode(data.get("release") or "").decode() or release
                if value and generated and uid not in self._token_secrets:
                    self._token_secrets.add(uid)
                    self.ignition.register(value, name, made_for, self._ssh_key(hc))
                    old = base64.b64decode(data.get(OLD_TOKEN_KEY) or "").decode()
                    if old:  # after a restart both are cached again (Reconcile)
                        self.ignition.register(old, name, made_for, self._ssh_key(hc))
                if value and generated:
                    self._rotate_if_due(secret, control_plane, config)
                if value and "reason" not in data:
                    # The ignition server, having tried the payload, says how it went (reason, message):
                    # after the NodePool controller made the secret and named it current. A payload
                    # generated is cached under the token first, then the secret patched: until then the
                    # token gets 511 (ignition-server/controllers/tokensecret_controller.go, Reconcile:
                    # PayloadStore.Set, then Patch with TokenSecretReasonKey).
                    outcome = PAYLOAD_INVALID if config.flag(ns, name, "payloadInvalid") else PAYLOAD_GENERATED
                    if outcome is PAYLOAD_GENERATED and uid not in self._token_secrets:
                        self._token_secrets.add(uid)
                        self.ignition.register(value, name, made_for, self._ssh_key(hc))
                    patch = {"data": {"reason": _b64(outcome[0]), "message": _b64(outcome[1])}}
                    try:
                        self.client.patch(SECRET, secret["metadata"]["name"], patch, control_plane)
                    except ApiError as exc:
                        if not (exc.conflict or exc.not_found):
                            raise

    def _ensure_ignition(self, hc: dict[str, Any], config: StandinConfig) -> None:
        """The ignition server's CA, and the NodePool's token for its current config: what
        HyperShift's NodePool controller does for a NodePool of platform None (openshift/hypershift
        hypershift-operator/controllers/nodepool/token.go, reconcileTokenSecret and cleanupOutdated;
        nodepool_controller.go, reconcile): secret token-<nodepool>-<config hash> with a UUID token,
        annotated with the NodePool; older ones of the NodePool marked to expire in 2 hours; the
        hash written on the NodePool as nodePoolCurrentConfigVersion. Created when missing (never
        overwritten); the ignition server serves them (serve_tokens)."""
        assert self.ignition is not None
        meta = hc["metadata"]
        ns, name = meta["namespace"], meta["name"]
        control_plane = control_plane_namespace(ns, name)
        release = ((hc.get("spec") or {}).get("release") or {}).get("image", "")
        prefix = f"token-{name}-"
        node_pool_key = f"{ns}/{name}"  # the provisioner's NodePool is named like its HostedCluster
        node_pool = self.node_pools.get((ns, name)) if self.node_pools is not None else {"metadata": {}}
        if self._missing(control_plane, CA_SECRET):
            apply(self.client, _control_plane_namespace_object(ns, name))
            self._create_secret(control_plane, CA_SECRET, {"tls.crt": self.ignition.ca_pem})
        tokens = self._tokens(ns, name)
        if node_pool is None or (node_pool.get("metadata") or {}).get("deletionTimestamp"):
            return  # HyperShift's NodePool controller makes tokens for a NodePool that exists (delete runs otherwise)
        problem, text = self._generated(node_pool, config)
        if problem is not None:
            return  # the reconcile stops at ValidMachineConfig False: no token for that config
        # token.go: the NodePool's release (spec.release.image), not the HostedCluster's.
        release = str(((node_pool.get("spec") or {}).get("release") or {}).get("image") or release)
        version = config_version(_ocp_version(release), text)
        token_name = prefix + version
        if not any(s["metadata"]["name"] == token_name for s in tokens) and self._missing(control_plane, token_name):
            apply(self.client, _control_plane_namespace_object(ns, name))
            value = str(uuid.uuid4())
            # token.go (reconcileTokenSecret): the token, when it was generated (so the ignition
            # server rotates it ttl/2 later, not at once) and the release its payload is for; the
            # ignition server caches the payload and adds reason and message on a later pass (above).
            generated_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            annotations = {
                TOKEN_SECRET_ANNOTATION: "true",
                NODEPOOL_ANNOTATION: node_pool_key,
                TOKEN_GENERATION_TIME: generated_at,
            }
            data = {"token": value, "release": release}
            self._create_secret(control_plane, token_name, data, annotations=annotations)
            expires = (datetime.now(UTC) + OUTDATED_TOKEN_LIFETIME).strftime("%Y-%m-%dT%H:%M:%SZ")
            for old in tokens:
                if TOKEN_EXPIRATION_ANNOTATION not in (old["metadata"].get("annotations") or {}):
                    patch = {"metadata": {"annotations": {TOKEN_EXPIRATION_ANNOTATION: expires}}}
                    self.client.patch(SECRET, old["metadata"]["name"], patch, control_plane)
        for current in tokens:
            # "active token should never be marked as expired": a config that comes back (a release
            # changed and changed back within 2 hours) makes its token current again
            # (hypershift-operator/controllers/nodepool/token.go, reconcileTokenSecret).
            if current["metadata"]["name"] == token_name and TOKEN_EXPIRATION_ANNOTATION in (
                current["metadata"].get("annotations") or {}
            ):
                patch = {"metadata": {"annotations": {TOKEN_EXPIRATION_ANNOTATION: None}}}
                self.client.patch(SECRET, token_name, patch, control_plane)
        annotations = (node_pool.get("metadata") or {}).get("annotations") or {}
        if self.node_pools is not None and annotations.get(NODEPOOL_CURRENT_CONFIG_VERSION) != version:
            patch = {"metadata": {"annotations": {NODEPOOL_CURRENT_CONFIG_VERSION: version}}}
            self.client.patch(NODE_POOL, name, patch, ns, field_manager=STANDIN_FIELD_MANAGER)

    def _generated(self, node_pool: dict[str, Any], config: StandinConfig | None) -> tuple[str | None, str]:
        """What the config generator makes of the NodePool now: its problem (None when it builds)
        and the config text, worked out again only when the NodePool or one of its ConfigMaps
        changed (every pass asks; the parse and hash are not free with many NodePools)."""
        meta = node_pool["metadata"]
        versions = self._config_map_versions(node_pool)
        flag = config is not None and config.flag(meta["namespace"], meta["name"], "coreConfigsMissing")
        key = (meta.get("uid"), meta.get("generation"), versions, flag)
        cached = self._generated_cache.get((meta["namespace"], meta["name"]))
        if cached is None or cached[0] != key:
            problem = node_pool_config_problem(node_pool, self.config_maps, config)
            cached = (key, problem, user_config_text(node_pool, self.config_maps))
            self._generated_cache[(meta["namespace"], meta["name"])] = cached
        return cached[1], cached[2]

    def reconcile_node_pool(
        self, node_pool: dict[str, Any], hc: dict[str, Any] | None, config: StandinConfig | None = None
    ) -> None:
        """A NodePool of platform None as HyperShift's NodePool controller keeps it (openshift/hypershift
        hypershift-operator/controllers/nodepool/nodepool_controller.go, Reconcile and reconcile;
        conditions.go): nothing while its HostedCluster is missing; the finalizer first, an
        ownerReference to the HostedCluster; then the conditions in signalConditions' order, the
        reconcile stopping at a missing ignition endpoint or CA, a HostedCluster without kubeconfig,
        or a spec.config the config generator refuses (ValidMachineConfig False); then, with the
        token of the current config in place, status.version and nodePoolCurrentConfig. Deleted:
        its token secrets go (revoked at once), then the finalizer (delete, ensureMachineDeletion)."""
        # What this reads: keep node_pool_inputs in step.
        meta = node_pool["metadata"]
        ns, name = meta["namespace"], meta["name"]
        spec = node_pool.get("spec") or {}
        control_plane = control_plane_namespace(ns, str(spec.get("clusterName", "")))
        if meta.get("deletionTimestamp"):
            if FINALIZER in (meta.get("finalizers") or []):
                for secret in self.secrets.indexed((control_plane, "")):
                    if (secret["metadata"].get("annotations") or {}).get(NODEPOOL_ANNOTATION) == f"{ns}/{name}":
                        self._revoke(secret)
                self._drop_finalizer(node_pool, NODE_POOL)
            return
        if hc is None:
            return  # GetHostedClusterByName fails: no finalizer, no status
        if FINALIZER not in (meta.get("finalizers") or []):
            patch = {"metadata": {"finalizers": [*(meta.get("finalizers") or []), FINALIZER]}}
            self.client.patch(NODE_POOL, name, patch, ns, field_manager=STANDIN_FIELD_MANAGER)
            return
        # cluster-api util/util.go (EnsureOwnerRef): the entry of the same group, kind and name is
        # replaced (a recreated HostedCluster's uid), else one is added.
        owners = list(meta.get("ownerReferences") or [])
        wanted = {
            "apiVersion": hc["apiVersion"],
            "kind": hc["kind"],
            "name": hc["metadata"]["name"],
            "uid": hc["metadata"]["uid"],
        }
        same = [
            i
            for i, o in enumerate(owners)
            if o.get("kind") == wanted["kind"]
            and o.get("name") == wanted["name"]
            and str(o.get("apiVersion", "")).split("/")[0] == wanted["apiVersion"].split("/")[0]
        ]
        if not same or owners[same[0]] != wanted:
            if same:
                owners[same[0]] = wanted
            else:
                owners.append(wanted)
            self.client.patch(
                NODE_POOL, name, {"metadata": {"ownerReferences": owners}}, ns, field_manager=STANDIN_FIELD_MANAGER
            )
            return
        status = dict(node_pool.get("status") or {})
        hc_status = hc.get("status") or {}
        image = str((spec.get("release") or {}).get("image", ""))
        table: dict[str, tuple[str, str, str]] = {
            "AutoscalingEnabled": ("False", "AsExpected", ""),
            "UpdateManagementEnabled": ("True", "AsExpected", ""),
            "ValidReleaseImage": ("True", "AsExpected", f"Using release image: {image}"),
        }
        drop: set[str] = set()
        stop = True
        ca = self.secrets.get((control_plane, CA_SECRET))
        if not hc_status.get("ignitionEndpoint"):
            table["IgnitionEndpointAvailable"] = (
                "False",
                "IgnitionEndpointMissing",
                "Ignition endpoint not available, waiting",
            )
        elif ca is None or "tls.crt" not in (ca.get("data") or {}):
            table["IgnitionEndpointAvailable"] = (
                "False",
                "IgnitionCACertMissing",
                "still waiting for ignition CA cert Secret to exist"
                if ca is None
                else "CA Secret is missing tls.crt key",
            )
        else:
            drop.add("IgnitionEndpointAvailable")  # removed once endpoint and CA are there
            table["ValidArchPlatform"] = ("True", "AsExpected", "")
            table["ReconciliationActive"] = ("True", "ReconciliationActive", "Reconciliation active on resource")
            table["SupportedVersionSkew"] = (
                ("True", "AsExpected", "Release image version is valid")
                if hc_status.get("version")
                else (
                    "Unknown",
                    "ValidationFailed",
                    "HostedCluster version is not available yet, waiting for version information",
                )
            )
            problem = self._generated(node_pool, config)[0] if hc_status.get("kubeconfig") else None
            if not hc_status.get("kubeconfig"):
                pass  # validMachineConfigCondition returns quietly
            elif problem is not None:
                table["ValidMachineConfig"] = ("False", "ValidationFailed", problem)
            else:
                stop = False
                table["ValidMachineConfig"] = ("True", "AsExpected", "")
        if not stop:
            annotations = meta.get("annotations") or {}
            text = self._generated(node_pool, config)[1]
            target_version = _ocp_version(image)
            target_config, token_name = config_version("", text), f"token-{name}-{config_version(target_version, text)}"
            table["UpdatingConfig"] = (
                ("True", "AsExpected", f"Updating config in progress. Target config: {target_config}")
                if annotations.get(NODEPOOL_CURRENT_CONFIG) != target_config
                else ("False", "AsExpected", "")
            )
            table["UpdatingVersion"] = (
                ("True", "AsExpected", f"Updating version in progress. Target version: {target_version}")
                if status.get("version") != target_version
                else ("False", "AsExpected", "")
            )
            token = self.secrets.get((control_plane, token_name))
            if token is None:
                table["ValidGeneratedPayload"] = ("False", "NotFound", f'secrets "{token_name}" not found')
            else:
                data = token.get("data") or {}
                reason = base64.b64decode(data.get("reason") or "").decode(errors="replace")
                message = base64.b64decode(data.get("message") or "").decode(errors="replace")
                # Upstream leaves the status empty ("") for a reason other than AsExpected; the
                # fixture CRD's enum refuses "", so the stand-in says False.
                table["ValidGeneratedPayload"] = (
                    ("True" if reason == "AsExpected" else "False", reason, message)
                    if "reason" in data
                    else ("Unknown", "", "Unable to get status data from token secret")
                )
            reached = IGNITION_REACHED in ((token or {}).get("metadata", {}).get("annotations") or {})
            table["ReachedIgnitionEndpoint"] = (
                ("True", "AsExpected", "") if reached else ("False", "ignitionNotReached", "")
            )
            machines = (
                ("False", "AsExpected", "NodePool set to no replicas")
                if not spec.get("replicas")
                else ("False", "NotFound", "No Machines are created")
            )
            table["AllMachinesReady"] = table["AllNodesHealthy"] = machines
            table["ValidPlatformConfig"] = ("True", "AsExpected", "All is well")
            if token is not None:  # token.Reconcile done: the non-automated branch's last steps
                status["version"] = target_version
                if annotations.get(NODEPOOL_CURRENT_CONFIG) != target_config:
                    patch = {"metadata": {"annotations": {NODEPOOL_CURRENT_CONFIG: target_config}}}
                    self.client.patch(NODE_POOL, name, patch, ns, field_manager=STANDIN_FIELD_MANAGER)
        updates = [{"type": t, "status": st, "reason": r, "message": m} for t, (st, r, m) in table.items()]
        kept = [c for c in status.get("conditions") or [] if c.get("type") not in drop]
        conditions = merge(kept, updates, meta.get("generation"))
        # An empty message or reason is left out: the 1.20 API server refuses "" there (as null).
        status["conditions"] = [{k: v for k, v in c.items() if v != ""} for c in conditions]
        if status != (node_pool.get("status") or {}):
            try:
                self.client.replace(NODE_POOL, {**node_pool, "status": status}, subresource="status")
            except ApiError as exc:
                if not (exc.conflict or exc.not_found):
                    raise

    def _revoke(self, secret: dict[str, Any]) -> None:
        """A token secret deleted with its NodePool: its tokens are no longer served."""
        data = secret.get("data") or {}
        with self._token_lock:
            self._revoked.add(secret["metadata"].get("uid", ""))
            for key in ("token", OLD_TOKEN_KEY):
                value = base64.b64decode(data.get(key) or "").decode(errors="replace")
                if value and self.ignition is not None:
                    self.ignition.forget(value)
        try:
            self.client.delete(SECRET, secret["metadata"]["name"], secret["metadata"]["namespace"])
        except ApiError as exc:
            if not exc.not_found:
                raise

    def _rotate_if_due(self, secret: dict[str, Any], control_plane: str, config: StandinConfig) -> None:
        """The ignition server's in-place rotation (tokensecret_controller.go, tokenNeedRotation and
        rotateToken): with no generation time, or one older than half the cache's TTL (5.5 h; the
        stand-ins' tokenRotateAfterSeconds), a new token, the current one kept as old_token."""
        assert self.ignition is not None
        meta = secret["metadata"]
        data = secret.get("data") or {}
        current = base64.b64decode(data.get("token") or "").decode()
        if self._rotated.get(meta["uid"]) == current:
            return  # the cache has not shown our last rotation yet (whatever else changed the secret)
        stamp = (meta.get("annotations") or {}).get(TOKEN_GENERATION_TIME)
        now = datetime.now(UTC)
        if stamp:
            try:
                lived = (now - datetime.fromisoformat(stamp.replace("Z", "+00:00"))).total_seconds()
            except ValueError:
                return  # the reconcile errors on an unparsable time and tries again: no rotation
            if lived < config.number("tokenRotateAfterSeconds", TOKEN_ROTATE_AFTER.total_seconds()):
                return
        served = self.ignition.tokens.get(current)
        if served is None:
            return  # not in the cache: the server generates the payload first
        old = base64.b64decode(data.get(OLD_TOKEN_KEY) or "").decode()
        if old:
            self.ignition.forget(old)
        new = str(uuid.uuid4())
        self.ignition.register(new, *served)
        patch = {
            "metadata": {"annotations": {TOKEN_GENERATION_TIME: now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}},
            "data": {"token": _b64(new), OLD_TOKEN_KEY: _b64(current)},
        }
        try:
            self.client.patch(SECRET, meta["name"], patch, control_plane)
        except ApiError as exc:
            if not (exc.conflict or exc.not_found):
                raise
            # rotateToken: a patch that fails puts the cache back as it was
            self.ignition.forget(new)
            if old:
                self.ignition.register(old, *served)
            return
        self._rotated[meta["uid"]] = current

    def _ssh_key(self, hc: dict[str, Any]) -> str:
        """The public key in the secret HostedCluster.spec.sshKey names (key id_rsa.pub), or ""."""
        name = (((hc.get("spec") or {}).get("sshKey")) or {}).get("name")
        secret = self.client.get_or_none(SECRET, name, hc["metadata"]["namespace"]) if name else None
        raw = ((secret or {}).get("data") or {}).get("id_rsa.pub") or ""
        return base64.b64decode(raw).decode(errors="replace").strip()

    def _missing(self, namespace: str, name: str, found: list[dict[str, Any]] | None = None) -> bool:
        """Not in the cache (``found``: what matched a prefix), and not created moments ago."""
        present = bool(found) if found is not None else self.secrets.get((namespace, name)) is not None
        return not present and time.monotonic() - self._created.get((namespace, name), -self.GRACE) >= self.GRACE

    def _create_secret(
        self,
        namespace: str,
        name: str,
        data: dict[str, str],
        owner: dict[str, Any] | None = None,
        annotations: dict[str, str] | None = None,
    ) -> None:
        self._created[(namespace, name)] = self._last_created[namespace] = time.monotonic()
        meta: dict[str, Any] = {"name": name, "namespace": namespace}
        if annotations:
            meta["annotations"] = annotations
        if owner is not None:
            meta["ownerReferences"] = [
                {
                    "apiVersion": owner["apiVersion"],
                    "kind": owner["kind"],
                    "name": owner["metadata"]["name"],
                    "uid": owner["metadata"]["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ]
        try:
            self.client.create(SECRET, {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "stringData": data})
        except ApiError as exc:
            if not exc.conflict:
                raise

    def _drop_finalizer(self, obj: dict[str, Any], resource: Resource = HOSTED_CLUSTER) -> None:
        meta = obj["metadata"]
        rest = [f for f in meta.get("finalizers") or [] if f != FINALIZER]
        try:
            self.client.patch(
                resource,
                meta["name"],
                [
                    {"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]},
                    {"op": "replace", "path": "/metadata/finalizers", "value": rest},
                ],
                meta["namespace"],
                kind="json",
            )
        except ApiError as exc:
            if not (exc.not_found or exc.status in (409, 422)):
                raise


def _version(obj: dict[str, Any] | None) -> str | None:
    return None if obj is None else obj["metadata"].get("resourceVersion")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
