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


# -- the exact certificate profiles and the words of each refusal (issue 24) ------------------------

import re  # noqa: E402

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from crypto.pki import (  # noqa: E402
    BACKDATE,
    check_issued_by,
    check_validity,
    create_tls_ca,
    crl_to_pem,
    federation_of,
    is_end_entity_signing_cert,
    issue_crl,
    issue_tls_certificate,
    new_tls_key,
    root_public_key,
    tls_key_from_pem,
    tls_key_to_pem,
)

TLS_CA_KEY, TLS_CA = create_tls_ca(ROOT_KEY, ROOT_CERT, NOW)


def _usage(*, signature: bool = False, ca: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=signature, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                         encipher_only=False, decipher_only=False)


def _extension(cert: x509.Certificate, kind: type) -> x509.Extension:
    return cert.extensions.get_extension_for_class(kind)


def _names(cert: x509.Certificate) -> tuple[str, str]:
    return (cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value,
            cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def _exactly(message: str) -> str:
    return f"^{re.escape(message)}$"


def test_the_root_may_sign_certificates_and_revocations_only_and_one_ca_below_it() -> None:
    key, root = create_root("fed", NOW, days=10)
    assert _names(root) == ("fed", "somex root fed") and federation_of(root) == "fed"
    assert root.not_valid_before_utc == NOW - BACKDATE and root.not_valid_after_utc == NOW + timedelta(days=10)
    constraints = _extension(root, x509.BasicConstraints)
    assert constraints.critical and constraints.value == x509.BasicConstraints(ca=True, path_length=1)
    usage = _extension(root, x509.KeyUsage)
    assert usage.critical and usage.value == _usage(ca=True)
    assert _extension(root, x509.SubjectKeyIdentifier).value == \
        x509.SubjectKeyIdentifier.from_public_key(key.public_key)
    assert not is_end_entity_signing_cert(root)
    assert create_root("fed", NOW)[1].not_valid_after_utc == NOW + timedelta(days=3650)  # the default: ten years


def test_only_the_constraints_and_key_usages_are_critical() -> None:
    """A relying party must refuse a certificate whose critical extension it does not know: only the
    two every X.509 library knows are critical."""
    root_key, root = create_root("fed", NOW)  # built here, not at import: mutation testing mutates calls in tests
    ca_key, ca = create_tls_ca(root_key, root, NOW)
    node = issue_certificate(root_key, root, "MEX", SigningKey.generate().public_key, NOW)
    tls = issue_tls_certificate(ca_key, ca, "b", new_tls_key().public_key(), NOW, server_names=["b.example"])
    for cert in (root, node, ca, tls):
        critical = {type(e.value) for e in cert.extensions if e.critical}
        assert critical == {x509.BasicConstraints, x509.KeyUsage}


def test_a_node_certificate_allows_digital_signatures_only_and_names_its_issuer_key() -> None:
    key = SigningKey.generate()
    cert = issue_certificate(ROOT_KEY, ROOT_CERT, "MEX", key.public_key, NOW, days=3)
    assert cert.issuer == ROOT_CERT.subject and _names(cert) == ("unit", "MEX")
    assert cert.not_valid_before_utc == NOW - BACKDATE and cert.not_valid_after_utc == NOW + timedelta(days=3)
    constraints = _extension(cert, x509.BasicConstraints)
    assert constraints.critical and constraints.value == x509.BasicConstraints(ca=False, path_length=None)
    usage = _extension(cert, x509.KeyUsage)
    assert usage.critical and usage.value == _usage(signature=True)
    assert not _extension(cert, x509.ExtendedKeyUsage).critical
    assert _extension(cert, x509.SubjectKeyIdentifier).value == \
        x509.SubjectKeyIdentifier.from_public_key(key.public_key)
    assert _extension(cert, x509.AuthorityKeyIdentifier).value == \
        x509.AuthorityKeyIdentifier.from_issuer_public_key(ROOT_KEY.public_key)
    assert is_end_entity_signing_cert(cert)


def test_a_rotated_out_key_is_certified_until_its_overlap_ends() -> None:
    end = NOW + timedelta(days=2, hours=3)
    cert = issue_certificate(ROOT_KEY, ROOT_CERT, "MEX", SigningKey.generate().public_key, NOW, not_after=end)
    assert cert.not_valid_after_utc == end


def test_the_tls_ca_signs_certificates_and_revocations_only_under_the_root() -> None:
    ca_key, ca = create_tls_ca(ROOT_KEY, ROOT_CERT, NOW)  # built in the test, where mutation testing reaches it
    assert _names(ca) == ("unit", "somex TLS CA unit") and ca.issuer == ROOT_CERT.subject
    assert ca.not_valid_before_utc == NOW - BACKDATE
    assert create_tls_ca(ROOT_KEY, ROOT_CERT, NOW)[1].not_valid_after_utc == NOW + timedelta(days=1825)
    assert create_tls_ca(ROOT_KEY, ROOT_CERT, NOW, days=2)[1].not_valid_after_utc == NOW + timedelta(days=2)
    constraints = _extension(ca, x509.BasicConstraints)
    assert constraints.critical and constraints.value == x509.BasicConstraints(ca=True, path_length=0)
    usage = _extension(ca, x509.KeyUsage)
    assert usage.critical and usage.value == _usage(ca=True)
    assert _extension(ca, x509.SubjectKeyIdentifier).value == \
        x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    assert _extension(ca, x509.AuthorityKeyIdentifier).value == \
        x509.AuthorityKeyIdentifier.from_issuer_public_key(ROOT_KEY.public_key)
    assert not is_end_entity_signing_cert(ca)


def test_a_tls_certificate_is_an_ecdsa_signed_end_entity_for_handshakes_only() -> None:
    key = new_tls_key()
    cert = issue_tls_certificate(TLS_CA_KEY, TLS_CA, "MEX", key.public_key(), NOW, days=4)
    cert.verify_directly_issued_by(TLS_CA)
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    assert cert.issuer == TLS_CA.subject and _names(cert) == ("unit", "MEX")
    assert cert.not_valid_before_utc == NOW - BACKDATE and cert.not_valid_after_utc == NOW + timedelta(days=4)
    constraints = _extension(cert, x509.BasicConstraints)
    assert constraints.critical and constraints.value == x509.BasicConstraints(ca=False, path_length=None)
    usage = _extension(cert, x509.KeyUsage)
    assert usage.critical and usage.value == _usage(signature=True)
    assert not _extension(cert, x509.ExtendedKeyUsage).critical
    assert _extension(cert, x509.SubjectKeyIdentifier).value == \
        x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    assert _extension(cert, x509.AuthorityKeyIdentifier).value == \
        x509.AuthorityKeyIdentifier.from_issuer_public_key(TLS_CA_KEY.public_key())
    server = issue_tls_certificate(TLS_CA_KEY, TLS_CA, "broker", key.public_key(), NOW, server_names=["b.example"])
    assert not _extension(server, x509.SubjectAlternativeName).critical
    assert issue_tls_certificate(TLS_CA_KEY, TLS_CA, "MEX", key.public_key(), NOW).not_valid_after_utc == \
        NOW + timedelta(days=825)


def test_the_tls_revocation_list_is_dated_and_names_its_issuer_key() -> None:
    later = NOW + timedelta(days=1)
    crl = issue_crl(TLS_CA_KEY, TLS_CA, [5], 2, NOW, later)
    assert crl.issuer == TLS_CA.subject and isinstance(crl.signature_hash_algorithm, hashes.SHA256)
    assert crl.last_update_utc == NOW - BACKDATE and crl.next_update_utc == later
    assert _extension(crl, x509.AuthorityKeyIdentifier).value == \
        x509.AuthorityKeyIdentifier.from_issuer_public_key(TLS_CA_KEY.public_key())
    assert not _extension(crl, x509.CRLNumber).critical and not _extension(crl, x509.AuthorityKeyIdentifier).critical
    assert [r.revocation_date_utc for r in crl] == [NOW - BACKDATE]
    assert x509.load_pem_x509_crl(crl_to_pem(crl)) == crl


def test_a_tls_key_survives_a_pem_round_trip_and_only_an_ecdsa_key_loads() -> None:
    key = new_tls_key()
    assert key.curve.name == "secp256r1"
    assert tls_key_from_pem(tls_key_to_pem(key)).private_numbers() == key.private_numbers()
    assert b"ENCRYPTED" not in tls_key_to_pem(key) and tls_key_to_pem(key).startswith(b"-----BEGIN PRIVATE KEY")
    with pytest.raises(ValueError, match=_exactly("not an ECDSA private key")):
        tls_key_from_pem(ROOT_KEY.to_pem())


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: create_root("", NOW), ValueError, "a federation needs a name"),
    (lambda: create_root("unit", datetime(2026, 1, 1)), ValueError, "a timezone-aware datetime is required (use UTC)"),
    (lambda: issue_certificate(SigningKey.generate(), ROOT_CERT, "MEX", SigningKey.generate().public_key, NOW),
     ValueError, "root_key is not the key of root_cert"),
    (lambda: issue_certificate(ROOT_KEY, ROOT_CERT, "MEX", new_tls_key().public_key(), NOW),
     TypeError, "node certificates carry Ed25519 public keys"),
    (lambda: issue_certificate(ROOT_KEY, ROOT_CERT, "", SigningKey.generate().public_key, NOW),
     ValueError, "a certificate needs a node id"),
    (lambda: create_tls_ca(SigningKey.generate(), ROOT_CERT, NOW), ValueError, "root_key is not the key of root_cert"),
    (lambda: issue_tls_certificate(new_tls_key(), TLS_CA, "MEX", new_tls_key().public_key(), NOW),
     ValueError, "ca_key is not the (ECDSA) key of ca_cert"),
    (lambda: issue_tls_certificate(TLS_CA_KEY, TLS_CA, "MEX", SigningKey.generate().public_key, NOW),
     TypeError, "TLS certificates carry ECDSA P-256 public keys"),
    (lambda: issue_tls_certificate(TLS_CA_KEY, TLS_CA, "", new_tls_key().public_key(), NOW),
     ValueError, "a certificate needs a node id (or the broker's name)"),
    (lambda: issue_tls_certificate(TLS_CA_KEY, TLS_CA, "b", new_tls_key().public_key(), NOW, server_names=[""]),
     ValueError, "an empty server name"),
    (lambda: issue_crl(TLS_CA_KEY, TLS_CA, [], 1, NOW, NOW), ValueError, "next_update must be after now"),
    (lambda: issue_crl(TLS_CA_KEY, TLS_CA, [], 1, NOW, datetime(2027, 1, 1)), ValueError,
     "a timezone-aware datetime is required (use UTC)"),
], ids=["empty-federation", "naive-now", "not-the-roots-key", "ecdsa-node-key", "empty-node-id", "tls-ca-wrong-root",
        "tls-wrong-ca-key", "tls-ed25519-key", "tls-empty-name", "tls-empty-server-name", "crl-empty-window",
        "crl-naive"])
