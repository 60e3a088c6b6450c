"""Issue 24 (mutA): crypto/join.py's survivors. What the root operator reads when a join request is
refused (reason code and detail, each asserted whole: the field that failed to decode, a CSR with
another key type, a CSR not signed by its own key, a CSR naming no node or two), a rotation at the
very second an old certificate ends, and the words a node reads when its bundle holds a certificate
for a long name. Requests are built inside the tests: one built when the module is imported is
built before a mutant is active."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from crypto.join import admit, load_join_request
from crypto.pki import issue_tls_certificate, tls_chain_pem
from tests.unit.test_join import (
    HUB,
    MEX,
    NOW,
    ROOT_CERT,
    ROOT_KEY,
    TLS_CA,
    Node,
    _bundle,
    _check,
    _join_error,
    _resigned,
)


def _refusal(raw: bytes) -> tuple[str, str]:
    error = _join_error(lambda: load_join_request(raw))
    return error.reason, error.detail


def _edited(edit: Any) -> bytes:
    """MEX's request with its outer object edited (nothing re-signed: the edit is refused before)."""
    outer = json.loads(MEX.request)
    edit(outer)
    return rfc8785.dumps(outer)


def _csr(names: list[str], key: Any) -> str:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name) for name in names]))
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm).public_bytes(serialization.Encoding.PEM).decode()


# -- a malformed request names the part that is wrong ---------------------------------------------

@pytest.mark.parametrize(("field", "label"), [
    ("sealing_key", "sealing_key"), ("hybrid_sealing_key", "hybrid_sealing_key")])
def test_a_sealing_key_that_is_not_base64_is_named(field: str, label: str) -> None:
    raw = _resigned(MEX.request, {field: "!"}, MEX.signing)
    assert _refusal(raw) == ("malformed_request", f"not a join request: {label} is not base64")


def test_a_signature_value_that_is_not_base64_is_named() -> None:
    def edit(outer: dict) -> None:
        outer["sig"]["value"] = "!"
    assert _refusal(_edited(edit)) == ("malformed_request", "not a join request: sig.value is not base64")


def test_a_request_whose_outer_object_or_signature_has_other_members_says_which() -> None:
    def extra(outer: dict) -> None:
        outer["x"] = 1

    def no_value(outer: dict) -> None:
        del outer["sig"]["value"]

    def sig_not_object(outer: dict) -> None:
        outer["sig"] = 1

    def request_not_object(outer: dict) -> None:
        outer["join_request"] = 1

    assert _refusal(_edited(extra)) == (
        "malformed_request", "not a join request: join request: unknown members ['x'], missing []")
    assert _refusal(_edited(no_value)) == (
        "malformed_request", "not a join request: sig: unknown members [], missing ['value']")
    assert _refusal(_edited(sig_not_object)) == ("malformed_request", "not a join request: sig must be an object")
    assert _refusal(_edited(request_not_object)) == (
        "malformed_request", "not a join request: join_request must be an object")


def test_a_csr_or_tls_key_with_non_ascii_text_is_malformed() -> None:
    for field in ("csr", "tls_public_key"):
        raw = _resigned(MEX.request, {field: "é"}, MEX.signing)
        assert _refusal(raw) == ("malformed_request", "not a join request: 'ascii' codec can't encode character "
                                                      "'\\xe9' in position 0: ordinal not in range(128)")


def test_a_csr_that_is_not_in_its_canonical_pem_form_is_malformed() -> None:
    csr = json.loads(MEX.request)["join_request"]["csr"]
    raw = _resigned(MEX.request, {"csr": csr + "\n"}, MEX.signing)  # the same CSR, another text
    assert _refusal(raw) == ("malformed_request", "not a join request: the CSR is not in canonical PEM form")


# -- the CSR's key, names and signature -------------------------------------------------------------

def test_a_csr_with_an_ecdsa_key_is_malformed_and_says_what_key_it_carries() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    raw = _resigned(MEX.request, {"csr": _csr(["MEX"], key)}, MEX.signing)
    assert _refusal(raw) == (
        "malformed_request", f"the CSR carries a {type(key.public_key()).__name__}, not an Ed25519 key")


def test_a_tls_key_that_is_ed25519_is_refused() -> None:
    pem = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    raw = _resigned(MEX.request, {"tls_public_key": pem}, MEX.signing)
    assert _refusal(raw) == ("malformed_request", "the TLS public key is not an ECDSA P-256 key")


