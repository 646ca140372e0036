"""The validating admission webhook for DPFHCPProvisioner: AdmissionReview v1 over HTTPS.

No Ansible in the admission path: the rules are plugins/module_utils/provisioner/admission.py (and
validation.py, shared with the validate role); the objects they need are read directly.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from pathlib import Path
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.client import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.formats import (
    dns1123_label_problem,
    dns1123_subdomain_problem,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.resources import (
    CONFIGMAP,
    NAMESPACE,
    SECRET,
    SUBJECT_ACCESS_REVIEW,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner import admission, naming, scope, upgrade
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.hosted_kubeconfig import owned
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.kinds import (
    DPU_CLUSTER,
    HOSTED_CLUSTER,
    LABEL_NAME,
    LABEL_NAMESPACE,
    PROVISIONER,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.release import (
    DEFAULT_RELEASE_REPOSITORIES,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.validation import (
    BLUEFIELD_CONFIGMAP,
    shown,
)
from dpf_hcp_operator import https, metrics, pki
from dpf_hcp_operator.informers import Informer
from dpf_hcp_operator.logs import log

LOG = logging.getLogger("dpf_hcp_operator.webhook")
PATH = "/validate-dpfhcpprovisioner"
WEBHOOK_NAME = "vdpfhcpprovisioner.provisioning.dpu.hcp.io"
# The API server's uids are 36 characters (a UUID); the answer echoes it, so a longer one is refused.
MAX_UID_CHARACTERS = 128
# A review's reads: each one's HTTP timeout, and all of them together (the chart gives the webhook
# timeoutSeconds: 5; a denial with a reason beats the API server's own timeout).
READ_SECONDS = 2.0
READS_SECONDS = 3.0
# userInfo is copied into a SubjectAccessReview: a forged review must not make it megabytes.
MAX_USER_INFO_BYTES = 64 * 1024


class Reviewer:
    """Decides one AdmissionRequest."""

    def __init__(
        self,
        client: KubeClient,
        operator_namespace: str,
        provisioners: Informer | None = None,
        watch_namespaces: scope.Scope = (),
        release_repositories: tuple[str, ...] = DEFAULT_RELEASE_REPOSITORIES,
        secrets: Informer | None = None,
    ):
        self.client = client
        self.operator_namespace = operator_namespace
        self.provisioners = provisioners
        if secrets is not None and not secrets.metadata_only:
            raise ValueError("the admission webhook reads Secrets' metadata only: give a metadata-only informer")
        self.secrets = secrets  # the operator's cache of Secrets' metadata (dependencies.py), if it keeps one
        self.scope = watch_namespaces
        self.release_repositories = release_repositories
        # The objects one review needs are read side by side: a review waits for the slowest
        # read, not for their sum.
        self._reads = ThreadPoolExecutor(max_workers=16, thread_name_prefix="admission-read")

    def _read_all(self, reads: dict[str, Callable[[], Any]]) -> dict[str, Any]:
        """Each read's result by name; the first ApiError (or other error) is raised, and so is
        one when they are not all back within READS_SECONDS (the review is then denied, well
        before the API server's own timeout for the webhook)."""
        pending = {name: self._reads.submit(read) for name, read in reads.items()}
        _, late = futures_wait(pending.values(), timeout=READS_SECONDS)
        if late:
            for future in late:
                future.cancel()
            slow = ", ".join(name for name, future in pending.items() if future in late)
            raise ApiError(0, "Timeout", f"no answer within {READS_SECONDS:g}s reading {slow}")
        return {name: future.result() for name, future in pending.items()}

    def _secret(self, name: str, namespace: str) -> dict[str, Any] | None:
        """The Secret's metadata, or None. Only whether it exists is read (a warning when it does not):
        from the operator's cache when that holds it, else from the API server (a cache not synced on
        this replica, or not yet holding a Secret made a moment ago: no warning on a stale miss)."""
        if self.secrets is not None and self.secrets.synced.is_set():
            cached = self.secrets.get((namespace, name))
            if cached is not None:
                return cached
        return self.client.get_or_none(SECRET, name, namespace, READ_SECONDS, metadata_only=True)

    def _provisioners(self) -> list[dict[str, Any]]:
        if self.provisioners is not None and self.provisioners.synced.is_set():
            return self.provisioners.items()
        return scope.list_items(self.client, PROVISIONER, self.scope)

    def review(self, request: dict[str, Any]) -> dict[str, Any]:
        uid = request.get("uid", "")
        obj = request.get("object") or {}
        old = request.get("oldObject") or {}
        operation = request.get("operation")
        if operation not in ("CREATE", "UPDATE") or (request.get("kind") or {}).get("kind") != PROVISIONER.kind:
            return {"uid": uid, "allowed": True}
        spec = obj.get("spec")
        if operation == "UPDATE" and spec == old.get("spec"):
            return {"uid": uid, "allowed": True}  # metadata only (labels, finalizers)
        if operation == "UPDATE" and (old.get("metadata") or {}).get("deletionTimestamp"):
            # Cleanup acts on the spec: one changed now would point it elsewhere, unchecked.
            why = "cannot change while the provisioner is being deleted; create a new provisioner once it is gone"
            return self._refused(uid, obj, 422, "Invalid", str(admission.Problem("spec", why)))
        problems = admission.check_spec(spec, self.release_repositories)
        problems += [admission.Problem(f, m) for f, m in scope.problems(obj, self.scope)]
        if operation == "UPDATE":
            problems += admission.check_update(old.get("spec") or {}, spec or {})
        warnings: list[str] = []
        if not problems:
            try:
                problems = self._authority(request, obj, old.get("spec") if operation == "UPDATE" else None)
            except ApiError as exc:  # fail closed: no answer is not a yes
                return self._refused(uid, obj, 500, "InternalError", f"cannot check who may use the DPUCluster: {exc}")
        if not problems:  # only someone who may use the DPUCluster learns more about it
            problems, warnings = self._with_references(obj, old if operation == "UPDATE" else None)
        if problems:
            return {
                **self._refused(uid, obj, 422, "Invalid", "; ".join(str(p) for p in problems)),
                "warnings": warnings,
            }
        return {"uid": uid, "allowed": True, "warnings": warnings}

    @staticmethod
    def _refused(uid: str, obj: dict[str, Any], code: int, reason: str, why: str) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        name = meta.get("name") or meta.get("generateName")
        message = f"DPFHCPProvisioner {_cut(meta.get('namespace'))}/{_cut(name)} is refused: {why}"
        return {"uid": uid, "allowed": False, "status": {"code": code, "reason": reason, "message": message}}

    def _authority(
        self, request: dict[str, Any], obj: dict[str, Any], old_spec: dict[str, Any] | None
    ) -> list[admission.Problem]:
        """A DPUCluster in another namespace only for a requester who may update it (a SubjectAccessReview)."""
        namespace = request.get("namespace") or (obj.get("metadata") or {}).get("namespace") or ""
        spec = obj.get("spec") or {}
        if not admission.crosses_namespaces(namespace, spec, old_spec):
            return []
        user = request.get("userInfo") if isinstance(request.get("userInfo"), dict) else {}
        ref = spec["dpuClusterRef"]
        if not user.get("username") and not user.get("groups"):
            return [admission.authority_problem(namespace, user, ref, None)]  # nobody to ask about
        review = admission.dpucluster_access_review(user, ref)
        answer = self._read_all({"access review": lambda: self.client.create(SUBJECT_ACCESS_REVIEW, review)})[
            "access review"
        ]
        problem = admission.authority_problem(namespace, user, ref, answer.get("status"))
        return [problem] if problem else []

    def _with_references(self, obj: dict[str, Any], old: dict[str, Any] | None) -> tuple[list[Any], list[str]]:
        spec = obj.get("spec") or {}
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace", "")
        ref = spec.get("dpuClusterRef") or {}
        reads: dict[str, Callable[[], Any]] = {
            "configmap": lambda: self.client.get_or_none(
                CONFIGMAP, BLUEFIELD_CONFIGMAP, self.operator_namespace, READ_SECONDS
            ),
            "dpucluster": lambda: self.client.get_or_none(DPU_CLUSTER, ref["name"], ref["namespace"], READ_SECONDS),
        }
        secrets = {(spec.get(f) or {}).get("name") for f in ("pullSecretRef", "sshKeySecretRef")}
        for name in sorted(s for s in secrets if s):
            reads[f"secret {name}"] = lambda name=name: self._secret(name, ns)
        if old is None:  # the provisioners, to see who holds the DPUCluster or the control plane's namespace
            reads["provisioners"] = self._provisioners
        derived = old is None and _derives_names(meta)  # metadata.name and namespace never change: judged once
        old_spec = (old.get("spec") or {}) if old is not None else None
        # An update that changes the release or machineOSURL, of an object whose name and namespace
        # name a HostedCluster (a forged review with empty ones would list them all).
        upgrading = (
            old_spec is not None
            and _derives_names(meta)
            and any(old_spec.get(k) != spec.get(k) for k in ("ocpReleaseImage", "machineOSURL"))
        )
        if derived or upgrading:
            reads["hostedcluster"] = lambda: self.client.get_or_none(HOSTED_CLUSTER, meta["name"], ns, READ_SECONDS)
        if derived:
            reads["namespace"] = lambda: self.client.get_or_none(
                NAMESPACE, naming.control_plane_namespace(obj), timeout=READ_SECONDS
            )
        found = self._read_all(reads)
        dpucluster = found["dpucluster"]
        provisioners = found.get("provisioners") or []
        configmap = found["configmap"]
        problems = admission.check_references(obj, dpucluster, provisioners, configmap, self.operator_namespace)
        if derived:
            problems += self._derived_names(obj, provisioners, found["hostedcluster"], found["namespace"])
        if upgrading:  # before an upgrade starts: the previous one done, machineOSURL not another release's
            hosted_cluster = found["hostedcluster"]
            if hosted_cluster is not None and owned(hosted_cluster, obj):
                hosted_cluster = None  # another's of that name: its state says nothing of this provisioner's
            problems += [
                admission.Problem(field, text)
                for _reason, field, text in upgrade.upgrade_problems(
                    str(old_spec.get("ocpReleaseImage")),
                    str(spec.get("ocpReleaseImage")),
                    hosted_cluster,
                    str(spec.get("machineOSURL") or ""),
                    configmap,
                    meta.get("annotations") or {},
                )
            ]
        if old is not None and (old.get("spec") or {}).get("ocpReleaseImage") == spec.get("ocpReleaseImage"):
            problems = [p for p in problems if p.field != "spec.ocpReleaseImage"]  # not what this update changes
        present = {}
        for field in ("pullSecretRef", "sshKeySecretRef"):
            name = (spec.get(field) or {}).get("name")
            if name:
                present[name] = found[f"secret {name}"] is not None
        return problems, admission.warnings_for(obj, dpucluster is not None, present)

    @staticmethod
    def _derived_names(
        obj: dict[str, Any],
        provisioners: list[dict[str, Any]],
        existing: dict[str, Any] | None,
        control_plane: dict[str, Any] | None,
    ) -> list[admission.Problem]:
        """What the new provisioner's name would take: its HostedCluster (``existing``: one no
        provisioner of that name made would make the operator refuse to touch it) and its
        control-plane namespace (another's, or an existing namespace that is not for it:
        admission.control_plane_namespace_problems)."""
        meta = obj.get("metadata") or {}
        name, ns = meta["name"], meta["namespace"]
        problems = []
        labels = ((existing or {}).get("metadata") or {}).get("labels") or {}
        if existing is not None and not (labels.get(LABEL_NAME) == name and labels.get(LABEL_NAMESPACE) == ns):
            problems.append(
                admission.Problem(
                    "metadata.name",
                    f"HostedCluster {_cut(ns)}/{_cut(name)} exists and is not a provisioner's; the provisioner's "
                    "HostedCluster takes its name: choose another name, or delete that HostedCluster",
                )
            )
        return problems + admission.control_plane_namespace_problems(obj, provisioners, control_plane, existing)


def _derives_names(meta: dict[str, Any]) -> bool:
    """Whether ``meta`` names an object the API server stores (253 + 63 + 1 characters at most),
    so there are names derived from it to look up; a forged review gets no lookups."""
    name, ns = meta.get("name"), meta.get("namespace")
    return isinstance(name, str) and isinstance(ns, str) and bool(name) and bool(ns) and len(name) + len(ns) <= 317


class CertificateReloader:
    """Serve the certificate files in ``cert_dir`` and pick up new ones when they change."""

    def __init__(self, cert_dir: Path, interval: float = 5.0):
        self.cert = cert_dir / "tls.crt"
        self.key = cert_dir / "tls.key"
        self.interval = interval
        self.context = https.tls_context()
        self._stamp = self._mtimes()
        self.context.load_cert_chain(self.cert, self.key)

    def _mtimes(self) -> tuple[float, float]:
        return os.stat(self.cert).st_mtime, os.stat(self.key).st_mtime

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            try:
                stamp = self._mtimes()
                if stamp != self._stamp:
                    self.context.load_cert_chain(self.cert, self.key)  # new handshakes use the new pair
                    self._stamp = stamp
                    log(LOG, logging.INFO, "webhook certificate reloaded", cert=str(self.cert))
            except (OSError, ssl.SSLError) as exc:
                log(LOG, logging.WARNING, "webhook certificate not reloaded", error=str(exc))


class MalformedError(ValueError):
    """Not an AdmissionReview v1 request as the API server sends one: answered 400, never allowed."""


OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")


def _cut(value: Any) -> str:
    """A name for a message: as given, cut (with its length) when long; the API server allows 253
    characters, but anyone can send a review to the port."""
    return shown(value).strip("'") if isinstance(value, str) else shown(value)


def _what(value: Any) -> str:
    """A hostile value, named without repeating it at length."""
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), f"a {type(value).__name__}"
    )


