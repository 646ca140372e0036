"""A DPF stand-in for DPUClusters of type `static`: what DPF's static cluster manager and its
provisioning controller do to one, through the same API server.

- NVIDIA/doca-platform internal/provisioning/controllers/dpucluster/dpucluster_controller.go
  (Reconcile, the version that reads super-admin.conf): phase Pending becomes Creating at once;
  once every condition but Ready is True (and Created is among them) it health-checks the cluster
  with the kubeconfig the DPUCluster names (`ServerVersion`): Ready True `HealthCheckPassed`,
  phase Ready and status.version the server's gitVersion; or Ready False `HealthCheckFailed` (the
  error as the message) and phase NotReady, also when the kubeconfig cannot be read or used
  (v24.10 left such a cluster in Creating). A cluster once Ready whose conditions are no longer
  all True becomes NotReady.
- internal/clustermanager/static/handler.go (ReconcileCluster) and
  internal/clustermanager/controller/dpucluster_controller.go (Reconcile): for phases Creating,
  Ready and NotReady, Created is True `Created` when spec.kubeconfig is set, else False
  `EmptyKubeconfig` ("spec.kubeconfig is empty"); clusters of another type are left alone.
- internal/dpucluster/dpucluster.go (getClientConfig, Kubeconfig): the kubeconfig is key
  `admin.conf` (DPF v24.10) or `super-admin.conf` (later DPF, pkg/dpucluster/config.go) of the
  secret spec.kubeconfig in the DPUCluster's namespace, with exactly one cluster and one user.
  The client is built once per DPUCluster uid and kept (getOrCreateClient's adminClients).

Not emulated: the finalizers both controllers add (cleanup of a static cluster does nothing), and
the admin kubeconfig file DPF writes under /kubeconfig."""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass
from typing import Any

import yaml

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import (
    ApiError,
    KubeClient,
    credentials_from_kubeconfig_text,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.conditions import merge
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import CONFIGMAP, SECRET
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    DPF_OPERATOR_CONFIG,
    DPU_CLUSTER,
    DPU_FLAVOR,
)
from dpf_hcp_dev.standins.config import StandinConfig

STATIC = "static"
# util.GetClientset gives the secret read 10 s; the check itself (ServerVersion) has client-go's
# transport defaults (a 10 s TLS handshake, no limit on the answer): the stand-in bounds it at 10 s.
HEALTH_TIMEOUT = 10.0
# DPF's reconciles are requeued by controller-runtime's rate limiter on error (5 ms doubling, to
# 1000 s: client-go util/workqueue default_rate_limiters.go); the stand-in caps it lower for tests.
RETRY_FIRST, RETRY_MAX = 0.05, 5.0


class KubeconfigUnreadable(Exception):  # noqa: N818 - DPF's error of the same meaning
    pass


def cluster_kubeconfig(
    client: KubeClient, cluster: dict[str, Any], key: str, cache: dict[str, KubeClient] | None = None
) -> KubeClient:
    """A client for a DPUCluster's own cluster, as DPF builds it (dpucluster.go, getClientConfig and
    Kubeconfig): secret spec.kubeconfig in the DPUCluster's namespace, ``key``, exactly one cluster
    and one user. KubeconfigUnreadable says, as DPF does, what is wrong."""
    meta = cluster["metadata"]
    if cache is not None and meta.get("uid") in cache:
        return cache[meta["uid"]]
    name = (cluster.get("spec") or {}).get("kubeconfig") or ""
    try:
        secret = client.get(SECRET, name, meta["namespace"])
    except ApiError as exc:
        raise KubeconfigUnreadable(f"secret {meta['namespace']}/{name}: {exc.reason}") from exc
    data = (secret.get("data") or {}).get(key)
    if not data:
        raise KubeconfigUnreadable(
            f"secret {meta['namespace']}/{name} not in the expected format: data.{key} not found"
        )
    text = base64.b64decode(data).decode(errors="replace")
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise KubeconfigUnreadable(f"error while getting client config: {exc}") from exc
    parsed = parsed if isinstance(parsed, dict) else {}
    if len(parsed.get("users") or []) != 1:
        raise KubeconfigUnreadable("secret not in the expected format: auth info list should have one member")
    if len(parsed.get("clusters") or []) != 1:
        raise KubeconfigUnreadable("secret not in the expected format: cluster list should have one member")
    try:
        built = KubeClient(credentials_from_kubeconfig_text(text), timeout=HEALTH_TIMEOUT, maxsize=2)
    except ValueError as exc:
        raise KubeconfigUnreadable(f"error while getting client config: {exc}") from exc
    if cache is not None:
        cache[meta["uid"]] = built
    return built


@dataclass
class _Retry:
    resource_version: str
    failures: int = 0
    not_before: float = 0.0


