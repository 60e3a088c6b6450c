"""Checkpoints as signed notes, witness cosignatures, and a witness's decision on a new checkpoint."""

from __future__ import annotations

import base64

import pytest

from crypto.keys import SigningKey, raw_public
from crypto.merkle import CompactRange, MemoryNodeStore, consistency_proof, leaf_hash, root_at
from crypto.note import NoteError, NoteVerifier, cosign_note, sign_note, verify_cosignature, verify_note
from crypto.witness import WitnessError, Witnessed, check_checkpoint
from protocol.checkpoint import (
    TYPE_ED25519, Checkpoint, CheckpointError, SignedNote, format_note, key_id, parse_checkpoint_body, parse_note,
)

ORIGIN = "somex/test/audit"
ROOT = bytes(range(32))


def test_checkpoint_body_round_trips() -> None:
    checkpoint = Checkpoint(ORIGIN, 12345, ROOT, ("ext one",))
    body = checkpoint.body()
    assert body == f"{ORIGIN}\n12345\n{base64.b64encode(ROOT).decode()}\next one\n".encode()
    assert parse_checkpoint_body(body) == checkpoint


@pytest.mark.parametrize(
    "body",
    [
        f"{ORIGIN}\n12\n{base64.b64encode(ROOT).decode()}".encode(),  # no final newline
        f"{ORIGIN}\n012\n{base64.b64encode(ROOT).decode()}\n".encode(),  # leading zero
        f"{ORIGIN}\n-1\n{base64.b64encode(ROOT).decode()}\n".encode(),
        f"{ORIGIN}\n1e3\n{base64.b64encode(ROOT).decode()}\n".encode(),
        f"{ORIGIN}\n12\nnot base64!\n".encode(),
        f"{ORIGIN}\n12\n{base64.b64encode(ROOT[:31]).decode()}\n".encode(),  # 31-byte root
        f"{ORIGIN}\n12\n{base64.b64encode(ROOT).decode()}\n\next\n".encode(),  # empty extension line
        f"\n12\n{base64.b64encode(ROOT).decode()}\n".encode(),
        b"\xff\n1\n",
    ],
)
def test_malformed_checkpoint_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(CheckpointError):
        parse_checkpoint_body(body)


def test_signed_note_round_trips_and_verifies() -> None:
    key = SigningKey.generate()
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    note = SignedNote(body, (sign_note(body, ORIGIN, key),))
    text = format_note(note)
    assert text.startswith(body + "\n\u2014 ".encode())
    assert parse_note(text) == note
    assert verify_note(parse_note(text), [NoteVerifier(ORIGIN, key.public_key)]) == [ORIGIN]
    assert note.signatures[0].key_id == key_id(ORIGIN, TYPE_ED25519, raw_public(key.public_key))


def test_tampered_body_fails_and_unknown_keys_are_ignored() -> None:
    key, stranger = SigningKey.generate(), SigningKey.generate()
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    note = SignedNote(body, (sign_note(body, "someone-else", stranger), sign_note(body, ORIGIN, key)))
    assert verify_note(note, [NoteVerifier(ORIGIN, key.public_key)]) == [ORIGIN]
    forged = SignedNote(Checkpoint(ORIGIN, 4, ROOT).body(), note.signatures)
    with pytest.raises(NoteError):
        verify_note(forged, [NoteVerifier(ORIGIN, key.public_key)])


def test_cosignature_round_trip_carries_its_time() -> None:
    witness = SigningKey.generate()
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    signature = cosign_note(body, "MEX", witness, 1_790_000_000)
    verifier = NoteVerifier("MEX", witness.public_key, cosigner=True)
    assert verify_cosignature(body, signature, verifier) == 1_790_000_000
    with pytest.raises(NoteError):
        verify_cosignature(Checkpoint(ORIGIN, 4, ROOT).body(), signature, verifier)


@pytest.mark.parametrize("text", [b"no blank line\n", b"a\n\nnot a signature\n", b"a\n\n\xe2\x80\x94 name !!!\n", b"a\n\n"])
def test_malformed_notes_are_refused(text: bytes) -> None:
    with pytest.raises(CheckpointError):
        parse_note(text)


# -- the witness ---------------------------------------------------------------------------------


class Log:
    def __init__(self) -> None:
        self.key, self.store, self.tree = SigningKey.generate(), MemoryNodeStore(), CompactRange()

    def grow(self, n: int) -> None:
        for _ in range(n):
            self.store.put_many(self.tree.append(leaf_hash(self.tree.size.to_bytes(8, "big"))))

    def note(self, size: int | None = None, root: bytes | None = None) -> bytes:
        size = self.tree.size if size is None else size
        body = Checkpoint(ORIGIN, size, root or root_at(size, self.store)).body()
        return format_note(SignedNote(body, (sign_note(body, ORIGIN, self.key),)))

    def proofs(self, *froms: int) -> dict[int, list[str]]:
        return {m: [base64.b64encode(h).decode() for h in consistency_proof(m, self.tree.size, self.store)]
                for m in froms}

    @property
    def verifier(self) -> NoteVerifier:
        return NoteVerifier(ORIGIN, self.key.public_key)


def test_witness_accepts_a_consistent_checkpoint() -> None:
    log = Log()
    log.grow(10)
    first = check_checkpoint(log.note(), origin=ORIGIN, log_key=log.verifier, last=None, proofs={})
    log.grow(7)
    second = check_checkpoint(log.note(), origin=ORIGIN, log_key=log.verifier,
                              last=Witnessed(first.size, first.root_hash), proofs=log.proofs(10))
    assert second.size == 17


def test_witness_refuses_a_rewritten_log() -> None:
    log = Log()
    log.grow(10)
    last = Witnessed(10, root_at(10, log.store))
    rewritten = Log()
    rewritten.key = log.key  # the hub's own key signs the rewritten history
    rewritten.store.put_many(rewritten.tree.append(leaf_hash(b"forged")))
    rewritten.grow(16)
    with pytest.raises(WitnessError) as caught:
        check_checkpoint(rewritten.note(), origin=ORIGIN, log_key=log.verifier, last=last, proofs=rewritten.proofs(10))
    assert caught.value.reason == "inconsistent"


def test_witness_refuses_a_shrunk_log_a_foreign_signature_and_a_missing_proof() -> None:
    log = Log()
    log.grow(20)
    last = Witnessed(20, root_at(20, log.store))
    with pytest.raises(WitnessError) as caught:
        check_checkpoint(log.note(size=12), origin=ORIGIN, log_key=log.verifier, last=last, proofs={})
    assert caught.value.reason == "inconsistent"
    impostor = Log()
    impostor.grow(25)
    with pytest.raises(WitnessError) as caught:
        check_checkpoint(impostor.note(), origin=ORIGIN, log_key=log.verifier, last=last, proofs=impostor.proofs(20))
    assert caught.value.reason == "bad_checkpoint_signature"
    log.grow(5)
    with pytest.raises(WitnessError) as caught:
        check_checkpoint(log.note(), origin=ORIGIN, log_key=log.verifier, last=last, proofs=log.proofs(3))
    assert caught.value.reason == "no_proof"
    with pytest.raises(WitnessError) as caught:
        check_checkpoint(log.note(), origin="another/log", log_key=log.verifier, last=last, proofs=log.proofs(20))
    assert caught.value.reason == "wrong_origin"
