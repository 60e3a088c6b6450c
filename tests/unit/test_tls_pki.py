"""TLS certificates from the federation PKI (ECDSA P-256 under a TLS CA the Ed25519 root certifies),
their revocation list, and the broker configuration that uses them."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from broker_config import BrokerSpec, BrokerTls, BrokerUser, render_advanced_config, render_definitions, \
    render_rabbitmq_conf
from crypto.errors import CertificateError
from crypto.keys import SigningKey
from crypto.pki import (
    check_issued_by,
    create_root,
    create_tls_ca,
    issue_crl,
    issue_tls_certificate,
    new_tls_key,
    node_id_of,
    tls_chain_pem,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ROOT_KEY, ROOT = create_root("unit", NOW)
CA_KEY, CA = create_tls_ca(ROOT_KEY, ROOT, NOW)


def _usages(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def test_the_tls_ca_is_certified_by_the_root_and_issues_nothing_but_end_entities() -> None:
    CA.verify_directly_issued_by(ROOT)
    assert CA.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    assert ROOT.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 1
    assert isinstance(CA.public_key(), ec.EllipticCurvePublicKey)


def test_a_client_certificate_names_the_node_and_is_for_client_auth_only() -> None:
    cert = issue_tls_certificate(CA_KEY, CA, "MEX", new_tls_key().public_key(), NOW)
    cert.verify_directly_issued_by(CA)
    assert node_id_of(cert) == "MEX"
    assert _usages(cert) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.public_key().curve.name == "secp256r1"
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)


def test_a_server_certificate_carries_its_names() -> None:
    cert = issue_tls_certificate(CA_KEY, CA, "broker", new_tls_key().public_key(), NOW,
                                 server_names=["broker.example", "10.77.0.1"])
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["broker.example"]
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.77.0.1")]
    assert set(_usages(cert)) == {ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH}


def test_a_tls_certificate_is_not_a_signing_certificate() -> None:
    # Issued by the TLS CA, not the root: the trust store's check for signing keys refuses it.
    cert = issue_tls_certificate(CA_KEY, CA, "MEX", new_tls_key().public_key(), NOW)
    with pytest.raises(CertificateError) as refused:
        check_issued_by(cert, ROOT)
    assert refused.value.reason == "cert_not_from_root"


def test_tls_certificates_take_only_p256_keys_and_the_cas_own_key() -> None:
    with pytest.raises(TypeError):
        issue_tls_certificate(CA_KEY, CA, "MEX", SigningKey.generate().public_key, NOW)
    with pytest.raises(TypeError):
        issue_tls_certificate(CA_KEY, CA, "MEX", ec.generate_private_key(ec.SECP384R1()).public_key(), NOW)
    with pytest.raises(ValueError):
        issue_tls_certificate(new_tls_key(), CA, "MEX", new_tls_key().public_key(), NOW)


def test_the_chain_is_the_certificate_then_the_ca() -> None:
    cert = issue_tls_certificate(CA_KEY, CA, "MEX", new_tls_key().public_key(), NOW)
    assert x509.load_pem_x509_certificates(tls_chain_pem(cert, CA)) == [cert, CA]


def test_the_crl_lists_revoked_serials_signed_by_the_tls_ca() -> None:
    crl = issue_crl(CA_KEY, CA, [7, 9, 7], 3, NOW, NOW + timedelta(days=1))
    assert crl.is_signature_valid(CA.public_key())
    assert sorted(r.serial_number for r in crl) == [7, 9]
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 3
    with pytest.raises(ValueError):
        issue_crl(CA_KEY, CA, [], 4, NOW, NOW)


def test_an_amqps_broker_has_no_plain_listener_and_only_certificate_logins() -> None:
    tls = BrokerTls("/s/tls/ca.crt", "/s/tls/server.crt", "/s/tls/server.key", "/s/tls/crl")
    conf = render_rabbitmq_conf(5671, 15672, admin_user="admin", admin_password="pw", tls=tls, host="10.77.0.1")
    assert "listeners.tcp = none" in conf.splitlines()
    assert "listeners.ssl.default = 10.77.0.1:5671" in conf.splitlines()
    assert "auth_mechanisms.1 = EXTERNAL" in conf.splitlines() and "auth_mechanisms.2" not in conf
    assert "ssl_cert_login_from = common_name" in conf.splitlines()
    assert "management.tcp.ip = 127.0.0.1" in conf.splitlines()  # the operator's API stays on loopback
    advanced = render_advanced_config(tls)
    for option in ("{verify, verify_peer}", "{fail_if_no_peer_cert, true}", "{crl_check, peer}",
                   '"/s/tls/crl"', '{cacertfile, "/s/tls/ca.crt"}'):
        assert option in advanced
    assert render_advanced_config(None) == "[].\n"


def test_tls_paths_that_would_break_the_erlang_terms_are_refused() -> None:
    with pytest.raises(ValueError):
        render_advanced_config(BrokerTls('/s/"ca.crt', "/s/server.crt", "/s/server.key"))
    with pytest.raises(ValueError):
        render_advanced_config(BrokerTls("relative/ca.crt", "/s/server.crt", "/s/server.key"))


def test_certificate_users_have_no_password() -> None:
    spec = BrokerSpec("v", BrokerUser("HUB"), {"MEX": BrokerUser("MEX")})
    users = {u["name"]: u for u in render_definitions(spec)["users"]}
    assert users["HUB"]["password_hash"] == "" and users["MEX"]["password_hash"] == ""
    with pytest.raises(ValueError):
        BrokerSpec("v", BrokerUser("HUB"), {"MEX": BrokerUser("MEX")}, admin_user=BrokerUser("admin"))


def test_a_revocation_list_is_synced_then_its_name_before_install_returns(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from crypto.pki import crl_to_pem
    from nodes.plumbing import rabbit

    seen = []
    real = rabbit.sync_path
    monkeypatch.setattr(rabbit, "sync_path", lambda path: (seen.append((path.name, sorted(
        p.name for p in tmp_path.iterdir() if p.suffix == ".r0"))), real(path)))
    rabbit.install_crl(tmp_path, crl_to_pem(issue_crl(CA_KEY, CA, [5], 1, NOW, NOW + timedelta(days=1))))
    (installed,) = [p.name for p in tmp_path.iterdir()]
    assert seen == [(".incoming.crl.pem", []), (tmp_path.name, [installed])]  # the bytes, then the new name


def test_a_revocation_list_is_installed_under_its_issuers_hash(tmp_path) -> None:  # noqa: ANN001
    from cryptography.hazmat.primitives import serialization

    from crypto.pki import crl_to_pem
    from nodes.plumbing.rabbit import BrokerError, install_crl

    install_crl(tmp_path, crl_to_pem(issue_crl(CA_KEY, CA, [5], 1, NOW, NOW + timedelta(days=1))))
    installed = list(tmp_path.iterdir())
    assert len(installed) == 1 and installed[0].suffix == ".r0" and len(installed[0].stem) == 8
    install_crl(tmp_path, crl_to_pem(issue_crl(CA_KEY, CA, [5, 6], 2, NOW, NOW + timedelta(days=1))))
    assert [p.name for p in tmp_path.iterdir()] == [installed[0].name]  # replaced, not added
    assert sorted(r.serial_number for r in x509.load_pem_x509_crl(installed[0].read_bytes())) == [5, 6]
    with pytest.raises(BrokerError):
        install_crl(tmp_path, CA.public_bytes(serialization.Encoding.PEM))  # a certificate is not a CRL
    assert [p.name for p in tmp_path.iterdir()] == [installed[0].name]
