"""x509 certificate requests as a kubelet makes them (for the stand-in kubelet and the tests)."""

from __future__ import annotations

import base64
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def request_pem(
    common_name: str,
    organizations: list[str],
    dns: list[str] | None = None,
    ips: list[str] | None = None,
    emails: list[str] | None = None,
) -> str:
    """A signed PEM request, base64-encoded as CertificateSigningRequest.spec.request wants it."""
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    names.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names))
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns or []]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips or []]
    sans += [x509.RFC822Name(e) for e in emails or []]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    pem = builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    return base64.b64encode(pem).decode()


def csr_object(name: str, signer: str, request: str, usages: list[str]) -> dict:  # type: ignore[type-arg]
    return {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {"signerName": signer, "request": request, "usages": usages},
    }
