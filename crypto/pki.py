"""The federation's X.509 PKI: an offline root CA and one end-entity certificate per node key.

Node signing certificates carry Ed25519 keys, which is what our message signatures need. TLS
certificates (`issue_tls_certificate`: the broker's server certificate, each node's and the hub's
client certificate) carry ECDSA P-256 keys and are issued by the federation's TLS CA, an ECDSA P-256
CA certified by the root (`create_tls_ca`), whose revocation lists RabbitMQ's TLS stack can check;
it cannot check an Ed25519-signed one (docs/pki.md).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from crypto.errors import CertificateError
from crypto.keys import SigningKey, kid_of

# Certificates start a little before `now`, so that a peer whose clock is slightly behind
# does not refuse a certificate issued a moment ago.
BACKDATE = timedelta(minutes=5)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a timezone-aware datetime is required (use UTC)")
    return moment


def _name(common_name: str, federation: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, federation),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_usage(*, signature: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=signature, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                         encipher_only=False, decipher_only=False)


def create_root(federation: str, now: datetime, days: int = 3650) -> tuple[SigningKey, x509.Certificate]:
    """A new root key and its self-signed CA certificate, CN "somex root <federation>"."""
    if not federation:
        raise ValueError("a federation needs a name")
    key = SigningKey.generate()
    name = _name(f"somex root {federation}", federation)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key).serial_number(x509.random_serial_number())
        .not_valid_before(_aware(now) - BACKDATE).not_valid_after(now + timedelta(days=days))
        # path length 1: below the root, only the TLS CA (create_tls_ca) may issue certificates.
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_key_usage(signature=False, ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key), critical=False)
        .sign(key.private_key, None)
    )
    return key, cert


def federation_of(root_cert: x509.Certificate) -> str:
    """The federation name, from the root certificate's O attribute."""
    return str(root_cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value)


def root_public_key(root_cert: x509.Certificate) -> Ed25519PublicKey:
    key = root_cert.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise CertificateError("unsupported_alg", f"the root key is {type(key).__name__}, not Ed25519")
    return key


def issue_certificate(root_key: SigningKey, root_cert: x509.Certificate, node_id: str,
                      public_key: Ed25519PublicKey, now: datetime, days: int = 825, *,
                      not_after: datetime | None = None) -> x509.Certificate:
    """A node certificate: CN = node_id, O = federation, end-entity, digitalSignature, clientAuth.

    Valid `days` from `now`, or until `not_after` (a rotated-out key's end of overlap)."""
    if root_key.kid != kid_of(root_public_key(root_cert)):
        raise ValueError("root_key is not the key of root_cert")
    if not isinstance(public_key, Ed25519PublicKey):
        raise TypeError("node certificates carry Ed25519 public keys")
    if not node_id:
        raise ValueError("a certificate needs a node id")
    return (
        x509.CertificateBuilder().subject_name(_name(node_id, federation_of(root_cert)))
        .issuer_name(root_cert.subject).public_key(public_key).serial_number(x509.random_serial_number())
        .not_valid_before(_aware(now) - BACKDATE).not_valid_after(not_after or now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signature=True, ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key), critical=False)
        .sign(root_key.private_key, None)
    )


def create_tls_ca(root_key: SigningKey, root_cert: x509.Certificate, now: datetime,
                  days: int = 1825) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """The federation's TLS CA: a new ECDSA P-256 key and its CA certificate from the root (path length 0).

    Kept offline with the root key. It issues TLS certificates and signs their revocation lists,
    in ECDSA, which Erlang/OTP's TLS (RabbitMQ) verifies; OTP 25 fails on an Ed25519-signed CRL.
    """
    if root_key.kid != kid_of(root_public_key(root_cert)):
        raise ValueError("root_key is not the key of root_cert")
    key = ec.generate_private_key(ec.SECP256R1())
    federation = federation_of(root_cert)
    cert = (
        x509.CertificateBuilder().subject_name(_name(f"somex TLS CA {federation}", federation))
        .issuer_name(root_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(_aware(now) - BACKDATE).not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signature=False, ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key), critical=False)
        .sign(root_key.private_key, None)
    )
    return key, cert


def _check_tls_ca(ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate) -> None:
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey) or ca_key.public_key() != ca_cert.public_key():
        raise ValueError("ca_key is not the (ECDSA) key of ca_cert")