def admission_request(review: Any) -> dict[str, Any]:
    """The ``request`` of an AdmissionReview, checked against what the API server sends
    (kubernetes staging/src/k8s.io/api/admission/v1/types.go: uid, kind, operation, userInfo always;
    object for CREATE and UPDATE, oldObject for UPDATE and DELETE, null otherwise) before any rule
    sees it. Raises MalformedError naming the field, what it holds and what is expected."""
    if not isinstance(review, dict):
        raise MalformedError(f"the body is {_what(review)}: send an AdmissionReview object")
    for name, wanted in (("apiVersion", "admission.k8s.io/v1"), ("kind", "AdmissionReview")):
        if review.get(name) != wanted:
            got = review.get(name)
            shown = repr(got[:64]) if isinstance(got, str) else _what(got)
            raise MalformedError(f"{name} is {shown}: only {wanted!r} is served (admissionReviewVersions: [v1])")
    request = review.get("request")
    if not isinstance(request, dict):
        raise MalformedError(f"request is {_what(request)}: an AdmissionReview to judge carries a request object")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise MalformedError(f"request.uid is {_what(uid)}: a non-empty string is required")
    if len(uid) > MAX_UID_CHARACTERS:
        raise MalformedError(
            f"request.uid is a string of {len(uid)} characters: at most {MAX_UID_CHARACTERS} are accepted "
            "(the API server sends a UUID, 36)"
        )
    kind = request.get("kind")
    if not isinstance(kind, dict) or not isinstance(kind.get("kind"), str) or not kind["kind"]:
        raise MalformedError(f"request.kind is {_what(kind)}: an object with group, version and kind is required")
    for name in ("group", "version"):
        if not isinstance(kind.get(name, ""), str):
            raise MalformedError(f"request.kind.{name} is {_what(kind[name])}: a string is required")
    operation = request.get("operation")
    if operation not in OPERATIONS:
        shown = repr(operation[:16]) if isinstance(operation, str) else _what(operation)
        raise MalformedError(f"request.operation is {shown}: one of {', '.join(OPERATIONS)} is required")
    needs = {"object": operation in ("CREATE", "UPDATE"), "oldObject": operation in ("UPDATE", "DELETE")}
    for name, required in needs.items():
        value = request.get(name)
        if not isinstance(value, dict) and (required or value is not None):
            needed = "an object" if required else "an object or null"
            raise MalformedError(f"request.{name} is {_what(value)}: {needed} is required for {operation}")
    for name, types, wanted in (
        ("name", (str,), "a string"),
        ("namespace", (str,), "a string"),
        ("subResource", (str,), "a string"),
        ("userInfo", (dict,), "an object"),
        ("resource", (dict,), "an object"),
        ("dryRun", (bool,), "a boolean"),
        ("options", (dict,), "an object or null"),
    ):
        value = request.get(name)
        if value is not None and not isinstance(value, types):
            raise MalformedError(f"request.{name} is {_what(value)}: {wanted} is required")
    _check_names(request)
    user = request.get("userInfo")
    if user is not None and len(json.dumps(user)) > MAX_USER_INFO_BYTES:
        raise MalformedError(
            f"request.userInfo is over {MAX_USER_INFO_BYTES} bytes: the webhook asks the API server about this "
            "user, and no user the API server authenticates carries that much"
        )
    return request


