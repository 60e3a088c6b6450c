"""The federation's X.509 PKI: an offline root CA and one certificate per node key."""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from crypto.errors import CertificateError
from crypto.keys import SigningKey


def _name(common_name: str, federation: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, federation),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def create_root(federation: str, now: datetime, days: int = 3650) -> tuple[SigningKey, x509.Certificate]:
    key = SigningKey.generate()
    name = _name(f"somex root {federation}", federation)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .sign(key.private_key, None)
    )
    return key, cert


def issue_certificate(root_key: SigningKey, root_cert: x509.Certificate, node_id: str,
                      public_key: Ed25519PublicKey, now: datetime, days: int = 825) -> x509.Certificate:
    federation = root_cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    return (
        x509.CertificateBuilder().subject_name(_name(node_id, str(federation)))
        .issuer_name(root_cert.subject).public_key(public_key).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(root_key.private_key, None)
    )


def node_id_of(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def check_issued_by(cert: x509.Certificate, root_cert: x509.Certificate) -> None:
    if cert.issuer != root_cert.subject:
        raise CertificateError("cert_not_from_root", f"issuer {cert.issuer.rfc4514_string()} is not the root")
    try:
        cert.verify_directly_issued_by(root_cert)
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise CertificateError("cert_not_from_root", f"not signed by the federation root: {exc}") from None


def check_validity(cert: x509.Certificate, now: datetime) -> None:
    if now < cert.not_valid_before_utc:
        raise CertificateError("cert_not_yet_valid", f"valid from {cert.not_valid_before_utc.isoformat()}")
    if now > cert.not_valid_after_utc:
        raise CertificateError("cert_expired", f"expired {cert.not_valid_after_utc.isoformat()}")


def check_certificate(cert: x509.Certificate, root_cert: x509.Certificate, now: datetime) -> None:
    check_issued_by(cert, root_cert)
    check_validity(cert, now)


def cert_to_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def cert_from_pem(pem: str | bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode("ascii") if isinstance(pem, str) else pem)
