"""Ed25519 signed notes and cosignature/v1 witness cosignatures over checkpoints."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from crypto.keys import SigningKey, raw_public
from protocol.checkpoint import (
    TYPE_COSIGNATURE_V1, TYPE_ED25519, NoteSignature, SignedNote, cosignature_message, key_id,
)


class NoteError(ValueError):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class NoteVerifier:
    name: str
    public_key: Ed25519PublicKey
    cosigner: bool = False  # a witness's cosignature/v1 key rather than a log's signing key

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, TYPE_COSIGNATURE_V1 if self.cosigner else TYPE_ED25519, raw_public(self.public_key))


def sign_note(body: bytes, name: str, key: SigningKey) -> NoteSignature:
    return NoteSignature(name, key_id(name, TYPE_ED25519, raw_public(key.public_key)), key.sign(body))


def cosign_note(body: bytes, name: str, key: SigningKey, timestamp: int) -> NoteSignature:
    sig = key.sign(cosignature_message(body, timestamp))
    return NoteSignature(name, key_id(name, TYPE_COSIGNATURE_V1, raw_public(key.public_key)),
                         struct.pack(">Q", timestamp) + sig)


def verify_note(note: SignedNote, verifiers: Sequence[NoteVerifier]) -> list[str]:
    """Names whose signatures verified. Unknown keys are ignored; a known key that fails raises."""
    known = {(v.name, v.key_id): v for v in verifiers}
    verified = []
    for signature in note.signatures:
        verifier = known.get((signature.name, signature.key_id))
        if verifier is None:
            continue
        if verifier.cosigner:
            verify_cosignature(note.body, signature, verifier)
        else:
            try:
                verifier.public_key.verify(signature.sig, note.body)
            except InvalidSignature:
                raise NoteError("bad_note_signature", f"{signature.name}'s signature does not verify") from None
        verified.append(signature.name)
    return verified


def verify_cosignature(body: bytes, signature: NoteSignature, verifier: NoteVerifier) -> int:
    """The cosignature's timestamp, or NoteError."""
    if signature.key_id != verifier.key_id or len(signature.sig) != 8 + 64:
        raise NoteError("bad_cosignature", f"not a cosignature/v1 of {verifier.name}")
    (timestamp,) = struct.unpack(">Q", signature.sig[:8])
    try:
        verifier.public_key.verify(signature.sig[8:], cosignature_message(body, timestamp))
    except InvalidSignature:
        raise NoteError("bad_cosignature", f"{verifier.name}'s cosignature does not verify") from None
    return timestamp