class DPFStandin:
    def __init__(self, client: KubeClient, kubeconfig_key: str = "super-admin.conf"):
        self.client = client
        self.kubeconfig_key = kubeconfig_key
        self.clients: dict[str, KubeClient] = {}  # DPUCluster uid -> its admin client (adminClients)
        self.seen: dict[str, _Retry] = {}  # DPUCluster uid -> the version last reconciled

    def _due(self, cluster: dict[str, Any]) -> bool:
        """DPF reconciles a DPUCluster on each change to it, and again with backoff after an error."""
        meta = cluster["metadata"]
        last = self.seen.get(meta["uid"])
        if last is None or last.resource_version != meta.get("resourceVersion"):
            return True
        return last.failures > 0 and time.monotonic() >= last.not_before

    def _done(self, cluster: dict[str, Any], failed: bool) -> None:
        meta = cluster["metadata"]
        last = self.seen.get(meta["uid"])
        failures = (last.failures + 1 if last else 1) if failed else 0
        delay = min(RETRY_FIRST * 2 ** max(failures - 1, 0), RETRY_MAX)
        self.seen[meta["uid"]] = _Retry(meta.get("resourceVersion", ""), failures, time.monotonic() + delay)

    def reconcile_dpucluster(self, cluster: dict[str, Any], _config: StandinConfig) -> None:
        meta = cluster["metadata"]
        if meta.get("deletionTimestamp"):
            self.clients.pop(meta.get("uid", ""), None)
            return
        if not self._due(cluster):
            return
        failed = True
        try:
            failed = not self._reconcile(cluster)
        finally:
            self._done(cluster, failed)

    def _reconcile(self, cluster: dict[str, Any]) -> bool:
        """One reconcile of both controllers; False when DPF's would return an error."""
        spec = cluster.get("spec") or {}
        status = dict(cluster.get("status") or {})
        phase = status.get("phase") or "Pending"  # the CRD's default
        generation = cluster["metadata"].get("generation")
        if phase == "Pending":
            return self._write(cluster, {**status, "phase": "Creating"})
        conditions = status.get("conditions") or []
        if spec.get("type") == STATIC and phase in ("Creating", "Ready", "NotReady"):
            created = bool(spec.get("kubeconfig"))
            conditions = merge(
                conditions,
                [
                    {
                        "type": "Created",
                        "status": "True" if created else "False",
                        "reason": "Created" if created else "EmptyKubeconfig",
                        "message": "" if created else "spec.kubeconfig is empty",
                    }
                ],
                generation,
            )
        others = [c for c in conditions if c.get("type") != "Ready"]
        healthy_so_far = all(c.get("status") == "True" for c in others) and any(
            c.get("type") == "Created" and c.get("status") == "True" for c in others
        )
        ok = True
        if healthy_so_far:
            try:
                admin = cluster_kubeconfig(self.client, cluster, self.kubeconfig_key, self.clients)
                version = admin.request("GET", "/version")
                ready = {"type": "Ready", "status": "True", "reason": "HealthCheckPassed", "message": ""}
                phase = "Ready"
                status["version"] = str(version.get("gitVersion", ""))
            except (KubeconfigUnreadable, ApiError, OSError, ValueError) as exc:
                ready = {"type": "Ready", "status": "False", "reason": "HealthCheckFailed", "message": str(exc)}
                phase, ok = "NotReady", False
            conditions = merge(conditions, [ready], generation)
        elif phase in ("Ready", "NotReady"):
            phase = "NotReady"
        return self._write(cluster, {**status, "phase": phase, "conditions": conditions}) and ok

    def _write(self, cluster: dict[str, Any], status: dict[str, Any]) -> bool:
        # DPF writes message "" (util.NewCondition); the local 1.20 API server refuses an empty
        # string in a custom resource ("must be of type string: \"null\""), so it is left out.
        status = {
            **status,
            "conditions": [{k: v for k, v in c.items() if k != "message" or v} for c in status.get("conditions") or []],
        }
        if not status["conditions"]:
            del status["conditions"]
        if status == (cluster.get("status") or {}):
            return True
        try:
            self.client.replace(DPU_CLUSTER, {**cluster, "status": status}, subresource="status")
        except ApiError as exc:
            if not (exc.conflict or exc.not_found):
                raise
            return False
        return True