def issue_tls_certificate(ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, node_id: str,
                          public_key: ec.EllipticCurvePublicKey, now: datetime, *,
                          server_names: Sequence[str] | None = None, days: int = 825) -> x509.Certificate:
    """A TLS certificate from the federation's TLS CA: ECDSA P-256 key, CN = `node_id`.

    A client certificate (clientAuth): the broker takes the CN as the AMQP user (EXTERNAL). With
    `server_names` (DNS names or IP addresses) also a server certificate (serverAuth) with those
    names as subjectAltName, which clients check. Not a signing identity: message signatures stay
    Ed25519 (issue_certificate). Present it with the CA's certificate (`tls_chain_pem`).
    """
    _check_tls_ca(ca_key, ca_cert)
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != "secp256r1":
        raise TypeError("TLS certificates carry ECDSA P-256 public keys")
    if not node_id:
        raise ValueError("a certificate needs a node id (or the broker's name)")
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    builder = (
        x509.CertificateBuilder().subject_name(_name(node_id, federation_of(ca_cert)))
        .issuer_name(ca_cert.subject).public_key(public_key).serial_number(x509.random_serial_number())
        .not_valid_before(_aware(now) - BACKDATE).not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if server_names:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        builder = builder.add_extension(x509.SubjectAlternativeName([general_name(n) for n in server_names]),
                                        critical=False)
    # ECDHE key exchange: an ECDSA key signs the handshake; it never enciphers a key itself.
    return (builder.add_extension(_key_usage(signature=True, ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .sign(ca_key, hashes.SHA256()))


def tls_chain_pem(cert: x509.Certificate, ca_cert: x509.Certificate) -> bytes:
    """What a TLS peer presents: its certificate, then the TLS CA's (the root is the trust anchor)."""
    return (cert_to_pem(cert) + cert_to_pem(ca_cert)).encode("ascii")


def tls_key_from_pem(pem: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("not an ECDSA private key")
    return key


def new_tls_key() -> ec.EllipticCurvePrivateKey:
    """A new ECDSA P-256 private key for a TLS certificate."""
    return ec.generate_private_key(ec.SECP256R1())


def tls_key_to_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def issue_crl(ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, revoked_serials: Iterable[int],
              number: int, now: datetime, next_update: datetime) -> x509.CertificateRevocationList:
    """The TLS CA's X.509 revocation list (certificate serial numbers), for the broker's TLS stack.

    Message-signing keys are revoked by the root's signed revocation list (crypto.directory); this
    is its TLS-side counterpart, in the form TLS stacks read. `number` grows with each list."""
    _check_tls_ca(ca_key, ca_cert)
    if _aware(next_update) <= _aware(now):
        raise ValueError("next_update must be after now")
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject)
               .last_update(now - BACKDATE).next_update(next_update)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
               .add_extension(x509.CRLNumber(number), critical=False))
    for serial in sorted(set(revoked_serials)):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now - BACKDATE).build())
    return builder.sign(ca_key, hashes.SHA256())


def crl_to_pem(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.PEM)


def general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        if not name:
            raise ValueError("an empty server name") from None
        return x509.DNSName(name)


def node_id_of(cert: x509.Certificate) -> str:
    """The node id a certificate names (its CN); '' if it has none."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def is_end_entity_signing_cert(cert: x509.Certificate) -> bool:
    """True for a non-CA certificate whose key usage allows digital signatures."""
    try:
        ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except (x509.ExtensionNotFound, ValueError):
        return False
    return not ca and usage.digital_signature


def check_issued_by(cert: x509.Certificate, root_cert: x509.Certificate) -> None:
    """CertificateError "cert_not_from_root" unless the root's name and signature are on `cert`."""
    if cert.issuer != root_cert.subject:
        raise CertificateError("cert_not_from_root", f"issuer {cert.issuer.rfc4514_string()!r} is not the root")
    try:
        cert.verify_directly_issued_by(root_cert)
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise CertificateError("cert_not_from_root", f"not signed by the federation root ({str(exc) or 'bad signature'})") \
            from None


def check_validity(cert: x509.Certificate, now: datetime) -> None:
    """CertificateError "cert_not_yet_valid" / "cert_expired" outside [notBefore, notAfter]."""
    if _aware(now) < cert.not_valid_before_utc:
        raise CertificateError("cert_not_yet_valid", f"valid from {cert.not_valid_before_utc.isoformat()}",
                               valid_from=cert.not_valid_before_utc)
    if now > cert.not_valid_after_utc:
        raise CertificateError("cert_expired", f"expired {cert.not_valid_after_utc.isoformat()}",
                               valid_until=cert.not_valid_after_utc)


def check_certificate(cert: x509.Certificate, root_cert: x509.Certificate, now: datetime) -> None:
    """Raise CertificateError unless `cert` was issued by the root and is valid at `now`."""
    check_issued_by(cert, root_cert)
    check_validity(cert, now)


def cert_to_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def cert_from_pem(pem: str | bytes) -> x509.Certificate:
    """One PEM certificate; ValueError if it is not one."""
    return x509.load_pem_x509_certificate(pem.encode("ascii") if isinstance(pem, str) else pem)