def test_issuing_wrongly_is_a_bug_named_exactly(call, error: type, message: str) -> None:  # noqa: ANN001
    with pytest.raises(error, match=_exactly(message)):
        call()


def test_a_root_certificate_without_an_ed25519_key_is_an_unsupported_algorithm() -> None:
    with pytest.raises(CertificateError) as caught:
        root_public_key(TLS_CA)
    assert (caught.value.reason, caught.value.detail) == (
        "unsupported_alg", f"the root key is {type(TLS_CA.public_key()).__name__}, not Ed25519")
    assert root_public_key(ROOT_CERT) == ROOT_KEY.public_key


def _bare(extensions: list[x509.ExtensionType], common_name: str | None = "MEX") -> x509.Certificate:
    """A certificate signed by the root with only the given extensions (not something the root issues)."""
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "unit")]
    if common_name is not None:
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    builder = (x509.CertificateBuilder().subject_name(x509.Name(attributes)).issuer_name(ROOT_CERT.subject)
               .public_key(SigningKey.generate().public_key).serial_number(x509.random_serial_number())
               .not_valid_before(NOW).not_valid_after(NOW + timedelta(days=1)))
    for extension in extensions:
        builder = builder.add_extension(extension, critical=True)
    return builder.sign(ROOT_KEY.private_key, None)