# -- bf.cfg: how DPF's provisioning controller finds and renders a DPU's template ----------------
# NVIDIA/doca-platform internal/provisioning/controllers/dpu/bfcfg/bfcfg.go (GenerateBFConfig,
# getTemplateData, getTemplateDataFromConfigMap, Generate, MaxBFSize) and
# internal/provisioning/controllers/util (BFCFGTemplateLabel, BFCFGTemplate*Annotation,
# SkipBFCFGSizeCheck, GenerateNodeName).
SKIP_SIZE_CHECK = "provisioning.dpu.nvidia.com/skip-bfcfg-size-check"
TEMPLATE_LABEL = "provisioning.dpu.nvidia.com/bfcfg-template"
TEMPLATE_KEY = "BF_CFG_TEMPLATE"
ANNOTATION = "provisioning.dpu.nvidia.com/bfcfg-template-"
MAX_BF_SIZE = 128 * 1024
# The stand-in renders field references only ({{.Field}}, with Go's {{- and -}} trims); any other
# action (a sprig call, a range) is refused by the stand-in where DPF would evaluate it, so a
# template of ours that holds one fails here rather than passing unnoticed.
_ACTION = re.compile(r"\{\{(-\s)?\s*(.*?)\s*(\s-)?\}\}", re.S)
_FIELD = re.compile(r"\.([A-Za-z][A-Za-z0-9]*)")


class BFCFGError(Exception):
    pass


def template_for(client: KubeClient, dpu: dict[str, Any]) -> str:
    """The bf.cfg template DPF's provisioning controller would use for ``dpu``; BFCFGError (DPF's
    message) when it has none. Only the dynamic path is emulated: with enableDynamicBFCFGTemplates
    off DPF uses its embedded template (a kubeadm-joined Ubuntu DPU, never a hosted cluster's node),
    which the stand-in refuses as an error."""
    configs = client.list(DPF_OPERATOR_CONFIG).get("items") or []
    if len(configs) != 1:
        raise BFCFGError("exactly one DPFOperatorConfig necessary")
    config = configs[0]
    provisioning = (config.get("spec") or {}).get("provisioningController") or {}
    if not provisioning.get("enableDynamicBFCFGTemplates"):
        raise BFCFGError("enableDynamicBFCFGTemplates is off: DPF would use its embedded bf.cfg template")
    spec, namespace = dpu.get("spec") or {}, dpu["metadata"]["namespace"]
    cluster = spec.get("cluster") or {}
    wanted = {
        "bfb-name": spec.get("bfb", ""),
        "bfb-namespace": namespace,
        "cluster-name": cluster.get("name", ""),
        "cluster-namespace": cluster.get("namespace", ""),
        "dpuflavor-name": spec.get("dpuFlavor", ""),
        "dpuflavor-namespace": namespace,
    }
    listed = client.list(CONFIGMAP, config["metadata"]["namespace"], label_selector=f"{TEMPLATE_LABEL}=true")
    matches = [
        cm
        for cm in listed.get("items") or []
        if all(((cm["metadata"].get("annotations") or {}).get(ANNOTATION + k) == v) for k, v in wanted.items())
    ]
    if len(matches) != 1:
        raise BFCFGError(
            f"found {len(matches)} bf.cfg template ConfigMaps matching BFB {namespace}/{wanted['bfb-name']}, "
            f"DPUCluster {wanted['cluster-namespace']}/{wanted['cluster-name']}, and DPUFlavor "
            f"{namespace}/{wanted['dpuflavor-name']}; exactly one is required"
        )
    data = (matches[0].get("data") or {}).get(TEMPLATE_KEY)
    if data is None:
        raise BFCFGError(f"bf.cfg template ConfigMap {matches[0]['metadata']['name']!r} is missing required key")
    return str(data)


def render(template: str, dpu: dict[str, Any], skip_size_check: bool = False) -> str:
    """DPF's rendering of a template for ``dpu``, and its size check (skipped when the DPU's
    DPUFlavor carries the skip-bfcfg-size-check annotation: ``skip_size_check``)."""
    meta = dpu["metadata"]
    # GenerateNodeName: the DPU's name. The one field every DPF with dynamic templates fills (the
    # four-annotation version had no DPUName, DPUNamespace, DPUUID): the stand-in offers no other.
    fields = {"DPUHostName": meta["name"]}

    def action(match: re.Match[str]) -> str:
        field = _FIELD.fullmatch(match.group(2))
        if field is None or field.group(1) not in fields:
            raise BFCFGError(f"the stand-in renders field references only, not {match.group(0)[:60]!r}")
        return fields[field.group(1)]

    text = _ACTION.sub(action, template)
    if not skip_size_check and len(text.encode()) > MAX_BF_SIZE:
        raise BFCFGError(
            f"bf.cfg for {meta['name']} size ({len(text.encode())}) exceeds the maximum limit ({MAX_BF_SIZE})"
        )
    return text


def skips_size_check(client: KubeClient, dpu: dict[str, Any]) -> bool:
    """Whether the DPU's DPUFlavor carries util.SkipBFCFGSizeCheck (its key alone counts)."""
    try:
        name = (dpu.get("spec") or {}).get("dpuFlavor", "")
        flavor = client.get_or_none(DPU_FLAVOR, name, dpu["metadata"]["namespace"])
    except ApiError as exc:
        if exc.not_found:  # the DPUFlavor kind is not served here
            return False
        raise
    return SKIP_SIZE_CHECK in (((flavor or {}).get("metadata") or {}).get("annotations") or {})
