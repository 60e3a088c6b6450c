"""Issue 15: the broker's TLS server key is made on the broker's host, the root signs its request for
exactly the names it was told, the broker host installs the answer; revoking a key or removing a
member also puts its TLS certificate on the TLS CA's CRL, which the broker installs only if newer
and signed by the TLS CA."""

from __future__ import annotations

import base64
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from crypto.errors import CertificateError, JoinError
from crypto.keys import kid_of
from crypto.pki import cert_from_pem, crl_to_pem, issue_crl
from crypto.tls_request import check_crl, check_server_request, load_crl, make_server_request
from nodes.app import ceremony
from nodes.app.cli import main
from nodes.plumbing.federation import BROKER_DIR, TLS_CERT_FILE, TLS_CRL_FILE, TLS_KEY_FILE, load_federation
from nodes.app.root_operator import remove_member, revoke, tls_ca
from nodes.app.ceremony import init_federation

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
NAMES = ["broker.hub.example", "203.0.113.7"]


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fed") / "federation"
    init_federation(path, "somex-test", ["MEX", "IDN", "ITA"], NOW)
    return path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _root(fed: Path) -> x509.Certificate:
    return cert_from_pem((fed / "root" / "root.crt").read_bytes())


def _revoked_serials(crl_file: Path) -> set[int]:
    return {r.serial_number for r in x509.load_pem_x509_crl(crl_file.read_bytes())}


def test_the_broker_key_stays_on_its_host_private_and_the_signed_certificate_names_what_was_told(
        fed: Path, tmp_path: Path) -> None:
    host = tmp_path / "broker-host" / "broker"
    request = ceremony.request_server_certificate(host, NAMES)
    assert _mode(host) == 0o700 and _mode(host / TLS_KEY_FILE) == 0o600
    assert b"PRIVATE" not in request and (host / ceremony.SERVER_REQUEST_FILE).read_bytes() == request
    chain = ceremony.sign_server_certificate(fed, request, NAMES, NOW)
    ceremony.install_server_certificate(host, chain, _root(fed), NOW)
    cert = x509.load_pem_x509_certificates((host / TLS_CERT_FILE).read_bytes())[0]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(map(str, san.get_values_for_type(x509.DNSName) + san.get_values_for_type(x509.IPAddress))) == \
        sorted(NAMES)
    assert _mode(host / TLS_CERT_FILE) == 0o600
    with pytest.raises(FileExistsError):  # a second request never overwrites the key in use
        ceremony.request_server_certificate(host, NAMES)


def test_federation_init_made_its_broker_key_through_the_same_ceremony(fed: Path) -> None:
    broker = fed / BROKER_DIR
    assert (broker / ceremony.SERVER_REQUEST_FILE).is_file()  # the request step's file: no second path
    check_server_request((broker / ceremony.SERVER_REQUEST_FILE).read_bytes(), "broker", ["localhost", "127.0.0.1"])


def test_a_request_for_a_name_the_root_was_not_told_is_refused(fed: Path, tmp_path: Path) -> None:
    request = ceremony.request_server_certificate(tmp_path / "b", [*NAMES, "evil.example"])
    with pytest.raises(CertificateError) as refused:
        ceremony.sign_server_certificate(fed, request, NAMES, NOW)
    assert refused.value.reason == "server_name_mismatch"
    request = ceremony.request_server_certificate(tmp_path / "c", NAMES, name="MEX")  # a client's CN
    with pytest.raises(CertificateError) as refused:
        ceremony.sign_server_certificate(fed, request, NAMES, NOW)
    assert refused.value.reason == "cert_name_mismatch"


def test_a_request_whose_signature_does_not_verify_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    der = bytearray(x509.load_pem_x509_csr(make_server_request(key, "broker", NAMES)).public_bytes(Encoding.DER))
    der[-3] ^= 0x01  # a bit of the signature's s value: still a well-formed request
    pem = b"-----BEGIN CERTIFICATE REQUEST-----\n" + base64.encodebytes(bytes(der)) + \
        b"-----END CERTIFICATE REQUEST-----\n"
    with pytest.raises(CertificateError) as refused:
        check_server_request(pem, "broker", NAMES)
    assert refused.value.reason == "bad_request_signature"
    with pytest.raises(CertificateError) as refused:
        check_server_request(b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
                             "broker", NAMES)
    assert refused.value.reason == "malformed_request"


