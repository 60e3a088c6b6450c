"""Strict base64 everywhere bytes arrive as text: one text per byte string, so no signature,
sealed payload, proof, receipt or key has a second spelling (a new digest for the same message)."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

import crypto.audit_bundle
from crypto.directory import DIRECTORY_DOMAIN, Directory, NodeEntry, load_directory
from crypto.errors import CryptoError
from crypto.keys import SealingKey, SigningKey
from crypto.pki import cert_to_pem, create_root, issue_certificate
from crypto.sealing import SealError, open_sealed, seal
from crypto.signing import sign_envelope, verify_envelope
from crypto.witness import WitnessError, Witnessed, check_checkpoint
from nodes.national.features.mla.api import _json_uploads
from protocol import envelope as wire
from protocol import mla
from protocol.checkpoint import CheckpointError, parse_checkpoint_body, parse_note
from protocol.encoding import (
    NonCanonicalEncoding, decode_base64, decode_base64url, encode_base64, encode_base64url,
)
from protocol.errors import DecodeError, PolicyError, ProtocolError
from protocol.receipts import LogReceipt, parse_log_receipt
from tests.unit.test_checkpoint import ORIGIN, Log

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
STANDARD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
URLSAFE = STANDARD[:62] + "-_"


def other_spelling(text: str, alphabet: str = STANDARD) -> str:
    """The same bytes with a non-zero unused bit in the last character (as `AB==` for `AA==`)."""
    data = text.rstrip("=")
    assert len(data) % 4 in (2, 3), "this length leaves no unused bits"
    last = alphabet.index(data[-1])
    assert last & 1 == 0
    return data[:-1] + alphabet[last | 1] + text[len(data):]


def test_the_issues_example_has_one_spelling() -> None:
    assert base64.b64decode("AB==") == base64.b64decode("AA==")  # what lenient decoding allowed
    assert decode_base64("AA==") == b"\x00"
    with pytest.raises(NonCanonicalEncoding):
        decode_base64("AB==")


@given(st.binary(max_size=100))
def test_every_byte_string_decodes_from_its_encoding(data: bytes) -> None:
    assert decode_base64(encode_base64(data)) == data
    assert decode_base64url(encode_base64url(data)) == data


@given(st.binary(min_size=1, max_size=100), st.sampled_from(["!", "*", " ", "\t", ".", "\x00", "\u00e9"]))
def test_every_other_text_for_the_same_bytes_is_refused(data: bytes, noise: str) -> None:
    canonical, url = encode_base64(data), encode_base64url(data)
    variants = {canonical + "\n", " " + canonical, canonical.rstrip("="), canonical + "=" * 4, url + "=",
                url.replace("-", "+").replace("_", "/"), canonical + noise, url + noise, noise + url}
    if len(data) % 3:
        variants |= {other_spelling(canonical), other_spelling(url, URLSAFE)}
    for variant in variants - {canonical}:
        with pytest.raises(NonCanonicalEncoding):
            decode_base64(variant)
    for variant in variants - {url}:
        with pytest.raises(NonCanonicalEncoding):
            decode_base64url(variant)


@pytest.mark.parametrize("value", [None, 7, b"AA==", "ÀA==", "A", "===="])
def test_what_is_not_base64_text_is_refused(value: object) -> None:
    for decoder in (decode_base64, decode_base64url):
        with pytest.raises(NonCanonicalEncoding):
            decoder(value)


# -- each decoder that reads bytes from a peer ------------------------------------------------------

def test_an_envelope_signature_with_padding_bits_set_is_refused() -> None:
    key = SigningKey.generate()

    class Trust:
        def signer(self, kid: str, now: datetime):  # noqa: ANN202
            return "MEX", key.public_key

    env = sign_envelope(wire.build(message_id="0190f0e0-0000-7000-8000-000000000001", type="note", sender="MEX",
                                   recipients=["IDN"], created=NOW, ttl=timedelta(hours=1), body={"text": "x"}), key)
    assert env.sig is not None
    respelled = wire.decode(wire.encode(env).replace(env.sig.value.encode(), other_spelling(env.sig.value).encode()))
    assert respelled.digest() != env.digest()  # the malleability: same signature, a new digest
    verify_envelope(env, Trust(), NOW)
    with pytest.raises(CryptoError) as caught:
        verify_envelope(respelled, Trust(), NOW)
    assert caught.value.reason == "bad_signature"


def test_a_sealed_payload_with_padding_bits_set_is_refused() -> None:
    key, context = SealingKey.generate(), b"case.share\n0190f0e0-0000-7000-8000-000000000002\nMEX"
    sealed = seal(b"x", {"ITA": key.public_key}, context)  # 1 + 16 bytes of ciphertext: 4 unused bits
    assert open_sealed(sealed, "ITA", key.private_key, context) == b"x"
    head, body = sealed.split(".")
    for respelled in (f"{head}.{other_spelling(body, URLSAFE)}", f"{head}.{body}=="):
        with pytest.raises(SealError) as caught:
            open_sealed(respelled, "ITA", key.private_key, context)
        assert caught.value.reason == "bad_seal" and "base64" in caught.value.detail


def test_a_wrapped_key_with_padding_bits_set_is_refused() -> None:
    key, context = SealingKey.generate(), b"case.share\n0190f0e0-0000-7000-8000-000000000003\nMEX"
    head, body = seal(b"x", {"ITA": key.public_key}, context).split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    assert encode_base64url(rfc8785.dumps(header)) == head
    header["keys"]["ITA"] = other_spelling(header["keys"]["ITA"], URLSAFE)  # 80 bytes: 2 unused bits
    forged = encode_base64url(rfc8785.dumps(header)) + "." + body
    with pytest.raises(SealError) as caught:
        open_sealed(forged, "ITA", key.private_key, context)
    assert caught.value.reason == "bad_seal" and "canonical" in caught.value.detail


def test_a_log_receipt_signature_with_padding_bits_set_is_refused() -> None:
    key = SigningKey.generate()
    receipt = LogReceipt("0190f0e0-0000-7000-8000-000000000004", 3, "a" * 64, "b" * 64, "2026-11-22T12:00:00Z",
                         kid=key.kid)
    sig = encode_base64(key.sign(receipt.signing_input()))
    good = LogReceipt(**{**json.loads(receipt.to_header()), "sig": sig})
    assert parse_log_receipt(good.to_header()) == good
    with pytest.raises(DecodeError) as caught:
        parse_log_receipt(good.to_header().replace(sig, other_spelling(sig)))
    assert caught.value.reason == "bad_log_receipt"


def test_a_checkpoint_or_cosignature_line_with_padding_bits_set_is_refused() -> None:
    log = Log()
    log.grow(3)
    note = log.note().decode()
    line = note.splitlines()[-1]
    encoded = line.rsplit(" ", 1)[1]  # key id + Ed25519 signature: 68 bytes, 2 unused bits
    assert parse_note(note.encode())
    with pytest.raises(CheckpointError) as caught:
        parse_note(note.replace(encoded, other_spelling(encoded)).encode())
    assert caught.value.reason == "bad_signature_line"


def test_a_checkpoint_root_hash_with_padding_bits_set_is_refused() -> None:
    log = Log()
    log.grow(3)
    body = parse_note(log.note()).body.decode()
    root = body.splitlines()[2]
    assert parse_checkpoint_body(body.encode()).size == 3
    with pytest.raises(CheckpointError) as caught:
        parse_checkpoint_body(body.replace(root, other_spelling(root)).encode())
    assert caught.value.reason == "bad_root_hash"


def test_a_consistency_proof_with_padding_bits_set_is_refused_by_the_witness() -> None:
    log = Log()
    log.grow(10)
    first = check_checkpoint(log.note(), origin=ORIGIN, log_key=log.verifier, last=None, proofs={})
    log.grow(7)
    proofs = log.proofs(10)
    proofs[10] = [other_spelling(h) for h in proofs[10]]
    with pytest.raises(WitnessError) as caught:
        check_checkpoint(log.note(), origin=ORIGIN, log_key=log.verifier,
                         last=Witnessed(first.size, first.root_hash), proofs=proofs)
    assert caught.value.reason == "bad_proof"


def test_audit_bundle_hashes_with_padding_bits_set_are_refused() -> None:
    proof = [encode_base64(bytes(32))]
    assert crypto.audit_bundle._b64(proof) == [bytes(32)]
    with pytest.raises(NonCanonicalEncoding):
        crypto.audit_bundle._b64([other_spelling(proof[0])])


def test_an_mla_attachment_with_padding_bits_set_is_refused() -> None:
    content = b"\x00"
    attachment = {"name": "a.bin", "media_type": "application/octet-stream", "size": 1,
                  "sha256": hashlib.sha256(content).hexdigest()}
    assert mla.check_attachments([{**attachment, "content": "AA=="}]) == [content]
    with pytest.raises(PolicyError) as caught:
        mla.check_attachments([{**attachment, "content": "AB=="}])
    assert caught.value.reason == "attachment_mismatch"


def test_an_uploaded_attachment_in_another_spelling_is_refused_with_a_reason() -> None:
    item = {"name": "a.bin", "media_type": "application/octet-stream"}
    assert _json_uploads([{**item, "content": "AA=="}])[0].content == b"\x00"
    with pytest.raises(ProtocolError) as caught:
        _json_uploads([{**item, "content": "AB=="}])
    assert caught.value.reason == "bad_request"


# -- directory fields (root-signed, but still one text per key and certificate) ---------------------

ROOT_KEY, ROOT_CERT = create_root("unit", NOW)


def _signed_directory(mutate) -> bytes:  # noqa: ANN001
    keys = {n: SigningKey.generate() for n in ("HUB", "MEX")}
    entries = {n: NodeEntry(n, (issue_certificate(ROOT_KEY, ROOT_CERT, n, k.public_key, NOW, days=30),),
                            n.lower(), frozenset({"note"}), SealingKey.generate().public_bytes())
               for n, k in keys.items()}
    inner = Directory("unit", 1, NOW - timedelta(minutes=5), NOW + timedelta(days=1), entries).as_json()
    mutate(inner["nodes"][-1])
    value = encode_base64(ROOT_KEY.sign(DIRECTORY_DOMAIN + rfc8785.dumps(inner)))
    return rfc8785.dumps({"directory": inner, "sig": {"alg": "ed25519", "kid": ROOT_KEY.kid, "value": value}})


def test_directory_loads_with_canonical_fields() -> None:
    assert load_directory(_signed_directory(lambda n: None), ROOT_CERT, NOW).node("MEX")


@pytest.mark.parametrize("mutate", [
    lambda n: n.update(sealing_key=other_spelling(n["sealing_key"])),  # 32 bytes: 2 unused bits
    lambda n: n.update(certificates=["A certificate follows.\n" + n["certificates"][0]]),
    lambda n: n.update(certificates=[n["certificates"][0].replace("\n", "\r\n")]),
], ids=["sealing-key-padding-bits", "text-before-pem", "crlf-pem"])
def test_directory_fields_in_another_spelling_are_refused(mutate) -> None:  # noqa: ANN001
    with pytest.raises(CryptoError) as caught:
        load_directory(_signed_directory(mutate), ROOT_CERT, NOW)
    assert caught.value.reason == "malformed"


def test_canonical_pem_is_what_the_directory_writes() -> None:
    key = SigningKey.generate()
    cert = issue_certificate(ROOT_KEY, ROOT_CERT, "MEX", key.public_key, NOW, days=30)
    assert cert_to_pem(cert).startswith("-----BEGIN CERTIFICATE-----\n")


# -- what a refusal says (issue 24): the label names the field, the words say what is wrong ---------

@pytest.mark.parametrize(("decoder", "value", "words"), [
    (decode_base64, None, "is not a string"),
    (decode_base64url, b"AA", "is not a string"),
    (decode_base64, "ÀA==", "is not base64 (non-ASCII characters)"),
    (decode_base64url, "AÀ", "is not base64 (non-ASCII characters)"),
    (decode_base64, "A!==", "is not base64"),
    (decode_base64, "A!AAA", "is not base64"),  # a lenient decoder would skip the "!"
    (decode_base64url, "A", "is not base64"),
    (decode_base64url, "A!AAA", "is not base64"),  # a lenient decoder would skip the "!"
    (decode_base64url, "AA\nAA", "is not base64"),
    (decode_base64, "AB==", "is not canonical base64 (padding bits or padding)"),
    (decode_base64, "AA", "is not base64"),
    (decode_base64url, "AB", "is not canonical unpadded base64url"),
    (decode_base64url, "AA==", "is not canonical unpadded base64url"),
])
def test_a_refusal_names_the_field_and_the_problem(decoder, value: object, words: str) -> None:  # noqa: ANN001
    with pytest.raises(NonCanonicalEncoding) as caught:
        decoder(value, "the signature")
    assert str(caught.value) == f"the signature {words}"
    with pytest.raises(NonCanonicalEncoding) as caught:
        decoder(value)
    assert str(caught.value) == f"value {words}"


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xfb\xff", b"\xfb\xff\xbf", b"\xfb\xff\xbf\x00", b"\x00\x00\x17"])
def test_the_two_alphabets_and_their_padding(data: bytes) -> None:
    assert encode_base64(data) == base64.b64encode(data).decode()
    assert encode_base64url(data) == base64.urlsafe_b64encode(data).decode().rstrip("=")
    assert decode_base64url(encode_base64url(data)) == data and decode_base64(encode_base64(data)) == data
    assert "=" not in encode_base64url(data) and "+" not in encode_base64url(data)
