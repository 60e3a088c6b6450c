"""Federation PKI: the root CA, node certificates, and the checks that refuse foreign or stale ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from crypto.errors import CertificateError
from crypto.keys import SigningKey, kid_of
from crypto.pki import (
    cert_from_pem,
    cert_to_pem,
    check_certificate,
    create_root,
    issue_certificate,
    node_id_of,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ROOT_KEY, ROOT_CERT = create_root("unit", NOW)


def _issue(node_id: str = "MEX", days: int = 825, root: tuple = (ROOT_KEY, ROOT_CERT)) -> x509.Certificate:
    return issue_certificate(root[0], root[1], node_id, SigningKey.generate().public_key, NOW, days=days)


def test_root_is_a_self_signed_ca() -> None:
    assert ROOT_CERT.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "somex root unit"
    assert ROOT_CERT.issuer == ROOT_CERT.subject
    assert ROOT_CERT.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = ROOT_CERT.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    assert kid_of(ROOT_CERT.public_key()) == ROOT_KEY.kid
    check_certificate(ROOT_CERT, ROOT_CERT, NOW)
    assert ROOT_CERT.not_valid_after_utc >= NOW + timedelta(days=3650)


def test_node_certificate_names_the_node_and_allows_only_signing_and_client_auth() -> None:
    key = SigningKey.generate()
    cert = issue_certificate(ROOT_KEY, ROOT_CERT, "MEX", key.public_key, NOW)
    assert node_id_of(cert) == "MEX"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "unit"
    assert kid_of(cert.public_key()) == key.kid
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == \
        [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.not_valid_after_utc == NOW + timedelta(days=825)
    check_certificate(cert, ROOT_CERT, NOW)


def test_serial_numbers_are_random() -> None:
    assert len({_issue().serial_number for _ in range(5)}) == 5


def test_certificate_from_another_root_is_refused() -> None:
    other_root = create_root("other", NOW)
    with pytest.raises(CertificateError) as caught:
        check_certificate(_issue(root=other_root), ROOT_CERT, NOW)
    assert caught.value.reason == "cert_not_from_root"


def test_certificate_from_an_impostor_root_with_the_same_name_is_refused() -> None:
    impostor = create_root("unit", NOW)
    assert impostor[1].subject == ROOT_CERT.subject
    with pytest.raises(CertificateError) as caught:
        check_certificate(_issue(root=impostor), ROOT_CERT, NOW)
    assert caught.value.reason == "cert_not_from_root"


def test_expired_certificate_is_refused() -> None:
    cert = _issue(days=1)
    check_certificate(cert, ROOT_CERT, NOW + timedelta(days=1))  # notAfter itself is still valid
    with pytest.raises(CertificateError) as caught:
        check_certificate(cert, ROOT_CERT, NOW + timedelta(days=1, seconds=1))
    assert caught.value.reason == "cert_expired"


def test_certificate_not_yet_valid_is_refused() -> None:
    with pytest.raises(CertificateError) as caught:
        check_certificate(_issue(), ROOT_CERT, NOW - timedelta(hours=1))
    assert caught.value.reason == "cert_not_yet_valid"


def test_issuing_with_a_key_that_is_not_the_roots_is_a_bug() -> None:
    with pytest.raises(ValueError):
        issue_certificate(SigningKey.generate(), ROOT_CERT, "MEX", SigningKey.generate().public_key, NOW)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        create_root("unit", datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        check_certificate(_issue(), ROOT_CERT, datetime(2026, 11, 22, 12, 0))


def test_certificate_survives_a_pem_round_trip() -> None:
    cert = _issue()
    pem = cert_to_pem(cert)
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    assert cert_from_pem(pem) == cert == cert_from_pem(pem.encode())
    with pytest.raises(ValueError):
        cert_from_pem("not a certificate")