def test_a_certificate_for_another_key_is_not_installed(fed: Path, tmp_path: Path) -> None:
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    ceremony.request_server_certificate(mine, NAMES)
    chain = ceremony.sign_server_certificate(fed, ceremony.request_server_certificate(theirs, NAMES), NAMES, NOW)
    with pytest.raises(JoinError) as refused:
        ceremony.install_server_certificate(mine, chain, _root(fed), NOW)
    assert refused.value.reason == "bundle_mismatch" and not (mine / TLS_CERT_FILE).exists()


def test_revoking_a_key_puts_the_tls_certificate_admitted_with_it_on_the_crl(tmp_path: Path) -> None:
    path = tmp_path / "f"
    init_federation(path, "somex-test", ["MEX", "IDN"], NOW)
    federation = load_federation(path, NOW)
    mex_tls = x509.load_pem_x509_certificates((path / "nodes" / "MEX" / TLS_CERT_FILE).read_bytes())[0]
    idn_tls = x509.load_pem_x509_certificates((path / "nodes" / "IDN" / TLS_CERT_FILE).read_bytes())[0]
    before = load_crl((path / TLS_CRL_FILE).read_bytes())
    revoked = revoke(path, kid_of(federation.credentials("MEX").certificate.public_key()), NOW)
    assert [c.serial_number for c in revoked] == [mex_tls.serial_number]
    assert _revoked_serials(path / TLS_CRL_FILE) == {mex_tls.serial_number}
    after = check_crl((path / TLS_CRL_FILE).read_bytes(), tls_ca(path)[1], federation.root_cert, before)
    assert idn_tls.serial_number not in {r.serial_number for r in after}
    remove_member(path, "IDN", NOW + timedelta(seconds=1))  # removing a member revokes its TLS certificates
    assert _revoked_serials(path / TLS_CRL_FILE) == {mex_tls.serial_number, idn_tls.serial_number}


def test_an_older_crl_or_one_not_from_the_tls_ca_is_refused(fed: Path, tmp_path: Path) -> None:
    ca_key, ca_cert = tls_ca(fed)
    installed = issue_crl(ca_key, ca_cert, [7], 5, NOW, NOW + timedelta(days=1))
    older = crl_to_pem(issue_crl(ca_key, ca_cert, [], 5, NOW, NOW + timedelta(days=1)))
    with pytest.raises(CertificateError) as refused:
        check_crl(older, ca_cert, _root(fed), installed)
    assert refused.value.reason == "stale_crl"
    init_federation(tmp_path / "other", "somex-test", ["MEX"], NOW)
    other_key, other_ca = tls_ca(tmp_path / "other")
    foreign = crl_to_pem(issue_crl(other_key, other_ca, [], 9, NOW, NOW + timedelta(days=1)))
    with pytest.raises(CertificateError) as refused:
        check_crl(foreign, ca_cert, _root(fed), installed)
    assert refused.value.reason == "crl_not_from_tls_ca"
    with pytest.raises(CertificateError) as refused:  # another root's TLS CA is not this federation's
        check_crl(foreign, other_ca, _root(fed), installed)
    assert refused.value.reason == "cert_not_from_root"
    with pytest.raises(CertificateError) as refused:
        check_crl(b"not a crl", ca_cert, _root(fed), installed)
    assert refused.value.reason == "malformed_crl"


def test_the_cli_ceremony_and_a_wrong_name_is_one_line(fed: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    host = tmp_path / "state"
    assert main(["--state-dir", str(host), "broker", "tls-request", "--names", "localhost,127.0.0.1"]) == 0
    request = host / "federation" / BROKER_DIR / ceremony.SERVER_REQUEST_FILE
    out = tmp_path / "broker.crt"
    assert main(["federation", "sign-server", str(request), "--root", str(fed), "--names", "localhost",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "server_name_mismatch" in err and len(err.strip().splitlines()) == 1 and not out.exists()
    assert main(["federation", "sign-server", str(request), "--root", str(fed), "--names", "127.0.0.1,localhost",
                 "--out", str(out)]) == 0
    assert main(["--state-dir", str(host), "broker", "tls-install", str(out),
                 "--root-cert", str(fed / "root" / "root.crt")]) == 0
    assert (host / "federation" / BROKER_DIR / TLS_CERT_FILE).read_bytes() == out.read_bytes()
