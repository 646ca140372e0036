"""The validating admission webhook for DPFHCPProvisioner: AdmissionReview v1 over HTTPS.

No Ansible in the admission path: the rules are plugins/module_utils/admission.py (and
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils import admission, scope
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.kube import ApiError, KubeClient
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.resources import (
    CONFIGMAP,
    DPU_CLUSTER,
    PROVISIONER,
    SECRET,
)
from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.validation import BLUEFIELD_CONFIGMAP
from dpf_hcp_operator import metrics, pki
from dpf_hcp_operator.informers import Informer
from dpf_hcp_operator.logs import log

LOG = logging.getLogger("dpf_hcp_operator.webhook")
PATH = "/validate-dpfhcpprovisioner"
WEBHOOK_NAME = "vdpfhcpprovisioner.provisioning.dpu.hcp.io"


class Reviewer:
    """Decides one AdmissionRequest."""

    def __init__(
        self,
        client: KubeClient,
        operator_namespace: str,
        provisioners: Informer | None = None,
        watch_namespaces: scope.Scope = (),
    ):
        self.client = client
        self.operator_namespace = operator_namespace
        self.provisioners = provisioners
        self.scope = watch_namespaces

    def _provisioners(self) -> list[dict[str, Any]]:
        if self.provisioners is not None and self.provisioners.synced.is_set():
            return self.provisioners.items()
        return scope.list_items(self.client, PROVISIONER, self.scope)

    def review(self, request: dict[str, Any]) -> dict[str, Any]:
        uid = request.get("uid", "")
        obj = request.get("object") or {}
        old = request.get("oldObject") or {}
        operation = request.get("operation")
        if operation not in ("CREATE", "UPDATE") or (request.get("kind") or {}).get("kind") != "DPFHCPProvisioner":
            return {"uid": uid, "allowed": True}
        spec = obj.get("spec")
        if operation == "UPDATE" and (spec == old.get("spec") or (obj.get("metadata") or {}).get("deletionTimestamp")):
            return {"uid": uid, "allowed": True}  # metadata only (labels, finalizers) or being deleted
        problems = admission.check_spec(spec)
        problems += [admission.Problem(f, m) for f, m in scope.problems(obj, self.scope)]
        if operation == "UPDATE":
            problems += admission.check_update(old.get("spec") or {}, spec or {})
        warnings: list[str] = []
        if not problems:
            problems, warnings = self._with_references(obj, old if operation == "UPDATE" else None)
        if problems:
            meta = obj.get("metadata") or {}
            message = (
                f"DPFHCPProvisioner {meta.get('namespace')}/{meta.get('name') or meta.get('generateName')} "
                f"is refused: " + "; ".join(str(p) for p in problems)
            )
            return {
                "uid": uid,
                "allowed": False,
                "warnings": warnings,
                "status": {"code": 422, "reason": "Invalid", "message": message},
            }
        return {"uid": uid, "allowed": True, "warnings": warnings}

    def _with_references(self, obj: dict[str, Any], old: dict[str, Any] | None) -> tuple[list[Any], list[str]]:
        spec = obj.get("spec") or {}
        ns = (obj.get("metadata") or {}).get("namespace", "")
        ref = spec.get("dpuClusterRef") or {}
        configmap = self.client.get_or_none(CONFIGMAP, BLUEFIELD_CONFIGMAP, self.operator_namespace)
        dpucluster = self.client.get_or_none(DPU_CLUSTER, ref["name"], ref["namespace"])
        problems = admission.check_references(
            obj, dpucluster, self._provisioners() if old is None else [], configmap, self.operator_namespace
        )
        if old is not None and (old.get("spec") or {}).get("ocpReleaseImage") == spec.get("ocpReleaseImage"):
            problems = [p for p in problems if p.field != "spec.ocpReleaseImage"]  # not what this update changes
        present = {}
        for field in ("pullSecretRef", "sshKeySecretRef"):
            name = (spec.get(field) or {}).get("name")
            if name:
                present[name] = self.client.get_or_none(SECRET, name, ns) is not None
        return problems, admission.warnings_for(obj, dpucluster is not None, present)


class CertificateReloader:
    """Serve the certificate files in ``cert_dir`` and pick up new ones when they change."""

    def __init__(self, cert_dir: Path, interval: float = 5.0):
        self.cert = cert_dir / "tls.crt"
        self.key = cert_dir / "tls.key"
        self.interval = interval
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
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


def serve(address: str, reviewer: Reviewer, cert_dir: Path, stop: threading.Event) -> ThreadingHTTPServer:
    reloader = CertificateReloader(cert_dir)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            started = time.monotonic()
            if self.path.split("?")[0] != PATH:
                self._send(404, {"error": f"no webhook at {self.path}"})
                return
            try:
                length = int(self.headers.get("Content-Length", "0"))
                review = json.loads(self.rfile.read(length))
                response = reviewer.review(review.get("request") or {})
            except (ValueError, KeyError, TypeError) as exc:
                self._send(400, {"error": f"not an AdmissionReview: {exc}"})
                return
            except ApiError as exc:  # the API answered badly: fail closed, with the reason
                response = {
                    "uid": (review.get("request") or {}).get("uid", ""),
                    "allowed": False,
                    "status": {"code": 500, "message": f"cannot check references now: {exc}"},
                }
            result = "allowed" if response.get("allowed") else "denied"
            request = review.get("request") or {}
            log(
                LOG,
                logging.DEBUG,
                "admission review",
                result=result,
                operation=request.get("operation"),
                namespace=request.get("namespace"),
                name=request.get("name"),
                message=(response.get("status") or {}).get("message", ""),
            )
            metrics.ADMISSION_REVIEWS.labels(result).inc()
            metrics.ADMISSION_DURATION.observe(time.monotonic() - started)
            self._send(200, {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response})

        def _send(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            return

    host, _, port = address.rpartition(":")
    server = ThreadingHTTPServer((host or "0.0.0.0", int(port)), Handler)  # noqa: S104 - reached through a Service
    server.socket = reloader.context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, name="webhook", daemon=True).start()
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
