"""x509 certificate requests as a kubelet makes them (for the stand-in kubelet and the tests), and
client certificates as HyperShift issues them."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def request_pem(
    common_name: str,
    organizations: list[str],
    dns: list[str] | None = None,
    ips: list[str] | None = None,
    emails: list[str] | None = None,
    key: Any = None,
    raw: bool = False,
    extra_subject: list[x509.NameAttribute] | None = None,
    extensions: list[x509.ExtensionType] | None = None,
) -> str:
    """A signed PEM request, base64-encoded as CertificateSigningRequest.spec.request wants it
    (``raw``: the PEM text itself). ``key``: the private key, an ECDSA P-256 one as a kubelet makes
    by default."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    names.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    names += extra_subject or []
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names))
    for extension in extensions or []:
        builder = builder.add_extension(extension, critical=False)
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns or []]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips or []]
    sans += [x509.RFC822Name(e) for e in emails or []]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    algorithm = None if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)) else hashes.SHA256()
    pem = builder.sign(key, algorithm).public_bytes(serialization.Encoding.PEM)
    return pem.decode() if raw else base64.b64encode(pem).decode()


def csr_object(name: str, signer: str, request: str, usages: list[str]) -> dict:  # type: ignore[type-arg]
    return {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {"signerName": signer, "request": request, "usages": usages},
    }


def client_certificate(ca_crt: bytes, ca_key: bytes, common_name: str, organizations: list[str]) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) for a client, signed by the CA, e.g. HyperShift's system:admin
    (hypershift control-plane-operator/controllers/hostedcontrolplane/pki/kas.go,
    ReconcileSystemAdminClientCertSecret: CN system:admin, O system:masters, client auth)."""
    ca_cert = x509.load_pem_x509_certificate(ca_crt)
    ca_private = serialization.load_pem_private_key(ca_key, None)
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    names.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(names))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_private, hashes.SHA256())  # type: ignore[arg-type]
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem
