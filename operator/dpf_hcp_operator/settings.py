"""The operator's settings, each defined once: its flag, environment variable, default, help and
check. `cli.py` builds the command line from them; the chart passes them as flags."""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.formats import dns1123_label_problem
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import (
    capabilities,
    metallb,
    release,
    scope,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.bfcfg import (
    DPF_NAMESPACE,
    DPF_NAMESPACE_ENV,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.hosted_kubeconfig import SERVICE

HOSTED_API_SERVER_MODES = ("auto", "service", "published")
LOG_LEVELS = ("debug", "info", "error")


def setting(
    default: Any,
    help: str,
    *,
    env: str | None = None,
    parse: Callable[[str], Any] | None = None,
    problem: Callable[[Any], str | None] | None = None,
    choices: tuple[str, ...] | None = None,
    minimum: float | None = None,
) -> Any:
    """A field of ``Config``: ``parse`` turns the flag's text (or ``env``'s) into the value and
    raises ValueError with the fix; ``problem`` says what is wrong with a value, or None."""
    return field(
        default=default,
        metadata={"help": help, "env": env, "parse": parse, "problem": problem, "choices": choices, "minimum": minimum},
    )


def _comma_list(text: str) -> tuple[str, ...]:
    return tuple(item for item in text.split(",") if item)


def service_problem(service: str) -> str | None:
    """What is wrong with a --hosted-api-server-service value, or None."""
    try:
        address = service.format(namespace="ns")
    except (KeyError, IndexError, ValueError):
        return "only {namespace} may stand in braces"
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536 or "/" in address or "@" in address:
        return "give host:port, e.g. kube-apiserver.{namespace}.svc.cluster.local:6443"
    return None


def _namespace_problem(value: str) -> str | None:
    problem = dns1123_label_problem(value)
    return f"not a namespace name: {problem}" if problem else None


@dataclass(frozen=True)
class Config:
    """Every setting of the operator; the flag of a field is its name with dashes (``--max-batch``)."""

    kubeconfig: str | None = setting(
        None, "management cluster kubeconfig (default: $KUBECONFIG, else in-cluster)", env="KUBECONFIG"
    )
    watches_file: Path | None = setting(
        None,
        "watches.yaml (default: $WATCHES_FILE, else the collection's watches.yaml)",
        env="WATCHES_FILE",
        parse=Path,
    )
    operator_namespace: str = setting(
        "dpf-hcp-provisioner-system",
        "namespace of the operator and its ocp-bluefield-images ConfigMap (default: $POD_NAMESPACE)",
        env="POD_NAMESPACE",
    )
    watch_namespaces: scope.Scope = setting(
        (),
        "comma-separated namespaces whose provisioners, DPUClusters, DPUs, secrets and HyperShift objects the "
        "operator lists and watches, one by one (for namespaced RBAC: the chart's watchNamespaces); empty: all "
        f"namespaces (default: ${scope.ENV})",
        env=scope.ENV,
        parse=scope.parse,
    )
    dpf_operator_namespace: str = setting(
        DPF_NAMESPACE,
        "namespace of DPF's DPFOperatorConfig, where DPF looks for bf.cfg templates and the operator writes them "
        f"(the chart's dpfOperatorNamespace; default: ${DPF_NAMESPACE_ENV}, else {DPF_NAMESPACE})",
        env=DPF_NAMESPACE_ENV,
        problem=_namespace_problem,
    )
    allowed_release_repositories: tuple[str, ...] = setting(
        release.DEFAULT_RELEASE_REPOSITORIES,
        "comma-separated repositories (registry/repository, no tag) that spec.ocpReleaseImage must come from: "
        "HyperShift runs the release payload in the management cluster (the chart's allowedReleaseRepositories; "
        f"default: ${release.RELEASE_REPOSITORIES_ENV}, else {','.join(release.DEFAULT_RELEASE_REPOSITORIES)})",
        env=release.RELEASE_REPOSITORIES_ENV,
        parse=release.release_repositories,
    )
    disabled_capabilities: tuple[str, ...] = setting(
        capabilities.DEFAULT_DISABLED,
        "comma-separated hosted cluster capabilities to disable when a provisioner's spec.capabilities names none, "
        "written when its HostedCluster is created (empty: none; before OpenShift 4.20 only ImageRegistry and "
        f"baremetal can be; the chart's disabledCapabilities; default: ${capabilities.ENV}, else "
        f"{','.join(capabilities.DEFAULT_DISABLED)})",
        env=capabilities.ENV,
        parse=capabilities.parse,
    )
    manage_metallb: bool = setting(
        True,
        "write the MetalLB IPAddressPool and L2Advertisement of each provisioner published through a LoadBalancer "
        "(--no-manage-metallb: leave MetalLB to the platform, and MetalLBConfigured says NotManaged; the chart's "
        f"manageMetalLB; default: ${metallb.MANAGE_ENV}, else true)",
        env=metallb.MANAGE_ENV,
    )
    work_dir: Path | None = setting(
        None, "ansible-runner folders and artifacts (default: <temp dir>/dpf-hcp-operator)", parse=Path
    )
    max_workers: int = setting(2, "ansible runs at once per kind", minimum=1)
    max_batch: int = setting(50, "objects one ansible run may serve", minimum=1)
    max_forks: int = setting(
        0,
        "workers one ansible run may fork (hosts of a task served at once); 0: as many as the container's memory "
        "limit holds with --max-workers runs at once, at most --max-batch",
        minimum=0,
    )
    skip_unchanged: bool = setting(
        True,
        "skip the playbook for an object when nothing it depends on changed since its last good run "
        "(--no-skip-unchanged: run it on every event, as operator-sdk's Ansible operator does)",
    )
    csr_watch: bool = setting(
        True,
        "watch each hosted cluster's CSRs and approve joining DPUs' at once (--no-csr-watch: only when the "
        "playbook runs)",
    )
    hosted_api_server: str = setting(
        "auto",
        "how the CSR watch reaches each hosted API server: its in-cluster Service (see "
        "--hosted-api-server-service), the endpoint its kubeconfig names, or auto: the Service when the operator "
        "runs in a pod (KUBERNETES_SERVICE_HOST is set), else the published endpoint",
        choices=HOSTED_API_SERVER_MODES,
    )
    hosted_api_server_service: str = setting(
        SERVICE,
        "host:port of the hosted API server's Service, {namespace} standing for the control-plane namespace "
        f"(default {SERVICE}; HyperShift's port on IBM Cloud is 2040)",
        problem=service_problem,
    )
    keep_artifacts: int = setting(10, "ansible-runner artifact folders kept per worker", minimum=1)
    health_probe_bind_address: str = setting(":8081", "/healthz and /readyz")
    metrics_bind_address: str = setting(":8080", "/metrics; '0' disables")
    log_level: str = setting(
        "info", "log level (default: $LOG_LEVEL, else info)", env="LOG_LEVEL", parse=str.lower, choices=LOG_LEVELS
    )
    ansible_verbosity: int = setting(0, "ansible-playbook's -v count for the runs", minimum=0)
    webhook_bind_address: str = setting("", "serve the admission webhook here, e.g. :9443 (HTTPS; off when empty)")
    webhook_cert_dir: Path | None = setting(
        None,
        "tls.crt and tls.key for the webhook, reloaded when they change (default: <work-dir>/webhook)",
        parse=Path,
    )
    webhook_self_signed_hosts: tuple[str, ...] = setting(
        (),
        "comma-separated names and IPs: make a self-signed certificate for them in the cert dir when none is "
        "there (ca.crt is the caBundle)",
        parse=_comma_list,
    )
    leader_elect: bool = setting(
        False,
        "reconcile only while holding a Lease (for more than one replica); the webhook and probes are served by "
        "every replica",
    )
    leader_election_namespace: str = setting("", "namespace of the Lease (default: the operator namespace)")
    leader_election_id: str = setting("dpf-hcp-provisioner-leader", "name of the Lease")
    lease_duration: float = setting(15.0, "seconds a Lease is valid without renewal")
    renew_deadline: float = setting(10.0, "give up leading after failing to renew for this long")
    retry_period: float = setting(2.0, "seconds between acquire and renew attempts")
    graceful_shutdown_timeout: float = setting(
        25.0,
        "on SIGTERM, seconds the Ansible runs under way may take to finish before they are abandoned (their "
        "objects are reconciled again by the next leader); keep it below the pod's terminationGracePeriodSeconds",
        minimum=0,
    )
    run_deadline: float = setting(
        600.0,
        "seconds an Ansible run may take before it is stopped and its objects retried with backoff; 0: no "
        "deadline. Keep it well above the longest batch (metric dpfhcp_ansible_run_duration_seconds)",
        minimum=0,
    )

    warm_interpreter: bool = setting(
        True,
        "start each Ansible run from a process that has already imported what runs import besides Ansible (the "
        "kubernetes client, Jinja2, ...), a third of a second less a run (--no-warm-interpreter: start "
        "ansible-playbook as a program of its own)",
    )
    warm_interpreter_idle: float = setting(
        300.0,
        "seconds without an Ansible run after which the warm interpreter ends, its memory returned; the next run "
        "starts it again (0: it stays)",
        minimum=0,
    )

    @property
    def runs_dir(self) -> Path:
        return self.work_dir or Path(tempfile.gettempdir()) / "dpf-hcp-operator"

    @property
    def cert_dir(self) -> Path:
        return self.webhook_cert_dir or self.runs_dir / "webhook"

    def hosted_api_service(self, environ: Mapping[str, str]) -> str | None:
        """The Service template the CSR watch uses, or None for the published endpoint."""
        mode = self.hosted_api_server
        if mode == "service" or (mode == "auto" and environ.get("KUBERNETES_SERVICE_HOST")):
            return self.hosted_api_server_service
        return None


def flag(f: dataclasses.Field[Any]) -> str:
    return "--" + f.name.replace("_", "-")


def _kind(f: dataclasses.Field[Any]) -> str:
    """The field's value type, from its annotation (a string: annotations are postponed)."""
    return str(f.type).split(" | ")[0]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per setting; absent flags stay None, so ``from_arguments`` can tell them apart."""
    for f in dataclasses.fields(Config):
        meta = f.metadata
        shown = ",".join(f.default) if isinstance(f.default, tuple) else f.default
        help_text = (
            meta["help"]
            if "default" in meta["help"] or f.default in (None, "", ())
            else (f"{meta['help']} (default: {shown})")
        )
        help_text = help_text.replace("%", "%%")
        if _kind(f) == "bool":
            parser.add_argument(flag(f), action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            parser.add_argument(flag(f), default=None, choices=meta["choices"], help=help_text)


def from_arguments(args: argparse.Namespace, environ: Mapping[str, str]) -> Config:
    """The settings from parsed flags, else their environment variables, else their defaults;
    ValueError names the flag, the value and the fix."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Config):
        meta = f.metadata
        raw = getattr(args, f.name)
        if raw is None and meta["env"] and meta["env"] in environ:
            raw = environ[meta["env"]]
        if raw is None:
            continue
        values[f.name] = _value(f, raw)
    config = Config(**values)
    if not 0 < config.retry_period < config.renew_deadline < config.lease_duration:
        raise ValueError(
            f"leader election timings must satisfy 0 < --retry-period ({config.retry_period}) < --renew-deadline "
            f"({config.renew_deadline}) < --lease-duration ({config.lease_duration}); e.g. 2, 10 and 15"
        )
    return config


def _value(f: dataclasses.Field[Any], raw: Any) -> Any:
    meta, name = f.metadata, flag(f)
    kind = _kind(f)
    try:
        if isinstance(raw, bool):  # a boolean flag, as argparse parsed it
            value = raw
        elif kind == "bool":  # a boolean from the environment
            value = {"true": True, "1": True, "false": False, "0": False}[str(raw).strip().lower()]
        elif meta["parse"] is not None:
            value = meta["parse"](raw)
        elif kind in ("int", "float"):
            value = int(raw) if kind == "int" else float(raw)
        elif kind == "str":
            value = raw
        else:
            raise TypeError(f"setting {f.name}: no parser for {f.type}")  # a programming error, not input
    except KeyError:
        raise ValueError(f"{name}: give true or false, not {raw!r}") from None
    except ValueError as exc:
        detail = str(exc) if meta["parse"] is not None else f"give a number, not {raw!r}"
        raise ValueError(f"{name}: {detail}") from None
    if meta["choices"] and value not in meta["choices"]:
        raise ValueError(f"{name} {value!r}: give one of {', '.join(meta['choices'])}")
    if meta["minimum"] is not None and value < meta["minimum"]:
        meaning = " (0: see --help)" if meta["minimum"] == 0 else ""
        raise ValueError(f"{name} must be at least {meta['minimum']:g}{meaning}, not {value}")
    problem = meta["problem"](value) if meta["problem"] else None
    if problem:
        raise ValueError(f"{name} {value!r}: {problem}")
    return value
