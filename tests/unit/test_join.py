"""crypto/join.py without files: a join request proves every key it lists, the root admits it by
the rules, and a node installs only a bundle for exactly its own keys (issue 24)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from crypto.directory import load_directory, sign_directory, sign_revocations, RevocationList
from crypto.errors import JoinError
from crypto.join import (
    DEFAULT_OVERLAP,
    JOIN_DOMAIN,
    admit,
    check_admission,
    fingerprint,
    load_join_request,
    make_bundle,
    make_join_request,
    root_fingerprint_of,
)
from crypto.keys import HybridSealingKey, SealingKey, SigningKey
from crypto.pki import BACKDATE, create_root, create_tls_ca, new_tls_key, node_id_of

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ROOT_KEY, ROOT_CERT = create_root("unit", NOW)
TLS_CA = create_tls_ca(ROOT_KEY, ROOT_CERT, NOW)
CONTACT = {"organisation": "Policía", "email": "desk@example.org"}


class Node:
    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self.signing = SigningKey.generate()
        self.sealing = SealingKey.generate().public_bytes()
        self.hybrid = HybridSealingKey.generate().public_bytes()
        self.tls = new_tls_key().public_key()
        self.request = make_join_request(node_id, self.signing, self.sealing, self.hybrid, self.tls, CONTACT)


HUB, MEX = Node("HUB"), Node("MEX")


def _admit(node: Node, current: Any, **options: Any) -> Any:
    return admit(load_join_request(node.request), ROOT_KEY, ROOT_CERT, TLS_CA, current, NOW, broker_user=node.node_id,
                 allowed_types=frozenset({"note"}), **options)


HUB_ADMISSION = _admit(HUB, None)
MEX_ADMISSION = _admit(MEX, HUB_ADMISSION.directory)


def _join_error(call: Any) -> JoinError:
    with pytest.raises(JoinError) as caught:
        call()
    return caught.value


def _resigned(request: bytes, change: dict, key: SigningKey, kid: str | None = None) -> bytes:
    outer = json.loads(request)
    outer["join_request"].update(change)
    value = key.sign(JOIN_DOMAIN + rfc8785.dumps(outer["join_request"]))
    outer["sig"] = {"alg": key.alg, "kid": kid or outer["sig"]["kid"], "value": base64.b64encode(value).decode()}
    return rfc8785.dumps(outer)


# -- the join request ---------------------------------------------------------------------------

def test_a_join_request_carries_every_public_key_and_the_contact_and_is_fingerprinted() -> None:
    request = load_join_request(MEX.request)
    assert (request.node_id, request.kid, request.sealing_key, request.hybrid_sealing_key) == (
        "MEX", MEX.signing.kid, MEX.sealing, MEX.hybrid)
    assert request.tls_public_key == MEX.tls and dict(request.contact) == CONTACT
    assert request.fingerprint == fingerprint(MEX.request)
    groups = request.fingerprint.split(" ")
    assert len(groups) == 16 and all(len(g) == 4 for g in groups)
    assert "".join(groups) == __import__("hashlib").sha256(MEX.request).hexdigest()
    assert MEX.request == rfc8785.dumps(json.loads(MEX.request))
    assert json.loads(MEX.request)["join_request"]["v"] == 1


@pytest.mark.parametrize(("change", "detail"), [
    ({"v": 2}, "not a join request: version 2 is not 1"),
    ({"contact": {"fax": "1"}}, "not a join request: contact must be an object with some of "
                                "['email', 'name', 'organisation', 'phone']"),
    ({"contact": {"name": ""}}, "not a join request: contact name must be printable text of 1 to 200 characters"),
    ({"contact": {"name": "x" * 201}}, "not a join request: contact name must be printable text of 1 to 200 characters"),
    ({"contact": {"name": "a\nb"}}, "not a join request: contact name must be printable text of 1 to 200 characters"),
    ({"contact": {"name": 5}}, "not a join request: contact name must be printable text of 1 to 200 characters"),
    ({"csr": ""}, "not a join request: csr must be a non-empty string"),
    ({"tls_public_key": 7}, "not a join request: tls_public_key must be a non-empty string"),
    ({"sealing_key": base64.b64encode(bytes(31)).decode()}, "sealing keys must be 32 and 1216 bytes"),
    ({"hybrid_sealing_key": base64.b64encode(bytes(32)).decode()}, "sealing keys must be 32 and 1216 bytes"),
    ({"extra": 1}, "not a join request: join_request: unknown members ['extra'], missing []"),
], ids=["version", "contact-field", "contact-empty", "contact-long", "contact-control", "contact-int", "csr-empty",
        "tls-key-int", "short-sealing", "short-hybrid", "extra-member"])
def test_a_malformed_join_request_says_what_is_wrong(change: dict, detail: str) -> None:
    error = _join_error(lambda: load_join_request(_resigned(MEX.request, change, MEX.signing)))
    assert (error.reason, error.detail) == ("malformed_request", detail)


def test_a_contact_at_200_printable_characters_is_accepted() -> None:
    raw = _resigned(MEX.request, {"contact": {"name": "x" * 200}}, MEX.signing)
    assert load_join_request(raw).contact == {"name": "x" * 200}


def test_a_tls_key_that_is_not_p256_is_refused() -> None:
    from cryptography.hazmat.primitives import serialization

    p384 = ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    error = _join_error(lambda: load_join_request(_resigned(MEX.request, {"tls_public_key": p384}, MEX.signing)))
    assert (error.reason, error.detail) == ("malformed_request", "the TLS public key is not an ECDSA P-256 key")


def test_a_join_request_for_a_bad_id_names_it_cut_to_16_characters() -> None:
    error = _join_error(lambda: load_join_request(_resigned(MEX.request, {"node_id": "m" * 30}, MEX.signing)))
    assert (error.reason, error.detail) == (
        "bad_node_id", f"{'m' * 16!r} is neither HUB nor an ISO 3166-1 alpha-3 code (three capital letters)")
    with pytest.raises(ValueError, match="neither HUB nor an ISO 3166-1 alpha-3 code"):
        make_join_request("mex", MEX.signing, MEX.sealing, MEX.hybrid, MEX.tls)


def test_a_join_request_signed_by_another_key_than_its_csrs_is_refused_with_its_words() -> None:
    other = SigningKey.generate()
    error = _join_error(lambda: load_join_request(_resigned(MEX.request, {}, other, kid=other.kid)))
    assert (error.reason, error.detail) == ("bad_request_signature", "the request is not signed by the key in its CSR")
    error = _join_error(lambda: load_join_request(_resigned(MEX.request, {}, other)))
    assert (error.reason, error.detail) == (
        "bad_request_signature", "the request's signature does not verify (bad_signature): ask the node for a new request")


def test_a_csr_naming_another_node_is_a_name_mismatch() -> None:
    csr = json.loads(HUB.request)["join_request"]["csr"]
    error = _join_error(lambda: load_join_request(_resigned(MEX.request, {"csr": csr}, MEX.signing)))
    assert (error.reason, error.detail) == ("cert_name_mismatch", "the CSR names ['HUB'], the request MEX")


@pytest.mark.parametrize("raw", [b"", b"[]", b'{"join_request":{},"sig":{}}', b" " * (64 * 1024 + 1), None,
                                 b'{"a":NaN}', b'{"a":1,"a":1}'],
                         ids=["empty", "array", "empty-members", "oversize", "none", "nan", "duplicate"])
def test_anything_but_a_canonical_join_request_is_malformed(raw: Any) -> None:
    assert _join_error(lambda: load_join_request(raw)).reason == "malformed_request"


# -- the root's admission -------------------------------------------------------------------------

def test_the_first_admission_is_the_hubs_and_starts_serial_1() -> None:
    directory = HUB_ADMISSION.directory
    assert directory.serial == 1 and directory.node_ids(exclude_hub=False) == ["HUB"]
    assert directory.issued == NOW - BACKDATE and directory.expires == NOW + timedelta(days=365)
    assert directory.federation == "unit"
    error = _join_error(lambda: _admit(MEX, None))
    assert (error.reason, error.detail) == (
        "hub_first", "a federation's first admission is its hub: admit the hub's request first")


def test_an_admission_lists_the_nodes_keys_under_its_certificates() -> None:
    entry = MEX_ADMISSION.directory.node("MEX")
    assert MEX_ADMISSION.directory.serial == 2 and MEX_ADMISSION.node_id == "MEX"
    assert entry.certificates == (MEX_ADMISSION.signing_cert,) and entry.broker_user == "MEX"
    assert (entry.sealing_key, entry.hybrid_sealing_key, entry.allowed_types) == (
        MEX.sealing, MEX.hybrid, frozenset({"note"}))
    assert node_id_of(MEX_ADMISSION.signing_cert) == node_id_of(MEX_ADMISSION.tls_cert) == "MEX"
    assert MEX_ADMISSION.tls_ca_cert == TLS_CA[1]
    assert MEX_ADMISSION.directory.expires == HUB_ADMISSION.directory.expires
    longer = _admit(MEX, HUB_ADMISSION.directory, directory_days=400).directory
    assert longer.expires == NOW + timedelta(days=400)


def test_an_admission_is_refused_for_a_member_a_stranger_rotating_or_a_reused_key() -> None:
    current = MEX_ADMISSION.directory
    error = _join_error(lambda: _admit(MEX, current))
    assert (error.reason, error.detail) == (
        "already_member", "MEX is already a member: a new key for it is a rotation (--rotation), anything else is "
                          "an impostor")
    error = _join_error(lambda: _admit(Node("IDN"), current, rotation=True))
    assert (error.reason, error.detail) == ("not_a_member", "IDN is not a member: admit it without --rotation")
    error = _join_error(lambda: _admit(MEX, current, rotation=True))
    assert (error.reason, error.detail) == (
        "key_reused", "this signing key is already listed for MEX: the node must generate a new one")


def test_a_rotation_keeps_the_old_key_until_the_overlap_ends_then_only_the_new() -> None:
    new = Node("MEX")
    rotated = _admit(new, MEX_ADMISSION.directory, rotation=True).directory.node("MEX")
    old_cert, new_cert = rotated.certificates
    assert old_cert.public_key() == MEX.signing.public_key and new_cert.public_key() == new.signing.public_key
    assert old_cert.not_valid_after_utc == NOW + DEFAULT_OVERLAP
    assert rotated.broker_user == "MEX" and rotated.sealing_key == new.sealing
    short = _admit(new, MEX_ADMISSION.directory, rotation=True, overlap=timedelta(hours=1)).directory.node("MEX")
    assert short.certificates[0].not_valid_after_utc == NOW + timedelta(hours=1)


# -- the node's check of its bundle ---------------------------------------------------------------

REVOCATIONS = RevocationList("unit", 1, NOW, NOW + timedelta(days=7), frozenset())


def _bundle(admission: Any = MEX_ADMISSION, **changes: Any) -> bytes:
    raw = make_bundle(admission, ROOT_CERT, sign_directory(admission.directory, ROOT_KEY),
                      sign_revocations(REVOCATIONS, ROOT_KEY))
    if not changes:
        return raw
    outer = json.loads(raw)
    outer["admission"].update(changes)
    return rfc8785.dumps(outer)


def _check(raw: bytes, node: Node = MEX, node_id: str | None = None, **keys: Any) -> Any:
    def pinned(cert: x509.Certificate) -> None:
        if root_fingerprint_of(cert) != root_fingerprint_of(ROOT_CERT):
            raise JoinError("unknown_root", "not the pinned root")
    return check_admission(raw, node_id or node.node_id, keys.get("signing", node.signing.public_key),
                           keys.get("sealing", node.sealing), keys.get("hybrid", node.hybrid),
                           keys.get("tls", node.tls), NOW, pinned)


def test_a_node_installs_the_bundle_for_exactly_its_keys() -> None:
    checked = _check(_bundle())
    assert checked.signing_cert == MEX_ADMISSION.signing_cert and checked.tls_cert == MEX_ADMISSION.tls_cert
    assert checked.tls_ca_cert == TLS_CA[1] and checked.root_cert == ROOT_CERT
    assert checked.directory == MEX_ADMISSION.directory and checked.revocations == REVOCATIONS
    assert load_directory(checked.signed_directory, ROOT_CERT, NOW) == checked.directory
    assert checked.signed_revocations == sign_revocations(REVOCATIONS, ROOT_KEY)
    assert root_fingerprint_of(ROOT_CERT) == fingerprint(ROOT_CERT.fingerprint(__import__(
        "cryptography.hazmat.primitives.hashes", fromlist=["SHA256"]).SHA256()))


def test_a_bundle_for_other_keys_is_a_mismatch_that_says_which() -> None:
    other = Node("MEX")
    cases = {
        "signing": ("the signing certificate is not for this node's signing key", {"signing": other.signing.public_key}),
        "tls": ("the TLS certificate is not for this node's TLS key", {"tls": other.tls}),
        "sealing": ("the directory lists other sealing keys for MEX: nobody could seal to this node",
                    {"sealing": other.sealing}),
        "hybrid": ("the directory lists other sealing keys for MEX: nobody could seal to this node",
                   {"hybrid": other.hybrid}),
    }
    for detail, keys in cases.values():
        error = _join_error(lambda keys=keys: _check(_bundle(), **keys))
        assert (error.reason, error.detail) == ("bundle_mismatch", detail)
    error = _join_error(lambda: _check(_bundle(), node_id="IDN"))
    assert (error.reason, error.detail) == ("bundle_mismatch", "the bundle is for 'MEX', this node is IDN")


def test_a_bundle_whose_tls_chain_or_certificates_are_wrong_is_refused() -> None:
    from crypto.pki import cert_to_pem, issue_tls_certificate, tls_chain_pem

    chain = json.loads(_bundle())["admission"]["tls_cert"]
    error = _join_error(lambda: _check(_bundle(tls_cert=chain.split("-----END CERTIFICATE-----\n")[0]
                                               + "-----END CERTIFICATE-----\n")))
    assert (error.reason, error.detail) == (
        "malformed_bundle", "not an admission bundle: tls_cert holds the TLS certificate and the TLS CA's, nothing else")
    rogue_ca = create_tls_ca(ROOT_KEY, ROOT_CERT, NOW)
    rogue = issue_tls_certificate(*rogue_ca, "MEX", MEX.tls, NOW)
    error = _join_error(lambda: _check(_bundle(tls_cert=tls_chain_pem(rogue, TLS_CA[1]).decode())))
    assert (error.reason, error.detail) == ("bundle_mismatch", "the TLS certificate is not from the federation's TLS CA")
    hub_tls = issue_tls_certificate(*TLS_CA, "HUB", MEX.tls, NOW)
    error = _join_error(lambda: _check(_bundle(tls_cert=tls_chain_pem(hub_tls, TLS_CA[1]).decode())))
    assert (error.reason, error.detail) == ("cert_name_mismatch", "a certificate for 'HUB' in MEX's bundle")
    error = _join_error(lambda: _check(_bundle(signing_cert=cert_to_pem(HUB_ADMISSION.signing_cert))))
    assert (error.reason, error.detail) == ("cert_name_mismatch", "a certificate for 'HUB' in MEX's bundle")


def test_a_bundle_whose_directory_does_not_list_this_certificate_is_refused() -> None:
    again = _admit(MEX, HUB_ADMISSION.directory)  # the same keys, a certificate the bundle's directory lacks
    raw = make_bundle(again, ROOT_CERT, sign_directory(MEX_ADMISSION.directory, ROOT_KEY),
                      sign_revocations(REVOCATIONS, ROOT_KEY))
    error = _join_error(lambda: _check(raw))
    assert (error.reason, error.detail) == (
        "bundle_mismatch", "the directory does not list this signing certificate for MEX")


@pytest.mark.parametrize("raw", [b"", b'{"admission":{}}', b'{"admission":1}', b"[]"],
                         ids=["empty", "no-members", "not-an-object", "array"])
def test_anything_but_a_canonical_bundle_is_malformed(raw: bytes) -> None:
    assert _join_error(lambda: _check(raw)).reason == "malformed_bundle"