def _check_names(request: dict[str, Any]) -> None:
    """The names a review carries are Kubernetes names, and the object's are the request's: the
    API server stores nothing else and sends them alike (for a create by generateName the request's
    name is empty and the object's is the generated one). Anything else is forged; the Reviewer
    reads objects by these names, so they are judged before any rule runs."""
    for field, problem in (("namespace", dns1123_label_problem), ("name", dns1123_subdomain_problem)):
        wanted = request.get(field) or ""
        if wanted and problem(wanted):
            raise MalformedError(f"request.{field} is not a Kubernetes name: {problem(wanted)}")
        for which in ("object", "oldObject"):
            meta = (request.get(which) or {}).get("metadata")
            if meta is None:
                continue
            if not isinstance(meta, dict):
                raise MalformedError(f"request.{which}.metadata is {_what(meta)}: an object is required")
            got = meta.get(field)
            if got in (None, ""):
                continue
            if not isinstance(got, str) or problem(got):
                raise MalformedError(f"request.{which}.metadata.{field} is not a Kubernetes name")
            if got != wanted and (wanted or field == "namespace"):
                raise MalformedError(
                    f"request.{which}.metadata.{field} is not request.{field}: the API server sends the same"
                )


def answer(reviewer: Reviewer, body: bytes) -> tuple[int, dict[str, Any]]:
    """One HTTP POST to PATH: 200 and an AdmissionReview response for a well-formed review (the
    Reviewer decides; an error while deciding denies), 400 and an error for anything else."""
    started = time.monotonic()
    try:
        request = admission_request(json.loads(body))
    except (ValueError, RecursionError) as exc:  # MalformedError, or not JSON (UnicodeDecodeError is a ValueError)
        metrics.ADMISSION_REVIEWS.labels("malformed").inc()
        reason = str(exc) if isinstance(exc, MalformedError) else f"the body is not JSON: {str(exc)[:100]}"
        return 400, {"error": f"not an AdmissionReview v1: {reason}"}
    try:
        response = reviewer.review(request)
    except ApiError as exc:  # the API answered badly: fail closed, with the reason
        response = {"allowed": False, "status": {"code": 500, "message": f"cannot check references now: {exc}"}}
    except Exception as exc:  # a rule that cannot judge this object: deny, never allow
        log(LOG, logging.ERROR, "admission review failed", error=repr(exc)[:500], uid=request["uid"])
        response = {"allowed": False, "status": {"code": 500, "message": "the webhook could not judge this object"}}
    response = {**response, "uid": request["uid"], "allowed": response.get("allowed") is True}
    result = "allowed" if response["allowed"] else "denied"
    log(
        LOG,
        logging.DEBUG,
        "admission review",
        result=result,
        operation=request.get("operation"),
        namespace=_cut(request.get("namespace")),
        name=_cut(request.get("name")),
        message=(response.get("status") or {}).get("message", "")[:1000],
    )
    metrics.ADMISSION_REVIEWS.labels(result).inc()
    metrics.ADMISSION_DURATION.observe(time.monotonic() - started)
    return 200, {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}


