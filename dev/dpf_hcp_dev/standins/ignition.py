"""The HyperShift stand-in's ignition server: HTTPS on 127.0.0.1 with its own CA, answering for a
NodePool's token the way HyperShift's ignition server does (openshift/hypershift
ignition-server/cmd/start.go, run), with the rendered MachineConfig encapsulated in the payload as
MCO appends it (a plain ``data:,`` URL, percent-escaped, uncompressed)."""

from __future__ import annotations

import binascii
import hashlib
import json
import logging
import re
import ssl
import tempfile
import threading
from base64 import b64decode
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.provisioner.ignition import ENCAPSULATED_PATH
from dpf_hcp_operator.pki import make_ca, make_serving_cert

LOG = logging.getLogger("standins.ignition")
# openshift/hypershift ignition-server/cmd/start.go (ignPathPattern).
IGNITION_PATH = re.compile(r"^/ignition[^/ ]*$")


def default_os_image(release_image: str) -> str:
    """The RHCOS image a release would carry (a digest derived from the release, for the stand-in)."""
    return "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + hashlib.sha256(release_image.encode()).hexdigest()


def payload(nodepool: str, release_image: str, ssh_key: str = "") -> dict[str, Any]:
    """An ignition v3 config as HyperShift serves it for a NodePool. The HostedCluster's SSH key
    is the core user's authorized key, in clear in the ignition (HyperShift's machine config
    99-worker-ssh, which the ignition server merges into what it serves: openshift/hypershift
    control-plane-operator/controllers/hostedcontrolplane/ignition/ignition.go, workerSSHConfig)."""
    machine_config = {
        "apiVersion": "machineconfiguration.openshift.io/v1",
        "kind": "MachineConfig",
        "metadata": {"name": f"rendered-{nodepool}"},
        "spec": {"osImageURL": default_os_image(release_image), "config": {"ignition": {"version": "3.2.0"}}},
    }
    # openshift/machine-config-operator pkg/server/server.go (appendEncapsulated, getEncodedContent):
    # "data:," + url.PathEscape(json), no compression; mode 420, overwrite true.
    encapsulated = "data:," + quote(json.dumps(machine_config), safe="")
    return {
        "ignition": {"version": "3.2.0"},
        "passwd": {"users": [{"name": "core", **({"sshAuthorizedKeys": [ssh_key]} if ssh_key else {})}]},
        "storage": {
            "files": [
                {
                    "path": ENCAPSULATED_PATH,
                    "mode": 420,
                    "overwrite": True,
                    "contents": {"source": encapsulated},
                },
                {"path": "/etc/hostname", "mode": 420, "contents": {"source": "data:,dpu"}},
            ]
        },
        "systemd": {"units": [{"name": "kubelet.service", "enabled": True}]},
    }


class IgnitionServer:
    """One HTTPS server for every HostedCluster; each NodePool token maps to what it is served."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="standin-ignition-"))
        ca_crt, ca_key = make_ca(self.directory, "ignition-server-ca")
        crt, key = make_serving_cert(self.directory, ca_crt, ca_key, "server", ["127.0.0.1", "localhost"])
        self.ca_pem = ca_crt.read_text()
        self.tokens: dict[str, tuple[str, str, str]] = {}  # token -> (nodepool, release image, SSH key)
        self._lock = threading.Lock()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(crt, key)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # start.go: any method is served alike
                status, body = server.answer(urlsplit(self.path).path, self.headers.get("Authorization"))
                self.send_response(status)
                if status == 200:
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET  # noqa: N815 - http.server's handler names

            def log_message(self, fmt: str, *args: Any) -> None:
                LOG.debug(fmt, *args)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.endpoint = f"127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, name="ignition-server", daemon=True).start()

    def answer(self, path: str, authorization: str | None) -> tuple[int, bytes]:
        """Status and body for a request, in the order openshift/hypershift
        ignition-server/cmd/start.go (run) checks: the path (``^/ignition[^/ ]*$``, else 404, before
        any auth), the ``Bearer `` prefix (else 401), the value base64-decoded with StdEncoding
        (else 401), a token in the payload cache (else 511 "Token not found", so that Ignition
        backs off and retries)."""
        if not IGNITION_PATH.match(path):
            return 404, b"404 page not found\n"
        if authorization is None or not authorization.startswith("Bearer "):
            return 401, b"Unauthorized\n"
        try:
            token = b64decode(authorization.removeprefix("Bearer "), validate=True).decode()
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return 401, b"Unauthorized\n"
        with self._lock:
            found = self.tokens.get(token)
        if found is None:
            return 511, b"Token not found\n"
        return 200, json.dumps(payload(*found)).encode()

    def register(self, token: str, nodepool: str, release_image: str, ssh_key: str = "") -> None:
        with self._lock:
            self.tokens[token] = (nodepool, release_image, ssh_key)

    def forget(self, token: str) -> None:
        """Drop a token from the cache (PayloadStore.Delete): it gets 511 from then on."""
        with self._lock:
            self.tokens.pop(token, None)

    def stop(self) -> None:
        self.httpd.shutdown()