def test_only_a_non_ca_certificate_for_digital_signatures_is_a_signing_certificate() -> None:
    end_entity = x509.BasicConstraints(ca=False, path_length=None)
    assert is_end_entity_signing_cert(_bare([end_entity, _usage(signature=True)]))
    assert not is_end_entity_signing_cert(_bare([end_entity, _usage(signature=False, ca=False)]))
    assert not is_end_entity_signing_cert(_bare([x509.BasicConstraints(ca=True, path_length=None),
                                                 _usage(signature=True)]))
    assert not is_end_entity_signing_cert(_bare([end_entity]))
    assert not is_end_entity_signing_cert(_bare([_usage(signature=True)]))


def test_a_certificate_without_a_common_name_names_no_node() -> None:
    assert node_id_of(_bare([], common_name=None)) == ""
    assert node_id_of(_bare([])) == "MEX"


def test_a_certificate_not_from_the_root_says_whether_the_name_or_the_signature_is_wrong() -> None:
    other = _issue(root=create_root("other", NOW))
    with pytest.raises(CertificateError) as caught:
        check_issued_by(other, ROOT_CERT)
    assert (caught.value.reason, caught.value.detail) == (
        "cert_not_from_root", f"issuer {other.issuer.rfc4514_string()!r} is not the root")
    impostor = _issue(root=create_root("unit", NOW))
    with pytest.raises(CertificateError) as caught:
        check_issued_by(impostor, ROOT_CERT)
    assert (caught.value.reason, caught.value.detail) == (
        "cert_not_from_root", "not signed by the federation root (bad signature)")  # not "()"