def serve(
    address: str, reviewer: Reviewer, cert_dir: Path, stop: threading.Event, limits: https.Limits | None = None
) -> https.Server:
    """The webhook on ``address`` (see https.py for its deadlines and limits), with the certificate
    files in ``cert_dir`` reloaded when they change."""
    reloader = CertificateReloader(cert_dir)
    server = https.serve(address, reloader.context, {PATH: lambda body: answer(reviewer, body)}, limits, name="webhook")
    threading.Thread(target=reloader.run, args=(stop,), name="webhook-certs", daemon=True).start()
    return server


def ensure_self_signed(cert_dir: Path, hosts: list[str]) -> bytes:
    """A CA and a serving certificate for ``hosts`` in ``cert_dir`` (tls.crt, tls.key, ca.crt), made
    once; returns the CA certificate (PEM) for the webhook configuration's caBundle."""
    cert_dir.mkdir(parents=True, exist_ok=True)
    if not (cert_dir / "tls.crt").exists():
        ca_crt, ca_key = pki.make_ca(cert_dir, "dpf-hcp-provisioner-webhook-ca")
        pki.make_serving_cert(cert_dir, ca_crt, ca_key, "tls", hosts)
        ca_key.unlink()  # the serving pair is all that is needed; nothing else will be signed
    return (cert_dir / "ca.crt").read_bytes()


def configuration(
    ca_bundle: bytes,
    url: str | None = None,
    service: dict[str, Any] | None = None,
    timeout_seconds: int = 5,
    object_selector: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ValidatingWebhookConfiguration: failurePolicy Fail, sideEffects None, CREATE and UPDATE."""
    client_config: dict[str, Any] = {"caBundle": base64.b64encode(ca_bundle).decode()}
    if url:
        client_config["url"] = url.rstrip("/") + PATH
    elif service:
        client_config["service"] = {**service, "path": PATH}
    else:
        raise ValueError("give the webhook a url or a service")
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "dpf-hcp-provisioner"},
        "webhooks": [
            {
                "name": WEBHOOK_NAME,
                "clientConfig": client_config,
                "rules": [
                    {
                        "apiGroups": ["provisioning.dpu.hcp.io"],
                        "apiVersions": ["v1alpha1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["dpfhcpprovisioners"],
                        "scope": "Namespaced",
                    }
                ],
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": timeout_seconds,
                "matchPolicy": "Equivalent",
                **({"objectSelector": object_selector} if object_selector else {}),
            }
        ],
    }
