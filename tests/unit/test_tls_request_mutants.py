"""Issue 24 (mut24): crypto/tls_request.py, pure: the root operator's check of a server's certificate
request and of a TLS revocation list, each refusal asserted whole (reason code and the words the
operator reads), the size bound on both sides, and a key of the wrong curve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from crypto.errors import CertificateError
from crypto.pki import create_root, create_tls_ca, crl_to_pem, issue_crl, new_tls_key
from crypto.tls_request import (
    MAX_REQUEST_BYTES,
    check_crl,
    check_server_request,
    crl_number,
    issue_server_certificate,
    make_server_request,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
NAMES = ["broker.hub.example", "203.0.113.7"]


@pytest.fixture(scope="module")
def pki() -> tuple:
    root_key, root_cert = create_root("somex-test", NOW)
    ca_key, ca_cert = create_tls_ca(root_key, root_cert, NOW)
    return root_key, root_cert, ca_key, ca_cert


def _refusal(pem: bytes, name: str = "broker", names: list[str] = NAMES) -> tuple[str, str]:
    with pytest.raises(CertificateError) as caught:
        check_server_request(pem, name, names)
    return caught.value.reason, caught.value.detail


def _csr(key, names: list[str] = NAMES, cn: str | None = "broker", algorithm=hashes.SHA256()) -> bytes:  # noqa: ANN001
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else []))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    return builder.sign(key, algorithm).public_bytes(serialization.Encoding.PEM)


def test_a_request_without_a_name_is_not_made() -> None:
    with pytest.raises(ValueError, match="^a server certificate needs at least one DNS name or IP address$"):
        make_server_request(new_tls_key(), "broker", [])


def test_the_request_asks_for_a_non_critical_subject_alternative_name() -> None:
    csr = x509.load_pem_x509_csr(make_server_request(new_tls_key(), "broker", NAMES))
    assert csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical is False


def test_the_size_bound_is_inclusive() -> None:
    pem = make_server_request(new_tls_key(), "broker", NAMES)
    padded = pem + b"\n" * (MAX_REQUEST_BYTES - len(pem))
    assert len(padded) == MAX_REQUEST_BYTES
    assert check_server_request(padded, "broker", NAMES).subject  # PEM may carry trailing blank lines
    assert _refusal(padded + b"\n") == ("malformed_request",
                                        "a server certificate request is a few hundred bytes of PEM")


def test_what_is_not_a_request_is_refused_saying_so() -> None:
    reason, detail = _refusal(b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n")
    assert reason == "malformed_request"
    assert detail.startswith("not a PEM certificate signing request (")


def test_a_request_not_signed_by_its_own_key_is_refused() -> None:
    pem = make_server_request(new_tls_key(), "broker", NAMES)
    der = bytearray(x509.load_pem_x509_csr(pem).public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01  # a bit of the signature
    forged = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)
    assert _refusal(forged) == ("bad_request_signature", "the request is not signed by the key it carries")


@pytest.mark.parametrize("key", [ec.generate_private_key(ec.SECP384R1()), ed25519.Ed25519PrivateKey.generate()],
                         ids=["P-384", "Ed25519"])
def test_a_key_other_than_p256_is_refused(key) -> None:  # noqa: ANN001
    pem = _csr(key, algorithm=None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256())
    assert _refusal(pem) == ("malformed_request", "a TLS key must be ECDSA P-256 (Erlang's TLS and the TLS CA's)")


def test_a_request_for_another_common_name_is_refused_naming_both() -> None:
    assert _refusal(_csr(new_tls_key(), cn="evil")) == ("cert_name_mismatch",
                                                       "the request's CN is ['evil'], not 'broker'")


def test_a_request_for_other_names_is_refused_naming_both_lists() -> None:
    assert _refusal(_csr(new_tls_key(), names=["evil.example"])) == (
        "server_name_mismatch", "the request names ['evil.example'], the server's operator told you "
        "['203.0.113.7', 'broker.hub.example']: sign only for the names you were told")


def test_a_certificate_is_issued_for_the_days_asked_825_by_default(pki: tuple) -> None:
    _, _, ca_key, ca_cert = pki
    pem = make_server_request(new_tls_key(), "broker", NAMES)
    assert issue_server_certificate(ca_key, ca_cert, pem, "broker", NAMES, NOW).not_valid_after_utc == \
        NOW + timedelta(days=825)
    assert issue_server_certificate(ca_key, ca_cert, pem, "broker", NAMES, NOW, days=30).not_valid_after_utc == \
        NOW + timedelta(days=30)


def test_a_crl_not_from_the_tls_ca_or_older_is_refused_saying_why(pki: tuple) -> None:
    root_key, root_cert, ca_key, ca_cert = pki
    installed = issue_crl(ca_key, ca_cert, [1], 5, NOW, NOW + timedelta(days=7))
    other_key, other_cert = create_tls_ca(root_key, root_cert, NOW)
    with pytest.raises(CertificateError) as caught:
        check_crl(crl_to_pem(issue_crl(other_key, other_cert, [], 9, NOW, NOW + timedelta(days=7))), ca_cert,
                  root_cert, installed)
    assert (caught.value.reason, caught.value.detail) == (
        "crl_not_from_tls_ca", "the revocation list is not signed by the federation's TLS CA")
    with pytest.raises(CertificateError) as caught:
        check_crl(crl_to_pem(issue_crl(ca_key, ca_cert, [], 5, NOW, NOW + timedelta(days=7))), ca_cert, root_cert,
                  installed)
    assert (caught.value.reason, caught.value.detail) == (
        "stale_crl", "CRL number 5 is not higher than the installed 5: it would bring revoked certificates back")
    assert crl_number(check_crl(crl_to_pem(issue_crl(ca_key, ca_cert, [], 6, NOW, NOW + timedelta(days=7))), ca_cert,
                                root_cert, installed)) == 6


def test_a_crl_that_is_not_one_is_refused_saying_what_is_expected(pki: tuple) -> None:
    _, root_cert, _, ca_cert = pki
    with pytest.raises(CertificateError) as caught:
        check_crl(b"not a crl", ca_cert, root_cert, None)
    assert caught.value.reason == "malformed_crl"
    assert caught.value.detail.startswith("not a PEM revocation list with a CRL number (")
