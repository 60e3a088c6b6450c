"""TLS server certificates by request (the broker's, or an HTTPS API's) and the TLS CA's revocation
lists, checked before anything is signed or installed. Pure: bytes in, values or CertificateError out.

The server's key is made on the server's host; only a PKCS#10 request travels to the root operator,
who signs it for exactly the names they were told (`check_server_request`), never for names the
request alone asks for.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from crypto.errors import CertificateError
from crypto.pki import check_issued_by, general_name, issue_tls_certificate

MAX_REQUEST_BYTES = 16 * 1024


def make_server_request(key: ec.EllipticCurvePrivateKey, name: str, server_names: Sequence[str]) -> bytes:
    """A PKCS#10 request (PEM), signed by `key`: CN = `name`, subjectAltName = `server_names`."""
    if not server_names:
        raise ValueError("a server certificate needs at least one DNS name or IP address")
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
           .add_extension(x509.SubjectAlternativeName([general_name(n) for n in server_names]), critical=False)
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM)


def _names_of(csr: x509.CertificateSigningRequest) -> set[str]:
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {str(v) for v in san.get_values_for_type(x509.DNSName)} | {
        str(v) for v in san.get_values_for_type(x509.IPAddress)}


def check_server_request(pem: bytes, name: str, server_names: Sequence[str]) -> x509.CertificateSigningRequest:
    """The request, if it is a P-256 PKCS#10 request signed by its own key, for CN `name` and for
    exactly `server_names` (the names the root operator was told over a second channel)."""
    if len(pem) > MAX_REQUEST_BYTES:
        raise CertificateError("malformed_request", "a server certificate request is a few hundred bytes of PEM")
    try:
        csr = x509.load_pem_x509_csr(pem)
        valid = csr.is_signature_valid
        key = csr.public_key()
        common = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except (ValueError, TypeError) as exc:
        raise CertificateError("malformed_request", f"not a PEM certificate signing request ({exc})") from None
    if not valid:
        raise CertificateError("bad_request_signature", "the request is not signed by the key it carries")
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise CertificateError("malformed_request", "a TLS key must be ECDSA P-256 (Erlang's TLS and the TLS CA's)")
    if len(common) != 1 or common[0].value != name:
        raise CertificateError("cert_name_mismatch", f"the request's CN is "
                                                     f"{[c.value for c in common]!r}, not {name!r}")
    given = {str(general_name(n).value) for n in server_names}
    asked = _names_of(csr)
    if not given or asked != given:
        raise CertificateError("server_name_mismatch",
                               f"the request names {sorted(asked)}, the server's operator told you "
                               f"{sorted(given)}: sign only for the names you were told")
    return csr


def issue_server_certificate(ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, pem: bytes, name: str,
                             server_names: Sequence[str], now: datetime, *, days: int = 825) -> x509.Certificate:
    """Check a server's request (`check_server_request`) and issue its certificate from the TLS CA."""
    csr = check_server_request(pem, name, server_names)
    return issue_tls_certificate(ca_key, ca_cert, name, csr.public_key(), now, server_names=list(server_names),
                                 days=days)


def load_crl(pem: bytes) -> x509.CertificateRevocationList:
    try:
        crl = x509.load_pem_x509_crl(pem)
        crl.extensions.get_extension_for_class(x509.CRLNumber)
    except (ValueError, x509.ExtensionNotFound) as exc:
        raise CertificateError("malformed_crl", f"not a PEM revocation list with a CRL number ({exc})") from None
    return crl


def crl_number(crl: x509.CertificateRevocationList) -> int:
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def check_crl(pem: bytes, tls_ca_cert: x509.Certificate, root_cert: x509.Certificate,
              installed: x509.CertificateRevocationList | None) -> x509.CertificateRevocationList:
    """A TLS revocation list fit to replace `installed`: signed by the TLS CA, whose certificate the
    root issued, and with a higher CRL number (an older list would un-revoke certificates)."""
    crl = load_crl(pem)
    check_issued_by(tls_ca_cert, root_cert)
    try:
        if crl.issuer != tls_ca_cert.subject or not crl.is_signature_valid(tls_ca_cert.public_key()):
            raise InvalidSignature
    except (InvalidSignature, TypeError):
        raise CertificateError("crl_not_from_tls_ca", "the revocation list is not signed by the federation's TLS CA")
    if installed is not None and crl_number(crl) <= crl_number(installed):
        raise CertificateError("stale_crl", f"CRL number {crl_number(crl)} is not higher than the installed "
                                            f"{crl_number(installed)}: it would bring revoked certificates back")
    return crl