@pytest.mark.parametrize(("names", "shown"), [([], "[]"), (["MEX", "MEX"], "['MEX', 'MEX']")], ids=["none", "two"])
def test_a_csr_must_name_the_node_exactly_once(names: list[str], shown: str) -> None:
    raw = _resigned(MEX.request, {"csr": _csr(names, MEX.signing.private_key)}, MEX.signing)
    assert _refusal(raw) == ("cert_name_mismatch", f"the CSR names {shown}, the request MEX")


def test_a_csr_whose_signature_does_not_verify_is_refused() -> None:
    csr = json.loads(MEX.request)["join_request"]["csr"]
    der = x509.load_pem_x509_csr(csr.encode()).public_bytes(serialization.Encoding.DER)
    tampered = x509.load_der_x509_csr(der[:-1] + bytes([der[-1] ^ 1])).public_bytes(serialization.Encoding.PEM)
    raw = _resigned(MEX.request, {"csr": tampered.decode()}, MEX.signing)
    assert _refusal(raw) == ("bad_request_signature", "the CSR is not signed by the key it carries")


# -- a rotation at the second an old certificate ends ---------------------------------------------------

def _rotated_at(moment_after_admission: timedelta,
                overlap: timedelta = timedelta(days=7)) -> tuple[tuple[x509.Certificate, ...], x509.Certificate]:
    then = NOW - timedelta(days=900)
    hub = admit(load_join_request(HUB.request), ROOT_KEY, ROOT_CERT, TLS_CA, None, then, broker_user="hub",
                allowed_types=frozenset({"hub.rejection"}))
    mex = admit(load_join_request(MEX.request), ROOT_KEY, ROOT_CERT, TLS_CA, hub.directory, then, broker_user="mex",
                allowed_types=frozenset({"note"}))
    ends = mex.signing_cert.not_valid_after_utc
    rotated = admit(load_join_request(Node("MEX").request), ROOT_KEY, ROOT_CERT, TLS_CA, mex.directory,
                    ends + moment_after_admission, broker_user="mex", allowed_types=frozenset({"note"}), rotation=True,
                    overlap=overlap)
    return rotated.directory.node("MEX").certificates, mex.signing_cert


def test_a_certificate_that_ends_the_second_of_a_rotation_is_dropped_one_that_ends_later_kept() -> None:
    certificates, old = _rotated_at(timedelta(0))
    assert len(certificates) == 1 and certificates[0].public_key() != old.public_key()
    certificates, old = _rotated_at(timedelta(seconds=-1))
    assert [c.public_key() == old.public_key() for c in certificates] == [True, False]
    assert certificates[0] == old  # it ends sooner than the overlap: kept as it is


def test_a_certificate_that_ends_exactly_when_the_overlap_does_is_kept_as_it_is_not_reissued() -> None:
    overlap = timedelta(days=7)
    certificates, old = _rotated_at(-overlap, overlap)
    assert len(certificates) == 2 and certificates[0] == old
    certificates, old = _rotated_at(-overlap - timedelta(seconds=1), overlap)  # ends a second after the overlap
    assert certificates[0] != old and certificates[0].public_key() == old.public_key()
    assert certificates[0].not_valid_after_utc == old.not_valid_after_utc - timedelta(seconds=1)


# -- the node's check of its bundle ---------------------------------------------------------------------

@pytest.mark.parametrize("member", ["root_cert", "signing_cert", "tls_cert"])
def test_a_bundle_with_an_empty_certificate_names_it(member: str) -> None:
    error = _join_error(lambda: _check(_bundle(**{member: ""})))
    assert (error.reason, error.detail) == (
        "malformed_bundle", f"not an admission bundle: {member} must be a non-empty string")


def test_a_bundle_with_a_tls_certificate_for_a_long_name_shows_its_first_16_characters() -> None:
    """The TLS CA also issues the broker's server certificate, under a host name."""
    broker = issue_tls_certificate(*TLS_CA, "rabbit.example.org", MEX.tls, NOW, server_names=["rabbit.example.org"])
    error = _join_error(lambda: _check(_bundle(tls_cert=tls_chain_pem(broker, TLS_CA[1]).decode())))
    assert (error.reason, error.detail) == (
        "cert_name_mismatch", "a certificate for 'rabbit.example.o' in MEX's bundle")
