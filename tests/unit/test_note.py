"""Signing and verifying notes and cosignatures: published Ed25519 vectors, golang.org/x/mod
verification semantics, cosignature/v1 layout, merged cosignatures, and proofs tied to a signed
checkpoint."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from crypto import note as note_module
from crypto.keys import SigningKey
from crypto.merkle import (
    CompactRange,
    MemoryNodeStore,
    ProofError,
    inclusion_proof,
    leaf_hash,
    root_at,
    verify_inclusion,
)
from crypto.note import (
    CosignatureSigner,
    NoteError,
    NoteSigner,
    NoteVerifier,
    cosign_note,
    cosignature_timestamp,
    sign_note,
    verify_cosignature,
    verify_note,
)
from protocol.checkpoint import (
    TYPE_ED25519_COSIGNATURE,
    Checkpoint,
    CheckpointError,
    NoteSignature,
    SignedNote,
    format_note,
    key_id,
    parse_checkpoint_body,
    parse_note,
)

ORIGIN = "somex/test/audit"
ROOT = bytes(range(32))

# golang.org/x/mod/sumdb/note note_test.go (TestSign, TestOpen): keys, text and signatures.
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = b"If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_SIG = ("\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6"
             "KE6RyyBwJnAM=\n").encode()
ENOCH_SIG = ("\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1"
             "RvMc+QQ=\n").encode()


def _private(skey: str) -> Ed25519PrivateKey:
    """An x/mod signer key PRIVATE+KEY+name+hexid+base64(type||seed) as a cryptography key."""
    blob = base64.b64decode(skey.split("+", 4)[4])
    assert blob[0] == 0x01
    return Ed25519PrivateKey.from_private_bytes(blob[1:])


def _verifier(vkey: str, *, cosigner: bool = False) -> NoteVerifier:
    name, _, encoded = vkey.split("+", 2)
    return NoteVerifier(name, Ed25519PublicKey.from_public_bytes(base64.b64decode(encoded)[1:]), cosigner)


PETER, ENOCH = _verifier(PETER_VKEY), _verifier(ENOCH_VKEY)


# -- published Ed25519 note vectors ----------------------------------------------------------------


def test_signing_reproduces_the_published_go_note_byte_for_byte() -> None:
    signer = NoteSigner("PeterNeumann", _private(PETER_SKEY))
    assert signer.key_id.hex() == "c74f20a3"
    assert format_note(SignedNote(TEXT, (signer.sign(TEXT),))) == TEXT + b"\n" + PETER_SIG
    assert signer.verifier() == PETER


def test_the_published_note_verifies_under_the_published_key() -> None:
    assert verify_note(parse_note(TEXT + b"\n" + PETER_SIG), [PETER]) == ["PeterNeumann"]
    assert PETER.key_id.hex() == "c74f20a3" and ENOCH.key_id.hex() == "af0cfe78"


def test_only_known_keys_count_and_unknown_keys_are_ignored() -> None:
    # x/mod TestOpen: one signature verified, then both, then none.
    both = parse_note(TEXT + b"\n" + PETER_SIG + ENOCH_SIG)
    assert verify_note(both, [PETER]) == ["PeterNeumann"]
    assert verify_note(both, [PETER, ENOCH]) == ["PeterNeumann", "EnochRoot"]
    assert verify_note(both, [ENOCH]) == ["EnochRoot"]
    assert verify_note(both, []) == []


def test_a_known_keys_signature_that_does_not_verify_rejects_the_note() -> None:
    # x/mod TestOpen "Invalid signature": four base64 characters inserted into Peter's signature.
    tampered = PETER_SIG[:60] + b"ABCD" + PETER_SIG[60:]
    with pytest.raises(NoteError) as caught:
        verify_note(parse_note(TEXT + b"\n" + tampered), [PETER])
    assert caught.value.reason == "bad_note_signature"
    # The same bad signature from a key nobody trusts is ignored.
    assert verify_note(parse_note(TEXT + b"\n" + PETER_SIG + ENOCH_SIG[:60] + b"ABCD" + ENOCH_SIG[60:]),
                       [PETER]) == ["PeterNeumann"]


def test_repeated_signatures_count_once() -> None:
    # x/mod TestOpen "Duplicated verified and unverified signatures".
    note = parse_note(TEXT + b"\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG)
    assert verify_note(note, [PETER]) == ["PeterNeumann"]


def test_a_tampered_text_fails_for_every_known_key() -> None:
    note = parse_note(TEXT.replace(b"cryptography", b"cryptographY") + b"\n" + PETER_SIG)
    with pytest.raises(NoteError) as caught:
        verify_note(note, [PETER])
    assert caught.value.reason == "bad_note_signature"


def test_a_signature_sharing_only_the_name_or_only_the_key_id_is_from_an_unknown_key() -> None:
    # c2sp.org/signed-note: ignore unknown keys "even if they share a name or ID (but not both)".
    stranger = NoteSigner("PeterNeumann", Ed25519PrivateKey.generate())
    renamed = NoteSignature("PeterNeumann2", PETER.key_id, b"x" * 64)
    note = SignedNote(TEXT, (stranger.sign(TEXT), renamed, *parse_note(TEXT + b"\n" + PETER_SIG).signatures))
    assert stranger.key_id != PETER.key_id
    assert verify_note(note, [PETER]) == ["PeterNeumann"]


def test_two_different_keys_under_one_name_and_key_id_are_ambiguous(monkeypatch: pytest.MonkeyPatch) -> None:
    # A 4-byte key id collision, forced: x/mod refuses to pick one ("ambiguous key").
    monkeypatch.setattr(note_module, "key_id", lambda name, type_byte, public_key: b"\x00\x00\x00\x00")
    first, second = NoteSigner("A", Ed25519PrivateKey.generate()), NoteSigner("A", Ed25519PrivateKey.generate())
    note = SignedNote(TEXT, (first.sign(TEXT),))
    with pytest.raises(NoteError) as caught:
        verify_note(note, [first.verifier(), second.verifier()])
    assert (caught.value.reason, caught.value.detail) == ("ambiguous_key", "two keys are named A+00000000")
    assert verify_note(note, [first.verifier(), first.verifier()]) == ["A"]  # the same key twice is no ambiguity


def test_a_signature_of_the_wrong_length_from_a_known_key_fails() -> None:
    signer = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    body = Checkpoint(ORIGIN, 1, ROOT).body()
    good = signer.sign(body)
    for sig in (good.sig[:63], good.sig + b"\x00", bytes(72)):
        with pytest.raises(NoteError):
            verify_note(SignedNote(body, (NoteSignature(ORIGIN, good.key_id, sig),)), [signer.verifier()])


def test_only_valid_note_texts_are_signed() -> None:
    signer = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    for bad in (b"", b"no final newline", b"tab\there\n", b"\xff\n"):
        with pytest.raises(CheckpointError):
            signer.sign(bad)
    with pytest.raises(CheckpointError):
        NoteSigner("has space", Ed25519PrivateKey.generate())


# -- cosignatures ----------------------------------------------------------------------------------


def test_cosignature_round_trip_carries_its_time() -> None:
    witness = CosignatureSigner("MEX", Ed25519PrivateKey.generate())
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    signature = witness.cosign(body, 1_790_000_000)
    assert verify_cosignature(body, signature, witness.verifier()) == 1_790_000_000
    assert verify_note(SignedNote(body, (signature,)), [witness.verifier()]) == ["MEX"]
    with pytest.raises(NoteError) as caught:
        verify_cosignature(Checkpoint(ORIGIN, 4, ROOT).body(), signature, witness.verifier())
    assert caught.value.reason == "bad_cosignature"


def test_a_witness_cosignature_is_found_and_verified_in_a_signed_note() -> None:
    log = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    mex = CosignatureSigner("MEX", Ed25519PrivateKey.generate())
    idn = CosignatureSigner("IDN", Ed25519PrivateKey.generate())
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    note = parse_note(format_note(SignedNote(body, (log.sign(body), mex.cosign(body, 1_790_000_000)))))
    assert verify_cosignature(note, mex.verifier()) == 1_790_000_000
    with pytest.raises(NoteError) as caught:
        verify_cosignature(note, idn.verifier())  # this witness has not cosigned
    assert caught.value.reason == "unsigned"
    with pytest.raises(NoteError) as caught:
        verify_cosignature(SignedNote(Checkpoint(ORIGIN, 4, ROOT).body(), note.signatures), mex.verifier())
    assert caught.value.reason == "bad_cosignature"
    with pytest.raises(NoteError) as caught:
        verify_cosignature(note, log.verifier())  # the log's own signature is no cosignature
    assert caught.value.reason == "bad_cosignature"
    with pytest.raises(TypeError):
        verify_cosignature(note, note.signatures[1], mex.verifier())  # type: ignore[call-overload]


def test_cosignature_bytes_are_key_id_then_big_endian_time_then_the_signature() -> None:
    key = Ed25519PrivateKey.generate()
    witness = CosignatureSigner("witness.example/w1", key)
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    signature = witness.cosign(body, 0x0102030405060708)
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert signature.key_id == key_id("witness.example/w1", TYPE_ED25519_COSIGNATURE, public)
    blob = base64.b64decode(signature.line().split(" ")[-1])
    assert len(blob) == 4 + 8 + 64
    assert blob[:4] == signature.key_id and blob[4:12] == bytes.fromhex("0102030405060708")
    key.public_key().verify(blob[12:], b"cosignature/v1\ntime 72623859790382856\n" + body)


@pytest.mark.parametrize(("encoded", "timestamp"), [
    # c2sp.org/tlog-cosignature example; transparency-dev/formats note_cosigv1_test.go.
    ("jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==",
     1679315147),
    ("ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA==",
     1727964367),
])
def test_published_cosignatures_carry_their_published_time(encoded: str, timestamp: int) -> None:
    blob = base64.b64decode(encoded)
    assert cosignature_timestamp(NoteSignature("w", blob[:4], blob[4:])) == timestamp


def test_a_plain_signature_is_not_a_cosignature() -> None:
    # transparency-dev/formats: "wrong type of signature" (68 bytes: key id and Ed25519 signature).
    blob = base64.b64decode("eQjRQm6eSKzFoiYalgwCPXu2y3ijtg68is9M46JKxuZB+dRfTmeQeDBoXnvxZx2ugnkyV+MUMLXp"
                            "Ws1hPb/W/4xkNQY=")
    with pytest.raises(NoteError) as caught:
        cosignature_timestamp(NoteSignature("w", blob[:4], blob[4:]))
    assert caught.value.reason == "bad_cosignature"


def test_a_cosignature_time_above_2_63_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    witness = CosignatureSigner("MEX", key)
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    signature = witness.cosign(body, 2**63 - 1)
    assert verify_cosignature(body, signature, witness.verifier()) == 2**63 - 1
    forged = NoteSignature("MEX", witness.key_id, (2**63).to_bytes(8, "big") + signature.sig[8:])
    with pytest.raises(NoteError) as caught:
        verify_cosignature(body, forged, witness.verifier())
    assert caught.value.reason == "bad_cosignature"
    with pytest.raises(CheckpointError):
        witness.cosign(body, 2**63)


def test_a_changed_cosignature_time_fails() -> None:
    witness = CosignatureSigner("MEX", Ed25519PrivateKey.generate())
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    signature = witness.cosign(body, 1000)
    later = NoteSignature("MEX", witness.key_id, (1001).to_bytes(8, "big") + signature.sig[8:])
    with pytest.raises(NoteError):
        verify_cosignature(body, later, witness.verifier())


def test_log_signatures_and_cosignatures_do_not_stand_in_for_each_other() -> None:
    key = Ed25519PrivateKey.generate()
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    as_log, as_witness = NoteSigner("MEX", key), CosignatureSigner("MEX", key)
    assert as_log.key_id != as_witness.key_id  # type byte 0x01 vs 0x04
    note = SignedNote(body, (as_log.sign(body),))
    assert verify_note(note, [as_witness.verifier()]) == []  # another key id: an unknown key
    with pytest.raises(NoteError) as caught:
        verify_cosignature(body, note.signatures[0], as_witness.verifier())
    assert caught.value.reason == "bad_cosignature"
    with pytest.raises(NoteError):
        verify_cosignature(body, as_witness.cosign(body, 5), as_log.verifier())  # not a cosigner key


def test_a_cosignature_by_another_witness_fails() -> None:
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    mex = CosignatureSigner("MEX", Ed25519PrivateKey.generate())
    idn = CosignatureSigner("IDN", Ed25519PrivateKey.generate())
    with pytest.raises(NoteError) as caught:
        verify_cosignature(body, mex.cosign(body, 5), idn.verifier())
    assert caught.value.reason == "bad_cosignature"


def test_only_checkpoints_are_cosigned() -> None:
    witness = CosignatureSigner("MEX", Ed25519PrivateKey.generate())
    with pytest.raises(CheckpointError):
        witness.cosign(b"just some text\n", 5)


def test_cosignatures_made_at_different_times_merge_into_one_note() -> None:
    # Pitfall 6: one body per size, so every witness's cosignature attaches to the same note.
    log = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    mex = CosignatureSigner("MEX", Ed25519PrivateKey.generate())
    idn = CosignatureSigner("IDN", Ed25519PrivateKey.generate())
    signed = SignedNote(Checkpoint(ORIGIN, 9, ROOT).body(), (log.sign(Checkpoint(ORIGIN, 9, ROOT).body()),))
    first = mex.cosign(Checkpoint(ORIGIN, 9, ROOT).body(), 1_000)  # each witness formats the body itself
    second = idn.cosign(parse_checkpoint_body(signed.body).body(), 2_000)
    merged = parse_note(format_note(signed.with_signature(first).with_signature(second)))
    assert verify_note(merged, [log.verifier(), mex.verifier(), idn.verifier()]) == [ORIGIN, "MEX", "IDN"]
    assert [cosignature_timestamp(s) for s in merged.signatures[1:]] == [1_000, 2_000]


# -- keys ------------------------------------------------------------------------------------------


def test_signers_take_cryptography_keys_or_signing_keys_and_sign_identically() -> None:
    key = SigningKey.generate()
    body = Checkpoint(ORIGIN, 1, ROOT).body()
    signature = NoteSigner(ORIGIN, key).sign(body)
    assert signature == NoteSigner(ORIGIN, key.private_key).sign(body) == sign_note(body, ORIGIN, key)
    assert (CosignatureSigner("MEX", key).cosign(body, 7) == cosign_note(body, "MEX", key, 7)
            == cosign_note(body, "MEX", key.private_key, 7))
    for signer in (NoteSigner, CosignatureSigner):
        with pytest.raises(TypeError) as caught:
            signer(ORIGIN, X25519PrivateKey.generate())  # type: ignore[arg-type]
        assert str(caught.value) == "note keys are Ed25519, not X25519PrivateKey"


def test_no_secret_appears_in_a_signers_repr() -> None:
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    secrets = {seed.hex(), base64.b64encode(seed).decode(), repr(seed)}
    for signer in (NoteSigner(ORIGIN, key), CosignatureSigner("MEX", key)):
        for text in (repr(signer), str(signer)):
            assert not any(secret in text for secret in secrets)
            assert signer.key_id.hex() in text
        assert not hasattr(signer, "__dict__")  # nothing else to dump by accident


# -- pitfall 1, end to end -------------------------------------------------------------------------


def test_an_inclusion_proof_counts_only_against_the_size_and_root_of_a_verified_checkpoint() -> None:
    store, tree, hashes = MemoryNodeStore(), CompactRange(), [leaf_hash(b"%d" % i) for i in range(40)]
    for h in hashes:
        store.put_many(tree.append(h))
    log = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    body = Checkpoint(ORIGIN, 17, root_at(17, store)).body()
    served = format_note(SignedNote(body, (log.sign(body),)))

    # The auditor: signature first, then size and root from that checkpoint, never from the server.
    received = parse_note(served)
    assert verify_note(received, [log.verifier()]) == [ORIGIN]
    checkpoint = parse_checkpoint_body(received.body)
    verify_inclusion(hashes[0], 0, checkpoint.size, inclusion_proof(0, 17, store), checkpoint.root_hash)
    # A proof for another size (a server's skew, pitfall 5) fails against this checkpoint ...
    with pytest.raises(ProofError):
        verify_inclusion(hashes[0], 0, checkpoint.size, inclusion_proof(0, 18, store), checkpoint.root_hash)
    # ... though it passes against the size and root it was made for, which no signature vouches for:
    verify_inclusion(hashes[0], 0, 18, inclusion_proof(0, 18, store), root_at(18, store))
    # and a checkpoint whose signature fails is not a source of sizes and roots at all.
    forged = SignedNote(Checkpoint(ORIGIN, 18, root_at(18, store)).body(), received.signatures)
    with pytest.raises(NoteError):
        verify_note(forged, [log.verifier()])


# -- what each cosignature refusal says, and the error's own shape -----------------------------------


def test_a_note_error_carries_its_reason_and_detail_and_reads_as_both() -> None:
    err = NoteError("bad_cosignature", "why")
    assert (err.reason, err.detail, str(err)) == ("bad_cosignature", "why", "bad_cosignature: why")
    bare = NoteError("unsigned")
    assert (bare.reason, bare.detail, str(bare)) == ("unsigned", "", "unsigned")


def _refusal(*args) -> NoteError:  # noqa: ANN002
    with pytest.raises(NoteError) as caught:
        verify_cosignature(*args)
    return caught.value


def test_each_cosignature_refusal_names_the_keys_concerned() -> None:
    log = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    mex = CosignatureSigner("MEX", Ed25519PrivateKey.generate())
    idn = CosignatureSigner("IDN", Ed25519PrivateKey.generate())
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    signature = mex.cosign(body, 1_790_000_000)
    note = SignedNote(body, (log.sign(body), signature))
    err = _refusal(note, idn.verifier())
    assert (err.reason, err.detail) == ("unsigned", f"no cosignature by IDN+{idn.key_id.hex()}")
    err = _refusal(body, signature, NoteVerifier("MEX", mex.verifier().public_key))
    assert (err.reason, err.detail) == ("bad_cosignature", "MEX is not configured as a cosigner")
    err = _refusal(body, signature, idn.verifier())
    assert (err.reason, err.detail) == ("bad_cosignature", f"signature by MEX+{mex.key_id.hex()}, "
                                                           f"not by IDN+{idn.key_id.hex()}")
    err = _refusal(Checkpoint(ORIGIN, 4, ROOT).body(), signature, mex.verifier())
    assert (err.reason, err.detail) == ("bad_cosignature", "the cosignature of MEX does not verify")


def test_a_cosignature_of_the_wrong_length_or_time_says_so() -> None:
    with pytest.raises(NoteError) as caught:
        cosignature_timestamp(NoteSignature("w", bytes(4), bytes(71)))
    assert caught.value.detail == "a cosignature/v1 is 72 bytes after the key id, not 71"
    with pytest.raises(NoteError) as caught:
        cosignature_timestamp(NoteSignature("w", bytes(4), (1 << 63).to_bytes(8, "big") + bytes(64)))
    assert caught.value.detail == "a cosignature time is at most 2^63 - 1"


@pytest.mark.parametrize("call", ["note_with_signature", "note_with_log_key_as_second", "body_without_signature",
                                  "body_without_verifier"])
def test_verify_cosignature_takes_exactly_one_of_its_two_forms(call: str) -> None:
    mex = CosignatureSigner("MEX", Ed25519PrivateKey.generate())
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    signature = mex.cosign(body, 1)
    note = SignedNote(body, (signature,))
    args = {"note_with_signature": (note, signature, mex.verifier()),
            "note_with_log_key_as_second": (note, signature),
            "body_without_signature": (body, mex.verifier(), mex.verifier()),
            "body_without_verifier": (body, signature, signature)}[call]
    with pytest.raises(TypeError) as caught:
        verify_cosignature(*args)
    assert str(caught.value) == ("verify_cosignature(note, verifier) or "
                                 "verify_cosignature(body, signature, verifier)")