def test_a_certificate_outside_its_validity_says_when_it_is_valid() -> None:
    cert = _issue(days=1)
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    check_validity(cert, start)
    check_validity(cert, end)
    with pytest.raises(CertificateError) as caught:
        check_validity(cert, start - timedelta(seconds=1))
    assert (caught.value.reason, caught.value.detail, caught.value.valid_from) == (
        "cert_not_yet_valid", f"valid from {start.isoformat()}", start)
    with pytest.raises(CertificateError) as caught:
        check_validity(cert, end + timedelta(seconds=1))
    assert (caught.value.reason, caught.value.detail, caught.value.valid_until) == (
        "cert_expired", f"expired {end.isoformat()}", end)
    with pytest.raises(ValueError, match=_exactly("a timezone-aware datetime is required (use UTC)")):
        check_validity(cert, datetime(2026, 11, 22, 12, 0))


def test_a_pem_certificate_is_read_from_text_or_bytes_and_written_as_ascii_text() -> None:
    pem = cert_to_pem(ROOT_CERT)
    assert isinstance(pem, str) and pem.endswith("-----END CERTIFICATE-----\n")
    assert pem.encode() == ROOT_CERT.public_bytes(serialization.Encoding.PEM)
    assert cert_from_pem(pem.encode("ascii")) == ROOT_CERT == cert_from_pem(pem)
    assert isinstance(TLS_CA_KEY, ec.EllipticCurvePrivateKey)


def test_a_time_whose_zone_has_no_offset_is_not_timezone_aware() -> None:
    from datetime import tzinfo

    class NoOffset(tzinfo):
        def utcoffset(self, dt: datetime | None) -> None:
            return None

    with pytest.raises(ValueError, match=_exactly("a timezone-aware datetime is required (use UTC)")):
        check_validity(_issue(), datetime(2026, 11, 22, tzinfo=NoOffset()))
